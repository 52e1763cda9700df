"""Camera settings: aperture (f-number), focal length, focus distance and sensor width.

All lengths follow the design notes: focal length and sensor width in millimetres, focus
distance in metres. Fields may be Python floats or 0-d tensors (so a lens render can be
differentiated with respect to the f-number or the focus distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Union

import torch
from PIL import ExifTags, Image

Scalar = Union[float, torch.Tensor]

#: Standard full aperture stops from f/1.4 to f/22 (what the aperture slider marks).
STANDARD_STOPS: tuple[float, ...] = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0)
#: Nominal third stops from f/1.4 to f/22, as lenses mark them (every third one a full stop):
#: the aperture slider's keyboard steps.
THIRD_STOPS: tuple[float, ...] = (
    1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.2, 3.5, 4.0, 4.5, 5.0, 5.6,
    6.3, 7.1, 8.0, 9.0, 10.0, 11.0, 13.0, 14.0, 16.0, 18.0, 20.0, 22.0,
)
#: The human study's aperture sweep (Section E of the supplement), aperture increasing.
STUDY_STOPS: tuple[float, ...] = (1.8, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0)

F_NUMBER_RANGE = (0.7, 64.0)
FOCAL_LENGTH_RANGE_MM = (4.0, 1200.0)
SENSOR_WIDTH_RANGE_MM = (1.0, 100.0)
FULL_FRAME_WIDTH_MM = 36.0

#: The acceptable circle of confusion of a depth-of-field readout: the sensor's diagonal over this.
COC_DIAGONAL_DIVISOR = 1500.0

#: Values used where neither the caller nor the EXIF gives one.
DEFAULT_F_NUMBER = 2.8
DEFAULT_FOCAL_LENGTH_MM = 50.0
DEFAULT_FOCUS_DISTANCE_M = 2.0


def _as_float(name: str, value: Scalar) -> float:
    try:
        number = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def _check_range(name: str, value: Scalar, lo: float, hi: float, unit: str = "") -> None:
    number = _as_float(name, value)
    if not lo <= number <= hi:
        raise ValueError(f"{name}={number:g} is out of range; allowed {lo:g} to {hi:g}{unit}")


@dataclass(frozen=True)
class CameraSettings:
    """A thin-lens camera.

    Args:
        f_number: aperture as an f-number N (0.7 to 64).
        focal_length_mm: focal length f in millimetres (4 to 1200).
        focus_distance_m: distance S of the plane in focus, in metres (greater than f).
        sensor_width_mm: sensor width in millimetres (1 to 100; 36 is full frame).
    """

    f_number: Scalar
    focal_length_mm: Scalar
    focus_distance_m: Scalar
    sensor_width_mm: Scalar = FULL_FRAME_WIDTH_MM

    def __post_init__(self) -> None:
        _check_range("f_number", self.f_number, *F_NUMBER_RANGE)
        _check_range("focal_length_mm", self.focal_length_mm, *FOCAL_LENGTH_RANGE_MM, " mm")
        _check_range("sensor_width_mm", self.sensor_width_mm, *SENSOR_WIDTH_RANGE_MM, " mm")
        focus = _as_float("focus_distance_m", self.focus_distance_m)
        focal_m = _as_float("focal_length_mm", self.focal_length_mm) / 1000.0
        if not focus > focal_m:
            raise ValueError(
                f"focus_distance_m={focus:g} is out of range; it must be greater than the "
                f"focal length ({focal_m:g} m)"
            )

    def replace(self, **changes: Scalar) -> "CameraSettings":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_exif(
        cls,
        image: Image.Image,
        *,
        f_number: float = DEFAULT_F_NUMBER,
        focal_length_mm: float = DEFAULT_FOCAL_LENGTH_MM,
        focus_distance_m: float = DEFAULT_FOCUS_DISTANCE_M,
        sensor_width_mm: float = FULL_FRAME_WIDTH_MM,
    ) -> "ExifCamera":
        """Camera settings read from a photo's EXIF, with the keyword values as fallbacks.

        Reads FNumber, FocalLength, FocalLengthIn35mmFilm (the sensor width follows from the
        crop factor) and SubjectDistance. Missing, corrupt or out-of-range tags fall back to
        the defaults; ``ExifCamera.from_exif`` names the fields that came from the EXIF.
        """
        values: dict[str, float] = {
            "f_number": f_number,
            "focal_length_mm": focal_length_mm,
            "focus_distance_m": focus_distance_m,
            "sensor_width_mm": sensor_width_mm,
        }
        found: dict[str, float] = {}
        try:
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
        except Exception:  # corrupt EXIF block: every value falls back
            exif = {}
        tags = {
            "f_number": exif.get(ExifTags.Base.FNumber),
            "focal_length_mm": exif.get(ExifTags.Base.FocalLength),
            "focus_distance_m": exif.get(ExifTags.Base.SubjectDistance),
        }
        for name, raw in tags.items():
            number = exif_number(raw)
            if number is not None and number > 0:
                found[name] = number
        focal_35 = exif_number(exif.get(ExifTags.Base.FocalLengthIn35mmFilm))
        if focal_35 and "focal_length_mm" in found:
            crop = focal_35 / found["focal_length_mm"]
            found["sensor_width_mm"] = FULL_FRAME_WIDTH_MM / crop
        from_exif = []
        for name, number in found.items():
            trial = dict(values, **{name: number})
            try:
                cls(**trial)
            except ValueError:
                continue
            values = trial
            from_exif.append(name)
        camera = cls(**values)
        return ExifCamera(camera=camera, from_exif=tuple(sorted(from_exif)))


@dataclass(frozen=True)
class ExifCamera:
    """The result of :meth:`CameraSettings.from_exif`: the camera and which fields the EXIF set."""

    camera: CameraSettings
    from_exif: tuple[str, ...] = field(default_factory=tuple)


def exif_number(raw: object) -> float | None:
    """A finite float (of either sign) from an EXIF value, else None.

    Reads a rational (PIL's ``IFDRational``), an integer or float, a one-element tuple or
    list, or a ``(numerator, denominator)`` pair; None for a missing, non-numeric, zero-
    denominator or non-finite value. Callers that need a positive number check the sign.
    """
    if isinstance(raw, (tuple, list)):
        if len(raw) == 1:
            raw = raw[0]
        elif len(raw) == 2:
            try:
                raw = float(raw[0]) / float(raw[1])
            except (TypeError, ValueError, ZeroDivisionError):
                return None
        else:
            return None
    try:
        number = float(raw)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class DepthOfField:
    """Near and far limits of acceptable sharpness (metres; ``far_m`` is inf at or past the
    hyperfocal distance) for a circle of confusion of ``coc_mm`` on the sensor."""

    near_m: float
    far_m: float
    hyperfocal_m: float
    coc_mm: float


def circle_of_confusion_mm(camera: CameraSettings, aspect: float = 2 / 3) -> float:
    """The acceptable circle of confusion: the sensor's diagonal / :data:`COC_DIAGONAL_DIVISOR`
    (0.029 mm for full frame), for a sensor of ``camera.sensor_width_mm`` and ``aspect``
    (height / width, the picture's)."""
    width = _as_float("sensor_width_mm", camera.sensor_width_mm)
    return width * math.hypot(1.0, aspect) / COC_DIAGONAL_DIVISOR


def depth_of_field(camera: CameraSettings, coc_mm: float) -> DepthOfField:
    """Thin-lens depth of field: where the circle of confusion of :func:`dofgen.lens.coc_diameter_px`
    grows to ``coc_mm``. With hyperfocal distance ``H = f^2 / (N c) + f``, near ``S (H - f) /
    (H + S - 2 f)`` and far ``S (H - f) / (H - S)`` (inf when ``S >= H``)."""
    if not (isinstance(coc_mm, (int, float)) and math.isfinite(coc_mm) and coc_mm > 0):
        raise ValueError(f"coc_mm must be a positive number, got {coc_mm!r}")
    f = _as_float("focal_length_mm", camera.focal_length_mm) / 1000.0
    n, s = _as_float("f_number", camera.f_number), _as_float("focus_distance_m", camera.focus_distance_m)
    hyperfocal = f * f / (n * coc_mm / 1000.0) + f
    near = s * (hyperfocal - f) / (hyperfocal + s - 2 * f)
    far = s * (hyperfocal - f) / (hyperfocal - s) if s < hyperfocal else math.inf
    return DepthOfField(near_m=near, far_m=far, hyperfocal_m=hyperfocal, coc_mm=float(coc_mm))


def equivalent_focal_length_mm(camera: CameraSettings) -> float:
    """The full-frame (35 mm) equivalent focal length: the focal length times the crop factor
    36 mm / sensor width (the inverse of how :meth:`CameraSettings.from_exif` reads the sensor
    width from FocalLengthIn35mmFilm)."""
    return _as_float("focal_length_mm", camera.focal_length_mm) * FULL_FRAME_WIDTH_MM / _as_float("sensor_width_mm", camera.sensor_width_mm)
