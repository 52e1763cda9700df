"""What a photographer sees: exact blur at every internal scale, bokeh discs and polygons,
lights, borders, and split surfaces that hide what is behind them."""

import math

import pytest
import torch
import torch.nn.functional as F

from dofgen.camera import CameraSettings
from dofgen.color import linear_to_srgb, srgb_to_linear
from dofgen.groundtruth import Plane, noise_texture, render_planes
from dofgen.lens import QUALITY, coc_diameter_px, render, render_linear
from dofgen.lens.highlights import RIM_SHARE, light_sources
from dofgen.lens.kernels import aperture_kernel
from dofgen.lens import layered
from dofgen.lens.layered import scale_for
from dofgen.metrics import psnr

SIZE, MARGIN = 160, 28


def _harsh_texture(size: int, seed: int) -> torch.Tensor:
    """(3, size, size) sRGB: a high-contrast checker with 3-px colour noise (hard on a lens)."""
    generator = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((yy // 12 + xx // 12) % 2).float()
    cells = torch.rand(3, size // 3 + 1, size // 3 + 1, generator=generator)
    fine = cells.repeat_interleave(3, -1).repeat_interleave(3, -2)[:, :size, :size]
    return (0.15 + 0.6 * checker + 0.25 * fine).clamp(0.0, 1.0)


def _focus_for(diameter: float, depth: float, f_number: float, focal_mm: float, width: int) -> float:
    """Focus distance (m, nearer than ``depth``) at which ``depth`` blurs to ``diameter`` px."""
    near, far = 0.3, depth - 1e-4
    for _ in range(60):
        middle = (near + far) / 2
        coc = float(coc_diameter_px(torch.tensor(depth), CameraSettings(f_number, focal_mm, middle), width))
        near, far = (middle, far) if coc > diameter else (near, middle)
    return (near + far) / 2


@pytest.mark.parametrize("quality", sorted(QUALITY))
@pytest.mark.parametrize("diameter", [14.0, 40.0])
def test_uniform_blur_matches_ground_truth_at_every_internal_scale(quality, diameter):
    camera = CameraSettings(1.4, 85.0, _focus_for(diameter, 4.0, 1.4, 85.0, SIZE))
    full = SIZE + 2 * MARGIN
    image, depth, truth = render_planes([Plane(4.0, _harsh_texture(full, 1))], camera, SIZE, SIZE, MARGIN, samples=1024)
    assert float(coc_diameter_px(depth, camera, SIZE).max()) == pytest.approx(diameter, abs=0.01)
    out = render(image, depth, camera, quality=quality)
    border = int(diameter / 2) + 2
    inside = (slice(None), slice(border, -border), slice(border, -border))
    assert psnr(out[inside], truth[inside]) >= 45.0, (quality, diameter, scale_for(diameter, QUALITY[quality].min_scaled_diameter))


def _point_light(diameter_px: float, blades: int, quality: str = "accurate", depth_m: float = 8.0):
    """A point light at (97, 103) on a dark plane: (render, CoC diameter, light position)."""
    height = width = 200
    focus = 2.0 if depth_m > 2.0 else 3.0
    camera = CameraSettings(1.4, 85.0, focus)
    # the sensor width that makes the plane's CoC the wanted diameter
    per_sensor_m = float(coc_diameter_px(torch.tensor(depth_m), camera, width).abs()) * camera.sensor_width_mm
    camera = camera.replace(sensor_width_mm=per_sensor_m / diameter_px)
    image = torch.full((3, height, width), 0.02)
    image[:, 97, 103] = 1000.0
    out = render_linear(image, torch.full((height, width), depth_m), camera, quality=quality, blades=blades) - 0.02
    return out.mean(0), (97, 103)


def test_point_light_makes_a_flat_centred_disc_with_a_crisp_rim():
    out, (y0, x0) = _point_light(60.0, blades=0)
    yy, xx = torch.meshgrid(torch.arange(200.0), torch.arange(200.0), indexing="ij")
    mass = out.sum()
    assert abs(float((out * yy).sum() / mass) - y0) < 0.1 and abs(float((out * xx).sum() / mass) - x0) < 0.1
    radius = torch.hypot(yy - y0, xx - x0)
    interior = out[radius < 0.8 * 30]
    assert float(interior.std() / interior.mean()) < 0.01  # flat, not a Gaussian blob
    level = float(interior.mean())
    ring = [float(out[(radius >= r - 0.5) & (radius < r + 0.5)].mean()) / level for r in range(20, 41)]
    outer = next(r for r, v in zip(range(20, 41), ring) if v < 0.1)
    inner = max(r for r, v in zip(range(20, 41), ring) if v > 0.9)
    assert outer - inner <= 8, ring  # 90 % to 10 % within 8 px of a 60 px disc
    assert 28 <= (inner + outer) / 2 <= 32  # the rim sits on the CoC


@pytest.mark.parametrize("blades", [5, 6, 9])
def test_blade_kernels_are_polygons_inscribed_in_the_coc_with_a_vertex_at_the_top(blades):
    kernel = aperture_kernel(60.0, blades)
    centre = kernel.shape[-1] // 2
    rows = torch.nonzero(kernel.sum(dim=1) > 0).flatten()
    assert centre - int(rows[0]) == 30  # the top vertex touches the CoC circle
    cols = torch.nonzero(kernel.sum(dim=0) > 0).flatten()
    widest = max(abs(math.sin(2 * math.pi * k / blades)) for k in range(blades))
    assert abs((int(cols[-1]) - centre) - 30 * widest) <= 1.0
    assert float(kernel.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("blades", [5, 6])
def test_bokeh_polygons_point_up_behind_focus_and_down_in_front(blades):
    edge = 30 * math.cos(math.pi / blades)  # centre to the middle of a side
    for depth, vertex_up in ((8.0, True), (1.2, False)):
        out, (y0, x0) = _point_light(60.0, blades=blades, depth_m=depth)
        inside = out > 0.5 * out[y0, x0]
        rows = torch.nonzero(inside.any(dim=1)).flatten()
        up, down = y0 - int(rows[0]), int(rows[-1]) - y0
        if blades == 5:  # opposite the vertex lies a flat side
            tip, side = (up, down) if vertex_up else (down, up)
            assert tip > side + 1 and abs(side - edge) <= 1.5, (depth, up, down)
        else:  # vertices at the top and bottom, flat sides left and right
            cols = torch.nonzero(inside.any(dim=0)).flatten()
            left, right = x0 - int(cols[0]), int(cols[-1]) - x0
            assert abs(left - edge) <= 1.5 and abs(right - edge) <= 1.5 and min(up, down) > edge + 1


def test_the_border_continues_the_scene_instead_of_smearing_its_edge():
    camera = CameraSettings(1.4, 85.0, _focus_for(24.0, 4.0, 1.4, 85.0, SIZE))
    full = SIZE + 2 * MARGIN
    image, depth, truth = render_planes([Plane(4.0, _harsh_texture(full, 2))], camera, SIZE, SIZE, MARGIN, samples=1024)
    out = render(image, depth, camera)
    band = torch.ones(SIZE, SIZE, dtype=torch.bool)
    band[12:-12, 12:-12] = False
    # what replicate padding (the edge pixels smeared outwards) gives
    kernel = aperture_kernel(24.0)
    half = kernel.shape[-1] // 2
    smeared = F.conv2d(F.pad(srgb_to_linear(image)[None], (half,) * 4, mode="replicate"), kernel.expand(3, 1, -1, -1), groups=3)
    smeared = linear_to_srgb(smeared[0])
    ours, replicate = psnr(out[:, band], truth[:, band]), psnr(smeared[:, band], truth[:, band])
    assert ours > replicate + 1.0, (ours, replicate)


def test_a_surface_split_between_levels_hides_the_background():
    """A card just in front of the focal plane (|CoC| between 1 and 2 px, so shared between
    the sharp level and the first blurred one) before a far blue wall: no blue in the card."""
    full = SIZE + 2 * MARGIN
    wall = Plane(20.0, torch.tensor([0.1, 0.2, 0.9]).view(3, 1, 1).expand(3, full, full).clone())
    mask = torch.zeros(1, full, full)
    mask[:, MARGIN + 40 : MARGIN + 120, MARGIN + 40 : MARGIN + 120] = 1.0
    card = Plane(1.75, torch.tensor([0.9, 0.6, 0.2]).view(3, 1, 1).expand(3, full, full).clone(), mask)
    camera = CameraSettings(1.4, 85.0, 2.0)
    image, depth, _ = render_planes([wall, card], camera, SIZE, SIZE, MARGIN, samples=16)
    coc = float(coc_diameter_px(torch.tensor(1.75), camera, SIZE))
    assert -2.0 < coc < -1.0
    out = render(image, depth, camera)
    card_inside = out[:, 50:110, 50:110]
    assert float((card_inside - image[:, 50:110, 50:110]).abs().max()) < 2 / 255


def test_highlights_recover_lights_and_leave_white_surfaces_alone():
    """Clipped small lights (true radiance 20x white) and a clipped white wall (true 1.0) on a
    dark textured plane blurred uniformly: boosting restores the lights' bokeh and costs
    nothing elsewhere."""
    size, diameter = 192, 24.0
    generator = torch.Generator().manual_seed(4)
    radiance = 0.02 + 0.1 * torch.rand(3, size, size, generator=generator)
    lights = torch.zeros(size, size, dtype=torch.bool)
    for y, x in ((40, 50), (60, 140), (150, 60), (120, 120)):
        lights[y - 1 : y + 2, x - 1 : x + 2] = True
    radiance[:, lights] = 20.0
    radiance[:, 130:185, 140:185] = 1.0  # a white wall: clipped, but no light
    camera = CameraSettings(1.4, 85.0, _focus_for(diameter, 4.0, 1.4, 85.0, size))
    depth = torch.full((size, size), 4.0)
    kernel = aperture_kernel(diameter)
    half = kernel.shape[-1] // 2
    truth = linear_to_srgb(F.conv2d(F.pad(radiance[None], (half,) * 4, mode="reflect"), kernel.expand(3, 1, -1, -1), groups=3)[0])
    image = linear_to_srgb(radiance)  # sRGB clips the lights
    assert bool(light_sources(srgb_to_linear(image)[None])[0, 0][lights].ge(RIM_SHARE - 0.01).all())  # 1 inside, RIM_SHARE on the rim
    assert float(light_sources(srgb_to_linear(image)[None])[0, 0, 135:180, 145:180].max()) == 0.0
    reach = half + 3  # the bokeh discs and their rims
    bokeh = F.max_pool2d(lights[None, None].float(), 2 * reach + 1, 1, reach)[0, 0].bool()
    interior = torch.zeros_like(bokeh)
    interior[half:-half, half:-half] = True
    plain = render(image, depth, camera, highlight_boost=0.0)
    for boost in (0.5, 1.0):
        out = render(image, depth, camera, highlight_boost=boost)
        outside, inside = interior & ~bokeh, interior & bokeh
        assert psnr(out[:, outside], truth[:, outside]) >= psnr(plain[:, outside], truth[:, outside]) - 0.2
        assert psnr(out[:, inside], truth[:, inside]) >= psnr(plain[:, inside], truth[:, inside]) + 4.0
        # the wall stays as it is (to the rounding of a layer that holds lights being blurred at a finer scale)
        assert torch.allclose(out[:, 150:170, 150:170], plain[:, 150:170, 150:170], atol=0.005)


def test_stripes_of_white_sky_between_dark_bars_are_not_lights():
    """Thin clipped stripes (white sky seen between dark branches: 4-8 px across, long) on a
    dark plane are white, not lights: the detector leaves them (a light beside them it
    finds), and the default boost costs at most 0.2 dB against no boost on a scene with
    only the stripes, blurred uniformly."""
    size, diameter = 192, 24.0
    radiance = 0.02 + 0.1 * torch.rand(3, size, size, generator=torch.Generator().manual_seed(5))
    for rows in (slice(30, 36), slice(70, 78), slice(120, 124)):
        radiance[:, rows, 20:170] = 1.0
    radiance[:, 20:180, 100:105] = 1.0
    image = linear_to_srgb(radiance)
    lit = image.clone()
    lit[:, 150:153, 40:43] = 1.0  # a 3 x 3 px light
    found = light_sources(srgb_to_linear(lit)[None])[0, 0]
    assert float(found[:130, :].max()) == 0.0 and float(found[150:153, 40:43].min()) >= RIM_SHARE - 0.01
    camera = CameraSettings(1.4, 85.0, _focus_for(diameter, 4.0, 1.4, 85.0, size))
    depth = torch.full((size, size), 4.0)
    kernel = aperture_kernel(diameter)
    half = kernel.shape[-1] // 2
    truth = linear_to_srgb(F.conv2d(F.pad(radiance[None], (half,) * 4, mode="reflect"), kernel.expand(3, 1, -1, -1), groups=3)[0])
    interior = (slice(None), slice(half, -half), slice(half, -half))
    plain, boosted = (render(image, depth, camera, highlight_boost=boost)[interior] for boost in (0.0, 0.5))
    assert psnr(boosted, truth[interior]) >= psnr(plain, truth[interior]) - 0.2


def test_a_light_far_behind_nearer_coarse_layers_renders():
    """A boosted light's level is blurred at a finer scale than its neighbours would be (a
    28 px level at full scale, the 23 px level in front of it at half scale): the composite's
    scale must still only get finer toward focus, or the frame is garbled."""
    size = 128
    depth = torch.linspace(1.2, 12.0, size)[:, None].expand(size, size).flip(0).contiguous()  # far at the top
    camera = CameraSettings(1.4, 85.0, 1.2, sensor_width_mm=8.0)
    coc = coc_diameter_px(depth, camera, size)
    row = int((coc[:, 0] - 28.0).abs().argmin())
    image = torch.full((3, size, size), 0.1)
    image[:, row - 1 : row + 2, 60:63] = 1.0  # a clipped light on the 28 px rows
    plain = render(image, depth, camera, highlight_boost=0.0)
    boosted = render(image, depth, camera, highlight_boost=1.0)
    assert boosted.shape == image.shape and bool(torch.isfinite(boosted).all())
    assert float(boosted[:, row - 5 : row + 5, 50:73].mean()) > float(plain[:, row - 5 : row + 5, 50:73].mean()) + 0.05  # it blooms
    away = torch.ones(size, size, dtype=torch.bool)
    away[max(row - 25, 0) : row + 25, 30:95] = False
    assert float((boosted - plain)[:, away].abs().max()) < 0.01  # and nothing else changes


def test_a_light_is_blurred_finer_in_a_box_of_its_own(monkeypatch):
    """On a wide layer (a 20 px wall, blurred at half scale) a boosted light is blurred at
    full scale only in a box around its bokeh; the rest of the wall stays at half scale. The
    light's disc matches the whole layer blurred at full scale, and the wall moves only by
    the rounding of the coarser scale."""
    size, diameter = 256, 20.0
    camera = CameraSettings(1.8, 50.0, _focus_for(diameter, 4.0, 1.8, 50.0, size))
    depth = torch.full((size, size), 4.0)
    image = 0.2 + 0.5 * _harsh_texture(size, seed=4)
    image[:, 127:130, 127:130] = 1.0  # a clipped light, small and on a dim wall
    assert scale_for(diameter, QUALITY["accurate"].min_scaled_diameter) == 2
    assert scale_for(diameter, QUALITY["accurate"].min_scaled_diameter * QUALITY["accurate"].lit_factor) == 1
    blurs = []
    blur_layer = layered.blur_layer
    monkeypatch.setattr(layered, "blur_layer", lambda rgba, *rest: blurs.append(tuple(rgba.shape[-2:])) or blur_layer(rgba, *rest))
    split = render(image, depth, camera, highlight_boost=1.0)
    assert max(h * w for h, w in blurs) <= (size // 2) ** 2  # the wall at half scale
    assert (size // 2) ** 2 > min(h * w for h, w in blurs) >= (diameter + 3) ** 2  # the light's box at full scale, about its disc
    monkeypatch.setattr(layered, "_LIT_SPLIT_AREA", 0.0)  # the whole layer at full scale
    whole = render(image, depth, camera, highlight_boost=1.0)
    disc = (slice(128 - 13, 129 + 13), slice(128 - 13, 129 + 13))
    assert float((split[:, disc[0], disc[1]] - whole[:, disc[0], disc[1]]).abs().max()) < 0.01
    assert psnr(split, whole) > 45.0


def test_an_anti_aliased_rim_does_not_join_two_surfaces():
    """A card before a wall, both behind focus, with the anti-aliased rim a depth model gives
    (inverse depth averaged over 3x3): the rim's pixels lie between levels, but the card and
    the wall are still two surfaces, so the card hides the wall as the ground truth does."""
    full = SIZE + 2 * MARGIN
    wall = Plane(6.0, noise_texture(full, full, seed=1, colour=(0.9, 0.9, 0.88)))
    yy, xx = torch.meshgrid(torch.arange(full), torch.arange(full), indexing="ij")
    disc = (40.5 - ((yy - full / 2) ** 2 + (xx - full / 2) ** 2).float().sqrt()).clamp(0.0, 1.0)[None]
    card = Plane(2.5, noise_texture(full, full, seed=2, colour=(0.8, 0.55, 0.45)), disc)
    camera = CameraSettings(1.4, 50.0, 1.2, sensor_width_mm=12.0)
    image, depth, truth = render_planes([wall, card], camera, SIZE, SIZE, MARGIN, samples=256)
    near = (depth < 4.0).float()[None, None]
    rim = (F.max_pool2d(near, 3, 1, 1) - -F.max_pool2d(-near, 3, 1, 1))[0, 0] > 0
    inverse = F.avg_pool2d((1 / depth)[None, None], 3, 1, 1, count_include_pad=False)[0, 0]
    depth = torch.where(rim, 1 / inverse, depth)
    band = F.max_pool2d(rim[None, None].float(), 15, 1, 7)[0, 0].bool()
    out = render(image, depth, camera, highlight_boost=0.0)
    assert psnr(out[:, band], truth[:, band]) >= 42.0  # 34.5 dB when the rim joined them


def test_a_blurred_foreground_at_the_border_continues_and_shows_what_it_hides():
    """A near card (CoC -12 px) reaching the frame's right border, half over a mid card
    (-4 px) that goes on behind it, before a sharp wall: at the border the near card stays
    itself (not the colour behind it), and through its blurred rim shows the mid card it
    hides, not the wall (the fill comes from the surface right behind it)."""
    full = SIZE + 2 * MARGIN
    camera = CameraSettings(1.4, 85.0, 4.0)
    wall = Plane(4.0, noise_texture(full, full, seed=3, colour=(0.3, 0.35, 0.4)))
    mid_mask, near_mask = torch.zeros(1, full, full), torch.zeros(1, full, full)
    mid_mask[..., : MARGIN + 110] = 1.0
    near_mask[..., MARGIN + 90 :] = 1.0
    mid = Plane(2.4, noise_texture(full, full, seed=4, colour=(0.9, 0.85, 0.7)), mid_mask)
    near = Plane(1.3, torch.tensor([0.35, 0.3, 0.25]).view(3, 1, 1).expand(3, full, full).clone(), near_mask)
    image, depth, truth = render_planes([wall, mid, near], camera, SIZE, SIZE, MARGIN, samples=256)
    out = render(image, depth, camera, highlight_boost=0.0)
    assert psnr(out, truth) >= 46.0  # 25.7 dB when the border was filled from behind the card
    assert psnr(out[..., 80:110], truth[..., 80:110]) >= 42.0  # 27.5 dB when filled from the wall
