"""Ours: occlusion-aware layered lens in linear light.

The signed circle of confusion splits the scene into depth layers at fixed CoC levels
(linear below 4 px, geometric above). Each pixel belongs to its two nearest levels with
linear weights, so nothing bands between layers. Each layer (premultiplied colour and
alpha) is blurred with the aperture kernel at a resolution that suits its blur (large blurs
at coarse scales, with the kernel shrunk so the variance still matches), then layers are
composited:

* behind the focal plane, far to near, each layer over the normalised colour of the layers
  behind it; a layer behind is trusted wherever its coverage is above ``_TRUST``, so holes
  left by nearer objects are filled from the surrounding background and a sharp foreground
  never bleeds into the blurred background;
* in front of the focal plane, near to far, accumulated premultiplied, then laid over the
  rest, so a blurred foreground spreads softly over a sharp background.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dofgen.lens.fill import fill_holes_push_pull
from dofgen.lens.kernels import aperture_kernel

#: Ratio between consecutive CoC levels above 4 px.
LEVEL_RATIO = math.sqrt(2.0)
#: A layer is blurred at the coarsest power-of-two scale where its diameter stays >= this.
MIN_SCALED_DIAMETER = 4.0
#: Coverage above which the layers behind are trusted as the colour behind a nearer layer.
_TRUST = 0.1
_EPS = 1e-6


def coc_levels(max_abs_diameter: float) -> list[float]:
    """Signed CoC levels (pixels, ascending) that cover ``[-max, max]``."""
    mags = [0.0, 1.0, 2.0, 4.0]
    while mags[-1] < max_abs_diameter:
        mags.append(mags[-1] * LEVEL_RATIO)
    while len(mags) > 2 and mags[-2] >= max_abs_diameter:
        mags.pop()
    return [-m for m in reversed(mags[1:])] + mags


def _scale_for(diameter: float) -> int:
    scale = 1
    while diameter / (2 * scale) >= MIN_SCALED_DIAMETER:
        scale *= 2
    return scale


def _scaled_diameter(diameter: float, scale: int) -> float:
    """Kernel diameter at ``scale`` whose blur, with the box down- and bilinear up-sampling
    (variance scale^2/4), has the variance of a disc of ``diameter`` at full resolution."""
    if scale == 1:
        return diameter
    return math.sqrt(max((diameter / scale) ** 2 - 4.0, 0.0))


def _blur(rgba: torch.Tensor, diameter: float, blades: int) -> torch.Tensor:
    """Blur (B, 4, h, w) premultiplied colour and alpha with the aperture kernel."""
    kernel = aperture_kernel(diameter, blades, device=rgba.device, dtype=rgba.dtype)
    if kernel.numel() == 1:
        return rgba
    size = kernel.shape[-1]
    weight = kernel.expand(rgba.shape[1], 1, size, size)
    # Replicate padding: the scene goes on past the frame, so borders neither darken nor fade.
    rgba = F.pad(rgba, (size // 2,) * 4, mode="replicate").contiguous(memory_format=torch.channels_last)
    # cuDNN plans every new shape (~80 ms each), and layer windows change shape with every
    # camera; PyTorch's own depthwise kernel needs no plan.
    with torch.backends.cudnn.flags(enabled=False):
        return F.conv2d(rgba, weight, groups=rgba.shape[1])


def _resize(state: list[torch.Tensor], factor: int) -> list[torch.Tensor]:
    if factor == 1:
        return state
    return [F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False) for x in state]


def _paste(target: torch.Tensor, window: tuple[slice, slice], value: torch.Tensor) -> torch.Tensor:
    """``target`` with ``value`` written into ``window``; copies first when autograd needs
    the old tensor."""
    if torch.is_grad_enabled() and (target.requires_grad or value.requires_grad):
        target = target.clone()
    target[..., window[0], window[1]] = value
    return target


def _support(lo: torch.Tensor, hi: torch.Tensor, levels: tuple[int, int], margin: int, scale: int, limit: int) -> slice:
    """Rows (or columns) that may hold levels ``levels[0]..levels[1]``, widened by ``margin``
    and aligned to ``scale``. ``lo``/``hi``: per row, the least and greatest lower-level index.
    """
    hits = torch.nonzero((lo <= levels[1]) & (hi >= levels[0] - 1))
    if hits.numel() == 0:
        return slice(0, 0)
    first = max(int(hits[0]) - margin, 0) // scale * scale
    last = min(-(-(int(hits[-1]) + 1 + margin) // scale) * scale, limit)
    return slice(first, last)


def render_layered(linear: torch.Tensor, coc: torch.Tensor, blades: int = 0) -> torch.Tensor:
    """Occlusion-aware layered defocus.

    Args:
        linear: (B, 3, H, W) linear-light image.
        coc: (B, 1, H, W) signed CoC diameter in pixels (negative in front of focus).
        blades: 0 for a circular aperture, 5 to 9 for a polygon.

    Returns:
        (B, 3, H, W) defocused linear-light image.
    """
    height, width = linear.shape[-2:]
    levels = coc_levels(float(coc.detach().abs().max()))
    scales = [_scale_for(abs(level)) for level in levels]
    top = max(scales)
    pad = (0, (-width) % top, 0, (-height) % top)
    linear = F.pad(linear, pad, mode="replicate")
    coc = F.pad(coc, pad, mode="replicate")
    full_h, full_w = linear.shape[-2:]

    table = torch.tensor(levels, dtype=coc.dtype, device=coc.device)
    coc = coc.clamp(levels[0], levels[-1])
    upper = torch.bucketize(coc.detach(), table).clamp(1, len(levels) - 1)
    lower = upper - 1
    position = lower + (coc - table[lower]) / (table[upper] - table[lower])
    counts = torch.bincount(lower.flatten(), minlength=len(levels)).tolist()
    populated = [counts[k] > 0 or (k > 0 and counts[k - 1] > 0) for k in range(len(levels))]
    row_lo, row_hi = lower.amin(dim=(0, 1, 3)), lower.amax(dim=(0, 1, 3))
    col_lo, col_hi = lower.amin(dim=(0, 1, 2)), lower.amax(dim=(0, 1, 2))

    zero = levels.index(0.0)
    sharp = (zero - 1, zero + 1)  # levels of 1 px and under are all drawn unblurred

    def layer(k: int) -> tuple[torch.Tensor, tuple[slice, slice]]:
        """Layer k blurred, and the window (at its scale) that holds all of it."""
        scale = scales[k]
        margin = math.ceil(abs(levels[k]) / 2) + 2 * scale
        key = (k - 1, k + 1) if k == zero else (k, k)
        rows = _support(row_lo, row_hi, key, margin, scale, full_h)
        cols = _support(col_lo, col_hi, key, margin, scale, full_w)
        where = position[..., rows, cols]
        if k == zero:
            alpha = (2.0 - (where - k).abs()).clamp(0.0, 1.0)
        else:
            alpha = (1.0 - (where - k).abs()).clamp(min=0.0)
        rgba = torch.cat([linear[..., rows, cols] * alpha, alpha], dim=1)
        if scale > 1:
            rgba = F.avg_pool2d(rgba, scale)
        rgba = _blur(rgba, _scaled_diameter(abs(levels[k]), scale), blades)
        return rgba, (slice(rows.start // scale, rows.stop // scale), slice(cols.start // scale, cols.stop // scale))

    back = [k for k in range(len(levels) - 1, zero, -1) if populated[k] and k != sharp[1]]
    if any(populated[sharp[0] : sharp[1] + 1]):
        back.append(zero)
    front = [k for k in range(sharp[0]) if populated[k]]

    def zeros(channels: int, scale: int) -> torch.Tensor:
        return linear.new_zeros(linear.shape[0], channels, full_h // scale, full_w // scale)

    # Behind the focal plane (and on it): far to near, each layer over the normalised colour
    # of what lies behind it, trusted where that has any real coverage.
    scale = scales[back[0]] if back else 1
    colour, coverage = zeros(3, scale), zeros(1, scale)
    for k in back:
        colour, coverage = _resize([colour, coverage], scale // scales[k])
        scale = scales[k]
        rgba, window = layer(k)
        c_k, a_k = rgba[:, :3], rgba[:, 3:]
        old_colour, old_coverage = colour[..., window[0], window[1]], coverage[..., window[0], window[1]]
        behind = (1 - a_k) * (old_coverage / _TRUST).clamp(max=1.0)
        colour = _paste(colour, window, (c_k + behind * old_colour) / (a_k + behind).clamp(min=_EPS))
        coverage = _paste(coverage, window, a_k + (1 - a_k) * old_coverage)
    colour, coverage = _resize([colour, coverage], scale)
    if not front:
        return colour[..., :height, :width]

    # In front of the focal plane: near to far ("under"). Neighbouring levels share the
    # surfaces split between them, so a layer is occluded by every nearer layer but the
    # adjacent one.
    scale, last = scales[front[0]], -2
    front_colour, front_alpha = zeros(3, scale), zeros(1, scale)
    through, through_but_last = 1 + zeros(1, scale), 1 + zeros(1, scale)
    for k in front:
        front_colour, front_alpha, through, through_but_last = _resize(
            [front_colour, front_alpha, through, through_but_last], scale // scales[k]
        )
        scale = scales[k]
        rgba, window = layer(k)
        visible = (through_but_last if k == last + 1 else through)[..., window[0], window[1]]
        front_colour = _paste(front_colour, window, front_colour[..., window[0], window[1]] + visible * rgba[:, :3])
        front_alpha = _paste(front_alpha, window, front_alpha[..., window[0], window[1]] + visible * rgba[:, 3:])
        through_but_last, through = through, _paste(
            through.clone(), window, through[..., window[0], window[1]] * (1 - rgba[:, 3:])
        )
        last = k
    front_colour, front_alpha = _resize([front_colour, front_alpha], scale)
    if not back:  # nothing behind the focal plane
        return (front_colour / front_alpha.clamp(min=_EPS))[..., :height, :width]
    excess = front_alpha.clamp(min=1.0)
    front_colour, front_alpha = front_colour / excess, front_alpha / excess
    # What a blurred foreground half-hides: the background continued under it.
    colour = fill_holes_push_pull(colour, (coverage / _TRUST).clamp(max=1.0))
    return (front_colour + (1 - front_alpha) * colour)[..., :height, :width]
