"""Blinded video files (Section E: names unlinkable per view, no tag naming a method).

Each time a video is shown, ``ViewFiles.issue`` encodes it afresh for that view: its frames
decoded, a random few of its values (YUV) nudged by one level (invisible), encoded again as
H.264 in MP4 (CRF 14) and remuxed with no metadata, chapters, handler names or encoder
settings (SEI), then a random amount of padding the players skip (an MP4 ``free`` box), under
a random name. So every view differs from every other in its name, its size and its
compressed samples (the H.264 packets themselves, not just the container): no name, byte
range or packet hash links two questions or two participants, and every method comes out of
the same encoder with the same settings. ``release`` deletes a view's files once the question
is answered. What remains is the picture itself: decoded, two views of one stimulus look the
same (see docs/study.md, "What blinding cannot hide").
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import numpy as np

MAX_PADDING = 64 * 1024
#: H.264 settings of every view, whatever its method: visually lossless and fast.
ENCODE = ["-preset", "veryfast", "-crf", "14", "-pix_fmt", "yuv420p"]
#: The share of a frame's values each view nudges by one level.
DITHER_SHARE = 1 / 32


def padding(size: int) -> bytes:
    """``size`` (at least 10) bytes of random data that a player skips: an ISO BMFF ``free`` box."""
    size = max(size, 10)
    return size.to_bytes(4, "big") + b"free" + os.urandom(size - 8)


def dither(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``frame`` (any shape, uint8: here one YUV 4:2:0 frame's bytes) with one value in
    :data:`DITHER_SHARE`, at random, moved by -1 or +1 (clipped): invisible, yet the encoder
    codes every frame differently."""
    nudge = rng.choice(np.array([-1, 1], dtype=np.int16), size=frame.shape) * (rng.random(frame.shape) < DITHER_SHARE)
    return np.clip(frame.astype(np.int16) + nudge, 0, 255).astype(np.uint8)


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


def reencode(source: Path, target: Path, seed: int | None = None) -> Path:
    """Write ``source`` to ``target`` (MP4): its YUV 4:2:0 frames dithered (:func:`dither`),
    encoded afresh with :data:`ENCODE`, then remuxed without metadata (:func:`strip_metadata`)."""
    import imageio_ffmpeg

    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    encoded = target.with_name(f"{target.stem}-encoded.mp4")
    reader = imageio_ffmpeg.read_frames(str(source), pix_fmt="yuv420p", bits_per_pixel=12)
    try:
        meta = next(reader)
        writer = imageio_ffmpeg.write_frames(
            str(encoded), meta["size"], pix_fmt_in="yuv420p", fps=meta["fps"], codec="libx264", quality=None, macro_block_size=1,
            ffmpeg_log_level="error", output_params=ENCODE,
        )
        writer.send(None)
        try:
            for raw in reader:
                writer.send(dither(np.frombuffer(raw, np.uint8), rng))
        finally:
            writer.close()
        return strip_metadata(encoded, target)
    finally:
        reader.close()
        encoded.unlink(missing_ok=True)


class ViewFiles:
    """Per-view encodings of the stimuli in ``folder`` (served)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def issue(self, source: Path) -> Path:
        """A fresh encoding of ``source`` under a random name, with random padding."""
        target = self.folder / f"{secrets.token_hex(16)}.mp4"
        partial = target.with_name(f".{target.name}")
        try:
            reencode(Path(source), partial)
            with partial.open("ab") as handle:
                handle.write(padding(16 + secrets.randbelow(MAX_PADDING)))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def release(self, paths) -> None:
        """Delete view files (answered questions); anything outside the folder is ignored."""
        for path in paths:
            path = Path(path)
            if path.parent == self.folder:
                path.unlink(missing_ok=True)
