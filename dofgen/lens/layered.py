"""Ours: occlusion-aware layered lens in linear light.

The signed circle of confusion splits the scene into depth layers at fixed CoC levels
(linear below 4 px, geometric above). Each pixel belongs to its two nearest levels with
linear weights, so nothing bands between layers. Each layer (premultiplied colour and
alpha) is blurred with the aperture kernel at a resolution that suits its blur (large blurs
at coarse scales, with the kernel shrunk so the variance still matches), then layers are
composited:

* behind the focal plane, far to near, each layer over the normalised colour of the layers
  behind it; a layer behind is trusted wherever its coverage is above ``_TRUST``, so holes
  left by nearer objects are filled from the surrounding background and a sharp foreground
  never bleeds into the blurred background;
* in front of the focal plane, near to far, accumulated premultiplied, then laid over the
  rest, so a blurred foreground spreads softly over a sharp background.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dofgen.lens.kernels import aperture_kernel

#: Ratio between consecutive CoC levels above 4 px.
LEVEL_RATIO = 4.0 / 3.0
#: A layer is blurred at the coarsest power-of-two scale where its diameter stays >= this.
MIN_SCALED_DIAMETER = 8.0
_TRUST = 0.1
_EPS = 1e-6


def coc_levels(max_abs_diameter: float) -> list[float]:
    """Signed CoC levels (pixels, ascending) that cover ``[-max, max]``."""
    mags = [0.0, 1.0, 2.0, 3.0, 4.0]
    while mags[-1] < max_abs_diameter:
        mags.append(mags[-1] * LEVEL_RATIO)
    while len(mags) > 2 and mags[-2] >= max_abs_diameter:
        mags.pop()
    return [-m for m in reversed(mags[1:])] + mags


def _scale_for(diameter: float) -> int:
    scale = 1
    while diameter / (2 * scale) >= MIN_SCALED_DIAMETER:
        scale *= 2
    return scale


def _scaled_diameter(diameter: float, scale: int) -> float:
    """Kernel diameter at ``scale`` whose blur, with the box down- and bilinear up-sampling
    (variance scale^2/4), has the variance of a disc of ``diameter`` at full resolution."""
    if scale == 1:
        return diameter
    return math.sqrt(max((diameter / scale) ** 2 - 4.0, 0.0))


def _blur(rgba: torch.Tensor, diameter: float, blades: int) -> torch.Tensor:
    """Blur (B, 4, h, w) premultiplied colour and alpha with the aperture kernel."""
    kernel = aperture_kernel(diameter, blades, device=rgba.device, dtype=rgba.dtype)
    if kernel.numel() == 1:
        return rgba
    size = kernel.shape[-1]
    weight = kernel.expand(rgba.shape[1], 1, size, size)
    rgba = rgba.contiguous(memory_format=torch.channels_last)
    return F.conv2d(rgba, weight, padding=size // 2, groups=rgba.shape[1])


def _resize(state: list[torch.Tensor], factor: int) -> list[torch.Tensor]:
    if factor == 1:
        return state
    return [F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False) for x in state]


def render_layered(linear: torch.Tensor, coc: torch.Tensor, blades: int = 0) -> torch.Tensor:
    """Occlusion-aware layered defocus.

    Args:
        linear: (B, 3, H, W) linear-light image.
        coc: (B, 1, H, W) signed CoC diameter in pixels (negative in front of focus).
        blades: 0 for a circular aperture, 5 to 9 for a polygon.

    Returns:
        (B, 3, H, W) defocused linear-light image.
    """
    height, width = linear.shape[-2:]
    max_abs = float(coc.detach().abs().max())
    levels = coc_levels(max_abs)
    scales = [_scale_for(abs(level)) for level in levels]
    top = max(scales)
    pad_h, pad_w = (-height) % top, (-width) % top
    linear = F.pad(linear, (0, pad_w, 0, pad_h))
    coc = F.pad(coc, (0, pad_w, 0, pad_h))

    table = torch.tensor(levels, dtype=coc.dtype, device=coc.device)
    coc = coc.clamp(levels[0], levels[-1])
    upper = torch.bucketize(coc.detach(), table).clamp(1, len(levels) - 1)
    lower = upper - 1
    position = lower + (coc - table[lower]) / (table[upper] - table[lower])
    counts = torch.bincount(lower.flatten(), minlength=len(levels)).tolist()
    populated = [counts[k] > 0 or (k > 0 and counts[k - 1] > 0) for k in range(len(levels))]

    def layer(k: int) -> torch.Tensor:
        alpha = (1.0 - (position - k).abs()).clamp(min=0.0)
        rgba = torch.cat([linear * alpha, alpha], dim=1)
        if scales[k] > 1:
            rgba = F.avg_pool2d(rgba, scales[k])
        return _blur(rgba, _scaled_diameter(abs(levels[k]), scales[k]), blades)

    zero = levels.index(0.0)
    back = [k for k in range(len(levels) - 1, zero - 1, -1) if populated[k]]
    front = [k for k in range(zero) if populated[k]]

    # Behind the focal plane (and on it): far to near, over a trusted, normalised background.
    colour = alpha_trust = None
    scale = top
    for k in back:
        if colour is not None:
            colour, alpha_trust = _resize([colour, alpha_trust], scale // scales[k])
        scale = scales[k]
        rgba = layer(k)
        c_k, a_k = rgba[:, :3], rgba[:, 3:]
        if colour is None:
            premult, cover = c_k, a_k
        else:
            premult = c_k + (1 - a_k) * alpha_trust * colour
            cover = a_k + (1 - a_k) * alpha_trust
        colour = premult / cover.clamp(min=_EPS)
        alpha_trust = (cover / _TRUST).clamp(max=1.0)
    if colour is None:  # everything lies in front of the focal plane
        colour, alpha_trust = torch.zeros_like(linear), torch.zeros_like(coc)
    else:
        colour, alpha_trust = _resize([colour, alpha_trust], scale)

    # In front of the focal plane: near to far, premultiplied ("under"), then over the rest.
    front_colour = front_alpha = None
    scale = top
    for k in front:
        if front_colour is not None:
            front_colour, front_alpha = _resize([front_colour, front_alpha], scale // scales[k])
        scale = scales[k]
        rgba = layer(k)
        if front_colour is None:
            front_colour, front_alpha = rgba[:, :3], rgba[:, 3:]
        else:
            front_colour = front_colour + (1 - front_alpha) * rgba[:, :3]
            front_alpha = front_alpha + (1 - front_alpha) * rgba[:, 3:]
    if front_colour is not None:
        front_colour, front_alpha = _resize([front_colour, front_alpha], scale)
        numerator = front_colour + (1 - front_alpha) * alpha_trust * colour
        denominator = front_alpha + (1 - front_alpha) * alpha_trust
        colour = torch.where(denominator > _EPS, numerator / denominator.clamp(min=_EPS), linear)
    return colour[..., :height, :width]
