"""Highlights: light sources that clip in an sRGB image, restored to HDR radiance so that
their defocused images bloom into bright bokeh discs.

A light source is small, clipped and much brighter than its surroundings: a clipped region
that vanishes under morphological openings a few percent of the frame wide (with a square,
a row and a column: small both ways), in a neighbourhood whose mean is dim. A white wall or
shirt is clipped too, but large, a stripe of white sky between dark branches is long, and a
white speck of texture sits among bright pixels: they stay as they are.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

#: Linear-light gain of a full highlight at ``boost=1``.
HIGHLIGHT_GAIN = 32.0
#: Linear level from which a pixel counts as clipped (sRGB ~0.97), fully at 1.
CLIP_START = 0.92
#: Largest light source, as a fraction of the frame's longer side.
LIGHT_SIZE = 0.03
#: Mean linear level of a light's neighbourhood (five light sizes wide) under which it is
#: fully a light, and from which it is none.
DIM_SURROUND = (0.2, 0.35)
#: Share of a light given to its rim pixels, which clip with only part of the light on them.
#: On the path-traced lights scenes, 0.5 spilled boosted discs past their rims (0.33 dB lost
#: outside the lights at boost 1); 0.25 loses 0.13 dB there, and brings the discs 0.7-1.2 dB
#: closer at the default boost. Lower still under-lights 3 x 3 px lights (all rim).
RIM_SHARE = 0.25


def _square_extreme(x: torch.Tensor, size: int, extreme: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = torch.maximum,
                    dims: tuple[int, ...] = (-1, -2), outside: float | None = None) -> torch.Tensor:
    """Max (or, with ``extreme=torch.minimum``, min) of (B, C, H, W) over the ``size`` x
    ``size`` square (odd) centred on each pixel, within the frame; over a ``size``-long row
    (``dims=(-1,)``) or column (``dims=(-2,)``) instead of a square; beyond the frame the edge
    pixels go on, or the value ``outside``: passes of windows doubled by shifted extremes (a
    few passes instead of ``size``; ``max_pool2d`` is many times slower on the CPU)."""
    pad = size // 2
    for dim in dims:
        padding = (pad, pad, 0, 0) if dim == -1 else (0, 0, pad, pad)
        # a replicated pixel is in its window already
        x = F.pad(x, padding, mode="replicate") if outside is None else F.pad(x, padding, value=outside)
        width = 1
        while width < size:
            step = min(width, size - width)
            length = x.shape[dim] - step
            x = extreme(x.narrow(dim, 0, length), x.narrow(dim, step, length))
            width += step
    return x


def _opening(mask: torch.Tensor, size: int, dims: tuple[int, ...] = (-1, -2), outside: float | None = None) -> torch.Tensor:
    """Grey-level opening (erosion then dilation) of (B, 1, H, W) with a ``size`` x ``size``
    square, or a ``size``-long row (``dims=(-1,)``) or column (``dims=(-2,)``); the erosion
    sees ``outside`` beyond the frame (None: its edge pixels going on)."""
    return _square_extreme(_square_extreme(mask, size, torch.minimum, dims, outside), size, dims=dims)


def _dim_surround(peak: torch.Tensor, size: int) -> torch.Tensor:
    """How dim the ``size``-wide square around each pixel of (B, 1, H, W) is, from 1 (its
    mean under ``DIM_SURROUND[0]``) to 0 (over ``DIM_SURROUND[1]``); computed at a
    sixteenth of ``size`` (it only has to be smooth) and brought back."""
    step = max(1, size // 16)
    coarse = F.avg_pool2d(peak, step, ceil_mode=True) if step > 1 else peak
    width = max(1, size // step) | 1
    coarse = F.avg_pool2d(coarse, (1, width), 1, (0, width // 2), count_include_pad=False)
    coarse = F.avg_pool2d(coarse, (width, 1), 1, (width // 2, 0), count_include_pad=False)
    dim = ((DIM_SURROUND[1] - coarse) / (DIM_SURROUND[1] - DIM_SURROUND[0])).clamp(0.0, 1.0)
    return F.interpolate(dim, size=peak.shape[-2:], mode="bilinear", align_corners=False) if step > 1 else dim


def light_sources(linear: torch.Tensor) -> torch.Tensor:
    """Soft mask of small clipped light sources.

    Args:
        linear: (B, 3, H, W) linear light, 1.0 where the sRGB input clipped.

    Returns:
        (B, 1, H, W) in [0, 1]: 1 inside a clipped light source, :data:`RIM_SHARE` on its
        rim, 0 off lights and on large clipped surfaces.
    """
    peak = linear.detach().amax(dim=1, keepdim=True)
    if float(peak.max()) <= CLIP_START:  # nothing clipped
        return torch.zeros_like(peak)
    clipped = (peak - CLIP_START).div_(1.0 - CLIP_START).clamp_(0.0, 1.0)
    size = 2 * max(1, round(LIGHT_SIZE * max(linear.shape[-2:]) / 2)) + 1
    # the opening at a reduced resolution (a max keeps every light), brought back by repetition
    step = 4 if size >= 24 else 2
    reduced = F.max_pool2d(clipped, step, ceil_mode=True)
    large = F.interpolate(_opening(reduced, max(3, size // step | 1)), scale_factor=step, mode="nearest")
    # long and thin (a stripe of white sky): survives a row's or a column's opening, at full
    # resolution (where a row of lights leaves gaps between them), with nothing beyond the
    # frame (a light the border cuts is not a line)
    lines = torch.maximum(_opening(clipped, size, (-1,), 0.0), _opening(clipped, size, (-2,), 0.0))
    large = torch.maximum(large[..., : clipped.shape[-2], : clipped.shape[-1]], lines)
    light = clipped.sub_(large[..., : clipped.shape[-2], : clipped.shape[-1]]).clamp_(min=0.0).mul_(_dim_surround(peak, 5 * size))
    core = _square_extreme(light, 3, torch.minimum)  # the light less its rim
    return core.lerp_(light, RIM_SHARE)


def boost_highlights(linear: torch.Tensor, coc: torch.Tensor, boost: float) -> torch.Tensor:
    """Lift defocused light sources to HDR radiance.

    Args:
        linear: (B, 3, H, W) linear light.
        coc: (B, 1, H, W) signed CoC in pixels; what is in focus (under 1 px, ramping to
            4 px) is left as it is.
        boost: 0 (off) upwards; a light's radiance is multiplied by ``1 + 32 boost``.

    Returns:
        (B, 3, H, W) linear light with defocused lights lifted above 1.
    """
    nearest, farthest = (float(v) for v in torch.aminmax(coc.detach()))
    if max(-nearest, farthest) <= 1.0:  # all in focus: nothing to lift, no detection to pay for
        return linear
    defocused = coc.detach().abs().sub_(1.0).div_(3.0).clamp_(0.0, 1.0)
    return linear * defocused.mul_(light_sources(linear)).mul_(HIGHLIGHT_GAIN * boost).add_(1.0)
