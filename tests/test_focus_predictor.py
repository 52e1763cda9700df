"""The focus-distance predictor learns a synthetic target and replaces saliency focus when trained."""

from __future__ import annotations

import shutil

import pytest
import torch

from dofgen.camera import CameraSettings
from dofgen.focus_predictor import FOCUS_SUBFOLDER, FocusPredictor, find_focus_predictor, focus_loss

from tests.support.train_helpers import own_random_state  # noqa: F401 (autouse)


def synthetic_scenes(count: int, generator: torch.Generator, side: int = 32):
    """A red square (the subject, whose depth is the target) and a grey square (a distractor
    at another depth) on a textured wall farther away."""
    images = torch.rand(count, 3, side, side, generator=generator) * 0.3 + 0.2
    depth = torch.empty(count, 1, side, side)
    target = torch.empty(count)
    for index in range(count):
        depth[index] = 4 + 6 * float(torch.rand(1, generator=generator))
        for colour in ((0.9, 0.1, 0.1), (0.5, 0.5, 0.5)):
            size = int(torch.randint(6, 12, (1,), generator=generator))
            top, left = (int(v) for v in torch.randint(0, side - size, (2,), generator=generator))
            distance = 0.5 + 3 * float(torch.rand(1, generator=generator))
            depth[index, :, top : top + size, left : left + size] = distance
            images[index, :, top : top + size, left : left + size] = torch.tensor(colour).view(3, 1, 1)
            if colour[0] == 0.9:
                target[index] = distance
    return images, depth, target


