"""Depth layers of the layered lens: signed circle-of-confusion levels fitted to a CoC map.

Levels start from a grid (the sharp level 0, then 2 px and a geometric ratio above) that
brackets the map's range; each level then moves to the mean CoC of the pixels nearest to
it, and the outermost levels sit on the extreme CoCs. A fronto-parallel surface therefore
lands on a level exactly (its blur is one exact aperture kernel), and a slanted one is
shared between two close levels. Pixels with |CoC| <= 1 px belong to the sharp level.
"""

from __future__ import annotations

import torch

#: Smallest blurred level (px); below it a pixel is shared with the sharp level.
FIRST_LEVEL = 2.0
#: Pixels the levels are fitted to, at most about (a regular subsample of larger maps).
SAMPLES = 2**18


def sampled(values: torch.Tensor) -> torch.Tensor:
    """About ``SAMPLES`` of the flattened ``values``: every few of them (a regular subsample)."""
    values = values.flatten()
    return values[:: max(1, values.numel() // SAMPLES)]


def _grid(max_abs: float, ratio: float) -> list[float]:
    mags = [FIRST_LEVEL]
    while mags[-1] < max_abs:
        mags.append(mags[-1] * ratio)
    return mags


def _effective(levels: torch.Tensor, sign: float) -> torch.Tensor:
    """Levels with the sharp level read as ``sign`` px: a CoC of 1 px or less is sharp."""
    return torch.where(levels == 0, torch.full_like(levels, sign), levels)


def coc_levels(coc: torch.Tensor, ratio: float) -> list[float]:
    """Signed CoC levels (pixels, ascending, containing 0) fitted to ``coc``.

    Args:
        coc: (B, 1, H, W) signed CoC diameter in pixels.
        ratio: largest ratio between consecutive grid levels above 2 px.
    """
    values = coc.detach().flatten().float()
    low, high = (float(v) for v in torch.aminmax(values))
    # the cells' means from every few pixels (a quarter of a million is plenty)
    values = sampled(values)
    side = [-m for m in reversed(_grid(-low, ratio))] if low < -1 else []
    levels = side + [0.0] + (_grid(high, ratio) if high > 1 else [])
    table = torch.tensor(levels, dtype=values.dtype, device=values.device)
    if len(levels) == 1:
        return levels
    # Cells: pixels nearest to each level (the sharp level read as +-1 on each side).
    centres = torch.where(values >= 0, values.clamp(min=1.0), values.clamp(max=-1.0))
    bounds = (_effective(table[:-1], 1.0) + _effective(table[1:], -1.0)) / 2
    cell = torch.bucketize(centres, bounds)
    counts = torch.bincount(cell, minlength=len(levels))
    sums = torch.bincount(cell, weights=values, minlength=len(levels))
    means = (sums / counts.clamp(min=1)).tolist()
    counts = counts.tolist()
    zero = levels.index(0.0)
    fitted = [means[k] if counts[k] and k != zero and abs(means[k]) > 1 else levels[k] for k in range(len(levels))]
    if low < -1:
        fitted[0] = low
    if high > 1:
        fitted[-1] = high
    # A level snapped next to its neighbour (or past an extreme) adds nothing: keep the
    # sharp level and the extremes, drop levels within 1 % of the level kept before them.
    kept = [fitted[0]]
    for k in range(1, len(fitted)):
        level = fitted[k]
        if k == zero or k == len(fitted) - 1 or level - kept[-1] > 0.01 * max(abs(level), 1.0):
            if kept[-1] != 0.0 and k == len(fitted) - 1 and level - kept[-1] <= 0.01 * abs(level):
                kept.pop()
            kept.append(level)
    return kept


def level_positions(coc: torch.Tensor, levels: list[float]) -> torch.Tensor:
    """Each pixel's position among the levels: the index of its lower neighbouring level
    plus its share of the upper one, linear in CoC.

    Args:
        coc: (B, 1, H, W) signed CoC in pixels, within ``[levels[0], levels[-1]]``.
        levels: from :func:`coc_levels`.

    Returns:
        (B, 1, H, W) in ``[0, len(levels) - 1]`` (differentiable in ``coc``).
    """
    if len(levels) == 1:
        return torch.zeros_like(coc)
    table = torch.tensor(levels, dtype=torch.float64)
    # Below a level the sharp level reads +1, above it -1 (a CoC of 1 px or less is sharp).
    low, high = _effective(table, 1.0), _effective(table, -1.0)
    # A sharp CoC reads +-1 on its side; with the sharp level at an end, as that end's value.
    top = float(low[-1]) if levels[-1] else -1.0
    bottom = float(high[0]) if levels[0] else 1.0
    value = torch.where(coc.detach() >= 0, coc.clamp(min(1.0, top), top), coc.clamp(bottom, max(-1.0, bottom)))
    upper = torch.bucketize(value.detach(), low.to(coc), right=True, out_int32=True).clamp_(1, len(levels) - 1)
    # on the interval ending at level ``upper``: position = offset + value * slope
    slope = 1.0 / (high[1:] - low[:-1]).clamp(min=1e-6)
    offset = torch.arange(len(levels) - 1, dtype=torch.float64) - low[:-1] * slope
    lines = torch.stack([torch.cat([offset[:1], offset]), torch.cat([slope[:1], slope])], dim=1).to(coc)
    # one flat gather of both (faster than indexing, or than two gathers of 64-bit indices)
    offset, slope = lines.index_select(0, upper.flatten()).view(*coc.shape, 2).unbind(-1)
    return torch.addcmul(offset, value, slope)
