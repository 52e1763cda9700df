import pytest
import torch

from dofgen.camera import CameraSettings
from dofgen.focus import focus_at, focus_distance


def _scene():
    """A subject at 1.5 m (rows 20-60, cols 30-70) before a wall at 6 m, a floor ramp below."""
    depth = torch.full((100, 120), 6.0)
    depth[20:60, 30:70] = 1.5
    depth[80:] = torch.linspace(1.0, 3.0, 20)[:, None].expand(20, 120)
    return depth


def test_focus_follows_the_salient_object():
    depth = _scene()
    saliency = torch.zeros_like(depth)
    saliency[20:60, 30:70] = 1.0
    assert focus_distance(depth, saliency) == pytest.approx(1.5)
    saliency = torch.zeros_like(depth)
    saliency[0:15] = 1.0
    assert focus_distance(depth, saliency) == pytest.approx(6.0)


def test_focus_is_robust_to_outliers_and_holes():
    depth = _scene()
    saliency = torch.zeros_like(depth)
    saliency[20:60, 30:70] = 1.0
    depth[25:30, 35:40] = 500.0  # stray far values inside the subject
    depth[40:45, 40:45] = float("nan")
    saliency[50, 50] = float("nan")
    assert focus_distance(depth, saliency) == pytest.approx(1.5)


def test_empty_saliency_falls_back_to_the_centre():
    depth = torch.full((100, 100), 8.0)
    depth[35:65, 35:65] = 2.0
    assert focus_distance(depth, torch.zeros_like(depth)) == pytest.approx(2.0)
    assert focus_distance(depth, None) == pytest.approx(2.0)


def test_clicks_on_foreground_background_and_edges():
    depth = _scene()
    assert focus_at(depth, 50, 40) == pytest.approx(1.5)
    assert focus_at(depth, 100, 10) == pytest.approx(6.0)
    assert focus_at(depth, 60, 90) == pytest.approx(float(depth[90, 60]), rel=0.03)
    # on the subject's edge: the nearer surface is meant
    assert focus_at(depth, 30, 40) == pytest.approx(1.5)
    assert focus_at(depth, 29, 40) == pytest.approx(1.5)
    # well off the edge, the background wins even with a sliver of subject in the window
    assert focus_at(depth, 72, 40, radius=4) == pytest.approx(6.0)


def test_click_in_a_hole_and_outside():
    depth = _scene()
    depth[40:50, 90:100] = float("nan")
    assert focus_at(depth, 95, 45) == pytest.approx(6.0)
    for x, y in [(-1, 5), (120, 5), (5, 100), (5, -3)]:
        with pytest.raises(ValueError, match="outside"):
            focus_at(depth, x, y)


def _pipeline_focus(image, depth) -> float:
    from dofgen.pipeline import DefocusPipeline

    return DefocusPipeline(device="cpu").from_image(image, depth, camera=CameraSettings(2.8, 50.0, 2.0)).focus_distance


def _synthetic(subject_box, subject_m: float, lights: bool = True, seed: int = 0):
    """A dark wall at 8 m strewn with small bright lights (what spectral residual picks), a
    floor ramp, and a grey textured subject at ``subject_m`` in ``subject_box`` (y0, y1, x0, x1)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    height, width = 240, 360
    image = np.full((height, width, 3), 30, dtype=np.uint8)
    depth = np.full((height, width), 8.0, dtype=np.float32)
    depth[180:] = np.linspace(8.0, 1.2, 60, dtype=np.float32)[:, None]
    image[180:] = 70
    if lights:
        for y, x in zip(rng.integers(5, 170, 60), rng.integers(5, width - 5, 60)):
            image[y - 2 : y + 2, x - 2 : x + 2] = 255
    y0, y1, x0, x1 = subject_box
    image[y0:y1, x0:x1] = rng.integers(90, 160, (y1 - y0, x1 - x0, 1), dtype=np.uint8)
    depth[y0:y1, x0:x1] = subject_m
    return Image.fromarray(image), torch.from_numpy(depth)


@pytest.mark.parametrize(
    "box, subject_m",
    [((60, 200, 150, 210), 2.0), ((40, 150, 40, 110), 3.0), ((90, 230, 250, 330), 1.6)],
)
def test_automatic_focus_finds_a_known_subject_offline(box, subject_m):
    """Spectral residual alone focuses on the lights on the wall; with the subject prior from
    depth, automatic focus lands on the subject, centred or not."""
    from dofgen.imageio import to_tensor
    from dofgen.saliency import spectral_residual

    image, depth = _synthetic(box, subject_m)
    assert focus_distance(depth, spectral_residual(to_tensor(image))) > 5.0  # the old behaviour: the wall
    assert _pipeline_focus(image, depth) == pytest.approx(subject_m, rel=0.02)


#: Depths of each bundled scene's subjects: the cylinders; the column; the motorcycle; the figure (head to shoulders).
SUBJECTS_M = {"tabletop": [(1.10, 1.20), (1.88, 1.98), (2.65, 2.78)], "street-at-night": [(2.7, 2.85)], "motorcycle": [(2.0, 2.8)], "portrait": [(1.9, 2.2)]}


@pytest.mark.parametrize("name", sorted(SUBJECTS_M))
def test_automatic_focus_lands_on_each_bundled_scene_subject(name):
    from dofgen import scenes

    scene = scenes.load(name)
    focus = _pipeline_focus(scene.image, scene.depth)  # no focus point: found from the image and depth
    assert any(low <= focus <= high for low, high in SUBJECTS_M[name]), focus
    hinted = focus_at(scene.depth, *scene.focus_point)  # the scene's metadata focus point
    assert any(low <= hinted <= high for low, high in SUBJECTS_M[name]), hinted
