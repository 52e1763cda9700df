"""Hole filling for layers that nearer objects hid: push-pull (coarse-to-fine) averages."""

import torch
import torch.nn.functional as F


def fill_holes_push_pull(colour: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Fill where ``weight`` < 1 from ever coarser weighted averages (push-pull).

    Args:
        colour: (B, C, h, w) colour, meaningful where ``weight`` > 0.
        weight: (B, 1, h, w) trust in [0, 1].

    Returns:
        (B, C, h, w): ``colour`` where trusted, blended toward the surrounding colour elsewhere.
    """
    if bool((weight >= 1).all()) or min(colour.shape[-2:]) < 2:
        return colour
    pooled = F.avg_pool2d(torch.cat([colour * weight, weight], dim=1), 2, ceil_mode=True)
    coarse_weight = pooled[:, -1:]
    coarse = pooled[:, :-1] / coarse_weight.clamp(min=1e-6)
    coarse = fill_holes_push_pull(coarse, (4 * coarse_weight).clamp(max=1.0))
    coarse = F.interpolate(coarse, size=colour.shape[-2:], mode="bilinear", align_corners=False)
    return weight * colour + (1 - weight) * coarse
