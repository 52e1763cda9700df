"""Shared fixtures: thin-lens ground truth for textured fronto-parallel planes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from dofgen.camera import CameraSettings
from dofgen.groundtruth import Plane, noise_texture, render_planes

SIZE = 160
MARGIN = 24


@dataclass
class PlaneScene:
    image: torch.Tensor
    depth: torch.Tensor
    truth: torch.Tensor
    camera: CameraSettings


def occluding_planes(focus_m: float) -> PlaneScene:
    """A textured rectangle at 1.5 m in front of a textured wall at 6 m, 85 mm f/1.4."""
    full = SIZE + 2 * MARGIN
    wall = Plane(6.0, noise_texture(full, full, seed=1, colour=(0.25, 0.45, 0.75)))
    mask = torch.zeros(1, full, full)
    mask[:, MARGIN + 40 : MARGIN + 120, MARGIN + 35 : MARGIN + 110] = 1.0
    card = Plane(1.5, noise_texture(full, full, seed=2, colour=(0.85, 0.5, 0.2)), mask)
    camera = CameraSettings(1.4, 85.0, focus_m)
    image, depth, truth = render_planes([wall, card], camera, SIZE, SIZE, MARGIN, samples=256)
    return PlaneScene(image, depth, truth, camera)


@pytest.fixture(scope="session")
def card_in_focus() -> PlaneScene:
    return occluding_planes(1.5)


@pytest.fixture(scope="session")
def wall_in_focus() -> PlaneScene:
    return occluding_planes(6.0)


@pytest.fixture(scope="session")
def tiny_sdxl_path(tmp_path_factory):
    from tests.support.tiny_models import save_tiny_sdxl

    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "sdxl")


@pytest.fixture(scope="session")
def tiny_depth_path(tmp_path_factory):
    from tests.support.tiny_models import save_tiny_depth_anything

    return save_tiny_depth_anything(tmp_path_factory.mktemp("models") / "depth")
