"""Ours: occlusion-aware layered lens in linear light.

The signed circle of confusion splits the scene into depth layers at CoC levels fitted to
the scene (:mod:`dofgen.lens.levels`); each pixel belongs to its two nearest levels with
linear weights, so nothing bands between layers, and a fronto-parallel surface sits on one
level. Each layer (premultiplied colour and alpha) is blurred with the exact aperture kernel
(disc or polygon) at the coarsest power-of-two scale where that kernel still spans
``min_scaled_diameter`` pixels (tent down-sampling, which keeps a point light where it is, and bilinear
up-sampling; a boosted light, in a box around it, at a finer scale, so its bokeh keeps a
crisp rim), then layers are composited far to near, at the finest scale reached so far: each layer
over the normalised colour of the layers behind it. A layer behind is trusted wherever its
coverage is above ``_TRUST``, so holes left by nearer objects are filled from the
surrounding surface and a sharp foreground never bleeds into the blurred background. Where a
blurred foreground (a surface in front of the focal plane's own) leaves the frame
uncovered, the hole is filled from what lies right behind that foreground (the surfaces
it hides, continued), not from the foreground itself, so it spreads softly over what it
hides. Levels no pixel gives weight to are not drawn.

At the frame's border each layer's blur is divided by the share of its kernel inside the
frame (normalised convolution), so the border neither darkens, nor smears its edge pixels
into streaks, nor shows what lies behind a blurred foreground that reaches it. CoCs wider
than four frames (the image's longer side) are drawn four frames wide.

``render_layered`` runs in four steps: :func:`plan_layers` (levels, positions, scales,
windows, light boxes), :func:`blur_level` (one layer), :func:`composite_layers` (far to
near) and :func:`fill_uncovered`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from dofgen.lens.fill import fill_behind
from dofgen.lens.kernels import aperture_kernel
from dofgen.lens.levels import coc_levels, level_positions, sampled

Quality = Literal["accurate", "fast"]
#: Rows and columns of a rectangle of the frame.
Window = tuple[slice, slice]

#: Coverage above which the layers behind are trusted as the colour behind a nearer layer.
_TRUST = 0.1
_EPS = 1e-6
#: Share of the pixels on and between two neighbouring levels that must lie strictly between
#: them for the two to be one split surface (a slanted or curved one); fewer are the
#: anti-aliased rims of two surfaces that occlude each other.
_SPLIT_FRACTION = 0.05
#: Least share of a kernel inside the frame a layer's blur is divided by (a corner's is about
#: a quarter; outside the frame, where it falls to zero, nothing is kept).
_BORDER_COVERAGE = 0.2
#: Coverage short of 1 from which the holes are filled (rounding leaves less).
_UNCOVERED = 1e-4
#: Columns between two lights of a layer from which each is blurred in a box of its own.
_LIT_GAP = 32
#: Share of a lit layer's window its lights' boxes may cover for the rest of the layer to be
#: blurred apart, at its own coarser scale; above it the whole layer is blurred finer.
_LIT_SPLIT_AREA = 0.5
#: Largest CoC, in frames (the image's longer side), that the lens draws: a disc this wide
#: around any pixel covers the whole frame (its radius is over the diagonal), so a layer it
#: blurs is already uniform across the frame; a wider one would only spread it thinner and
#: pad the frame to its coarse scale (gigabytes at 0.05 m from a telephoto focused far away).
_MAX_COC_FRAMES = 4


@dataclass(frozen=True)
class LayerSettings:
    """How finely the layered lens samples blur.

    Attributes:
        ratio: largest ratio between neighbouring CoC levels above 2 px.
        min_scaled_diameter: a layer is blurred at the coarsest power-of-two scale where its
            kernel is at least this many pixels across.
        lit_factor: that many times more for light brighter than white (a boosted
            highlight), so a bright disc's rim stays crisp and nothing spills past it; blurred
            in boxes around the lights, the rest of their layer at its own scale.
    """

    ratio: float
    min_scaled_diameter: float
    lit_factor: float = 1.0


QUALITY: dict[str, LayerSettings] = {
    "accurate": LayerSettings(ratio=2**0.5, min_scaled_diameter=8.0, lit_factor=2.0),
    "fast": LayerSettings(ratio=2.0, min_scaled_diameter=8.0, lit_factor=1.0),
}


def scale_for(diameter: float, min_scaled_diameter: float) -> int:
    """Coarsest power-of-two scale at which a ``diameter`` px kernel spans at least
    ``min_scaled_diameter`` px."""
    scale = 1
    while diameter / (2 * scale) >= min_scaled_diameter:
        scale *= 2
    return scale


def psf_weight(diameter: float, blades: int, in_front: bool) -> torch.Tensor:
    """(K, K) correlation weight (conv2d correlates) of the aperture's point-spread function.
    Behind the focal plane a point spreads into the aperture kernel (a polygon's vertex at
    the top), so the weight is the kernel turned; in front of it, into the kernel turned by
    180 degrees (the image of the aperture is inverted), so the weight is the kernel itself."""
    kernel = aperture_kernel(diameter, blades)
    return kernel if in_front else kernel.flip(-2, -1)


def frame_coverage(weight: torch.Tensor, rows: slice, cols: slice, frame: tuple[float, float]) -> list[tuple[Window, torch.Tensor]]:
    """How much of the correlation ``weight`` (K, K) falls inside the frame (``frame``:
    its height and width, in pixels of this scale) around the pixels of the window ``rows``
    x ``cols`` where some of it falls outside: places along the border, each its place in
    the window (rows, columns) and its share, broadcastable over it ((1, 1, h, w) at the
    corners, (1, 1, h, 1) or (1, 1, 1, w) along the edges); none away from the border. A
    blurred layer divided by it continues to the border as the scene goes on."""
    size, half = weight.shape[-1], weight.shape[-1] // 2

    def runs(span: slice, extent: float) -> list[slice]:
        """The leading, full and trailing runs of ``span`` (relative to it): the rows (or
        columns) whose taps reach before the frame, stay within it, reach past it."""
        length = span.stop - span.start
        before = min(max(half - span.start, 0), length)
        after = min(max(span.stop - max(span.start, round(extent) - half), 0), length)
        before, after = (length, 0) if before + after >= length else (before, after)
        return [slice(0, before), slice(before, length - after), slice(length - after, length)]

    row_runs, col_runs = runs(rows, frame[0]), runs(cols, frame[1])
    places = [(r, c) for r in row_runs for c in col_runs if (r, c) != (row_runs[1], col_runs[1]) and r.stop > r.start and c.stop > c.start]
    if not places:  # away from the border
        return []

    def taps(span: slice, run: slice, extent: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Per row (or column) of ``run`` of ``span``: the first tap inside the frame, and the stop."""
        index = torch.arange(span.start + run.start, span.start + run.stop)
        return (half - index).clamp_(0, size), (round(extent) + half - index).clamp_(0, size)

    table = F.pad(weight.cumsum(0).cumsum(1), (1, 0, 1, 0))  # table[i, j]: taps above i and left of j
    by_row, by_col = table[:, size], table[size, :]  # all columns (rows) of taps

    def share(r: slice, c: slice) -> torch.Tensor:
        """The sum of the taps inside the frame, over the place ``r`` x ``c``."""
        if c == col_runs[1]:  # every column of taps: a share per row
            top, bottom = taps(rows, r, frame[0])
            return (by_row[bottom] - by_row[top])[None, None, :, None]
        left, right = taps(cols, c, frame[1])
        if r == row_runs[1]:
            return (by_col[right] - by_col[left])[None, None, None, :]
        top, bottom = (i[:, None] for i in taps(rows, r, frame[0]))
        return (table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left])[None, None]

    return [((r, c), share(r, c)) for r, c in places]


