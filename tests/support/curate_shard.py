"""A synthetic shard of JPEGs with crafted EXIF covering every rule of Section D, with the set
each photo must land in (EXIF rules only, and with the tiny models of the tests)."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFilter, TiffImagePlugin

B = ExifTags.Base


def blur_example(kind: str, seed: int, size: int = 32) -> Image.Image:
    """A noise texture: sharp ("none"), sharp centre on a blurred surround ("desirable"), or
    blurred all over ("undesirable")."""
    rng = np.random.default_rng(seed)
    sharp = Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8))
    soft = sharp.filter(ImageFilter.GaussianBlur(3))
    if kind == "none":
        return sharp
    if kind == "undesirable":
        return soft
    out, margin = soft.copy(), size // 4
    out.paste(sharp.crop((margin, margin, size - margin, size - margin)), (margin, margin))
    return out


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    from fractions import Fraction

    fraction = Fraction(value).limit_denominator(10000)
    return TiffImagePlugin.IFDRational(fraction.numerator, fraction.denominator)


def jpeg(image: Image.Image, tags: dict | None = None, raw_exif: bytes | None = None) -> bytes:
    """JPEG bytes with EXIF ``tags`` ({"make": ..., "f_number": ..., ...}) or a raw block."""
    buffer = io.BytesIO()
    if raw_exif is not None:
        image.save(buffer, "JPEG", quality=95, exif=raw_exif)
    elif tags is None:
        image.save(buffer, "JPEG", quality=95)
    else:
        exif = Image.Exif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        names = {"make": (exif, B.Make), "model": (exif, B.Model), "description": (exif, B.ImageDescription),
                 "lens_model": (sub, B.LensModel), "f_number": (sub, B.FNumber), "aperture_value": (sub, B.ApertureValue),
                 "exposure_time": (sub, B.ExposureTime), "focal_length": (sub, B.FocalLength), "focal_35": (sub, B.FocalLengthIn35mmFilm)}
        for name, value in tags.items():
            target, tag = names[name]
            target[tag] = _rational(value) if isinstance(value, float) else value
        image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


@dataclass
class Photo:
    """One photo of the shard: EXIF, caption, content and the sets it must land in."""

    name: str
    tags: dict | None
    blur: str  # content: none / desirable / undesirable
    exif_only: str | None  # set with --no-models (None: dropped)
    with_models: str | None  # set with the tiny models (validity says yes, trained blur classifier)
    caption: str | None = None
    raw_exif: bytes | None = None
    data: bytes | None = field(default=None, repr=False)

    def bytes(self, seed: int) -> bytes:
        if self.data is not None:
            return self.data
        return jpeg(blur_example(self.blur, seed), self.tags, self.raw_exif)


CANON = {"make": "Canon", "model": "Canon EOS R5", "focal_length": 50.0, "focal_35": 50}


def photos() -> list[Photo]:
    """Every edge of Section D's rules."""
    good = dict(CANON, f_number=16.0, exposure_time=1 / 200)
    deep = lambda **kw: dict(good, **kw)  # noqa: E731
    shallow = lambda **kw: dict(CANON, exposure_time=1 / 500, **kw)  # noqa: E731
    truncated = jpeg(blur_example("none", 99), deep())
    return [
        Photo("no_exif.jpg", None, "none", None, None),
        Photo("corrupt_exif.jpg", None, "none", None, None, raw_exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff\x00\x01garbage"),
        Photo("not_an_image.jpg", None, "none", None, None, data=b"this is not a JPEG"),
        Photo("truncated.jpg", None, "none", None, None, data=truncated[: len(truncated) // 2]),
        Photo("no_f_number.jpg", {"make": "Canon", "model": "Canon EOS R5", "exposure_time": 0.01}, "none", None, None),
        Photo("f10_exactly.jpg", deep(f_number=10.0), "none", "deep", "deep", caption="a street at f/10"),
        Photo("f9.9.jpg", shallow(f_number=9.9), "desirable", "shallow", "shallow", caption="a flower"),
        Photo("exposure_0.1s_exactly.jpg", deep(exposure_time=0.1), "none", "deep", "deep"),
        Photo("exposure_0.125s.jpg", deep(exposure_time=0.125), "none", None, None),
        Photo("deep_no_exposure.jpg", dict(CANON, f_number=16.0), "none", None, None),
        Photo("f50_exactly.jpg", deep(f_number=50.0), "none", "deep", "deep"),
        Photo("f64.jpg", deep(f_number=64.0), "none", None, None),
        Photo("deep_blurred.jpg", deep(f_number=22.0), "undesirable", "deep", None),
        Photo("shallow_sharp.jpg", shallow(f_number=2.8), "none", "shallow", None),
        Photo("shallow_all_blurred.jpg", shallow(f_number=2.0), "undesirable", "shallow", None),
        Photo("apex_aperture_f2.jpg", dict(CANON, aperture_value=2.0), "desirable", "shallow", "shallow"),
        Photo("iphone.jpg", {"make": "Apple", "model": "iPhone 15 Pro", "f_number": 1.78, "exposure_time": 0.01, "focal_length": 6.765, "focal_35": 24}, "desirable", None, None),
        Photo("samsung_phone.jpg", {"make": "samsung", "model": "SM-S918B", "f_number": 1.7, "focal_length": 6.3, "focal_35": 23}, "desirable", None, None),
        Photo("samsung_camera.jpg", {"make": "SAMSUNG", "model": "NX1", "f_number": 1.8, "focal_length": 85.0, "focal_35": 128}, "desirable", "shallow", "shallow"),
        Photo("sony_xperia.jpg", {"make": "Sony", "model": "XQ-DQ54", "f_number": 1.9, "focal_length": 5.1, "focal_35": 24}, "desirable", None, None),
        Photo("sony_alpha.jpg", {"make": "SONY", "model": "ILCE-7M4", "f_number": 1.4, "focal_length": 35.0, "focal_35": 35}, "desirable", "shallow", "shallow", caption="a dog"),
        Photo("unknown_phone_sensor.jpg", {"make": "Acme", "model": "X1", "f_number": 2.2, "focal_length": 4.2, "focal_35": 26}, "desirable", None, None),
        Photo("phone_lens_only.jpg", {"make": "Acme", "model": "Z", "lens_model": "back triple camera 6.86mm f/1.78", "f_number": 1.78, "focal_length": 24.0}, "desirable", None, None),
        Photo("no_caption_exif_description.jpg", shallow(f_number=4.0, description="a bench in a park"), "desirable", "shallow", "shallow"),
    ]


def write_shards(root: Path) -> dict[str, Photo]:
    """The photos as a folder tree (with captions as sidecars and a metadata.jsonl), plus a
    webdataset tar and a Parquet file of two photos each; returns ``{file_name: Photo}``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    by_name: dict[str, Photo] = {}
    folder = root / "photos" / "a"
    folder.mkdir(parents=True)
    metadata = []
    for seed, photo in enumerate(photos()):
        (folder / photo.name).write_bytes(photo.bytes(seed))
        if photo.caption and seed % 2:
            (folder / photo.name).with_suffix(".txt").write_text(photo.caption)
        elif photo.caption:
            metadata.append({"file_name": photo.name, "text": photo.caption})
        by_name[f"photos/a/{photo.name}"] = photo
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in metadata))
    extra = [
        Photo("k1", dict(CANON, f_number=11.0, exposure_time=1 / 60), "none", "deep", "deep", caption="a mountain"),
        Photo("k2", dict(CANON, f_number=1.8, exposure_time=1 / 60), "desirable", "shallow", "shallow"),
    ]
    with tarfile.open(root / "shard-000.tar", "w") as tar:
        for seed, photo in enumerate(extra, start=100):
            members = {f"{photo.name}.jpg": photo.bytes(seed), f"{photo.name}.txt": (photo.caption or "").encode()}
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            by_name[f"shard-000.tar/{photo.name}.jpg"] = photo
    parquet_photos = [
        Photo("p1.jpg", dict(CANON, f_number=5.6, exposure_time=1 / 60), "desirable", "shallow", "shallow", caption="a cup"),
        Photo("p2.jpg", dict(CANON, f_number=32.0, exposure_time=0.5), "none", None, None),
    ]
    images = [{"bytes": photo.bytes(200 + i), "path": photo.name} for i, photo in enumerate(parquet_photos)]
    table = pa.table({"image": images, "file_name": [p.name for p in parquet_photos], "caption": [p.caption for p in parquet_photos]})
    pq.write_table(table, root / "more.parquet")
    for photo in parquet_photos:
        by_name[f"more.parquet/{photo.name}"] = photo
    return by_name
