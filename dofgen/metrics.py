"""Evaluation metrics: Section F.2's signal energy, Blur Monotonicity and Content Consistency,
and the image comparisons the lens tests and benchmarks score with (PSNR, SSIM, depth-edge
bands)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Frame = Union[torch.Tensor, np.ndarray, Image.Image]


def as_frame(frame: Frame) -> torch.Tensor:
    """A frame as a float (C, H, W) tensor in [0, 1].

    Accepts a (C, H, W) tensor, an (H, W, C) or (H, W) uint8 or float array, or a PIL image.
    """
    if isinstance(frame, Image.Image):
        frame = np.asarray(frame.convert("RGB"))
    if isinstance(frame, np.ndarray):
        array = frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)
        array = array[..., None] if array.ndim == 2 else array
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    if torch.is_tensor(frame):
        return frame.float()
    raise TypeError(f"a frame must be a tensor, an array or a PIL image, got {type(frame).__name__}")


def signal_energy(image: torch.Tensor, *, include_dc: bool = True) -> torch.Tensor:
    """Signal energy ``E(x) = sum_k |FFT2(x)_k|^2`` (summed over channels too).

    Args:
        image: (..., C, H, W).
        include_dc: keep the zero-frequency term (Section F.2's definition); False sums the
            other frequencies only.

    Returns:
        (...) energy per image, float64.
    """
    power = torch.fft.fft2(image.double()).abs().square()
    if not include_dc:
        power[..., 0, 0] = 0.0
    return power.sum(dim=(-3, -2, -1))


#: The two energies Blur Monotonicity can use: Section F.2's sum over all frequencies, or ours
#: without the zero frequency (the frame's mean).
ENERGIES: tuple[str, ...] = ("paper", "ac")


def sweep_energy(sweep: Union[torch.Tensor, Sequence[Frame]], energy: str = "ac") -> torch.Tensor:
    """Signal energy of each frame of a sweep.

    Args:
        sweep: a (T, C, H, W) tensor or a sequence of T frames (see :func:`as_frame`), T >= 2.
        energy: ``"paper"`` (all frequencies, Section F.2) or ``"ac"`` (zero frequency left out).

    Returns:
        (T,) float64.
    """
    if energy not in ENERGIES:
        raise ValueError(f"energy={energy!r} is unknown; use one of {', '.join(ENERGIES)}")
    frames = sweep if torch.is_tensor(sweep) else torch.stack([as_frame(frame) for frame in sweep])
    if frames.dim() != 4 or frames.shape[0] < 2:
        raise ValueError(f"a sweep needs at least two (C, H, W) frames, got shape {tuple(frames.shape)}")
    return signal_energy(frames, include_dc=energy == "paper")


def rising_pairs(energies: torch.Tensor) -> tuple[int, int]:
    """(pairs whose energy rises, all consecutive pairs) of a (T,) energy sequence."""
    return int((energies[1:] > energies[:-1]).sum()), int(energies.shape[0]) - 1


def blur_monotonicity(sweeps: Iterable[Union[torch.Tensor, Sequence[Frame]]], energy: str = "ac") -> float:
    """Percentage (0 to 100) of consecutive frame pairs whose signal energy rises (Section F.2).

    ``energy="paper"`` is Section F.2 exactly: the energy sums all frequencies, the zero
    frequency included. ``energy="ac"`` (the default) leaves the zero frequency out: a
    normalised blur leaves that term unchanged in the space where it blurs (Theorem F.1
    holds either way), but a lens that blurs in linear light, as a real one does, raises an
    sRGB frame's mean as it blurs, and on most images that term alone outweighs the detail
    lost, so the paper's energy can rank a blurrier frame higher. The default measures blur;
    use ``"paper"`` for a table meant to sit beside the paper's (``python -m
    dofgen.evaluate`` reports both).

    Args:
        sweeps: each a (T, C, H, W) tensor or a sequence of frames, ordered by increasing
            f-number; blur should fall, so energy should rise, from frame to frame.
        energy: ``"ac"`` or ``"paper"``.

    Returns:
        100 * (rising pairs) / (all consecutive pairs); chance is about 50.
    """
    rising = total = 0
    for sweep in sweeps:
        up, pairs = rising_pairs(sweep_energy(sweep, energy))
        rising += up
        total += pairs
    if total == 0:
        raise ValueError("no sweeps given")
    return 100.0 * rising / total


def content_consistency(frames: Sequence[Frame], segmenter, k: int = 3) -> float:
    """Percentage (0 to 100) of pixels whose class stays the same across a sweep (Section F.2).

    Each frame is segmented; a pixel is consistent when at least one class is among its top
    ``k`` (3) in every frame — open-set models name the same thing differently from frame to
    frame, so top-1 alone would be too strict.

    Args:
        frames: the sweep's frames, all the same size.
        segmenter: an object with ``top_classes(image, k) -> (k, H, W)`` (a
            ``dofgen.segmentation.Segmenter``); None is an error, not a guess.
    """
    if segmenter is None:
        raise ValueError("Content Consistency needs a segmentation model (DOFGEN_SEGMENTER); none is loaded")
    if len(frames) < 2:
        raise ValueError("Content Consistency needs at least two frames")
    images = [frame if isinstance(frame, Image.Image) else Image.fromarray((as_frame(frame).permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()) for frame in frames]
    if len({image.size for image in images}) != 1:
        raise ValueError("all frames must have the same size")
    common = None
    for image in images:
        top = segmenter.top_classes(image, k)  # (k, H, W)
        if common is None:
            common = top
            alive = torch.ones(top.shape, dtype=torch.bool)
        else:
            # keep each first-frame candidate class that is still in this frame's top k
            alive &= (common[:, None] == top[None]).any(dim=1)
    consistent = alive.any(dim=0)
    return 100.0 * float(consistent.float().mean())


def psnr(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor | None = None) -> float:
    """Peak signal-to-noise ratio in dB of two images with values in [0, 1] (peak 1).

    Args:
        a, b: images of the same shape: (C, H, W) or (N, C, H, W) with ``where``, any shape
            without it.
        where: optional (H, W) bool region; the mean squared error is then taken over its
            pixels only (every channel and leading index of each).

    Returns:
        ``10 log10(1 / MSE)``, the MSE floored at 1e-12 (120 dB for equal images); NaN for
        an empty region.
    """
    error = (a - b).square()
    if where is not None:
        if not bool(where.any()):
            return math.nan
        error = error.mean(dim=tuple(range(error.dim() - 2)))[where]
    return float(10 * torch.log10(1.0 / error.mean().clamp(min=1e-12)))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM (Wang et al. 2004) of (N, C, H, W) images in [0, 1], per channel.

    11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, valid region only.
    """
    grid = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(grid**2) / (2 * 1.5**2))
    window = (g[:, None] * g[None]) / (g.sum() ** 2)
    channels = a.shape[1]
    window = window.expand(channels, 1, 11, 11).to(torch.float64)
    x, y = a.double(), b.double()

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)

    mu_x, mu_y = filt(x), filt(y)
    var_x = filt(x * x) - mu_x**2
    var_y = filt(y * y) - mu_y**2
    cov = filt(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(index.mean())


def disc_dilate(mask: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Union of discs of per-pixel ``radius`` around every pixel of ``mask``.

    Args:
        mask: (H, W) bool.
        radius: (H, W) radius in pixels at each pixel (rounded up).

    Returns:
        (H, W) bool.
    """
    out = torch.zeros_like(mask)
    ceil = radius.ceil().int()
    for r in ceil[mask].unique().tolist():
        grid = torch.arange(-r, r + 1, dtype=torch.float32)
        disc = (grid[:, None] ** 2 + grid[None] ** 2 <= r * r + 1e-6).float()
        seeds = (mask & (ceil == r)).float()[None, None]
        out |= F.conv2d(seeds, disc[None, None], padding=r)[0, 0] > 0.5
    return out


def edge_band(coc: torch.Tensor, min_radius: float = 3.0) -> torch.Tensor:
    """(H, W) bool: pixels within ``max(min_radius, c / 2)`` of a depth discontinuity.

    A discontinuity is a pair of 4-neighbours whose signed CoC differs by more than 1 px;
    ``c`` is the larger |CoC| of the pair. ``coc``: (H, W) signed CoC in pixels.
    """
    edges = torch.zeros_like(coc, dtype=torch.bool)
    size = torch.zeros_like(coc)
    for dim in (0, 1):
        a, b = coc.narrow(dim, 0, coc.shape[dim] - 1), coc.narrow(dim, 1, coc.shape[dim] - 1)
        jump = (a - b).abs() > 1.0
        larger = torch.maximum(a.abs(), b.abs()) * jump
        for offset in (0, 1):
            edges.narrow(dim, offset, coc.shape[dim] - 1).logical_or_(jump)
            view = size.narrow(dim, offset, coc.shape[dim] - 1)
            view.copy_(torch.maximum(view, larger))
    return disc_dilate(edges, (size / 2).clamp(min=min_radius))
