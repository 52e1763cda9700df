"""Physically based reference: fronto-parallel textured planes seen through a thin lens.

The defocused image is the average of pinhole views over points ``p`` of the aperture disc;
a plane at depth ``d`` shifts on the sensor by ``p f (S - d) / ((S - f) d)`` (design notes).
Views are composited back to front in linear light, so partial occlusion at depth edges is
exact: this is the ground truth the lens tests and the synthetic scenes use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dofgen.camera import CameraSettings
from dofgen.color import linear_to_srgb, srgb_to_linear

_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


@dataclass(frozen=True)
class Plane:
    """A fronto-parallel plane.

    Attributes:
        depth_m: distance from the lens in metres.
        texture: (3, H + 2m, W + 2m) sRGB in [0, 1], larger than the view by a margin m on
            every side so shifted views never run out of texture.
        mask: (1, H + 2m, W + 2m) coverage in [0, 1]; None for a plane filling the view.
        gain: (1, H + 2m, W + 2m) linear radiance multiplier (above 1 on an emitter brighter
            than white, which the pinhole image clips and the ground truth keeps); None for 1.
    """

    depth_m: float
    texture: torch.Tensor
    mask: torch.Tensor | None = None
    gain: torch.Tensor | None = None


def shift_per_lens_metre(depth_m: float, camera: CameraSettings, width_px: int) -> float:
    """Sensor shift in pixels of a plane at ``depth_m`` per metre of lens-point offset."""
    focal = float(camera.focal_length_mm) / 1000.0
    focus = float(camera.focus_distance_m)
    sensor = float(camera.sensor_width_mm) / 1000.0
    return focal * (focus - depth_m) / ((focus - focal) * depth_m) * width_px / sensor


def aperture_points(camera: CameraSettings, count: int) -> torch.Tensor:
    """(count, 2) points spread evenly (Fermat spiral) over the aperture disc, metres."""
    radius = float(camera.focal_length_mm) / 1000.0 / (2.0 * float(camera.f_number))
    index = torch.arange(count, dtype=torch.float64)
    r = radius * torch.sqrt((index + 0.5) / count)
    theta = index * _GOLDEN_ANGLE
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)


def _sample(layer: torch.Tensor, shift_xy: tuple[float, float], margin: int, height: int, width: int) -> torch.Tensor:
    """Bilinear view (C, H, W) of a (C, H + 2m, W + 2m) layer moved by ``shift_xy`` pixels."""
    full_h, full_w = layer.shape[-2:]
    ys = torch.arange(height, dtype=torch.float32) + margin - shift_xy[1]
    xs = torch.arange(width, dtype=torch.float32) + margin - shift_xy[0]
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([grid_x / (full_w - 1) * 2 - 1, grid_y / (full_h - 1) * 2 - 1], dim=-1)
    return F.grid_sample(layer[None], grid[None], mode="bilinear", padding_mode="border", align_corners=True)[0]


def render_planes(
    planes: list[Plane], camera: CameraSettings, height: int, width: int, margin: int, samples: int = 256
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render the pinhole image, its depth and the thin-lens ground truth.

    Args:
        planes: the first one fills the view; planes are drawn in order of decreasing depth.
        camera: the lens; the view is ``width`` px across the sensor width.
        margin: texture margin m (pixels) on every side; must exceed the largest CoC radius.
        samples: aperture points averaged.

    Returns:
        (3, H, W) all-in-focus sRGB image, (H, W) depth in metres, (3, H, W) sRGB ground truth.
    """
    ordered = sorted(planes, key=lambda plane: -plane.depth_m)
    if ordered[0].mask is not None:
        raise ValueError("the farthest plane must fill the view (mask=None)")
    linear = [srgb_to_linear(plane.texture) * (1.0 if plane.gain is None else plane.gain) for plane in ordered]
    rates = [shift_per_lens_metre(plane.depth_m, camera, width) for plane in ordered]
    reach = max(abs(rate) for rate in rates) * float(camera.focal_length_mm) / 2000.0 / float(camera.f_number)
    if reach + 2 > margin:
        raise ValueError(f"margin={margin} px is too small for a CoC radius of {reach:.1f} px")

    def view(offset: tuple[float, float]) -> torch.Tensor:
        out = _sample(linear[0], (offset[0] * rates[0], offset[1] * rates[0]), margin, height, width)
        for plane, colour, rate in zip(ordered[1:], linear[1:], rates[1:]):
            shift = (offset[0] * rate, offset[1] * rate)
            alpha = _sample(plane.mask, shift, margin, height, width)
            out = alpha * _sample(colour, shift, margin, height, width) + (1 - alpha) * out
        return out

    truth = torch.stack([view((float(px), float(py))) for px, py in aperture_points(camera, samples)]).mean(0)
    pinhole = view((0.0, 0.0))
    depth = torch.full((height, width), ordered[0].depth_m)
    for plane in ordered[1:]:
        covered = _sample(plane.mask, (0.0, 0.0), margin, height, width)[0] >= 0.5
        depth = torch.where(covered, torch.tensor(plane.depth_m), depth)
    return linear_to_srgb(pinhole), depth, linear_to_srgb(truth)


def noise_texture(height: int, width: int, seed: int, colour: tuple[float, float, float]) -> torch.Tensor:
    """(3, H, W) sRGB texture: multi-octave colour noise around ``colour`` with fine detail."""
    generator = torch.Generator().manual_seed(seed)
    texture = torch.zeros(3, height, width)
    for octave, amplitude in ((4, 0.35), (16, 0.25), (64, 0.2), (256, 0.15)):
        cells = torch.rand(1, 3, max(2, height * octave // 512), max(2, width * octave // 512), generator=generator)
        texture += amplitude * (F.interpolate(cells, size=(height, width), mode="bicubic", align_corners=False)[0] - 0.5)
    base = torch.tensor(colour).view(3, 1, 1)
    return (base + texture).clamp(0.0, 1.0)
