"""Section D's EXIF rules, exactly as the supplement states them.

- Discard a photo with no EXIF (a corrupt block counts as none; so does EXIF without an
  f-number, which no rule can place).
- Shallow DoF: f-number below 10.
- Deep DoF: f-number from 10 to 50 (both included) and exposure time no longer than 0.1 s
  (0.1 s is kept; a photo without an exposure time cannot show it is short, so it is
  dropped from the deep set).
- Smartphones are removed from the shallow set: by EXIF Make/Model (and LensModel) against a
  maintained list (``phones.json``), and by a lens-focal-length check — a phone-sized sensor
  (35 mm-equivalent over actual focal length of 3 or more, with an actual focal length under
  10 mm; or, without the 35 mm equivalent, an actual focal length under 6.5 mm).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dofgen.curate.exif_tags import Exif

SHALLOW_BELOW_F = 10.0
DEEP_F_RANGE = (10.0, 50.0)
DEEP_MAX_EXPOSURE_S = 0.1
#: A sensor this many times smaller than full frame, behind a lens this short, is a phone's.
PHONE_CROP = 3.0
PHONE_MAX_FOCAL_MM = 10.0
PHONE_MAX_FOCAL_NO_35MM = 6.5
PHONES_FILE = Path(__file__).with_name("phones.json")

# Filter names, as the report shows them.
DROP_UNREADABLE = "unreadable image"
DROP_NO_EXIF = "no EXIF"
DROP_CORRUPT_EXIF = "corrupt EXIF"
DROP_NO_F_NUMBER = "no f-number"
DROP_F_ABOVE_50 = "f-number above 50"
DROP_NO_EXPOSURE = "deep: no exposure time"
DROP_LONG_EXPOSURE = "deep: exposure longer than 0.1 s"
DROP_PHONE_LIST = "shallow: smartphone (make/model list)"
DROP_PHONE_FOCAL = "shallow: smartphone (focal length)"
# After the EXIF rules: the image, the photographic-validity model and the blur class.
DROP_UNDECODABLE = "image does not decode"
DROP_NOT_PHOTO = "not a photograph"

SUBSETS = ("deep", "shallow")
#: The blur class each set keeps (Section D: shallow keeps desirable blur, deep keeps none).
KEEP_BLUR = {"deep": "none", "shallow": "desirable"}
#: The models a photo meets after the EXIF rules, in order.
MODEL_KINDS = ("captioner", "validity", "blur_classifier")
#: f-number histogram bins, log-spaced, with edges at f/10 (its own bin starts there) and
#: just above f/50 (f/50 falls in the last deep bin); values outside go to the end bins.
F_BINS = np.concatenate([np.geomspace(0.625, 10.0, 25), np.geomspace(10.0, 50.0, 13)[1:-1], [50.0 * (1 + 1e-9), 80.0]])


@dataclass(frozen=True)
class Verdict:
    """Where the EXIF rules put a photo: ``subset`` "deep", "shallow" or None, and why not."""

    subset: str | None
    reason: str = ""


@dataclass(frozen=True)
class PhoneList:
    """The maintained smartphone list (``phones.json``)."""

    makers: tuple[str, ...]
    models: dict[str, tuple[re.Pattern, ...]]
    lens_phrases: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path = PHONES_FILE) -> "PhoneList":
        data = json.loads(Path(path).read_text())
        models = {maker: tuple(re.compile(p, re.IGNORECASE) for p in patterns) for maker, patterns in data["mixed_makers"].items()}
        return cls(tuple(data["phone_makers"]), models, tuple(data["lens_phrases"]))

    def matches(self, exif: Exif) -> bool:
        """True when Make, Model or the lens names a phone."""
        make = (exif.make or "").lower().strip()
        model = (exif.model or "").strip()
        if make and any(make == m or make.startswith(m + " ") for m in self.makers):
            return True
        for maker, patterns in self.models.items():
            if make.startswith(maker) and any(p.search(model) for p in patterns):
                return True
        lens = f"{exif.lens_make or ''} {exif.lens_model or ''} {model}".lower()
        return any(phrase in lens for phrase in self.lens_phrases)


@lru_cache(maxsize=1)
def phone_list() -> PhoneList:
    return PhoneList.load()


def phone_sized_sensor(exif: Exif) -> bool:
    """The lens-focal-length check: a phone's short lens on a phone-sized sensor."""
    focal = exif.focal_length_mm
    if focal is None:
        return False
    if exif.focal_length_35mm is not None:
        return focal < PHONE_MAX_FOCAL_MM and exif.focal_length_35mm / focal >= PHONE_CROP
    return focal < PHONE_MAX_FOCAL_NO_35MM


def exif_verdict(exif: Exif, phones: PhoneList | None = None) -> Verdict:
    """Apply the EXIF rules to a photo that has EXIF."""
    f_number = exif.f_number
    if f_number is None:
        return Verdict(None, DROP_NO_F_NUMBER)
    if f_number < SHALLOW_BELOW_F:
        if (phones or phone_list()).matches(exif):
            return Verdict(None, DROP_PHONE_LIST)
        if phone_sized_sensor(exif):
            return Verdict(None, DROP_PHONE_FOCAL)
        return Verdict("shallow")
    if f_number > DEEP_F_RANGE[1]:
        return Verdict(None, DROP_F_ABOVE_50)
    if exif.exposure_time is None:
        return Verdict(None, DROP_NO_EXPOSURE)
    if exif.exposure_time > DEEP_MAX_EXPOSURE_S:
        return Verdict(None, DROP_LONG_EXPOSURE)
    return Verdict("deep")
