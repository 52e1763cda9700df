"""The layered lens on inputs nobody chose: a property-based sweep of its parameter space."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dofgen.lens.layered import QUALITY, _lit_boxes, plan_layers, render_layered
from tests.support.lens_fuzz import BLADES, DEPTH_KINDS, QUALITIES, SENSOR_RANGE_MM, LensCase, failure, skewed_size


def test_lit_boxes_skip_a_level_that_only_rounding_names():
    """A position a float32 rounding error below level 0 names level -1 by floor(): no
    pixel is within one level of it, and it must not crash the lens (the motorcycle at f/1.8)."""
    bright = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    position = torch.full((1, 1, 2, 2), -1e-9)
    assert _lit_boxes(bright, position, 2) == {0: [(slice(0, 2), slice(0, 2))]}


def test_lit_boxes_name_no_level_past_the_top():
    """A position a rounding error above the top level (2 of 3) names level 3 by ceil():
    no such level exists (a 10 x 9 px scene of lights in the dark, fuzz case 4001)."""
    bright = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    position = torch.full((1, 1, 2, 2), 2.0 + 2e-7)
    assert _lit_boxes(bright, position, 3) == {2: [(slice(0, 2), slice(0, 2))]}


def test_fuzz_case_4001_renders():
    """The fuzz benchmark's one failure (seed 0, case 4001): 10 x 9 px, lights in the dark."""
    case = LensCase(10, 9, "lights_in_the_dark", 0.05636805408078848, 1193.5174436052678, 3.7998488201135383, 89.19015579421168,
                    34.89156061599087, 0.13670820651093596, "accurate", 5, 0.8394539795926845, 18629)
    assert failure(case) is None


#: A side's skew (see tests.support.lens_fuzz.skewed_size): with 100 examples the sides are
#: skewed small (half of them under about 100 px), so the test runs in under a minute, and
#: 1024 px is still drawn.
_SKEW = 4.0

cases = st.builds(
    LensCase,
    height=st.floats(0.0, 1.0).map(lambda u: skewed_size(u, _SKEW)), width=st.floats(0.0, 1.0).map(lambda u: skewed_size(u, _SKEW)),
    kind=st.sampled_from(DEPTH_KINDS), near=st.floats(0.05, 20.0), span=st.floats(1.0, 2000.0), f_number=st.floats(1.0, 32.0),
    focal_length_mm=st.floats(14.0, 200.0), sensor_mm=st.floats(*SENSOR_RANGE_MM), focus_share=st.floats(0.0, 1.0),
    quality=st.sampled_from(QUALITIES), blades=st.sampled_from(BLADES), boost=st.floats(0.0, 1.0), seed=st.integers(0, 2**16),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases)
def test_any_valid_camera_and_scene_renders_a_finite_image_in_range(case):
    """Sizes 9-1024 px (odd too), every depth layout, f/1-32, 14-200 mm, phone to full-frame
    sensors, focus from half the nearest depth to 1.5x the farthest, both qualities, every
    blade count, boosts 0-1: no exception, and a finite image in [0, 1] of the input's shape."""
    assert failure(case) is None


def test_a_coc_of_many_frames_is_drawn_four_frames_wide():
    """A 0.05 m plane before a 200 mm lens focused at 3 km: a CoC of ~100 frames. The plan
    pads the frame to its coarsest scale, which must stay that of four frames (a few
    hundred pixels here), not of the CoC (65536 px, gigabytes), and the render is the one
    at four frames."""
    image = torch.rand(1, 3, 60, 80, generator=torch.Generator().manual_seed(0))
    coc = torch.full((1, 1, 60, 80), 40.0)
    coc[..., 20:40, :] = -8000.0
    plan = plan_layers(image, coc, QUALITY["accurate"])
    assert plan.levels[0] == -320.0 and max(plan.position.shape[-2:]) <= 128
    clamped = coc.clamp(min=-320.0)
    assert torch.equal(render_layered(image, coc), render_layered(image, clamped))
