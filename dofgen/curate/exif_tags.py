"""EXIF of a photo as plain values (Section D: "we discard photos with no EXIF data")."""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass
from typing import Literal

from PIL import ExifTags, Image, UnidentifiedImageError

from dofgen.camera import exif_number

Status = Literal["ok", "missing", "corrupt", "unreadable"]

#: The EXIF fields each dataset row carries (None where the photo has no such tag).
FIELDS = ("make", "model", "lens_make", "lens_model", "f_number", "exposure_time", "focal_length_mm",
          "focal_length_35mm", "iso", "datetime", "description")


@dataclass(frozen=True)
class Exif:
    """Parsed EXIF; numbers are floats, text is stripped; None where a tag is absent or bad."""

    make: str | None = None
    model: str | None = None
    lens_make: str | None = None
    lens_model: str | None = None
    f_number: float | None = None
    exposure_time: float | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    iso: float | None = None
    datetime: str | None = None
    description: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _positive(raw: object) -> float | None:
    """A positive finite float from an EXIF value (see :func:`dofgen.camera.exif_number`), else None."""
    number = exif_number(raw)
    return number if number is not None and number > 0 else None


def _text(raw: object) -> str | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    text = raw.replace("\x00", "").strip()
    return text or None


def read_exif(data: bytes) -> tuple[Status, Exif | None]:
    """The EXIF of an encoded image.

    Returns:
        ("ok", Exif) when the photo has an EXIF block with at least one tag; ("missing",
        None) when it has none; ("corrupt", None) when the block cannot be parsed;
        ("unreadable", None) when the bytes are not an image.

    The f-number is FNumber, else the APEX ApertureValue (N = 2^(Av/2)); the exposure time
    is ExposureTime, else the APEX ShutterSpeedValue (t = 2^-Tv).
    """
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        return "unreadable", None
    raw = image.info.get("exif")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns, then returns what it could read
            exif = image.getexif()
            base = dict(exif)
            sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception:  # a truncated or garbled block: PIL raises many kinds
        return "corrupt", None
    if not base and not sub:
        return ("corrupt" if raw else "missing"), None
    tags = {**base, **sub}
    B = ExifTags.Base
    f_number = _positive(tags.get(B.FNumber))
    if f_number is None and (apex := _positive(tags.get(B.ApertureValue))) is not None:
        f_number = 2.0 ** (apex / 2.0)
    exposure = _positive(tags.get(B.ExposureTime))
    if exposure is None and (tv := exif_number(tags.get(B.ShutterSpeedValue))) is not None:
        exposure = 2.0 ** -tv
    iso = tags.get(B.ISOSpeedRatings)
    return "ok", Exif(
        make=_text(tags.get(B.Make)),
        model=_text(tags.get(B.Model)),
        lens_make=_text(tags.get(B.LensMake)),
        lens_model=_text(tags.get(B.LensModel)),
        f_number=f_number,
        exposure_time=exposure,
        focal_length_mm=_positive(tags.get(B.FocalLength)),
        focal_length_35mm=_positive(tags.get(B.FocalLengthIn35mmFilm)),
        iso=_positive(iso[0] if isinstance(iso, tuple) and iso else iso),
        datetime=_text(tags.get(B.DateTimeOriginal) or tags.get(B.DateTime)),
        description=_text(tags.get(B.ImageDescription)),
    )
