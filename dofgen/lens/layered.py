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
into streaks, nor shows what lies behind a blurred foreground that reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F

from dofgen.lens.fill import fill_behind
from dofgen.lens.kernels import aperture_kernel
from dofgen.lens.levels import coc_levels, level_positions, sampled

Quality = Literal["accurate", "fast"]

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


def frame_coverage(weight: torch.Tensor, rows: slice, cols: slice, frame: tuple[float, float]) -> list[tuple[tuple[slice, slice], torch.Tensor]]:
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
    ``c * strips + s`` strip ``s``'s channel ``c``. Without autograd each strip is written
    in place, row by row (contiguous runs, no interleaving)."""
    batch, channels, height, width = rgba.shape
    strip = -(-width // strips)
    span = strip + 2 * pad
    if torch.is_grad_enabled() and (rgba.requires_grad or (alpha is not None and alpha.requires_grad)):
        padded = F.pad(rgba if alpha is None else rgba * alpha, (pad, pad + strips * strip - width, pad, pad))
        # (B, C, H + 2 pad, strips, span) -> (B, C, strips, H + 2 pad, span)
        stacked = padded.unfold(-1, span, strip).permute(0, 1, 3, 2, 4)
        return stacked.reshape(batch, channels * strips, height + 2 * pad, span)
    stacked = rgba.new_empty(batch, channels, strips, height + 2 * pad, span)
    stacked[..., :pad, :].zero_()
    stacked[..., pad + height :, :].zero_()
    for s in range(strips):
        view = stacked[:, :, s, pad : pad + height]  # (B, C, h, span)
        start = s * strip - pad  # the layer's column at the view's first
        first, stop = max(start, 0), min(start + span, width)
        view[..., : first - start].zero_()
        view[..., stop - start :].zero_()
        if alpha is None:
            view[..., first - start : stop - start] = rgba[..., first:stop]
        else:
            torch.mul(rgba[..., first:stop], alpha[..., first:stop], out=view[..., first - start : stop - start])
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
    window: tuple[slice, slice]

    def upsample(self, factor: int) -> _Patch:
        rows, cols = self.window
        return _Patch(_upsample(self.values, factor), (slice(rows.start * factor, rows.stop * factor), slice(cols.start * factor, cols.stop * factor)))

    def within(self, window: tuple[slice, slice]) -> tuple[tuple[slice, slice], torch.Tensor] | None:
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


def _lit_boxes(bright: torch.Tensor, position: torch.Tensor) -> dict[int, list[tuple[slice, slice]]]:
    """Where each level holds light brighter than white (an HDR light): for each such
    level, the bounding boxes (rows, columns, at full resolution) of its pixels of the
    (B, 1, H, W) ``bright`` mask that give it weight (within one level of it, by their
    (B, 1, H, W) ``position``), one box per group of columns (lights far apart get one each)."""
    where = torch.nonzero(bright[:, 0])
    if where.numel() == 0:
        return {}
    at = position.detach()[:, 0][where.unbind(1)].cpu().numpy()
    rows, cols = where[:, 1].cpu().numpy(), where[:, 2].cpu().numpy()
    boxes = {}
    # in NumPy: small arrays, a few operations per level
    for k in np.unique(np.concatenate([np.floor(at), np.ceil(at)])).astype(int).tolist():
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


def _update(target: torch.Tensor, window: tuple[slice, slice], change: Callable[[torch.Tensor], object], *inputs: torch.Tensor) -> torch.Tensor:
    """``target`` with ``change`` applied in place to its ``window``; on a copy when autograd
    records (``target`` or any of the ``inputs`` requires grad)."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (target, *inputs)):
        target = target.clone()
    change(target[..., window[0], window[1]])
    return target


