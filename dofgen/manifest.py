"""A manifest of aperture-sweep videos (CSV or JSON Lines): what ``dofgen.evaluate`` measures
and what the study (``study.manifest``, which adds its own rules) shows.

Columns: ``prompt_id``, ``prompt``, ``method``, ``video`` (a path relative to the manifest's
folder), optionally ``catch`` (an attention check), and any other metadata. A JSON Lines
manifest may start with a header line ``{"manifest": {...}}``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dofgen.config import is_true

REQUIRED = ("prompt_id", "prompt", "method", "video")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov")

#: check(header, where, method, catch): raises ManifestError for a row its caller does not accept.
RowCheck = Callable[[dict, str, str, bool], None]


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and row."""


@dataclass(frozen=True)
class Stimulus:
    """One video: a method's aperture sweep for one prompt."""

    prompt_id: str
    prompt: str
    method: str
    video: Path
    meta: dict = field(default_factory=dict)
    catch: bool = False


def _is_video(path: Path) -> bool:
    """MP4/MOV ('ftyp' box) or WebM (EBML header), by content, not by name alone."""
    with path.open("rb") as handle:
        head = handle.read(12)
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"


def _rows(path: Path) -> tuple[dict, list[tuple[int, dict]]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return {}, [(number + 2, dict(row)) for number, row in enumerate(reader)]
    header: dict = {}
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ManifestError(f"{path.name}, line {number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise ManifestError(f"{path.name}, line {number}: each line must be a JSON object")
        if number == 1 and set(record) == {"manifest"} and isinstance(record["manifest"], dict):
            header = record["manifest"]
            continue
        rows.append((number, record))
    return header, rows


def _video_path(folder: Path, raw: object, where: str) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise ManifestError(f"{where}: 'video' must be a relative path")
    relative = PurePosixPath(raw.replace("\\", "/"))
    if relative.is_absolute() or raw.startswith(("/", "\\")) or ":" in relative.parts[0] or ".." in relative.parts:
        raise ManifestError(f"{where}: video path {raw!r} must stay inside the manifest's folder (no '..', no absolute path)")
    candidate = folder / Path(*relative.parts)
    resolved = candidate.resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise ManifestError(f"{where}: video path {raw!r} leads outside the manifest's folder")
    if not resolved.is_file():
        raise ManifestError(f"{where}: video {raw!r} does not exist")
    if resolved.suffix.lower() not in VIDEO_SUFFIXES or not _is_video(resolved):
        raise ManifestError(f"{where}: {raw!r} is not a video (MP4, MOV or WebM)")
    return resolved


def read_stimuli(path: str | Path, check: RowCheck | None = None) -> tuple[dict, tuple[Stimulus, ...]]:
    """The header and the stimuli of a manifest.

    ``check`` sees the header and each row's method and catch flag before its video is
    looked at.

    Raises:
        ManifestError: naming the file and row: a missing column, a duplicate (prompt_id,
            method), a path leaving the folder, a missing or non-video file, no rows; or
            what ``check`` raises.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"no manifest at {path}")
    header, rows = _rows(path)
    stimuli: list[Stimulus] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in rows:
        where = f"{path.name}, row {number}"
        missing = [name for name in REQUIRED if not str(row.get(name) or "").strip()]
        if missing:
            raise ManifestError(f"{where}: missing {', '.join(missing)}")
        prompt_id, method = str(row["prompt_id"]).strip(), str(row["method"]).strip()
        catch = row.get("catch") is True or is_true(str(row.get("catch", "")))
        if check is not None:
            check(header, where, method, catch)
        if (prompt_id, method) in seen:
            raise ManifestError(f"{where}: prompt {prompt_id!r} has a second {method!r} video (first at row {seen[prompt_id, method]})")
        seen[prompt_id, method] = number
        video = _video_path(path.parent, row["video"], where)
        meta = {k: v for k, v in row.items() if k not in (*REQUIRED, "catch")}
        stimuli.append(Stimulus(prompt_id, str(row["prompt"]).strip(), method, video, meta, catch))
    if not stimuli:
        raise ManifestError(f"{path.name}: no stimuli")
    return header, tuple(stimuli)
