"""Thin-lens circle of confusion (design notes, "Units and the lens equation")."""

from __future__ import annotations

import math

import torch

from dofgen.camera import CameraSettings


def check_depth(depth: torch.Tensor) -> None:
    """Raise ``ValueError`` unless every depth value is finite and positive (metres)."""
    if not torch.is_tensor(depth):
        raise TypeError(f"depth must be a torch.Tensor, got {type(depth).__name__}")
    if depth.numel() == 0:
        raise ValueError(f"depth is empty: shape {tuple(depth.shape)}")
    low, high = (float(v) for v in torch.aminmax(depth.detach()))
    if low > 0 and math.isfinite(high):  # one pass when all is well (NaN fails the test)
        return
    bad_finite = int((~torch.isfinite(depth)).sum())
    bad_positive = int((depth <= 0).sum())
    if bad_finite or bad_positive:
        raise ValueError(
            f"depth must be finite and positive (metres): found {bad_finite} non-finite and "
            f"{bad_positive} non-positive values; fill the holes first "
            "(dofgen.depth.fill_holes)"
        )


def coc_diameter_px(depth: torch.Tensor, camera: CameraSettings, width_px: int) -> torch.Tensor:
    """Signed circle-of-confusion diameter in pixels.

    ``c = (d - S) / d * f^2 / (N (S - f))`` on the sensor, times ``width_px / sensor_width``:
    negative in front of the focal plane, positive behind it, zero on it.

    Args:
        depth: (..., H, W) depth d in metres, finite and positive.
        camera: f-number N, focal length f, focus distance S and sensor width.
        width_px: image width in pixels that the sensor width maps to.

    Returns:
        (..., H, W) signed diameter in pixels, same dtype and device as ``depth``.
    """
    check_depth(depth)
    focal_m = camera.focal_length_mm / 1000.0
    sensor_m = camera.sensor_width_mm / 1000.0
    focus_m = camera.focus_distance_m
    scale = focal_m**2 / (camera.f_number * (focus_m - focal_m)) * (width_px / sensor_m)
    return (depth - focus_m) / depth * scale
