import io

import numpy as np
import pytest
import torch
from PIL import Image

from dofgen.camera import CameraSettings
from dofgen.depth import DepthEstimator
from dofgen.generator import Generator
from dofgen.imageio import to_tensor
from dofgen.lens import render
from dofgen.pipeline import DefocusPipeline, refocus


@pytest.fixture(scope="module")
def pipeline(tiny_sdxl_path, tiny_depth_path):
    return DefocusPipeline(
        generator=Generator.from_pretrained(str(tiny_sdxl_path), device="cpu"),
        depth=DepthEstimator.from_pretrained(str(tiny_depth_path), device="cpu"),
    )


def test_whole_call_on_tiny_models(pipeline):
    stages = []
    camera = CameraSettings(1.8, 50.0, 2.0)
    result = pipeline("a teapot on a desk", camera, seed=2, width=64, height=64, progress=lambda s, i, n: stages.append(s))
    assert result.image.size == result.all_in_focus.size == (64, 64)
    assert result.depth.shape == result.saliency.shape == result.coc.shape == (64, 64)
    assert result.focus_source == "saliency" and result.focus_distance > 0
    assert result.camera.focus_distance_m == pytest.approx(result.focus_distance)
    assert set(result.timings) >= {"generate", "depth", "saliency", "lens"}
    assert stages[:4] == ["generate"] * 4 and stages[-3:] == ["depth", "saliency", "lens"]
    chosen = pipeline("a teapot on a desk", camera, seed=2, focus_distance=4.0, width=64, height=64)
    assert chosen.focus_source == "user" and chosen.focus_distance == 4.0
    assert np.array_equal(np.asarray(chosen.all_in_focus), np.asarray(result.all_in_focus))


def test_refocus_equals_a_fresh_lens_render(pipeline):
    scene = torch.rand(3, 48, 64, generator=torch.Generator().manual_seed(0))
    image = Image.fromarray((scene.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    depth = torch.full((48, 64), 5.0)
    depth[10:30, 20:40] = 1.2
    result = pipeline.from_image(image, depth, camera=CameraSettings(2.8, 50.0, 3.0, sensor_width_mm=6.0))
    camera = CameraSettings(1.4, 85.0, 1.2, sensor_width_mm=6.0)
    again = refocus(result, camera, focus_distance=1.2, method="layered", blades=6)
    fresh = render(to_tensor(image), depth, camera, blades=6)
    assert np.abs(np.asarray(again.image, dtype=np.int16) - (fresh.permute(1, 2, 0).numpy() * 255).round()).max() <= 1
    assert again.focus_source == "user" and again.all_in_focus is result.all_in_focus


def test_from_image_reads_exif_and_fills_depth_holes(pipeline):
    image = Image.new("RGB", (40, 30), (100, 150, 200))
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({33437: 4.0, 37386: 35.0})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    photo = Image.open(io.BytesIO(buffer.getvalue()))
    depth = torch.full((30, 40), 3.0)
    depth[5, 5] = float("nan")
    result = pipeline.from_image(photo, depth)
    assert result.camera.f_number == 4.0 and result.camera.focal_length_mm == 35.0
    assert torch.isfinite(result.depth).all()
    assert any("holes filled" in note for note in result.notes)
    modelled = pipeline.from_image(photo)  # depth from the tiny model
    assert modelled.depth.shape == (30, 40)
    with pytest.raises(ValueError, match="does not match"):
        pipeline.from_image(photo, torch.ones(10, 10))


def test_without_a_generator_only_photos_work():
    with pytest.raises(RuntimeError, match="DOFGEN_GENERATOR"):
        DefocusPipeline()("a cat", CameraSettings(2.0, 50.0, 2.0))
