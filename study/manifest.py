"""The study's stimuli: a manifest (CSV or JSON Lines) of aperture-sweep videos.

Columns: ``prompt_id``, ``prompt``, ``method``, ``video`` (a path relative to the manifest's
folder), and any other metadata. A JSON Lines manifest may start with a header line
``{"manifest": {"demo": true, ...}}``; only a demo manifest may use the control methods.

Attention checks: a row with ``"catch": true`` is a plainly broken video (a ``no_lens``
control, a frame-shuffled sweep; any method id of lowercase letters, digits and ``_``),
shown against ours for its prompt; ours is the right answer.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from study import BASELINES, CONTROLS, OURS

REQUIRED = ("prompt_id", "prompt", "method", "video")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov")
_CATCH_METHOD = re.compile(r"^[a-z0-9_]{1,40}$")


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


@dataclass(frozen=True)
class Manifest:
    """Validated stimuli, indexed by (prompt_id, method)."""

    path: Path
    stimuli: tuple[Stimulus, ...]
    demo: bool = False
    header: dict = field(default_factory=dict)

    def video(self, prompt_id: str, method: str) -> Stimulus:
        for stimulus in self.stimuli:
            if stimulus.prompt_id == prompt_id and stimulus.method == method:
                return stimulus
        raise KeyError((prompt_id, method))

    def pairs(self) -> list[tuple[str, str]]:
        """(prompt_id, baseline) pairs that can be shown against ours, sorted."""
        return self._against_ours(catch=False)

    def catch_pairs(self) -> list[tuple[str, str]]:
        """(prompt_id, method) of the attention checks (``catch`` rows), sorted."""
        return self._against_ours(catch=True)

    def _against_ours(self, catch: bool) -> list[tuple[str, str]]:
        with_ours = {s.prompt_id for s in self.stimuli if s.method == OURS}
        return sorted((s.prompt_id, s.method) for s in self.stimuli if s.catch == catch and s.method != OURS and s.prompt_id in with_ours)

    def prompt(self, prompt_id: str) -> str:
        return self.video(prompt_id, OURS).prompt


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


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest.

    Raises:
        ManifestError: naming the file and row: a missing column, an unknown method, a
            duplicate, a path leaving the folder, a missing or non-video file, or a prompt
            without ``ours`` and at least one baseline.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"no manifest at {path}")
    header, rows = _rows(path)
    demo = bool(header.get("demo", False))
    allowed = {OURS, *BASELINES, *(CONTROLS if demo else ())}
    folder = path.parent
    stimuli: list[Stimulus] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in rows:
        where = f"{path.name}, row {number}"
        missing = [name for name in REQUIRED if not str(row.get(name) or "").strip()]
        if missing:
            raise ManifestError(f"{where}: missing {', '.join(missing)}")
        prompt_id, method = str(row["prompt_id"]).strip(), str(row["method"]).strip()
        catch = row.get("catch") is True or str(row.get("catch", "")).strip().lower() in ("true", "1", "yes")
        if catch and (method == OURS or not _CATCH_METHOD.match(method)):
            raise ManifestError(f"{where}: an attention check ('catch') needs a method id of lowercase letters, digits or '_', not {method!r}")
        if method not in allowed and not catch:
            extra = "" if demo else " (controls such as no_lens need a demo manifest)"
            raise ManifestError(f"{where}: unknown method {method!r}; allowed: {', '.join(sorted(allowed))}{extra}")
        if (prompt_id, method) in seen:
            raise ManifestError(f"{where}: prompt {prompt_id!r} has a second {method!r} video (first at row {seen[prompt_id, method]})")
        seen[prompt_id, method] = number
        video = _video_path(folder, row["video"], where)
        meta = {k: v for k, v in row.items() if k not in (*REQUIRED, "catch")}
        stimuli.append(Stimulus(prompt_id, str(row["prompt"]).strip(), method, video, meta, catch))
    if not stimuli:
        raise ManifestError(f"{path.name}: no stimuli")
    by_prompt: dict[str, set[str]] = {}
    for stimulus in stimuli:
        by_prompt.setdefault(stimulus.prompt_id, set()).add(stimulus.method)
    for prompt_id, methods in sorted(by_prompt.items()):
        if OURS not in methods or len(methods) < 2:
            raise ManifestError(f"{path.name}: prompt {prompt_id!r} needs an 'ours' video and at least one baseline; it has {', '.join(sorted(methods))}")
    return Manifest(path=path, stimuli=tuple(stimuli), demo=demo, header=header)
