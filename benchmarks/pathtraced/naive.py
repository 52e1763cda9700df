"""Reference lenses for the path-traced benchmark (not part of dofgen).

- ``render_naive_layered``: the brute-force layered lens, signed CoC in 1 px layers, each
  layer blurred at full resolution by an FFT with the aperture kernel in linear light,
  composited far to near (premultiplied "over", each layer's alpha blurred with it).
- ``render_taf_srgb``: TAF's public lens as its code does it, a per-pixel soft disc gather on
  the sRGB values (no linear light, no occlusion).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dofgen.color import linear_to_srgb, srgb_to_linear
from dofgen.lens.gather import gather_target_disc
from dofgen.lens.kernels import aperture_kernel


def fft_blur(values: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve with a centred kernel by FFT, the border mirrored (the scene goes on).

    Args:
        values: (B, C, H, W).
        kernel: (K, K), K odd, K // 2 smaller than H and W.

    Returns:
        (B, C, H, W).
    """
    half = kernel.shape[-1] // 2
    if half == 0:
        return values * kernel.reshape(())
    height, width = values.shape[-2:]
    padded = F.pad(values, (half,) * 4, mode="reflect")
    size = padded.shape[-2:]
    placed = torch.zeros(size, dtype=values.dtype, device=values.device)
    placed[: 2 * half + 1, : 2 * half + 1] = kernel
    placed = placed.roll((-half, -half), dims=(0, 1))
    out = torch.fft.irfft2(torch.fft.rfft2(padded) * torch.fft.rfft2(placed), s=size)
    return out[..., half : half + height, half : half + width]


def render_naive_layered(image: torch.Tensor, coc: torch.Tensor, blades: int = 0) -> torch.Tensor:
    """Brute-force layered defocus.

    Each pixel goes to the layer of its signed CoC rounded to the nearest pixel (a pixel
    split between two layers would let what is behind show through it); layer ``k`` is blurred with the aperture kernel of diameter
    ``|k|`` px (turned by 180 degrees in front of the focal plane, where the image of the
    aperture is inverted), then layers are composited far to near and normalised by the
    accumulated alpha.

    Args:
        image: (B, 3, H, W) sRGB in [0, 1].
        coc: (B, 1, H, W) signed CoC diameter in pixels (positive behind focus).
        blades: 0 for a circular aperture, else the polygon's number of blades.

    Returns:
        (B, 3, H, W) sRGB.
    """
    linear = srgb_to_linear(image.float())
    colour = torch.zeros_like(linear)
    alpha = torch.zeros_like(coc)
    layer_of = coc.round()
    for k in range(int(layer_of.max()), int(layer_of.min()) - 1, -1):
        weight = (layer_of == k).to(linear.dtype)
        if not bool(weight.any()):
            continue
        kernel = aperture_kernel(abs(k), blades).to(linear)
        if k < 0:
            kernel = kernel.flip(0, 1)
        layer = fft_blur(torch.cat([linear * weight, weight], dim=1), kernel)
        layer_alpha = layer[:, 3:].clamp(0.0, 1.0)
        colour = colour * (1.0 - layer_alpha) + layer[:, :3]
        alpha = alpha * (1.0 - layer_alpha) + layer_alpha
    return linear_to_srgb(colour / alpha.clamp(min=1e-6))


def render_taf_srgb(image: torch.Tensor, coc: torch.Tensor) -> torch.Tensor:
    """TAF-style gather on sRGB values: each pixel averages the sRGB inside its own disc.

    Args:
        image: (B, 3, H, W) sRGB in [0, 1].
        coc: (B, 1, H, W) signed CoC diameter in pixels.

    Returns:
        (B, 3, H, W) sRGB.
    """
    return gather_target_disc(image.float(), coc.abs() / 2).clamp(0.0, 1.0)
