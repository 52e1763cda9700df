"""Dr.Bokeh-style two-layer lens (Sheng et al., CVPR 2024), as the study's baseline.

A foreground layer (the salient matte) and a background layer are each blurred by
scatter-as-gather with per-pixel soft discs, then composited front to back: the foreground's
blurred alpha softly occludes the background, whose own holes are normalised away.
"""

from __future__ import annotations

import torch

from dofgen.lens.fill import fill_behind
from dofgen.lens.gather import StopCheck, scatter_as_gather

#: Without a matte, pixels nearer than this multiple of the focus distance are foreground.
FOREGROUND_DEPTH_FACTOR = 1.15
#: Softness of that depth threshold, in log-depth.
FOREGROUND_SOFTNESS = 0.03


def matte_from_depth(depth: torch.Tensor, focus_distance_m: float | torch.Tensor) -> torch.Tensor:
    """Soft foreground matte: 1 at and in front of the focus distance, 0 well behind it.

    Args:
        depth: (B, 1, H, W) metres.

    Returns:
        (B, 1, H, W) in [0, 1].
    """
    threshold = torch.log(torch.as_tensor(focus_distance_m, dtype=depth.dtype, device=depth.device) * FOREGROUND_DEPTH_FACTOR)
    return torch.sigmoid((threshold - depth.log()) / FOREGROUND_SOFTNESS)


def render_drbokeh(linear: torch.Tensor, coc: torch.Tensor, matte: torch.Tensor, should_stop: StopCheck = None) -> torch.Tensor:
    """Two-layer scatter-as-gather defocus.

    Args:
        linear: (B, 3, H, W) linear-light image.
        coc: (B, 1, H, W) signed CoC diameter in pixels.
        matte: (B, 1, H, W) foreground matte in [0, 1].
        should_stop: asked while gathering; True raises ``RenderStopped``.

    Returns:
        (B, 3, H, W) defocused linear-light image.
    """
    radius = coc.abs() / 2
    front, front_alpha = scatter_as_gather(linear, matte, radius, should_stop)
    back, back_alpha = scatter_as_gather(linear, 1 - matte, radius, should_stop)
    excess = front_alpha.clamp(min=1.0)  # overlapping discs of unequal size can sum past 1
    front, front_alpha = front / excess, front_alpha / excess
    back = fill_behind(torch.cat([back, back_alpha], dim=1), trust=0.01)
    return front + (1 - front_alpha) * back
