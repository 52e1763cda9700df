"""Focus distance F: from saliency (automatic, Figure A5) or from a click."""

from __future__ import annotations

import torch

#: Weight exponent on saliency: squares sharpen the weights toward the most salient object.
SALIENCY_POWER = 2.0
#: A jump in depth larger than this ratio inside the click window splits two surfaces.
EDGE_RATIO = 1.10
#: The nearer surface wins a click on an edge when it covers at least this share of the window.
NEAR_SHARE = 0.25


def _weighted_median(values: torch.Tensor, weights: torch.Tensor) -> float:
    order = torch.argsort(values)
    values, weights = values[order], weights[order].double()
    cumulative = torch.cumsum(weights, 0)
    index = int(torch.searchsorted(cumulative, cumulative[-1] / 2))
    return float(values[min(index, values.numel() - 1)])


def focus_distance(depth: torch.Tensor, saliency: torch.Tensor | None) -> float:
    """Saliency-weighted depth, robust to outliers and holes.

    ``F = weighted median of D over valid pixels, with weights S^2`` — the weighted sum of
    Figure A5 made robust: a median ignores stray far or near pixels that a mean would follow.
    Pixels whose depth is not finite and positive, or whose saliency is not finite, are left
    out. An empty saliency map (all zero, or none) falls back to the central third of the
    frame (rows and columns): people frame what matters near the centre.

    Args:
        depth: (H, W) metres.
        saliency: (H, W) in [0, 1], or None.

    Returns:
        The focus distance in metres.
    """
    if depth.dim() != 2:
        raise ValueError(f"depth must be (H, W), got {tuple(depth.shape)}")
    valid = torch.isfinite(depth) & (depth > 0)
    if not bool(valid.any()):
        raise ValueError("depth has no valid value to focus on")
    weights = torch.zeros_like(depth, dtype=torch.float64)
    if saliency is not None:
        if saliency.shape != depth.shape:
            raise ValueError(f"saliency {tuple(saliency.shape)} does not match depth {tuple(depth.shape)}")
        saliency = saliency.to(depth.device)
        good = torch.isfinite(saliency)
        weights = torch.where(good, saliency.double().clamp(min=0.0) ** SALIENCY_POWER, 0.0)
    weights = torch.where(valid, weights, 0.0)
    if float(weights.sum()) <= 1e-9:
        height, width = depth.shape
        weights = torch.zeros_like(weights)
        weights[height // 3 : height - height // 3, width // 3 : width - width // 3] = 1.0
        weights = torch.where(valid, weights, 0.0)
        if float(weights.sum()) == 0.0:  # the centre is all holes
            weights = valid.double()
    return _weighted_median(depth[valid], weights[valid])


def focus_at(depth: torch.Tensor, x: int, y: int, radius: int | None = None) -> float:
    """Focus distance for a click at pixel (x, y): a robust depth around it.

    The depths in a square window (``radius`` px, by default 1 % of the shorter side, at
    least 2) are split at their largest jump when it exceeds ``EDGE_RATIO``. On such a depth
    edge the nearer surface wins when it covers at least ``NEAR_SHARE`` of the window — people
    click on objects, and objects stand in front of what is behind them; otherwise the
    farther one. The result is the median of the chosen surface (of all the window's depths
    when there is no edge). Invalid depths are left out; a window with none grows until it
    finds some.

    Raises:
        ValueError: (x, y) lies outside the image.
    """
    height, width = depth.shape[-2:]
    if not (isinstance(x, (int, float)) and isinstance(y, (int, float))) or not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"click ({x}, {y}) is outside the {width}x{height} image")
    x, y = int(x), int(y)
    radius = radius or max(2, round(min(height, width) / 100))
    while True:
        window = depth[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1].flatten()
        values = window[torch.isfinite(window) & (window > 0)]
        if values.numel() or radius > max(height, width):
            break
        radius *= 2
    if values.numel() == 0:
        raise ValueError("depth has no valid value to focus on")
    ordered = torch.sort(values).values
    if ordered.numel() > 1:
        jumps = ordered[1:] / ordered[:-1]
        split = int(torch.argmax(jumps))
        if float(jumps[split]) > EDGE_RATIO:
            near, far = ordered[: split + 1], ordered[split + 1 :]
            ordered = near if near.numel() >= NEAR_SHARE * ordered.numel() else far
    return float(ordered.median())
