"""The focus-distance predictor learns a synthetic target and replaces saliency focus when trained."""

from __future__ import annotations

import shutil

import pytest
import torch

from dofgen.camera import CameraSettings
from dofgen.focus_predictor import FOCUS_SUBFOLDER, FocusPredictor, find_focus_predictor, focus_loss

from train_helpers import own_random_state  # noqa: F401 (autouse)


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
