"""The Explore tab's first screen and the photographer's controls, without a browser: the
default scene, the scales the sliders' tracks compute, the readout, the compare and the
oversize depth hint."""

import math

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from dofgen import scenes
from dofgen.camera import STANDARD_STOPS, THIRD_STOPS, CameraSettings, circle_of_confusion_mm, depth_of_field
from dofgen.pipeline import DefocusPipeline
from dofgen.ui import compare, scales, uploads
from dofgen.ui.explore import load_scene
from dofgen.ui.readout import camera_readout
from dofgen.ui.sessions import ExploreState
from dofgen.ui.views import focus_range, largest_coc_px


def test_the_first_scene_is_a_portrait_with_a_large_background_blur():
    assert scenes.DEFAULT in scenes.list()
    scene = scenes.load(scenes.DEFAULT)
    assert scene.image.width >= 1024 and scene.meta["licence"] == "CC0-1.0"
    assert (float(scene.camera.f_number), float(scene.camera.focal_length_mm)) == (1.8, 85.0)
    near, far = float(scene.depth.min()), float(scene.depth.max())
    assert near < 2.1 and far >= 10  # a near subject, a far background
    state, _, text, *_ = load_scene(scenes.DEFAULT)
    blur = largest_coc_px(state.view, state.view.camera)
    assert blur >= 40 and f"largest blur {blur:.0f} px at {state.view.image.width} px wide" in text
    assert state.view.image.width == 1024


def test_the_portrait_has_small_lights_in_its_background():
    """Bulbs on a plane at 8.99 m: bright, a small share of the picture."""
    scene = scenes.load("portrait")
    pixels = np.asarray(scene.image, dtype=np.float32)
    lights = (scene.depth.numpy() - 8.99).__abs__() < 0.005
    assert 0.001 < lights.mean() < 0.05 and pixels[lights].max(-1).mean() > 240


def test_aperture_track_is_even_in_stops_and_keys_step_third_stops():
    per = scales.APERTURE_STEPS_PER_THIRD
    assert [scales.aperture_value(i * per) for i in range(len(THIRD_STOPS))] == list(THIRD_STOPS)
    assert [scales.aperture_position(s) for s in STANDARD_STOPS] == list(range(0, 25 * per, 3 * per))
    values = [scales.aperture_value(p) for p in range(24 * per + 1)]
    assert values == sorted(values) and len(set(values)) > 150  # a drag moves smoothly
    for position in range(0, 24 * per + 1, 7):
        assert abs(scales.aperture_position(scales.aperture_value(position)) - position) <= 2
    # f/1.4 to f/4 takes 3 of the 8 stops (was 13 % of a linear slider)
    assert scales.aperture_position(4.0) / scales.aperture_position(22.0) == pytest.approx(3 / 8)
    assert [scales.next_stop(1.8, 1), scales.next_stop(2.4, 1), scales.next_stop(2.4, -1), scales.next_stop(22.0, 1)] == [2.0, 2.5, 2.2, 22.0]
    assert scales.next_stop(2.4, 1, STANDARD_STOPS) == 2.8 and scales.next_stop(1.4, -1, STANDARD_STOPS) == 1.4


def test_focus_track_is_even_in_inverse_distance_and_gives_a_scene_most_of_it():
    depth = torch.linspace(2.1, 5.0, 64).repeat(48, 1)
    low, high = focus_range(depth)
    assert high == scales.FOCUS_FAR_M and low <= 2.1 * 0.8
    span = scales.focus_position(2.1, low, high) - scales.focus_position(5.0, low, high)
    assert abs(span) / scales.FOCUS_STEPS > 0.4  # was 63 px of a 645 px linear slider (10 %)
    near_scene = focus_range(torch.full((4, 4), 0.35).index_put_((torch.tensor([0]), torch.tensor([0])), torch.tensor(40.0)))
    assert near_scene[0] <= 0.3 and near_scene[1] == scales.FOCUS_FAR_M  # 0.3 m to "infinity"
    for position in (0, 1, 250, 500, 999, 1000):
        value = scales.focus_value(position, 0.3, 1000.0)
        assert abs(scales.focus_position(value, 0.3, 1000.0) - position) <= 1
    assert scales.focus_value(0, 0.3, 1000.0) == 0.3 and scales.focus_value(1000, 0.3, 1000.0) == 1000.0
    assert scales.focus_value(500, 1.0, 1000.0) == pytest.approx(2.0, abs=0.01)  # halfway in 1/distance


def test_readout_states_the_depth_of_field_and_the_equivalent():
    camera = CameraSettings(1.8, 85.0, 1.94)
    dof = depth_of_field(camera, circle_of_confusion_mm(camera, 1024 / 1536))
    text = camera_readout(camera, (1536, 1024))
    assert f"**{dof.near_m:.2f} m** to **{dof.far_m:.2f} m**" in text and "0.029 mm" in text and "85 mm, full frame" in text
    phone = camera_readout(CameraSettings(1.8, 6.9, 1.2, sensor_width_mm=36 * 6.9 / 26), (4032, 3024))
    assert "**26 mm** full-frame equivalent" in phone
    wide = camera_readout(CameraSettings(16.0, 24.0, 5.0), (1536, 1024))
    assert "to **∞**" in wide


def _tiny_state() -> ExploreState:
    image = Image.fromarray((np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8))
    depth = torch.full((60, 90), 8.0)
    depth[:, :30] = 1.5
    scene = DefocusPipeline().from_image(image, depth, CameraSettings(1.8, 85.0, 1.5), focus_distance=1.5, render=False)
    return ExploreState.start(scene)


def _detail(path: str) -> float:
    pixels = np.asarray(Image.open(path), dtype=np.float32)
    return float(np.abs(np.diff(pixels[:, 45:], axis=1)).mean())  # the far part


def test_compare_shows_the_view_beside_f16():
    state = _tiny_state()
    update = compare.compare_apertures(state)
    left, right = update["value"]
    assert update["visible"] is True and "f/1.8" in update["label"] and "f/16" in update["label"]
    assert _detail(right) > 2 * _detail(left)  # the far part is sharp at f/16, soft at f/1.8
    assert compare.other_f_number(16.0) == 1.4 and compare.other_f_number(2.8) == 16.0
    assert compare.close_compare()["visible"] is False


def test_an_oversize_depth_map_gets_the_npz_hint_at_once(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(gr, "Warning", warnings.append)
    big = tmp_path / "depth.npy"
    np.save(big, np.ones((uploads.MAX_UPLOAD_BYTES // 4 + 1024,), dtype=np.float32))
    assert uploads.checked_depth_upload(str(big)) is None  # dropped
    assert ".npz" in warnings[0] and f"{big.stat().st_size / 1e6:.1f} MB" in warnings[0]
    small = tmp_path / "small.npy"
    np.save(small, np.ones((4, 4), dtype=np.float32))
    assert isinstance(uploads.checked_depth_upload(str(small)), type(gr.skip())) and len(warnings) == 1
    assert uploads.MAX_TRANSFER_BYTES > 8 * 4096 * 4096 > uploads.MAX_UPLOAD_BYTES  # any .npy reaches the check
    assert math.isclose(uploads.MAX_TRANSFER_BYTES, 8 * 4096**2 + 2**20)
