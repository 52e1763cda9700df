"""The photographer's readout under the picture: depth of field and the lens as a
full-frame equivalent."""

from __future__ import annotations

import math

from dofgen.camera import COC_DIAGONAL_DIVISOR, FULL_FRAME_WIDTH_MM, CameraSettings, circle_of_confusion_mm, depth_of_field, equivalent_focal_length_mm


def _metres(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f} m"


def camera_readout(camera: CameraSettings, size: tuple[int, int]) -> str:
    """Near and far limits of acceptable sharpness, the circle of confusion they assume (the
    sensor's diagonal / 1500 for a picture of ``size`` (W, H)), and the focal length with its
    full-frame equivalent."""
    coc = circle_of_confusion_mm(camera, size[1] / size[0])
    dof = depth_of_field(camera, coc)
    sensor = float(camera.sensor_width_mm)
    focal = float(camera.focal_length_mm)
    if math.isclose(sensor, FULL_FRAME_WIDTH_MM, rel_tol=1e-3):
        lens = f"{focal:g} mm, full frame"
    else:
        lens = f"{focal:g} mm on a {sensor:.3g} mm-wide sensor: **{equivalent_focal_length_mm(camera):.0f} mm** full-frame equivalent"
    return (
        f"Sharp from **{_metres(dof.near_m)}** to **{_metres(dof.far_m)}** "
        f"(circle of confusion {coc:.3f} mm: sensor diagonal / {COC_DIAGONAL_DIVISOR:g}) · {lens}"
    )
