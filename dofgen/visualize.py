"""Colour-mapped views of depth, saliency and circle-of-confusion maps."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image


#: Legend captions, in glyphs Pillow's bundled font has (it has no arrows).
DEPTH_LEGEND = "depth (m): far to near"
COC_LEGEND = "CoC (px): in front < 0 < behind"


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


def has_glyphs(text: str, font) -> bool:
    """True when ``font`` draws every character of ``text`` (none falls back to the
    empty box of a missing glyph)."""
    missing = font.getmask("\ue000")  # a private-use code point: no font draws it
    blank = (bytes(missing), missing.size)
    return all(c.isspace() or (bytes(m := font.getmask(c)), m.size) != blank for c in text)


def with_legend(view: Image.Image, cmap: str, low: float, high: float, label: str) -> Image.Image:
    """``view`` with a colour bar under it, its ends labelled ``low`` and ``high`` and a
    caption (in glyphs Pillow's bundled font has: no arrows)."""
    from PIL import ImageDraw, ImageFont

    width = view.width
    bar_height, text_height = max(8, view.height // 40), max(14, view.height // 30)
    ramp = colormaps[cmap](np.linspace(0.0, 1.0, width))[:, :3]
    bar = np.broadcast_to((ramp * 255).round().astype(np.uint8)[None], (bar_height, width, 3))
    canvas = Image.new("RGB", (width, view.height + bar_height + text_height + 6), (255, 255, 255))
    canvas.paste(view, (0, 0))
    canvas.paste(Image.fromarray(np.ascontiguousarray(bar)), (0, view.height + 2))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=text_height - 2)
    y = view.height + bar_height + 4
    draw.text((2, y), f"{low:.3g}", fill=(0, 0, 0), font=font)
    right = f"{high:.3g}"
    draw.text((width - 2 - draw.textlength(right, font=font), y), right, fill=(0, 0, 0), font=font)
    draw.text(((width - draw.textlength(label, font=font)) / 2, y), label, fill=(0, 0, 0), font=font)
    return canvas


def scene_maps(result) -> list[tuple[Image.Image, str]]:
    """Captioned views of a ``DefocusResult``: all-in-focus, depth, saliency and CoC, with legends."""
    depth = result.depth.detach().float().cpu()
    near, far = float(torch.quantile(depth, 0.01)), float(torch.quantile(depth, 0.99))
    coc = result.coc
    limit = max(float(coc.abs().max()), 1.0)
    return [
        (result.all_in_focus, "All in focus"),
        (with_legend(colorize(1.0 / depth, "magma", 1.0 / far, 1.0 / near), "magma", far, near, DEPTH_LEGEND), "Depth"),
        (with_legend(colorize(result.saliency, "viridis", 0.0, 1.0), "viridis", 0.0, 1.0, "saliency"), "Saliency"),
        (with_legend(coc_view(coc), "RdBu_r", -limit, limit, COC_LEGEND), "Circle of confusion"),
    ]
