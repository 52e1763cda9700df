"""Hole filling for layers that nearer objects hid: push-pull (coarse-to-fine) averages."""

from __future__ import annotations

import torch
import torch.nn.functional as F

Window = tuple[slice, slice]


def _up2(coarse: torch.Tensor, window: Window, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear 2x up-sampling of (B, C, ceil(h/2), ceil(w/2)) over ``window`` of the
    (h, w) = ``size`` frame, computed from the coarse pixels around the window only.
    Returns (B, C, rows, cols)."""
    bounds = []
    for axis, part in enumerate(window):
        start, stop, _ = part.indices(size[axis])
        first = max(start // 2 - 1, 0)
        last = min(-(-stop // 2) + 1, coarse.shape[axis - 2])
        bounds.append((first, last, start - 2 * first, stop - start))
    (top, bottom, row0, rows), (left, right, col0, cols) = bounds
    block = F.interpolate(coarse[..., top:bottom, left:right], scale_factor=2, mode="bilinear", align_corners=False)
    return block[..., row0 : row0 + rows, col0 : col0 + cols]


def _push_pull(weighted: torch.Tensor, window: Window) -> torch.Tensor:
    """Colour from (B, C + 1, h, w) colour times trust and trust (in [0, 1]): the colour
    where trusted, blended toward ever coarser weighted averages elsewhere. Returns
    (B, C, rows, cols) over ``window``."""
    weight = weighted[:, -1:]
    if min(weighted.shape[-2:]) < 2 or bool((weight >= 1).all()):
        return (weighted[:, :-1] / weight.clamp(min=1e-6))[..., window[0], window[1]]
    pooled = F.avg_pool2d(weighted, 2, ceil_mode=True)
    trust = (4 * pooled[:, -1:]).clamp(max=1.0)
    coarse = _push_pull(torch.cat([pooled[:, :-1] / pooled[:, -1:].clamp(min=1e-6) * trust, trust], dim=1), (slice(None), slice(None)))
    inside = weighted[..., window[0], window[1]]
    return inside[:, :-1] + (1 - inside[:, -1:]) * _up2(coarse, window, weighted.shape[-2:])


def fill_behind(premultiplied: torch.Tensor, trust: float, window: Window | None = None) -> torch.Tensor:
    """Colour of a premultiplied layer continued into its holes (push-pull).

    Args:
        premultiplied: (B, C + 1, h, w) colour times alpha, and alpha.
        trust: alpha from which the layer's own colour is used as it is; below it the
            colour is blended toward the surrounding colour.
        window: (rows, cols) of the frame wanted (the coarse levels still see all of it);
            the whole frame when None.

    Returns:
        (B, C, rows, cols) colour.
    """
    window = window or (slice(None), slice(None))
    return _push_pull(premultiplied / premultiplied[:, -1:].clamp(min=trust), window)
