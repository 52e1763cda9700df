"""The layered lens on inputs nobody chose: a property-based sweep of its parameter space."""

from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dofgen.camera import CameraSettings
from dofgen.lens import render
from dofgen.lens.layered import _lit_boxes


def test_lit_boxes_skip_a_level_that_only_rounding_names():
    """A position a float32 rounding error below level 0 names level -1 by floor(): no
    pixel is within one level of it, and it must not crash the lens (the motorcycle at f/1.8)."""
    bright = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    position = torch.full((1, 1, 2, 2), -1e-9)
    assert _lit_boxes(bright, position) == {0: [(slice(0, 2), slice(0, 2))]}


def _depth(kind: str, height: int, width: int, near: float, far: float) -> torch.Tensor:
    """(H, W) metres: flat, a ramp, or steps between ``near`` and ``far``."""
    if kind == "flat":
        return torch.full((height, width), near)
    ramp = torch.linspace(0, 1, width).expand(height, width)
    if kind == "steps":
        ramp = (ramp * 4).floor() / 3
    return near * (far / near) ** ramp.clamp(0, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(9, 96), width=st.integers(9, 96), kind=st.sampled_from(["flat", "ramp", "steps"]),
    near=st.floats(0.05, 20.0), span=st.floats(1.0, 2000.0), f_number=st.floats(1.0, 32.0),
    focal_length_mm=st.floats(14.0, 200.0), sensor_mm=st.sampled_from([5.6, 7.6, 13.2, 23.5, 36.0]),
    focus_share=st.floats(0.0, 1.0), quality=st.sampled_from(["accurate", "fast"]), blades=st.sampled_from([0, 5, 6, 7, 8, 9]),
    boost=st.floats(0.0, 1.0), lights=st.booleans(), seed=st.integers(0, 2**16),
)
def test_any_valid_camera_and_scene_renders_a_finite_image_in_range(
    height, width, kind, near, span, f_number, focal_length_mm, sensor_mm, focus_share, quality, blades, boost, lights, seed,
):
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, height, width, generator=generator)
    if lights:  # a dark scene with a few clipped lights
        image = image * 0.05
        image[..., torch.randint(0, height, (3,), generator=generator), torch.randint(0, width, (3,), generator=generator)] = 1.0
    far = near * span
    depth = _depth(kind, height, width, near, far)
    low, high = max(near / 2, focal_length_mm / 1000 * 1.5), far * 1.5
    focus = low * (high / low) ** focus_share if high > low else low
    camera = CameraSettings(f_number, focal_length_mm, focus, sensor_width_mm=sensor_mm)
    out = render(image, depth, camera, "layered", blades=blades, highlight_boost=boost, quality=quality)
    assert out.shape == image.shape
    assert bool(torch.isfinite(out).all()) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0 + 1e-6
    assert not math.isnan(float(out.mean()))
