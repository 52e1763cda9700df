"""Colour-mapped views of depth, saliency and circle-of-confusion maps."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image


def colorize(values: torch.Tensor, cmap: str = "magma", vmin: float | None = None, vmax: float | None = None) -> Image.Image:
    """(H, W) values to an RGB image through a matplotlib colour map.

    ``vmin``/``vmax`` default to the 1st and 99th percentiles of the finite values.
    """
    array = values.detach().float().cpu().numpy()
    finite = array[np.isfinite(array)]
    low = float(np.percentile(finite, 1)) if vmin is None and finite.size else (vmin or 0.0)
    high = float(np.percentile(finite, 99)) if vmax is None and finite.size else (vmax if vmax is not None else 1.0)
    scaled = np.clip((np.nan_to_num(array, nan=low) - low) / max(high - low, 1e-12), 0.0, 1.0)
    rgb = colormaps[cmap](scaled)[..., :3]
    return Image.fromarray((rgb * 255).round().astype(np.uint8))


def depth_view(depth: torch.Tensor) -> Image.Image:
    """Depth in metres, near bright and far dark (inverse depth through 'magma')."""
    return colorize(1.0 / depth, "magma")


def coc_view(coc: torch.Tensor) -> Image.Image:
    """Signed CoC: blue in front of the focal plane, white in focus, red behind."""
    limit = max(float(coc.abs().max()), 1.0)
    return colorize(coc, "RdBu_r", -limit, limit)
