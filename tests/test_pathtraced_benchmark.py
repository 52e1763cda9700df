"""The committed path-traced benchmark scenes are sane and the camera mapping holds (no bpy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.pathtraced.naive import fft_blur, render_naive_layered
from benchmarks.pathtraced.scene_loader import SCENES_DIR, load_scene
from dofgen.color import linear_to_srgb, srgb_to_linear
from dofgen.lens.kernels import aperture_kernel
from dofgen.metrics import edge_band, psnr, ssim

PATHS = sorted(SCENES_DIR.glob("*.npz"))
FIELDS = {
    "image", "image_linear", "depth", "reference", "reference_linear", "f_number", "focal_length_mm",
    "focus_distance_m", "sensor_width_mm", "blades", "light_mask", "white_surface", "description",
}


def test_scenes_are_committed_and_small() -> None:
    assert len(PATHS) >= 3, f"expected the rendered scenes in {SCENES_DIR}"
    assert sum(p.stat().st_size for p in PATHS) <= 20 * 2**20


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_scene_fields_are_sane(path: Path) -> None:
    with np.load(path) as data:
        assert FIELDS <= set(data.files)
        height, width = data["depth"].shape
        for key in ("image", "image_linear", "reference", "reference_linear"):
            assert data[key].shape == (height, width, 3), key
            assert np.isfinite(data[key].astype(np.float32)).all(), key
        depth = data["depth"]
        assert np.isfinite(depth).all() and (depth > 0).all()
        for key in ("image", "reference"):
            assert 0.0 <= data[key].min() and data[key].max() <= 1.0
            # the sRGB fields are the clipped encodings of the HDR linear ones
            encoded = linear_to_srgb(torch.from_numpy(data[f"{key}_linear"].astype(np.float32)))
            assert np.abs(encoded.numpy() - data[key].astype(np.float32)).max() < 4e-3, key
        linear = data["image_linear"].astype(np.float32).max(axis=-1)
        assert (linear[data["light_mask"]] > 1.0).all()
        # white surfaces are not lights: they never exceed 1.0 in linear light
        assert (linear[data["white_surface"]] <= 1.0 + 1e-3).all()
        # the frame holds no background: every ray hits emitting geometry at finite depth
        assert depth.max() < 1e4


def test_naive_layered_matches_the_path_tracer_on_uniform_blur() -> None:
    """One plane blurred by one disc: the design's CoC formula and Cycles' thin lens agree.

    The naive layered lens matches the path tracer at >= 45 dB, and a disc 3 % too small or
    too large (a wrong lens or f-stop mapping) matches it worse than the formula's disc.
    """
    scene = load_scene(SCENES_DIR / "uniform_wall.npz")
    coc = scene.coc
    assert float(coc.min()) == pytest.approx(float(coc.max()), abs=1e-3)
    assert psnr(render_naive_layered(scene.image, coc), scene.reference) >= 45.0
    linear = srgb_to_linear(scene.image)
    scores = {
        scale: psnr(linear_to_srgb(fft_blur(linear, aperture_kernel(float(coc.max()) * scale))), scene.reference)
        for scale in (0.97, 1.0, 1.03)
    }
    assert scores[1.0] > max(scores[0.97], scores[1.03]) + 0.2, scores


def test_disc_check_is_within_one_percent() -> None:
    """The committed disc check: a point light's bokeh matches the CoC formula within 1 %."""
    results = json.loads((SCENES_DIR.parent / "disc_check.json").read_text())
    discs = {k: v for k, v in results.items() if isinstance(v, dict)}
    assert len(discs) == 4
    for name, disc in discs.items():
        assert abs(disc["error_percent"]) < 1.0, name


def test_edge_band_width_follows_the_coc() -> None:
    coc = torch.zeros(40, 60)
    coc[:, 30:] = 16.0  # a step: sharp left, 16 px blur right
    band = edge_band(coc)
    columns = torch.nonzero(band[20]).flatten()
    assert (int(columns.min()), int(columns.max())) == (29 - 8, 30 + 8)
    assert not band[:, :20].any()


def test_ssim_is_one_for_equal_images_and_drops_with_noise() -> None:
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    noisy = (image + 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, noisy) < 0.95