def blur_layer(rgba: torch.Tensor, kernel: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Correlate a premultiplied layer with the (K, K) ``kernel`` (from :func:`psf_weight`);
    zero outside (a layer is empty beyond its window).

    Args:
        rgba: (B, C, h, w) premultiplied colour and alpha; or, with ``alpha``, colour and a
            unit alpha, premultiplied here (on the CPU straight into the blur's own layout).
        kernel: (K, K) correlation weight.
        alpha: (B, 1, h, w) the layer's alpha, or None.

    Returns:
        (B, C, h, w) blurred premultiplied colour and alpha.
    """
    kernel = kernel.to(rgba)
    if kernel.shape[-1] == 1:
        return rgba if alpha is None else rgba * alpha
    return (_strip_conv if rgba.device.type == "cpu" else _depthwise_conv)(rgba, kernel, alpha)


def _depthwise_conv(rgba: torch.Tensor, kernel: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Zero-padded depthwise correlation of a layer (``rgba`` times ``alpha`` when given)
    with the (K, K) ``kernel``, one plain grouped convolution (the GPU's way). Returns
    (B, C, h, w)."""
    rgba = rgba if alpha is None else rgba * alpha
    size = kernel.shape[-1]
    weight = kernel.expand(rgba.shape[1], 1, size, size)
    # cuDNN plans every new shape (~80 ms each), and layer windows change shape with every
    # camera; PyTorch's own depthwise kernel needs no plan.
    with torch.backends.cudnn.flags(enabled=False):
        return F.conv2d(rgba.contiguous(memory_format=torch.channels_last), weight, padding=size // 2, groups=rgba.shape[1])


#: Channels the CPU's depthwise convolution fills its vector registers with (AVX-512: 16
#: floats); with only 4 (RGBA) it runs 2-5 times slower for the same work.
_CPU_CHANNELS = 16


def _stacked_strips(rgba: torch.Tensor, alpha: torch.Tensor | None, pad: int, strips: int) -> torch.Tensor:
    """The layer (``rgba``, times ``alpha`` when given) zero-padded by ``pad`` and cut
    into ``strips`` vertical strips, each with ``pad`` columns of its neighbours on either
    side, stacked as channels: (B, C * strips, h + 2 pad, strip + 2 pad), channel
    ``c * strips + s`` strip ``s``'s channel ``c``. Each strip is written in place, row by
    row (contiguous runs, no interleaving); under autograd as a recorded copy."""
    batch, channels, height, width = rgba.shape
    strip = -(-width // strips)
    span = strip + 2 * pad
    stacked = rgba.new_empty(batch, channels, strips, height + 2 * pad, span)
    stacked[..., :pad, :].zero_()
    stacked[..., pad + height :, :].zero_()
    for s in range(strips):
        view = stacked[:, :, s, pad : pad + height]  # (B, C, h, span)
        start = s * strip - pad  # the layer's column at the view's first
        first, stop = max(start, 0), min(start + span, width)
        view[..., : first - start].zero_()
        view[..., stop - start :].zero_()
        inside = view[..., first - start : stop - start]
        if alpha is None:
            inside.copy_(rgba[..., first:stop])
        elif _records(rgba, alpha):  # ``out=`` records no graph
            inside.copy_(rgba[..., first:stop] * alpha[..., first:stop])
        else:
            torch.mul(rgba[..., first:stop], alpha[..., first:stop], out=inside)
    return stacked.view(batch, channels * strips, height + 2 * pad, span)


def _strip_conv(rgba: torch.Tensor, kernel: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Zero-padded depthwise correlation of a layer (``rgba`` times ``alpha`` when given)
    with the (K, K) ``kernel``, the frame cut into vertical strips stacked as channels, so
    that C times the strips fill the CPU's vectors. Returns (B, C, h, w)."""
    batch, channels, height, width = rgba.shape
    size = kernel.shape[-1]
    strips = max(1, min(_CPU_CHANNELS // channels, width // (2 * size)))
    stacked = _stacked_strips(rgba, alpha, size // 2, strips)
    strip = stacked.shape[-1] - 2 * (size // 2)
    out = F.conv2d(stacked, kernel.expand(channels * strips, 1, size, size), groups=channels * strips)
    # (B, C * strips, h, strip) -> (B, C, h, strips * strip): runs of a strip's row each
    out = out.view(batch, channels, strips, height, strip).permute(0, 1, 3, 2, 4)
    return out.reshape(batch, channels, height, strips * strip)[..., :width]


def _upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear up-sampling by ``factor`` of (B, C, h, w) composites (smooth at their scale)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class _Patch:
    """A layer's (B, C, h, w) values over its window of the frame; zero elsewhere."""

    values: torch.Tensor
    window: Window

    def upsample(self, factor: int) -> _Patch:
        rows, cols = self.window
        return _Patch(_upsample(self.values, factor), (slice(rows.start * factor, rows.stop * factor), slice(cols.start * factor, cols.stop * factor)))

    def within(self, window: Window) -> tuple[Window, torch.Tensor] | None:
        """Where this patch meets ``window``: the rows and columns there (relative to the
        window) and the (B, C, rows, cols) values; None where they do not meet."""
        (rows, cols), (own_rows, own_cols) = window, self.window
        top, bottom = max(rows.start, own_rows.start), min(rows.stop, own_rows.stop)
        left, right = max(cols.start, own_cols.start), min(cols.stop, own_cols.stop)
        if top >= bottom or left >= right:
            return None
        place = (slice(top - rows.start, bottom - rows.start), slice(left - cols.start, right - cols.start))
        return place, self.values[..., top - own_rows.start : bottom - own_rows.start, left - own_cols.start : right - own_cols.start]


def _share(alpha: torch.Tensor, neighbour: torch.Tensor) -> torch.Tensor:
    """How much of what a neighbouring layer (alpha ``neighbour``) left visible a layer of
    alpha ``alpha`` hides: both are parts of one surface, so together they hide
    ``alpha + neighbour`` of what lies behind them. Shapes broadcast, e.g. (B, 1, h, w)."""
    return alpha.div((1 - neighbour).clamp_(min=_EPS)).clamp_(max=1.0)


def _lit_boxes(bright: torch.Tensor, position: torch.Tensor, count: int) -> dict[int, list[Window]]:
    """Where each of ``count`` levels holds light brighter than white (an HDR light): for
    each such level, the bounding boxes (rows, columns, at full resolution) of its pixels of
    the (B, 1, H, W) ``bright`` mask that give it weight (within one level of it, by their
    (B, 1, H, W) ``position``), one box per group of columns (lights far apart get one each).
    A position a rounding error outside ``[0, count - 1]`` names no level beyond them."""
    where = torch.nonzero(bright[:, 0])
    if where.numel() == 0:
        return {}
    at = position.detach()[:, 0][where.unbind(1)].cpu().numpy()
    rows, cols = where[:, 1].cpu().numpy(), where[:, 2].cpu().numpy()
    boxes = {}
    # in NumPy: small arrays, a few operations per level
    named = np.unique(np.concatenate([np.floor(at), np.ceil(at)])).astype(int)
    for k in named[(named >= 0) & (named < count)].tolist():
        near = np.abs(at - k) < 1
        if not near.any():  # a position a rounding error below a level: floor() names the one under it
            continue
        order = np.argsort(cols[near], kind="stable")
        r, c = rows[near][order], cols[near][order]
        # a new group where the lights' columns leave a gap wider than a few pixels
        starts = [0, *(np.flatnonzero(np.diff(c) > _LIT_GAP) + 1).tolist(), len(c)]
        boxes[k] = [(slice(int(r[a:b].min()), int(r[a:b].max()) + 1), slice(int(c[a]), int(c[b - 1]) + 1)) for a, b in zip(starts, starts[1:])]
    return boxes


def _shared_surfaces(position: torch.Tensor, count: int) -> list[bool]:
    """For each level below the top one, whether a surface is split between it and the
    next: enough pixels of (B, 1, H, W) ``position`` lie strictly between them (a slanted
    or curved surface). Two surfaces that sit on neighbouring levels, their anti-aliased
    rims between them, do not share. Counted on every few pixels, as the levels are fitted."""
    steps = 1000
    counts = [0, 0] + torch.bincount((sampled(position) * steps).long(), minlength=steps * (count - 1) + 1).cumsum(0).tolist()
    on = [counts[steps * k + 2] - counts[steps * k] for k in range(count)]
    between = [counts[steps * k + steps] - counts[steps * k + 2] for k in range(count - 1)]
    return [between[k] > _SPLIT_FRACTION * (between[k] + on[k] + on[k + 1]) for k in range(count - 1)]


def _occupied(position: torch.Tensor, count: int) -> list[bool]:
    """For each of ``count`` levels, whether a pixel of (B, 1, H, W) ``position`` gives it
    weight (lies within one level of it): empty levels are not drawn. Positions are binned
    in 1/256 of a level, so a level whose only weight is under 1/256 (a pixel just short
    of its neighbour) counts as empty."""
    steps = 256
    bins = torch.bincount(position.detach().flatten().mul(steps).ceil_().int().clamp_(0, steps * (count - 1)), minlength=steps * (count - 1) + 1)
    counts = [0, *bins.cumsum(0).tolist()]  # counts[i]: positions in bins below i
    return [counts[min(steps * (k + 1), steps * (count - 1) + 1)] - counts[max(steps * (k - 1) + 1, 0)] > 0 for k in range(count)]


def _records(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd records an operation on ``tensors`` (any of them requires grad)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _writable(target: torch.Tensor, *inputs: torch.Tensor | None) -> torch.Tensor:
    """``target`` itself, to be changed in place; a copy of it when autograd records
    (``target`` or any of the ``inputs`` requires grad), so the same in-place steps build
    the graph."""
    return target.clone() if _records(target, *inputs) else target


def _area(window: Window) -> int:
    """Pixels in a window (rows, columns); 0 when either is empty."""
    rows, cols = window
    return max(rows.stop - rows.start, 0) * max(cols.stop - cols.start, 0)


def _around(place: Window, size: tuple[int, int]) -> list[Window]:
    """Rectangles (rows, columns) that tile a ``size`` frame less the rectangle ``place``."""
    (rows, cols), (height, width) = place, size
    parts = [(slice(0, rows.start), slice(0, width)), (slice(rows.stop, height), slice(0, width)),
             (rows, slice(0, cols.start)), (rows, slice(cols.stop, width))]
    return [part for part in parts if _area(part) > 0]


def _hide(old: torch.Tensor, rgba: torch.Tensor, meet: tuple[Window, torch.Tensor] | None) -> None:
    """A layer's (B, 4, h, w) ``rgba`` over ``old``, in place: where it meets the neighbour
    it shares a surface with (``meet``: place and values), it hides its share of what the
    neighbour left, ``old - share * (old - near) + rgba``; elsewhere ``old (1 - alpha) + rgba``."""
    rest = [(slice(None), slice(None))] if meet is None else _around(meet[0], old.shape[-2:])
    for rows, cols in rest:
        old[..., rows, cols].mul_(1 - rgba[:, 3:, rows, cols]).add_(rgba[..., rows, cols])
    if meet is not None:
        (rows, cols), near = meet
        old[..., rows, cols].lerp_(near, _share(rgba[:, 3:, rows, cols], near[:, 3:])).add_(rgba[..., rows, cols])


def _over(total: torch.Tensor, layer: _Patch, meet: tuple[Window, torch.Tensor] | None) -> torch.Tensor:
    """The (B, 4, h, w) composite ``total`` with ``layer`` over it in its window (see
    :func:`_hide`); in place unless autograd records."""
    total = _writable(total, layer.values, *(meet[1:] if meet else ()))
    rows, cols = layer.window
    _hide(total[..., rows, cols], layer.values, meet)
    return total


def _continue_behind(total: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """(B, 4, h, w) composite normalised by its coverage where trusted (above ``_TRUST``):
    what lies behind a new surface, continued into the holes it left. In place, unless
    autograd records or ``total`` is ``keep`` (a tensor still needed as it is)."""
    alpha = total[:, 3:].clamp(min=_TRUST)
    total = total.clone() if total is keep else _writable(total)
    return total.div_(alpha)


def _support(lo: torch.Tensor, hi: torch.Tensor, level: int, margin: int, scale: int, limit: int) -> slice:
    """Rows (or columns) whose layer positions reach level ``level`` (within one level),
    widened by ``margin`` and aligned to ``scale``. ``lo``/``hi``: per row, the least and
    greatest position (lower level index plus share of the upper)."""
    hits = torch.nonzero((lo < level + 1) & (hi > level - 1))
    if hits.numel() == 0:
        return slice(0, 0)
    first = max(int(hits[0]) - margin, 0) // scale * scale
    last = min(-(-(int(hits[-1]) + 1 + margin) // scale) * scale, limit)
    return slice(first, last)


def _reach(level: float, scale: int) -> int:
    """How far (full-resolution pixels) a layer's blur at ``scale`` reaches past its pixels."""
    return math.ceil(abs(level) / 2) + 2 * scale


@dataclass(frozen=True)
class _Extent:
    """Per row and per column of (B, 1, H', W') level positions, the least and the greatest
    ((H',) and (W',) tensors each), and the frame's size H', W'."""

    rows: tuple[torch.Tensor, torch.Tensor]
    cols: tuple[torch.Tensor, torch.Tensor]
    size: tuple[int, int]

    @staticmethod
    def of(position: torch.Tensor) -> _Extent:
        rows = (position.amin(dim=(0, 1, 3)), position.amax(dim=(0, 1, 3)))
        cols = (position.amin(dim=(0, 1, 2)), position.amax(dim=(0, 1, 2)))
        return _Extent(rows, cols, (position.shape[-2], position.shape[-1]))

    def window(self, k: int, margin: int, scale: int) -> Window:
        """Rows and columns (at full resolution, aligned to ``scale``) whose positions reach
        level ``k``, widened by ``margin``."""
        return _support(*self.rows, k, margin, scale, self.size[0]), _support(*self.cols, k, margin, scale, self.size[1])


def _grown(boxes: list[Window], window: Window, scale: int, margin: int) -> list[Window]:
    """``boxes`` widened by ``margin``, aligned to ``scale`` and kept within ``window``."""

    def grow(span: slice, limit: slice) -> slice:
        return slice(max(span.start - margin, limit.start) // scale * scale, min(-(-(span.stop + margin) // scale) * scale, limit.stop))

    return [(grow(rows, window[0]), grow(cols, window[1])) for rows, cols in boxes]


@dataclass(frozen=True)
class LayerPlan:
    """What the layered lens draws for one CoC map (from :func:`plan_layers`).

    Attributes:
        levels: signed CoC levels (px, ascending, containing 0).
        position: (B, 1, H', W') each pixel's position among the levels (from
            :func:`level_positions`), padded with -2 (no level's weight) to a whole number
            of the coarsest scale's pixels.
        frame: the image's height and width (H, W).
        scales: per level, the scale its layer (its lights, on a lit level) is blurred at.
        bulk: per level, the scale the rest of its layer is blurred at (coarser than
            ``scales`` where its lights are blurred apart, in ``parts``).
        windows: per drawn level, the rows and columns (at full resolution) of its blurred layer.
        parts: per level whose lights are blurred apart, the boxes around them (rows, columns).
        lights: (B, 1, H', W') 1 on light brighter than white where ``parts`` has boxes, else None.
        order: the drawn levels, far to near.
        shared: per drawn level, whether it shares a surface with the level drawn before it.
        nearest_front: the nearest new surface in front of the focal plane's own (what lies
            behind it fills the holes blurred foregrounds leave), or None.
    """

    levels: list[float]
    position: torch.Tensor
    frame: tuple[int, int]
    scales: list[int]
    bulk: list[int]
    windows: dict[int, Window]
    parts: dict[int, list[Window]]
    lights: torch.Tensor | None
    order: list[int]
    shared: dict[int, bool]
    nearest_front: int | None

    @property
    def zero(self) -> int:
        """The sharp level's index."""
        return self.levels.index(0.0)


def _layer_windows(extent: _Extent, levels: list[float], occupied: list[bool], own: list[int], scales: list[int],
                   lit: dict[int, list[Window]]) -> tuple[dict[int, Window], list[int], dict[int, list[Window]]]:
    """Where each occupied level is drawn, at which scale: a lit level at its lights' scale
    (``scales``), or at its own (``own``) with its lights' boxes (``lit``, widened by their
    blur's reach) at theirs where the boxes cover at most ``_LIT_SPLIT_AREA`` of its window.

    Returns:
        The non-empty windows, each level's bulk scale, and the lit levels' boxes.
    """
    windows = {k: extent.window(k, _reach(levels[k], scales[k]), scales[k]) for k in range(len(levels)) if occupied[k]}
    bulk, parts = list(scales), {}
    for k, boxes in lit.items():
        window = extent.window(k, _reach(levels[k], own[k]), own[k])
        grown = _grown(boxes, window, scales[k], _reach(levels[k], scales[k]))
        if own[k] > scales[k] and sum(map(_area, grown)) <= _LIT_SPLIT_AREA * _area(window):
            windows[k], bulk[k], parts[k] = window, own[k], grown
    return {k: w for k, w in windows.items() if _area(w) > 0}, bulk, parts


def _draw_order(windows: dict[int, Window], shares: list[bool], zero: int) -> tuple[list[int], dict[int, bool], int | None]:
    """The drawn levels far to near; for each, whether it shares a surface with the one
    drawn before it (its neighbour, ``shares`` saying a surface is split between them); and
    the nearest new surface in front of the sharp level ``zero`` (None without one)."""
    order = sorted(windows, reverse=True)
    shared = {k: i > 0 and order[i - 1] == k + 1 and shares[k] for i, k in enumerate(order)}
    fronts = [k for i, k in enumerate(order) if i > 0 and k < zero and not shared[k]]
    return order, shared, fronts[-1] if fronts else None


def plan_layers(linear: torch.Tensor, coc: torch.Tensor, settings: LayerSettings) -> LayerPlan | None:
    """Fit the layers to a CoC map: levels, positions, scales, windows and light boxes.

    Args:
        linear: (B, 3, H, W) linear light (light brighter than white is blurred finer).
        coc: (B, 1, H, W) signed CoC diameter in pixels.
        settings: the quality's sampling of blur.

    Returns:
        The plan, or None where every pixel is within 1 px of focus (nothing to blur).
    """
    height, width = linear.shape[-2:]
    limit = _MAX_COC_FRAMES * max(height, width)
    coc = coc.clamp(-limit, limit)
    levels = coc_levels(coc, settings.ratio)
    if len(levels) == 1:
        return None
    position = level_positions(coc, levels)
    occupied = _occupied(position, len(levels))
    # Lights brighter than white are blurred finer (``lit_factor``), in boxes around them.
    bright = linear.detach().amax(dim=1, keepdim=True) > 1.0 if settings.lit_factor != 1 else None
    lit = {k: v for k, v in _lit_boxes(bright, position, len(levels)).items() if occupied[k]} if bright is not None else {}
    own = [scale_for(abs(level), settings.min_scaled_diameter) for level in levels]
    scales = [scale_for(abs(levels[k]), settings.min_scaled_diameter * settings.lit_factor) if k in lit else own[k] for k in range(len(levels))]
    top = max(own)
    pad = (0, (-width) % top, 0, (-height) % top)
    # Outside the frame (the padding to a whole number of coarse pixels) no layer has any
    # alpha; each layer's blur is normalised at the frame's border (frame_coverage).
    position = F.pad(position, pad, value=-2.0) if any(pad) else position
    windows, bulk, parts = _layer_windows(_Extent.of(position.detach()), levels, occupied, own, scales, lit)
    lights = F.pad(bright.to(linear.dtype), pad) if parts else None
    shares = _shared_surfaces(position.detach()[..., :height, :width], len(levels))
    order, shared, nearest_front = _draw_order(windows, shares, levels.index(0.0))
    return LayerPlan(levels, position, (height, width), scales, bulk, windows, parts, lights, order, shared, nearest_front)


def _blurred(opaque: torch.Tensor, window: Window, scale: int, kernel: torch.Tensor, alpha: torch.Tensor, frame: tuple[int, int]) -> _Patch:
    """The image with a unit alpha, ``opaque`` (B, 4, H', W'), times ``alpha`` (B, 1, h, w)
    over ``window`` (h x w, at full resolution), blurred with the correlation ``kernel`` at
    ``scale`` and normalised at the border of the (H, W) ``frame``: a (B, 4, h / scale,
    w / scale) patch at that scale."""
    rows, cols = window
    if scale > 1:  # a tent keeps a point's position (a box would snap it to its block)
        rgba = F.interpolate(opaque[..., rows, cols] * alpha, scale_factor=1 / scale, mode="bilinear", antialias=True, align_corners=False)
        rgba = blur_layer(rgba, kernel)
    else:
        rgba = blur_layer(opaque[..., rows, cols], kernel, alpha)
    scaled = (slice(rows.start // scale, rows.stop // scale), slice(cols.start // scale, cols.stop // scale))
    for (r, c), coverage in frame_coverage(kernel, *scaled, (frame[0] / scale, frame[1] / scale)):
        rgba[..., r, c] /= coverage.to(rgba).clamp_(min=_BORDER_COVERAGE)  # the scene goes on
    return _Patch(rgba, scaled)


def blur_level(opaque: torch.Tensor, plan: LayerPlan, k: int, composite: int, blades: int) -> _Patch:
    """One layer blurred with the aperture's kernel at its scale (its lights, in their
    boxes, at theirs), brought to the ``composite`` scale.

    Args:
        opaque: (B, 4, H', W') the image with a unit alpha, padded like ``plan.position``.
        plan: from :func:`plan_layers`.
        k: a drawn level.
        composite: the scale of the composite (at most the layer's bulk scale).
        blades: 0 for a circular aperture, 5 to 9 for a polygon.

    Returns:
        The layer's (B, 4, h, w) premultiplied colour and alpha over its window, at the
        ``composite`` scale.
    """
    scale, (rows, cols), lit = plan.bulk[k], plan.windows[k], plan.scales[k]
    level, in_front = abs(plan.levels[k]), k < plan.zero
    alpha = (plan.position[..., rows, cols] - k).abs_().neg_().add_(1.0).relu_()  # the tent 1 - |p - k|
    kernel = psf_weight(level / scale, blades, in_front)
    if k not in plan.parts:
        return _blurred(opaque, (rows, cols), scale, kernel, alpha, plan.frame).upsample(scale // composite)
    light = plan.lights[..., rows, cols]
    patch = _blurred(opaque, (rows, cols), scale, kernel, alpha * (1 - light), plan.frame).upsample(scale // composite)
    fine = psf_weight(level / lit, blades, in_front)
    for r, c in plan.parts[k]:
        inside = (..., slice(r.start - rows.start, r.stop - rows.start), slice(c.start - cols.start, c.stop - cols.start))
        part = _blurred(opaque, (r, c), lit, fine, alpha[inside] * light[inside], plan.frame).upsample(lit // composite)
        place, values = part.within(patch.window)
        patch.values[..., place[0], place[1]] += values
    return patch


def composite_layers(opaque: torch.Tensor, plan: LayerPlan, blades: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The blurred layers composited far to near (premultiplied "over"), at the finest
    scale reached so far. Neighbouring levels share the surfaces split between them, so a
    layer hides what lies behind its neighbour only where the neighbour left it visible.
    Before a new surface, what lies behind it is continued into the holes it left
    (normalised where trusted), so it neither darkens nor takes the surface's colour.

    Args:
        opaque: (B, 4, H', W') the image with a unit alpha, padded like ``plan.position``.
        plan: from :func:`plan_layers`.
        blades: 0 for a circular aperture, 5 to 9 for a polygon.

    Returns:
        (B, 4, H', W') the composite's premultiplied colour and coverage, and (B, 4, H', W')
        the background holes are filled from: what lies behind the nearest blurred
        foreground (``plan.nearest_front``), or the composite itself without one.
    """
    total, last, background = None, None, None
    scale = plan.scales[plan.order[0]]
    for k in plan.order:
        factor, scale = scale // min(scale, plan.scales[k]), min(scale, plan.scales[k])
        if factor > 1:
            total, last = _upsample(total, factor), last.upsample(factor)
        layer = blur_level(opaque, plan, k, scale, blades)
        if total is None:  # the farthest layer, over nothing: its own rgba, zero around it
            (rows, cols), height, width = layer.window, opaque.shape[-2] // scale, opaque.shape[-1] // scale
            total = F.pad(layer.values, (cols.start, width - cols.stop, rows.start, height - rows.stop))
        else:
            if not plan.shared[k]:
                if k == plan.nearest_front:
                    background = _upsample(total, scale)
                total = _continue_behind(total, keep=background)
            total = _over(total, layer, last.within(layer.window) if plan.shared[k] else None)
        last = layer
    total = _upsample(total, scale)
    return total, total if background is None else background


def fill_uncovered(total: torch.Tensor, background: torch.Tensor, frame: tuple[int, int]) -> torch.Tensor:
    """The composite's colour within the frame, normalised where layers sum to over full
    coverage; where they leave it uncovered (holes that nearer objects hid, seen past a
    blurred foreground or beside a sharp one), the background continued into the hole.

    Args:
        total: (B, 4, H', W') composite colour and coverage (changed in place unless
            autograd records).
        background: (B, 4, H', W') what the holes are filled from.
        frame: the image's (H, W).

    Returns:
        (B, 3, H, W) linear light.
    """
    height, width = frame
    alpha = total[:, 3:, :height, :width]
    least, most = (float(v) for v in torch.aminmax(alpha.detach()))
    fill = fill_behind(background[..., :height, :width].contiguous(), _TRUST) if least < 1.0 - _UNCOVERED else None
    out = _writable(total[:, :3, :height, :width])
    if most > 1.0:
        out.div_(alpha.clamp(min=1.0))
    return out if fill is None else out.addcmul_((1 - alpha).clamp_(min=0.0), fill)


def render_layered(linear: torch.Tensor, coc: torch.Tensor, blades: int = 0, quality: Quality = "accurate") -> torch.Tensor:
    """Occlusion-aware layered defocus: plan the layers, blur each and composite them far
    to near, fill what is left uncovered.

    Args:
        linear: (B, 3, H, W) linear-light image.
        coc: (B, 1, H, W) signed CoC diameter in pixels (negative in front of focus).
        blades: 0 for a circular aperture, 5 to 9 for a polygon.
        quality: ``"accurate"`` (default) or ``"fast"`` (coarser levels and scales).

    Returns:
        (B, 3, H, W) defocused linear-light image.
    """
    plan = plan_layers(linear, coc, QUALITY[quality])
    if plan is None:  # everything within 1 px of focus
        return linear
    # The image with a unit alpha: a layer's premultiplied colour and alpha is it times the
    # layer's alpha.
    opaque = torch.cat([linear, linear.new_ones(linear.shape[0], 1, *plan.frame)], dim=1)
    pad = (0, plan.position.shape[-1] - plan.frame[1], 0, plan.position.shape[-2] - plan.frame[0])
    opaque = F.pad(opaque, pad) if any(pad) else opaque
    total, background = composite_layers(opaque, plan, blades)
    return fill_uncovered(total, background, plan.frame)
