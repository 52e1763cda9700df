"""Image shards: folders of photos, webdataset tars and Parquet files, read as streams.

A shard is the unit of work, of resumption and of distribution: each tar or Parquet file is
one, and the loose photos of a folder tree are cut into chunks of ``shard_size`` files in
sorted order (a chunk's id hashes its file list, so a resumed run redoes a chunk whose files
changed). Tars and Parquet files stream through ``datasets.load_dataset(...,
streaming=True)``; each record carries its ``file_name`` relative to the input folder, the
encoded image bytes and its caption when the source has one (a ``NAME.txt`` beside the
photo or an imagefolder ``metadata.jsonl``/``metadata.csv`` with ``text``, ``caption`` or
``prompt``; a tar's ``.txt``/``.json``; a Parquet ``text``/``caption``/``prompt`` column).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
CAPTION_KEYS = ("text", "caption", "prompt")
DEFAULT_SHARD_SIZE = 512


@dataclass(frozen=True)
class Record:
    """One photo from a shard."""

    file_name: str
    data: bytes
    caption: str | None = None


def _shard_id(kind: str, name: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80]


def list_shards(root: str | Path, shard_size: int = DEFAULT_SHARD_SIZE, exclude: str | Path | None = None) -> list[dict]:
    """Every shard under ``root``, sorted: dicts with ``id``, ``kind`` ("folder",
    "webdataset", "parquet"), ``path`` (relative) and ``files`` (a folder chunk's photos).

    Symbolic links that leave ``root`` and anything under ``exclude`` (the output) are skipped.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size={shard_size} must be at least 1")
    root = Path(root).resolve()
    if not root.is_dir():
        raise ValueError(f"--input {root} is not a folder")
    skip = Path(exclude).resolve() if exclude else None
    photos, shards = [], []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if skip is not None and (here == skip or skip in here.parents):
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            path = here / name
            if root not in path.resolve().parents:
                continue
            relative = path.relative_to(root).as_posix()
            suffix = path.suffix.lower()
            if suffix == ".tar":
                shards.append({"id": _shard_id("tar", relative), "kind": "webdataset", "path": relative, "files": []})
            elif suffix == ".parquet":
                shards.append({"id": _shard_id("parquet", relative), "kind": "parquet", "path": relative, "files": []})
            elif suffix in IMAGE_SUFFIXES:
                photos.append(relative)
    photos.sort()
    for start in range(0, len(photos), shard_size):
        chunk = photos[start : start + shard_size]
        digest = hashlib.sha1("\n".join(chunk).encode()).hexdigest()[:10]
        shards.append({"id": f"folder-{start // shard_size:06d}-{digest}", "kind": "folder", "path": "", "files": chunk})
    return sorted(shards, key=lambda shard: shard["id"])


def _caption(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, dict):
        value = next((value[k] for k in CAPTION_KEYS if isinstance(value.get(k), str)), None)
    return value.strip() or None if isinstance(value, str) else None


@lru_cache(maxsize=64)
def _folder_metadata(folder: str) -> dict[str, str]:
    """Captions of an imagefolder ``metadata.jsonl``/``.csv``: file name (relative to the
    folder) to caption."""
    captions: dict[str, str] = {}
    jsonl, table = Path(folder, "metadata.jsonl"), Path(folder, "metadata.csv")
    rows: list[dict] = []
    if jsonl.is_file():
        rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif table.is_file():
        rows = list(csv.DictReader(table.read_text(encoding="utf-8").splitlines()))
    for row in rows:
        text = _caption(row)
        if isinstance(row.get("file_name"), str) and text:
            captions[Path(row["file_name"]).as_posix()] = text
    return captions


def _read_folder(root: Path, shard: dict) -> Iterator[Record]:
    for relative in shard["files"]:
        path = root / relative
        try:
            data = path.read_bytes()
        except OSError:
            continue
        caption = None
        sidecar = path.with_suffix(".txt")
        if sidecar.is_file():
            caption = _caption(sidecar.read_text(encoding="utf-8", errors="replace"))
        if caption is None:
            caption = _folder_metadata(str(path.parent)).get(path.name)
        yield Record(relative, data, caption)


def _image_columns(dataset) -> list[str]:
    from datasets import Image

    return [name for name, feature in (dataset.features or {}).items() if isinstance(feature, Image)]


def _read_webdataset(root: Path, shard: dict) -> Iterator[Record]:
    from datasets import Image, load_dataset

    dataset = load_dataset("webdataset", data_files={"train": [str(root / shard["path"])]}, split="train", streaming=True)
    columns = _image_columns(dataset)
    for column in columns:
        dataset = dataset.cast_column(column, Image(decode=False))
    for row in dataset:
        for column in columns:
            image = row.get(column)
            if image and image.get("bytes"):
                caption = _caption(row.get("txt")) or _caption(row.get("caption")) or _caption(row.get("json"))
                yield Record(f"{shard['path']}/{row['__key__']}.{column}", image["bytes"], caption)
                break


def _read_parquet(root: Path, shard: dict) -> Iterator[Record]:
    from datasets import Image, load_dataset

    dataset = load_dataset("parquet", data_files={"train": [str(root / shard["path"])]}, split="train", streaming=True)
    columns = _image_columns(dataset) or [c for c in (dataset.column_names or []) if c == "image"]
    if not columns:
        raise ValueError(f"{shard['path']}: no image column (an Image feature or a column named 'image')")
    column = columns[0]
    dataset = dataset.cast_column(column, Image(decode=False))
    for index, row in enumerate(dataset):
        image = row.get(column) or {}
        if not image.get("bytes"):
            continue
        name = row.get("file_name") or image.get("path") or str(index)
        caption = next((_caption(row.get(key)) for key in CAPTION_KEYS if _caption(row.get(key))), None)
        yield Record(f"{shard['path']}/{name}", image["bytes"], caption)


def read_shard(root: str | Path, shard: dict) -> Iterator[Record]:
    """Stream a shard's photos."""
    reader = {"folder": _read_folder, "webdataset": _read_webdataset, "parquet": _read_parquet}[shard["kind"]]
    yield from reader(Path(root), shard)
