"""Random scenes and cameras over the layered lens's parameter space, and the check every
render must pass: shared by the property-based test and ``benchmarks/fuzz_lens.py``.

A case is drawn field by field (by hypothesis or by a seeded ``random.Random``) and built
into an image, a depth map and a camera here, so both sample the same space.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from dofgen.camera import CameraSettings
from dofgen.lens import render

#: Image sides, from 9 px to 1024 px (see :func:`skewed_size`).
SMALLEST, LARGEST = 9, 1024
#: Depth layouts: a plane, a ramp, steps, a very near (0.05 m) or very far (1 km) plane with
#: the rest at ``near`` and ``far``, or clipped lights in a dark scene (over steps).
DEPTH_KINDS = ("flat", "ramp", "steps", "very_near", "very_far", "lights_in_the_dark")
#: From a phone's sensor (1/2.3", 6.2 mm) to full frame (36 mm).
SENSOR_RANGE_MM = (4.8, 36.0)
BLADES = (0, 5, 6, 7, 8, 9)
QUALITIES = ("accurate", "fast")


def skewed_size(u: float, skew: float) -> int:
    """A side in [SMALLEST, LARGEST] from ``u`` in [0, 1]: ``SMALLEST + (LARGEST - SMALLEST)
    u^skew``, so that for u uniform most sides are small (the median is about 72 px at a
    skew of 4) and the largest is still reached."""
    return SMALLEST + round((LARGEST - SMALLEST) * min(max(u, 0.0), 1.0) ** skew)


@dataclass(frozen=True)
class LensCase:
    """One render's inputs, as drawn: sizes in px, depths in metres, ``focus_share`` in
    [0, 1] from half the nearest depth to 1.5x the farthest (log-spaced)."""

    height: int
    width: int
    kind: str
    near: float
    span: float
    f_number: float
    focal_length_mm: float
    sensor_mm: float
    focus_share: float
    quality: str
    blades: int
    boost: float
    seed: int


def random_case(rng: random.Random, skew: float) -> LensCase:
    """A case drawn uniformly over every field (sizes skewed by ``skew``, depths and
    lengths log-uniform)."""
    def log_uniform(low: float, high: float) -> float:
        return math.exp(rng.uniform(math.log(low), math.log(high)))

    return LensCase(
        skewed_size(rng.random(), skew), skewed_size(rng.random(), skew), rng.choice(DEPTH_KINDS),
        log_uniform(0.05, 20.0), log_uniform(1.0, 2000.0), log_uniform(1.0, 32.0), log_uniform(14.0, 200.0),
        rng.uniform(*SENSOR_RANGE_MM), rng.random(), rng.choice(QUALITIES), rng.choice(BLADES), rng.random(),
        rng.randrange(2**16),
    )


def _depth(case: LensCase) -> torch.Tensor:
    """(H, W) metres for the case's layout."""
    height, width, near = case.height, case.width, case.near
    far = near * case.span
    if case.kind == "flat":
        return torch.full((height, width), near)
    ramp = torch.linspace(0, 1, width).expand(height, width)
    if case.kind != "ramp":
        ramp = (ramp * 4).floor() / 3
    depth = near * (far / near) ** ramp.clamp(0, 1)
    if case.kind in ("very_near", "very_far"):  # a plane across the middle rows
        depth = depth.clone()
        depth[height // 3 : max(2 * height // 3, height // 3 + 1)] = 0.05 if case.kind == "very_near" else 1000.0
    return depth


def build(case: LensCase) -> tuple[torch.Tensor, torch.Tensor, CameraSettings]:
    """The case's (1, 3, H, W) sRGB image, (H, W) depth and camera."""
    generator = torch.Generator().manual_seed(case.seed)
    image = torch.rand(1, 3, case.height, case.width, generator=generator)
    if case.kind == "lights_in_the_dark":  # a dark scene with a few clipped lights
        image = image * 0.05
        count = 1 + case.seed % 6
        rows = torch.randint(0, case.height, (count,), generator=generator)
        cols = torch.randint(0, case.width, (count,), generator=generator)
        image[..., rows, cols] = 1.0
    depth = _depth(case)
    nearest, farthest = (float(v) for v in torch.aminmax(depth))
    low, high = max(nearest / 2, case.focal_length_mm / 1000 * 1.5), farthest * 1.5
    focus = low * (high / low) ** case.focus_share if high > low else low
    return image, depth, CameraSettings(case.f_number, case.focal_length_mm, focus, sensor_width_mm=case.sensor_mm)


def failure(case: LensCase) -> str | None:
    """Render the case with the layered lens; None if the render is a finite image in
    [0, 1] of the input's shape, else what went wrong (an exception's type and message too)."""
    image, depth, camera = build(case)
    try:
        out = render(image, depth, camera, "layered", blades=case.blades, highlight_boost=case.boost, quality=case.quality)
    except Exception as error:  # noqa: BLE001 - any exception is the failure being looked for
        return f"raised {type(error).__name__}: {error}"
    if out.shape != image.shape:
        return f"shape {tuple(out.shape)}, not {tuple(image.shape)}"
    if not bool(torch.isfinite(out).all()):
        return "non-finite values"
    low, high = (float(v) for v in torch.aminmax(out))
    if low < 0.0 or high > 1.0 + 1e-6:  # sRGB's encoding of 1.0 rounds to within 1e-7 of it
        return f"values in [{low:g}, {high:g}], not [0, 1]"
    return None
