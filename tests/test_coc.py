import pytest
import torch

from dofgen.camera import CameraSettings
from dofgen.lens import coc_diameter_px


def test_worked_example_of_the_design_notes():
    camera = CameraSettings(1.8, 50.0, 2.0)
    coc = coc_diameter_px(torch.tensor([1e12, 0.5, 2.0]), camera, 1024)
    expected_inf = 0.05**2 / (1.8 * 1.95) * 1024 / 0.036
    assert coc[0].item() == pytest.approx(expected_inf, rel=1e-5) and coc[0].item() == pytest.approx(20.3, abs=0.1)
    assert coc[1].item() == pytest.approx(-3 * expected_inf, rel=1e-5) and coc[1].item() == pytest.approx(-61, abs=0.5)
    assert coc[2].item() == 0.0


def test_blur_radius_is_linear_in_disparity():
    camera = CameraSettings(2.8, 85.0, 3.0, sensor_width_mm=24.0)
    depth = torch.linspace(0.5, 50.0, 200)
    f, s = 0.085, 3.0
    k = f**2 * s * 800 / (2 * 2.8 * (s - f) * 0.024)
    radius = coc_diameter_px(depth, camera, 800) / 2
    assert torch.allclose(radius, k * (1 / s - 1 / depth), rtol=1e-4)


def test_shape_and_sign():
    depth = torch.rand(2, 1, 5, 7) * 10 + 0.2
    coc = coc_diameter_px(depth, CameraSettings(2.0, 35.0, 3.0), 640)
    assert coc.shape == depth.shape
    assert torch.equal(coc < 0, depth < 3.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1.0])
def test_bad_depth_is_a_clear_error(bad):
    depth = torch.ones(4, 4)
    depth[1, 2] = bad
    with pytest.raises(ValueError, match="finite and positive"):
        coc_diameter_px(depth, CameraSettings(2.0, 35.0, 3.0), 4)
