"""The lens model: circle of confusion and defocus rendering (ours and two baselines).

``render`` is the contract the rest of dofgen calls::

    from dofgen.lens import render
    shallow = render(image, depth, camera)          # ours, occlusion-aware layers
    taf = render(image, depth, camera, method="taf")
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from dofgen.camera import CameraSettings
from dofgen.color import linear_to_srgb, srgb_to_linear
from dofgen.lens.coc import check_depth, coc_diameter_px
from dofgen.lens.drbokeh import matte_from_depth, render_drbokeh
from dofgen.lens.gather import RenderStopped, StopCheck
from dofgen.lens.highlights import boost_highlights
from dofgen.lens.kernels import aperture_kernel
from dofgen.lens.layered import QUALITY, Quality, render_layered
from dofgen.lens.taf import render_taf

Method = Literal["layered", "taf", "drbokeh"]
METHODS: tuple[str, ...] = ("layered", "taf", "drbokeh")
#: Highlight boost of the layered lens when none is given: small clipped lights bloom, and
#: nothing else changes (the baselines get none, as their code has none).
DEFAULT_HIGHLIGHT_BOOST = 0.5

__all__ = ["DEFAULT_HIGHLIGHT_BOOST", "METHODS", "QUALITY", "RenderStopped", "aperture_kernel", "coc_diameter_px", "render", "render_linear"]


def _as_batch(tensor: torch.Tensor, name: str, channels: int, height: int | None = None, width: int | None = None) -> torch.Tensor:
    """(C?,H,W) or (B,C,H,W) to (B,C,H,W), checking the channel count and size."""
    if tensor.dim() == 2 and channels == 1:
        tensor = tensor[None]
    if tensor.dim() == 3:
        tensor = tensor[None]
    if tensor.dim() != 4 or tensor.shape[1] != channels:
        shapes = "(3, H, W) or (B, 3, H, W)" if channels == 3 else "(H, W), (1, H, W) or (B, 1, H, W)"
        raise ValueError(f"{name} must have shape {shapes}, got {tuple(tensor.shape)}")
    if height is not None and tuple(tensor.shape[-2:]) != (height, width):
        raise ValueError(f"{name} is {tuple(tensor.shape[-2:])} but the image is {(height, width)}")
    return tensor


def _check_image(image: torch.Tensor, what: str) -> None:
    if not torch.is_tensor(image) or not image.is_floating_point():
        raise TypeError(f"image must be a floating-point torch.Tensor of {what}")
    if image.numel() == 0:
        raise ValueError(f"image is empty: shape {tuple(image.shape)}")
    if not all(math.isfinite(float(v)) for v in torch.aminmax(image.detach())):  # NaN and inf reach an end
        raise ValueError("image contains NaN or infinite values")


def render(
    image: torch.Tensor,
    depth: torch.Tensor,
    camera: CameraSettings,
    method: Method = "layered",
    *,
    blades: int = 0,
    highlight_boost: float | None = None,
    matte: torch.Tensor | None = None,
    quality: Quality = "accurate",
    should_stop: StopCheck = None,
) -> torch.Tensor:
    """Render shallow depth of field from an all-in-focus image and its depth.

    Args:
        image: (3, H, W) or (B, 3, H, W) sRGB in [0, 1], float.
        depth: (H, W), (1, H, W) or (B, 1, H, W) metres, finite and positive.
        camera: aperture, focal length, focus distance and sensor width.
        method: ``"layered"`` (ours), ``"taf"`` or ``"drbokeh"`` (baselines).
        blades: 0 for a circular aperture, 5 to 9 for a polygon (layered only).
        highlight_boost: 0 (off) upwards; small clipped light sources bloom into bokeh discs
            (white surfaces are left as they are). None: ``DEFAULT_HIGHLIGHT_BOOST`` for the
            layered lens, 0 for the baselines.
        matte: foreground matte for ``"drbokeh"``, shaped like ``depth``; from depth around
            the focus distance when None.
        quality: ``"accurate"`` (default) or ``"fast"`` (layered only: coarser levels and
            scales, for interactive previews).
        should_stop: for the baselines' long gathers: asked between window offsets, True
            stops the render with :class:`RenderStopped` (a cancelled request).

    Returns:
        The defocused image, with the shape, dtype and device of ``image``.
    """
    _check_image(image, "sRGB values in [0, 1]")
    out = render_linear(srgb_to_linear(image.float()), depth, camera, method, blades=blades, highlight_boost=highlight_boost, matte=matte, quality=quality, should_stop=should_stop)
    return linear_to_srgb(out).to(image.dtype)


def render_linear(
    linear: torch.Tensor,
    depth: torch.Tensor,
    camera: CameraSettings,
    method: Method = "layered",
    *,
    blades: int = 0,
    highlight_boost: float | None = None,
    matte: torch.Tensor | None = None,
    quality: Quality = "accurate",
    should_stop: StopCheck = None,
) -> torch.Tensor:
    """:func:`render` on linear light: (3, H, W) or (B, 3, H, W) in, the same shape out,
    no sRGB decode or encode (for callers that convert with lookup tables)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; use one of {', '.join(METHODS)}")
    if quality not in QUALITY:
        raise ValueError(f"quality={quality!r} is unknown; use one of {', '.join(QUALITY)}")
    if blades and method != "layered":
        raise ValueError(f"blades={blades}: aperture blades are supported by the layered lens only")
    aperture_kernel(1.0, blades)  # validates blades
    if highlight_boost is None:
        highlight_boost = DEFAULT_HIGHLIGHT_BOOST if method == "layered" else 0.0
    if not (isinstance(highlight_boost, (int, float)) and math.isfinite(highlight_boost) and highlight_boost >= 0):
        raise ValueError(f"highlight_boost={highlight_boost!r} must be a finite number >= 0")
    _check_image(linear, "linear light")
    batch = _as_batch(linear, "image", 3).float()
    height, width = batch.shape[-2:]
    depth_b = _as_batch(depth, "depth", 1, height, width).to(batch.device, torch.float32)
    check_depth(depth_b)
    if depth_b.shape[0] not in (1, batch.shape[0]):
        raise ValueError(f"depth has batch {depth_b.shape[0]} but the image has {batch.shape[0]}")
    depth_b = depth_b.expand(batch.shape[0], -1, -1, -1)

    coc = coc_diameter_px(depth_b, camera, width)
    if highlight_boost > 0:
        batch = boost_highlights(batch, coc, highlight_boost)
    if method == "layered":
        out = render_layered(batch, coc, blades, quality)
    elif method == "taf":  # TAF's code blurs the sRGB values, not light
        out = srgb_to_linear(render_taf(linear_to_srgb(batch), coc, should_stop))
    else:
        if matte is None:
            matte_b = matte_from_depth(depth_b, camera.focus_distance_m)
        else:
            matte_b = _as_batch(matte, "matte", 1, height, width).to(batch.device, torch.float32)
            matte_b = matte_b.clamp(0.0, 1.0).expand(batch.shape[0], -1, -1, -1)
        out = render_drbokeh(batch, coc, matte_b, should_stop)
    return out.reshape(linear.shape)
