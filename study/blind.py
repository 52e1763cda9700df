"""Blinded video files (Section E: names unlinkable per view, no tag naming a method).

Each stimulus is remuxed once without its container metadata (``strip_metadata``: no title,
encoder, handler or comment tag survives, so an imported file cannot name its method). Each
time a video is shown, ``ViewFiles.issue`` copies it under a random name with a random
amount of padding the players skip (an MP4 ``free`` box, a WebM ``Void`` element), so no
name, size or cache key is shared across participants or questions; ``release`` deletes a
view's files once the question is answered.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path

MAX_PADDING = 64 * 1024


def strip_metadata(source: Path, target: Path) -> Path:
    """Remux ``source`` to ``target`` (same container) with no metadata, chapters, encoder tag
    or encoder settings (SEI)."""
    import imageio_ffmpeg

    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-map", "0:v", "-c", "copy",
        "-map_metadata", "-1", "-map_chapters", "-1", "-metadata:s:v", "handler_name=", "-metadata:s:v", "language=und",
        "-fflags", "+bitexact", "-flags:v", "+bitexact",
    ]
    if target.suffix.lower() in (".mp4", ".mov"):
        command += ["-movflags", "+faststart"]
    try:  # H.264/HEVC: also drop SEI units (x264 writes its settings there)
        subprocess.run([*command, "-bsf:v", "filter_units=remove_types=6|39|40", str(target)], check=True, capture_output=True, timeout=300)
    except subprocess.CalledProcessError:
        subprocess.run([*command, str(target)], check=True, capture_output=True, timeout=300)
    return target


def padding(suffix: str, size: int) -> bytes:
    """``size`` (at least 10) bytes of random data that a player skips at the end of the file."""
    size = max(size, 10)
    if suffix.lower() == ".webm":
        body = size - 9  # Void element: ID 0xEC, 8-byte size
        return b"\xec" + (0x01 << 56 | body).to_bytes(8, "big") + os.urandom(body)
    return size.to_bytes(4, "big") + b"free" + os.urandom(size - 8)  # ISO BMFF free box


class ViewFiles:
    """Stripped stimuli (kept private) and per-view copies in ``folder`` (served)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._stripped = self.folder.parent / f"{self.folder.name}-stripped"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._stripped.mkdir(parents=True, exist_ok=True)
        self._cache: dict[Path, Path] = {}
        self._lock = threading.Lock()

    def stripped(self, source: Path) -> Path:
        with self._lock:
            if source not in self._cache:
                self._cache[source] = strip_metadata(source, self._stripped / f"{secrets.token_hex(16)}{source.suffix.lower()}")
            return self._cache[source]

    def issue(self, source: Path) -> Path:
        """A fresh copy of ``source`` (stripped) under a random name, with random padding."""
        stripped = self.stripped(source)
        target = self.folder / f"{secrets.token_hex(16)}{stripped.suffix}"
        partial = target.with_name(f".{target.name}")
        shutil.copyfile(stripped, partial)
        with partial.open("ab") as handle:
            handle.write(padding(stripped.suffix, 16 + secrets.randbelow(MAX_PADDING)))
        os.replace(partial, target)
        return target

    def release(self, paths) -> None:
        """Delete view files (answered questions); anything outside the folder is ignored."""
        for path in paths:
            path = Path(path)
            if path.parent == self.folder:
                path.unlink(missing_ok=True)