def _around(place: tuple[slice, slice], size: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Rectangles (rows, columns) that tile a ``size`` frame less the rectangle ``place``."""
    (rows, cols), (height, width) = place, size
    parts = [(slice(0, rows.start), slice(0, width)), (slice(rows.stop, height), slice(0, width)),
             (rows, slice(0, cols.start)), (rows, slice(cols.stop, width))]
    return [(r, c) for r, c in parts if r.stop > r.start and c.stop > c.start]


def _hide(old: torch.Tensor, rgba: torch.Tensor, meet: tuple[tuple[slice, slice], torch.Tensor] | None) -> None:
    """A layer's (B, 4, h, w) ``rgba`` over ``old``, in place: where it meets the neighbour
    it shares a surface with (``meet``: place and values), it hides its share of what the
    neighbour left, ``old - share * (old - near) + rgba``; elsewhere ``old (1 - alpha) + rgba``."""
    rest = [(slice(None), slice(None))] if meet is None else _around(meet[0], old.shape[-2:])
    for rows, cols in rest:
        old[..., rows, cols].mul_(1 - rgba[:, 3:, rows, cols]).add_(rgba[..., rows, cols])
    if meet is not None:
        (rows, cols), near = meet
        old[..., rows, cols].lerp_(near, _share(rgba[:, 3:, rows, cols], near[:, 3:])).add_(rgba[..., rows, cols])


def _continue_behind(total: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """(B, 4, h, w) composite normalised by its coverage where trusted (above ``_TRUST``):
    what lies behind a new surface, continued into the holes it left. In place, unless
    autograd records or ``total`` is ``keep`` (a tensor still needed as it is)."""
    alpha = total[:, 3:].clamp(min=_TRUST)
    if total is keep or (torch.is_grad_enabled() and total.requires_grad):
        return total / alpha
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


def render_layered(linear: torch.Tensor, coc: torch.Tensor, blades: int = 0, quality: Quality = "accurate") -> torch.Tensor:
    """Occlusion-aware layered defocus.

    Args:
        linear: (B, 3, H, W) linear-light image.
        coc: (B, 1, H, W) signed CoC diameter in pixels (negative in front of focus).
        blades: 0 for a circular aperture, 5 to 9 for a polygon.
        quality: ``"accurate"`` (default) or ``"fast"`` (coarser levels and scales).

    Returns:
        (B, 3, H, W) defocused linear-light image.
    """
    settings = QUALITY[quality]
    height, width = linear.shape[-2:]
    levels = coc_levels(coc, settings.ratio)
    if len(levels) == 1:  # everything within 1 px of focus
        return linear
    position = level_positions(coc, levels)
    occupied = _occupied(position, len(levels))
    # Lights brighter than white are blurred finer (``lit_factor``), in boxes around them;
    # the rest of their layer at its own scale.
    bright = linear.detach().amax(dim=1, keepdim=True) > 1.0 if settings.lit_factor != 1 else None
    lit = {k: v for k, v in _lit_boxes(bright, position).items() if occupied[k]} if bright is not None else {}
    own = [scale_for(abs(level), settings.min_scaled_diameter) for level in levels]
    scales = [scale_for(abs(levels[k]), settings.min_scaled_diameter * settings.lit_factor) if k in lit else own[k] for k in range(len(levels))]
    zero = levels.index(0.0)
    top = max(own)
    pad = (0, (-width) % top, 0, (-height) % top)
    # The image with a unit alpha: a layer's premultiplied colour and alpha is it times the
    # layer's alpha.
    opaque = torch.cat([linear, linear.new_ones(linear.shape[0], 1, height, width)], dim=1)
    opaque = F.pad(opaque, pad) if any(pad) else opaque
    full_h, full_w = opaque.shape[-2:]

    # Outside the frame (the padding to a whole number of coarse pixels) no layer has any
    # alpha; each layer's blur is normalised at the frame's border (frame_coverage).
    position = F.pad(position, pad, value=-2.0) if any(pad) else position
    detached = position.detach()
    shares = _shared_surfaces(detached[..., :height, :width], len(levels))
    row_lo, row_hi = detached.amin(dim=(0, 1, 3)), detached.amax(dim=(0, 1, 3))
    col_lo, col_hi = detached.amin(dim=(0, 1, 2)), detached.amax(dim=(0, 1, 2))

    def reach(k: int, scale: int) -> int:
        """How far (full-resolution pixels) layer k's blur at ``scale`` reaches past its pixels."""
        return math.ceil(abs(levels[k]) / 2) + 2 * scale

    def window(k: int, scale: int) -> tuple[slice, slice]:
        """Rows and columns (at full resolution, aligned to ``scale``) that hold all of
        layer k once blurred."""
        margin = reach(k, scale)
        return _support(row_lo, row_hi, k, margin, scale, full_h), _support(col_lo, col_hi, k, margin, scale, full_w)

    def lit_parts(k: int, rows: slice, cols: slice) -> list[tuple[slice, slice]]:
        """The boxes around layer k's lights, widened by their blur's reach, aligned to the
        lit scale and within the layer's window ``rows`` x ``cols``."""
        scale, margin = scales[k], reach(k, scales[k])
        grow = lambda span, limit: slice(max(span.start - margin, limit.start) // scale * scale, min(-(-(span.stop + margin) // scale) * scale, limit.stop))
        return [(grow(r, rows), grow(c, cols)) for r, c in lit[k]]

    def blurred(rows: slice, cols: slice, scale: int, kernel: torch.Tensor, alpha: torch.Tensor) -> _Patch:
        """The image times ``alpha`` over the window ``rows`` x ``cols``, blurred with the
        correlation ``kernel`` at ``scale`` and normalised at the frame's border."""
        if scale > 1:  # a tent keeps a point's position (a box would snap it to its block)
            rgba = F.interpolate(opaque[..., rows, cols] * alpha, scale_factor=1 / scale, mode="bilinear", antialias=True, align_corners=False)
            rgba = blur_layer(rgba, kernel)
        else:
            rgba = blur_layer(opaque[..., rows, cols], kernel, alpha)
        scaled = (slice(rows.start // scale, rows.stop // scale), slice(cols.start // scale, cols.stop // scale))
        for (r, c), coverage in frame_coverage(kernel, *scaled, (height / scale, width / scale)):
            rgba[..., r, c] /= coverage.to(rgba).clamp_(min=_BORDER_COVERAGE)  # the scene goes on
        return _Patch(rgba, scaled)

    def layer(k: int, composite: int) -> tuple[torch.Tensor, tuple[slice, slice]]:
        """Layer k blurred at its scale (its lights at theirs), and its window, at the
        ``composite`` scale (finer than the layer's own after a lit layer)."""
        scale, (rows, cols) = bulk[k], windows[k]
        alpha = (position[..., rows, cols] - k).abs_().neg_().add_(1.0).relu_()  # the tent 1 - |p - k|
        kernel = psf_weight(abs(levels[k]) / scale, blades, in_front=k < zero)
        if k not in parts:
            patch = blurred(rows, cols, scale, kernel, alpha).upsample(scale // composite)
            return patch.values, patch.window
        light = lights[..., rows, cols]
        patch = blurred(rows, cols, scale, kernel, alpha * (1 - light)).upsample(scale // composite)
        fine = psf_weight(abs(levels[k]) / scales[k], blades, in_front=k < zero)
        for r, c in parts[k]:
            inside = (..., slice(r.start - rows.start, r.stop - rows.start), slice(c.start - cols.start, c.stop - cols.start))
            part = blurred(r, c, scales[k], fine, alpha[inside] * light[inside]).upsample(scales[k] // composite)
            place, values = part.within(patch.window)
            patch.values[..., place[0], place[1]] += values
        return patch.values, patch.window

    # A layer is drawn where any pixel lies within one level of it; a lit one at the lit
    # scale, or at its own with its lights' boxes at the lit scale where they are small.
    windows = {k: window(k, scales[k]) for k in range(len(levels)) if occupied[k]}
    bulk, parts = dict(enumerate(scales)), {}
    for k in lit:
        rows, cols = window(k, own[k])
        boxes = lit_parts(k, rows, cols)
        area = sum((r.stop - r.start) * (c.stop - c.start) for r, c in boxes)
        if own[k] > scales[k] and area <= _LIT_SPLIT_AREA * (rows.stop - rows.start) * (cols.stop - cols.start):
            windows[k], bulk[k], parts[k] = (rows, cols), own[k], boxes
    lights = F.pad(bright.to(linear.dtype), pad) if parts else None
    windows = {k: w for k, w in windows.items() if w[0].stop > w[0].start and w[1].stop > w[1].start}
    order = [k for k in range(len(levels) - 1, -1, -1) if k in windows]  # far to near

    # Far to near, premultiplied "over". Neighbouring levels share the surfaces split
    # between them, so a layer hides what lies behind its neighbour only where the neighbour
    # left it visible: together they hide it as the whole surface would.
    shared = {k: i > 0 and order[i - 1] == k + 1 and shares[k] for i, k in enumerate(order)}
    # The nearest new surface in front of the focal plane's own: what lies behind it is what
    # the holes that blurred foregrounds leave are filled from.
    fronts = [k for i, k in enumerate(order) if i > 0 and k < zero and not shared[k]]
    nearest_front = fronts[-1] if fronts else None
    total, scale, background = None, scales[order[0]], None
    for k in order:
        factor, scale = scale // min(scale, scales[k]), min(scale, scales[k])
        if factor > 1:
            total, last = _upsample(total, factor), last.upsample(factor)
        rgba, window = layer(k, scale)
        if total is None:  # the farthest layer, over nothing: its own rgba, zero around it
            (rows, cols), size = window, (full_h // scale, full_w // scale)
            total = F.pad(rgba, (cols.start, size[1] - cols.stop, rows.start, size[0] - rows.stop))
        else:
            if not shared[k]:
                if k == nearest_front:
                    background = _upsample(total, scale)
                # A new surface: what lies behind it is continued into the holes it left there
                # (normalised where trusted), so it neither darkens nor takes the surface's colour.
                total = _continue_behind(total, keep=background)
            meet = last.within(window) if shared[k] else None
            total = _update(total, window, lambda old: _hide(old, rgba, meet), rgba, *(meet[1:] if meet else ()))
        last = _Patch(rgba, window)
    total = _upsample(total, scale)
    background = total if background is None else background

    # Where the layers leave the frame uncovered (holes that nearer objects hid, seen past
    # a blurred foreground or beside a sharp one): the background continued into the hole.
    alpha = total[:, 3:, :height, :width]
    least, most = (float(v) for v in torch.aminmax(alpha.detach()))
    fill = fill_behind(background[..., :height, :width].contiguous(), _TRUST) if least < 1.0 - _UNCOVERED else None
    out = total[:, :3, :height, :width]
    if torch.is_grad_enabled() and total.requires_grad:  # a new tensor, for autograd
        out = out / alpha.clamp(min=1.0) if most > 1.0 else out.clone()
    elif most > 1.0:  # in place: the composite is not needed any more
        out.div_(alpha.clamp(min=1.0))
    return out if fill is None else out.addcmul_((1 - alpha).clamp_(min=0.0), fill)
