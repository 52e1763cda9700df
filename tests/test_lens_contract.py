"""render(): shapes, dtypes, devices, options and errors."""

import math

import pytest
import torch

from benchmarks.pathtraced.scene_loader import SCENES_DIR, load_scene
from dofgen.camera import CameraSettings
from dofgen.lens import METHODS, RenderStopped, layered, render
from dofgen.lens.kernels import aperture_kernel
from dofgen.metrics import signal_energy

CAMERA = CameraSettings(1.8, 50.0, 2.0)


def _scene(batch: int | None = None, size: int = 40):
    generator = torch.Generator().manual_seed(0)
    shape = (3, size, size) if batch is None else (batch, 3, size, size)
    image = torch.rand(shape, generator=generator)
    depth = torch.full((size, size), 6.0)
    depth[10:30, 10:30] = 2.0
    return image, depth


@pytest.mark.parametrize("method", METHODS)
def test_shapes_and_dtypes_follow_the_image(method):
    image, depth = _scene()
    out = render(image, depth, CAMERA, method)
    assert out.shape == image.shape and out.dtype == image.dtype
    batch, _ = _scene(batch=2)
    for depth_shape in [(40, 40), (1, 40, 40), (2, 1, 40, 40)]:
        out = render(batch, depth.expand(depth_shape) if len(depth_shape) < 4 else depth.expand(2, 1, 40, 40), CAMERA, method)
        assert out.shape == batch.shape
    half = render(image.double(), depth, CAMERA, method)
    assert half.dtype == torch.float64
    assert torch.allclose(render(batch, depth, CAMERA, method)[1], render(batch[1], depth, CAMERA, method), atol=1e-5)


@pytest.mark.parametrize("method", ["taf", "drbokeh"])
def test_a_baseline_render_stops_when_asked(method):
    """``should_stop`` is asked while the window is walked: True ends the render at once; a
    render that is never stopped matches one without the check."""
    image, depth = _scene()
    camera = CameraSettings(1.4, 135.0, 1.0)  # a CoC of 14 px: a window of about 200 offsets
    asked = []

    def stop_on_third() -> bool:
        asked.append(True)
        return len(asked) >= 3

    with pytest.raises(RenderStopped):
        render(image, depth, camera, method, should_stop=stop_on_third)
    assert len(asked) == 3
    assert torch.equal(render(image, depth, camera, method, should_stop=lambda: False), render(image, depth, camera, method))