def test_learns_the_subjects_depth():
    torch.manual_seed(0)
    model = FocusPredictor(inputs="rgbd", width=16, layers=4, input_size=32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    held_out = synthetic_scenes(64, torch.Generator().manual_seed(1))

    def held_out_loss() -> float:
        with torch.no_grad():
            return float(focus_loss(model(held_out[0], held_out[1]), held_out[2]))

    before, draws = held_out_loss(), torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest, and fair to other jobs
    try:
        _train(model, optimizer, draws, steps=150)
    finally:
        torch.set_num_threads(threads)
    assert held_out_loss() < 0.5 * before


def _train(model: FocusPredictor, optimizer: torch.optim.Optimizer, draws: torch.Generator, steps: int) -> None:
    for _ in range(steps):
        images, depth, target = synthetic_scenes(8, draws)
        loss = focus_loss(model(images, depth), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_focus_stays_inside_the_depth_range_and_weights_sum_to_one():
    images, depth, _ = synthetic_scenes(4, torch.Generator().manual_seed(2))
    model = FocusPredictor(inputs="rgb", input_size=16)
    focus = model(images, depth)
    low, high = depth.flatten(1).min(1).values, depth.flatten(1).max(1).values
    assert torch.all((focus >= low - 1e-4) & (focus <= high + 1e-4))
    assert torch.allclose(model.weights(images, depth).sum(dim=(1, 2, 3)), torch.ones(4))
    with pytest.raises(ValueError, match="inputs"):
        FocusPredictor(inputs="depth")


@pytest.mark.slow
def test_a_trained_predictor_in_the_checkpoint_replaces_saliency_focus(tmp_path, tiny_sdxl_path, tiny_depth_path):
    from dofgen.pipeline import DefocusPipeline

    assert find_focus_predictor(tiny_sdxl_path) is None
    checkpoint = shutil.copytree(tiny_sdxl_path, tmp_path / "sdxl")
    torch.manual_seed(0)
    predictor = FocusPredictor(width=8, layers=2, input_size=16)
    torch.nn.init.normal_(predictor.score.weight, std=5.0)  # a sharp, non-uniform choice of pixels
    predictor.save_pretrained(checkpoint / FOCUS_SUBFOLDER)

    pipe = DefocusPipeline.from_pretrained(generator=str(checkpoint), depth=str(tiny_depth_path), saliency="spectral", device="cpu")
    result = pipe("a red cup", CameraSettings(2.0, 50.0, 2.0), width=64, height=64)
    assert result.focus_source == "predictor"
    assert result.focus_distance == pytest.approx(max(pipe.focus_predictor.predict(result.all_in_focus, result.depth), 0.075))
    plain = DefocusPipeline.from_pretrained(generator=str(tiny_sdxl_path), depth=str(tiny_depth_path), saliency="spectral", device="cpu")
    assert plain.focus_predictor is None and plain("a red cup", CameraSettings(2.0, 50.0, 2.0), width=64, height=64).focus_source == "saliency"


def _uniform_predictor(folder) -> str:
    """A predictor with all weights zero: every pixel weighs the same, so its focus distance is
    the geometric mean of the depth (3 m for a scene half at 1 m and half at 9 m)."""
    predictor = FocusPredictor(inputs="rgb", width=4, layers=1, input_size=16)
    for parameter in predictor.parameters():
        torch.nn.init.zeros_(parameter)
    predictor.save_pretrained(folder)
    return str(folder)


def _half_and_half_photo(tmp_path):
    """A 64x64 photo with a red subject on the left half at 1 m and a grey wall at 9 m."""
    import numpy as np
    from PIL import Image

    pixels = np.full((64, 64, 3), 128, dtype=np.uint8)
    pixels[:, :32] = (200, 30, 30)
    depth = np.full((64, 64), 9.0, dtype=np.float32)
    depth[:, :32] = 1.0
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    np.save(tmp_path / "depth.npy", depth)
    return str(tmp_path / "photo.png"), str(tmp_path / "depth.npy")


def _explore_with_fresh_models(monkeypatch):
    from dofgen.ui import explore
    from dofgen.ui.models import LazyModels

    monkeypatch.setenv("DOFGEN_SALIENCY", "spectral")
    monkeypatch.setenv("DOFGEN_DEVICE", "cpu")
    monkeypatch.setattr(explore, "MODELS", LazyModels())
    return explore


def test_explore_focuses_uploaded_photos_with_the_configured_predictor(tmp_path, monkeypatch):
    photo, depth = _half_and_half_photo(tmp_path)
    monkeypatch.setenv("DOFGEN_FOCUS_PREDICTOR", _uniform_predictor(tmp_path / "predictor"))
    state, _, focus_text, *_ = _explore_with_fresh_models(monkeypatch).use_photo(photo, depth)
    assert state.scene.focus_source == "predictor" and state.auto_focus_m == pytest.approx(3.0, rel=1e-4)
    assert "trained focus predictor" in focus_text

    monkeypatch.setenv("DOFGEN_FOCUS_PREDICTOR", "saliency")  # turned off: the saliency-weighted median, 1 m or 9 m
    state = _explore_with_fresh_models(monkeypatch).use_photo(photo, depth)[0]
    assert state.scene.focus_source == "saliency" and min(abs(state.auto_focus_m - 1), abs(state.auto_focus_m - 9)) < 0.01


def test_explore_finds_the_predictor_in_the_generator_folder(tmp_path, monkeypatch, tiny_sdxl_path, tiny_depth_path):
    checkpoint = shutil.copytree(tiny_sdxl_path, tmp_path / "sdxl")
    _uniform_predictor(checkpoint / FOCUS_SUBFOLDER)
    monkeypatch.delenv("DOFGEN_FOCUS_PREDICTOR", raising=False)
    monkeypatch.setenv("DOFGEN_GENERATOR", str(checkpoint))
    monkeypatch.setenv("DOFGEN_DEPTH", str(tiny_depth_path))
    explore = _explore_with_fresh_models(monkeypatch)
    monkeypatch.setattr(explore.DefocusPipeline, "__call__", _small(explore.DefocusPipeline.__call__))
    state = explore.generate_scene("a lamp", 3, 2.8, 50, progress=lambda *a, **k: None)[0]
    depth = torch.nn.functional.interpolate(state.scene.depth[None, None], size=(16, 16), mode="area")
    assert state.scene.focus_source == "predictor"
    assert state.auto_focus_m == pytest.approx(float(depth.log().mean().exp()), rel=1e-4)


def _small(call):
    def wrapped(self, *args, **kwargs):
        return call(self, *args, **(kwargs | {"width": 64, "height": 64}))

    return wrapped


def test_a_predictor_that_cannot_load_is_one_log_line_and_saliency_focus(tmp_path, monkeypatch, caplog):
    import logging

    photo, depth = _half_and_half_photo(tmp_path)
    broken = tmp_path / "broken"
    _uniform_predictor(broken)
    (broken / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    for folder in (str(broken), str(tmp_path / "missing")):
        monkeypatch.setenv("DOFGEN_FOCUS_PREDICTOR", folder)
        explore = _explore_with_fresh_models(monkeypatch)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dofgen.ui"):
            first, second = explore.use_photo(photo, depth)[0], explore.use_photo(photo, depth)[0]
        assert first.scene.focus_source == second.scene.focus_source == "saliency"
        records = [r for r in caplog.records if r.name == "dofgen.ui"]
        assert len(records) == 1 and "focus predictor not available" in records[0].getMessage()  # once, not per request
        assert "\n" not in records[0].getMessage()
