"""The lenses against the thin-lens ground truth of averaged pinhole views."""

import math

import pytest
import torch
import torch.nn.functional as F

from dofgen.camera import CameraSettings
from dofgen.color import srgb_to_linear
from dofgen.groundtruth import Plane, noise_texture, render_planes
from dofgen.lens import METHODS, coc_diameter_px, layered, render
from dofgen.metrics import psnr

from tests.conftest import MARGIN, SIZE


def _interior(border: int) -> torch.Tensor:
    region = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    region[border:-border, border:-border] = True
    return region


def _edge_band(depth: torch.Tensor, radius: int) -> torch.Tensor:
    d = depth[None, None]
    size = 2 * radius + 1
    return (F.max_pool2d(d, size, 1, radius) != -F.max_pool2d(-d, size, 1, radius))[0, 0]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("plane_depth", [0.9, 4.0, 30.0])
def test_single_plane_matches_uniform_disc_blur(method, plane_depth):
    camera = CameraSettings(1.4, 85.0, 1.5)
    full = SIZE + 2 * MARGIN
    plane = Plane(plane_depth, noise_texture(full, full, seed=3, colour=(0.5, 0.45, 0.4)))
    image, depth, truth = render_planes([plane], camera, SIZE, SIZE, MARGIN, samples=256)
    coc = coc_diameter_px(torch.tensor(plane_depth), camera, SIZE).abs().item()
    assert coc > 5  # a real blur, not a near-identity
    out = render(image, depth, camera, method)
    assert psnr(out, truth, _interior(int(coc) + 2)) > 40.0
    assert psnr(image, truth, _interior(int(coc) + 2)) < 35.0  # the blur itself is not negligible


@pytest.mark.parametrize("scene_name", ["card_in_focus", "wall_in_focus"])
def test_layered_beats_taf_overall_and_at_depth_edges(scene_name, request):
    scene = request.getfixturevalue(scene_name)
    coc = coc_diameter_px(scene.depth, scene.camera, SIZE).abs().max().item()
    interior = _interior(int(coc / 2) + 2)
    band = interior & _edge_band(scene.depth, int(coc / 2) + 1)
    ours = render(scene.image, scene.depth, scene.camera, "layered")
    taf = render(scene.image, scene.depth, scene.camera, "taf")
    ours_all, taf_all = psnr(ours, scene.truth, interior), psnr(taf, scene.truth, interior)
    ours_band, taf_band = psnr(ours, scene.truth, band), psnr(taf, scene.truth, band)
    assert ours_all > taf_all + 5.0, (ours_all, taf_all)
    assert ours_band > taf_band + 5.0, (ours_band, taf_band)
    assert ours_band > 33.0


def test_sharp_foreground_does_not_bleed_into_blurred_background(card_in_focus):
    """Just outside the in-focus card, the blurred wall must not take the card's orange."""
    scene = card_in_focus
    outside = _edge_band(scene.depth, 4) & (scene.depth > 3.0)
    ours = render(scene.image, scene.depth, scene.camera, "layered")
    taf = render(scene.image, scene.depth, scene.camera, "taf")

    def redness(image: torch.Tensor) -> float:
        return float((image[0] - image[2])[outside].mean())

    assert abs(redness(ours) - redness(scene.truth)) < 0.02
    assert redness(taf) > redness(scene.truth) + 0.1  # the baseline bleeds


@pytest.mark.parametrize("method", METHODS)
def test_all_in_focus_camera_returns_the_input(method, wall_in_focus):
    camera = CameraSettings(22.0, 16.0, 3.0)
    coc = coc_diameter_px(wall_in_focus.depth, camera, SIZE)
    assert coc.abs().max() < 1.0
    out = render(wall_in_focus.image, wall_in_focus.depth, camera, method)
    assert (out - wall_in_focus.image).abs().max() <= 1 / 255


def test_no_bands_across_a_depth_ramp(monkeypatch):
    """A slanted plane: flat grey stays flat, and texture matches a render with dense layers."""
    height, width = 48, 256
    depth = torch.linspace(0.6, 12.0, width).expand(height, width).contiguous()
    camera = CameraSettings(1.4, 85.0, 2.0)
    out = render(torch.full((3, height, width), 0.5), depth, camera)
    assert (out - 0.5).abs().max() < 1e-3
    texture = noise_texture(height, width, seed=5, colour=(0.5, 0.5, 0.5))
    out = render(texture, depth, camera)
    monkeypatch.setitem(layered.QUALITY, "accurate", layered.LayerSettings(ratio=1.05, min_scaled_diameter=1000.0))
    dense = render(texture, depth, camera)
    # within a blur radius of the frame's left and right edges both extrapolate the scene
    # (the border has its own test); across the depth ramp they must agree
    edge = math.ceil(float(coc_diameter_px(depth, camera, width).abs().max()) / 2)
    per_column = (out - dense).abs()[:, 8:-8, edge:-edge].mean(dim=(0, 1))
    assert per_column.max() < 0.02


def test_ground_truth_keeps_an_emitter_brighter_than_white():
    """A plane's ``gain`` multiplies its linear radiance: a 3 x 3 px emitter 30x white,
    blurred to a 24 px disc, spreads ~30 x 9 / 450 of white over its disc in the truth, while
    the pinhole input clips it to white."""
    size, margin = 64, 24
    texture = torch.full((3, size + 2 * margin, size + 2 * margin), 0.0)
    texture[:, margin + 31 : margin + 34, margin + 31 : margin + 34] = 1.0
    gain = torch.ones(1, *texture.shape[-2:])
    gain[:, margin + 31 : margin + 34, margin + 31 : margin + 34] = 30.0
    camera = CameraSettings(1.4, 85.0, 1.5, sensor_width_mm=36.0 * size / 384)
    image, _, truth = render_planes([Plane(3.0, texture, gain=gain)], camera, size, size, margin, samples=256)
    plain = render_planes([Plane(3.0, texture)], camera, size, size, margin, samples=256)[2]
    assert float(image.max()) > 0.9999  # clipped
    centre = (slice(None), slice(28, 37), slice(28, 37))
    ratio = float(srgb_to_linear(truth[centre]).mean() / srgb_to_linear(plain[centre]).mean())
    assert 25.0 < ratio < 31.0