def test_blur_grows_as_the_aperture_opens():
    image, depth = _scene()
    energies = [signal_energy(render(image, depth, CameraSettings(n, 50.0, 2.0))).item() for n in (1.4, 2.8, 5.6, 11.0)]
    assert energies == sorted(energies)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda i, d: render(i, d, CAMERA, "pinhole"), "unknown"),
        (lambda i, d: render(i[:2], d, CAMERA), "shape"),
        (lambda i, d: render(i, d[:20], CAMERA), "image is"),
        (lambda i, d: render(i, d, CAMERA, blades=4), "blades"),
        (lambda i, d: render(i, d, CAMERA, "taf", blades=6), "layered lens only"),
        (lambda i, d: render(i, d, CAMERA, highlight_boost=float("nan")), "highlight_boost"),
        (lambda i, d: render(i, d, CAMERA, highlight_boost=-1.0), "highlight_boost"),
        (lambda i, d: render(i * float("nan"), d, CAMERA), "NaN"),
        (lambda i, d: render(i, d - 10.0, CAMERA), "finite and positive"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    image, depth = _scene()
    with pytest.raises((ValueError, TypeError), match=match):
        call(image, depth)


def test_polygon_kernels_have_the_blades_corners():
    disc, hexagon = aperture_kernel(31, 0), aperture_kernel(31, 6)
    assert disc.sum().item() == pytest.approx(1.0) and hexagon.sum().item() == pytest.approx(1.0)
    assert (hexagon > 0).sum() < (disc > 0).sum()  # inscribed polygon: smaller support
    # a vertex at the top, a flat side at the sides of a hexagon
    centre = hexagon.shape[0] // 2
    assert hexagon[0, centre] > 0 and hexagon[centre, 1] == 0
    assert aperture_kernel(0.5).shape == (1, 1)


@pytest.mark.parametrize("blades", [0, 5, 6])
def test_kernels_carry_no_zero_outer_ring(blades):
    """A kernel stops at the outermost pixels its aperture reaches (zero taps cost time)."""
    for diameter in (1.01, 2.9, 3.01, 8.2, 13.0, 13.01, 24.5, 60.8):
        kernel = aperture_kernel(diameter, blades)
        assert kernel.shape[-1] % 2 == 1 and kernel.sum().item() == pytest.approx(1.0)
        ring = torch.cat([kernel[0], kernel[-1], kernel[:, 0], kernel[:, -1]])
        assert kernel.shape[-1] == 1 or ring.any(), (diameter, blades)
        assert kernel.shape[-1] <= 2 * math.ceil(diameter / 2) + 1


def test_blades_shape_the_bokeh_of_a_point_light():
    size = 81
    image = torch.zeros(3, size, size)
    image[:, 40, 40] = 1.0
    depth = torch.full((size, size), 50.0)
    camera = CameraSettings(1.4, 85.0, 1.0)
    round_disc = render(image, depth, camera)[0]
    pentagon = render(image, depth, camera, blades=5)[0]
    assert (round_disc > 0.01).sum() > (pentagon > 0.01).sum()
    assert not torch.allclose(round_disc, pentagon)


def test_highlight_boost_blooms_defocused_highlights_only():
    size = 64
    image = torch.full((3, size, size), 0.2)
    image[:, 16, 16] = 1.0  # a highlight far behind focus
    image[:, 48, 48] = 1.0  # a highlight in focus
    depth = torch.full((size, size), 2.0)
    depth[:32, :32] = 40.0
    camera = CameraSettings(1.4, 85.0, 2.0, sensor_width_mm=8.0)  # a 16 px CoC behind focus
    plain = render(image, depth, camera, highlight_boost=0.0)
    boosted = render(image, depth, camera, highlight_boost=1.0)
    disc = (slice(None), slice(10, 23), slice(10, 23))
    assert boosted[disc].mean() > plain[disc].mean() + 0.05
    assert torch.allclose(boosted[:, 40:, 40:], plain[:, 40:, 40:], atol=1e-6)


def test_drbokeh_uses_the_given_matte():
    image, depth = _scene()
    matte = torch.zeros(40, 40)
    matte[10:30, 10:30] = 1.0
    out = render(image, depth, CameraSettings(1.4, 50.0, 6.0), "drbokeh", matte=matte)
    default = render(image, depth, CameraSettings(1.4, 50.0, 6.0), "drbokeh")
    assert out.shape == image.shape and not torch.allclose(out, default)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", METHODS)
def test_cuda_matches_cpu(method):
    image, depth = _scene(batch=2, size=64)
    camera = CameraSettings(1.4, 50.0, 2.0, sensor_width_mm=12.0)
    on_cpu = render(image, depth, camera, method, highlight_boost=0.5)
    on_gpu = render(image.cuda(), depth.cuda(), camera, method, highlight_boost=0.5)
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=2e-4)


@pytest.mark.parametrize("quality", ["accurate", "fast"])
@pytest.mark.parametrize("name", ["lights_hexagon", "many_depths", "street_column"])
def test_the_gpus_plain_convolution_renders_what_the_strip_blur_renders(monkeypatch, name, quality):
    """The CPU blurs layers in stacked strips, a GPU in one grouped convolution; run on the
    CPU, the GPU's path gives the same render of a path-traced scene (lights, blades, many
    depths, the frame's border), so the CUDA path's arithmetic is checked without a GPU."""
    scene = load_scene(SCENES_DIR / f"{name}.npz")

    def lens() -> torch.Tensor:
        return render(scene.image, scene.depth, scene.camera, blades=scene.blades, quality=quality, highlight_boost=0.5)

    strips = lens()
    monkeypatch.setattr(layered, "_strip_conv", layered._depthwise_conv)
    plain = lens()
    assert torch.isfinite(plain).all()
    assert (plain - strips).abs().max() < 1e-5
