"""Sweep videos: aperture sweeps (focus fixed) and focus sweeps, written as H.264 MP4."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from dofgen.camera import STUDY_STOPS

Progress = Callable[[int, int], None]

#: Default frames between consecutive stops of an aperture sweep.
FRAMES_PER_STOP = 6


def aperture_values(stops: Sequence[float] = STUDY_STOPS, frames_per_stop: int = FRAMES_PER_STOP) -> list[float]:
    """f-numbers of an aperture sweep: geometric steps from each stop to the next, ending on
    the last stop (``frames_per_stop * (len(stops) - 1) + 1`` values)."""
    if len(stops) < 2 or frames_per_stop < 1:
        raise ValueError("an aperture sweep needs at least two stops and one frame per stop")
    values = []
    for start, end in zip(stops[:-1], stops[1:]):
        values += [start * (end / start) ** (j / frames_per_stop) for j in range(frames_per_stop)]
    return values + [float(stops[-1])]


def focus_values(near_m: float, far_m: float, frames: int) -> list[float]:
    """Focus distances from near to far, evenly spaced in 1/distance (as a focus ring turns)."""
    if frames < 2 or not 0 < near_m < far_m:
        raise ValueError("a focus sweep needs 0 < near < far and at least two frames")
    return [1.0 / ((1 - t) / near_m + t / far_m) for t in np.linspace(0.0, 1.0, frames)]


def _sweep(result, cameras: list, progress: Progress | None, label: Callable | None, lens: dict) -> list[Image.Image]:
    from dofgen.pipeline import refocus

    frames = []
    for index, camera in enumerate(cameras):
        frame = refocus(result, camera, focus_distance=camera.focus_distance_m, **lens).image
        frames.append(caption(frame, label(camera)) if label else frame)
        if progress:
            progress(index + 1, len(cameras))
    return frames


def aperture_sweep(
    result,
    stops: Sequence[float] = STUDY_STOPS,
    frames_per_stop: int = FRAMES_PER_STOP,
    progress: Progress | None = None,
    captions: bool = False,
    **lens,
) -> list[Image.Image]:
    """Frames of ``result``'s scene (a ``DefocusResult``) as the aperture closes over ``stops``,
    focus fixed; ``captions`` burns the f-number into each frame; ``lens`` goes to
    ``refocus`` (blades, highlight_boost, matte)."""
    cameras = [result.camera.replace(f_number=n, focus_distance_m=result.focus_distance) for n in aperture_values(stops, frames_per_stop)]
    return _sweep(result, cameras, progress, (lambda c: f"f/{float(c.f_number):.1f}") if captions else None, lens)


def focus_sweep(result, frames: int = 48, progress: Progress | None = None, captions: bool = False, **lens) -> list[Image.Image]:
    """Frames of ``result``'s scene as focus moves from its nearest to its farthest depth;
    ``captions`` burns the focus distance into each frame; ``lens`` goes to ``refocus``
    (blades, highlight_boost, matte)."""
    depth = result.depth[torch.isfinite(result.depth)]
    focal_m = float(result.camera.focal_length_mm) / 1000.0
    near = max(float(torch.quantile(depth.float(), 0.02)), focal_m * 1.5)
    far = max(float(torch.quantile(depth.float(), 0.98)), near * 1.01)
    cameras = [result.camera.replace(focus_distance_m=d) for d in focus_values(near, far, frames)]
    return _sweep(result, cameras, progress, (lambda c: f"{float(c.focus_distance_m):.2f} m") if captions else None, lens)


def caption(frame: Image.Image, text: str) -> Image.Image:
    """The frame with ``text`` (e.g. "f/2.8") burnt into its lower-left corner."""
    frame = frame.copy()
    draw = ImageDraw.Draw(frame)
    size = max(12, frame.height // 24)
    font = ImageFont.load_default(size=size)
    x, y = size // 2, frame.height - size * 2
    box = draw.textbbox((x, y), text, font=font)
    draw.rectangle([box[0] - 6, box[1] - 4, box[2] + 6, box[3] + 4], fill=(0, 0, 0))
    draw.text((x, y), text, fill=(255, 255, 255), font=font)
    return frame


#: H.264 level 5.2 (what many hardware decoders play): at most this many 16x16 macroblocks a
#: frame and a second (ITU-T H.264, Table A-1).
LEVEL_5_2_FRAME_MBS = 36_864
LEVEL_5_2_MBS_PER_S = 2_073_600


def _macroblocks(width: int, height: int) -> int:
    return math.ceil(width / 16) * math.ceil(height / 16)


def h264_size(width: int, height: int, fps: float = 12.0) -> tuple[int, int]:
    """The largest even (width, height) of the same aspect, at most ``width`` x ``height``, that
    H.264 level 5.2 allows at ``fps`` (4096x4096 -> 3072x3072; 741x500 -> 740x500)."""
    limit = min(LEVEL_5_2_FRAME_MBS, LEVEL_5_2_MBS_PER_S / fps)
    side = 16 * math.isqrt(8 * LEVEL_5_2_FRAME_MBS)  # the level's longest side: 8688 px
    scale = min(1.0, math.sqrt(limit * 256 / (width * height)), side / max(width, height))
    while True:
        size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
        if _macroblocks(*size) <= limit:
            return size
        scale *= 0.995


def _fitted(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) at ``size`` (W, H): cropped by at most a pixel a side to even, else scaled down
    (Lanczos) first; never padded."""
    height, width = frame.shape[:2]
    if width - size[0] > 1 or height - size[1] > 1:
        scale = max(size[0] / width, size[1] / height)
        scaled = (max(size[0], round(width * scale)), max(size[1], round(height * scale)))
        frame = np.asarray(Image.fromarray(frame).resize(scaled, Image.Resampling.LANCZOS))
    return frame[: size[1], : size[0]]


def write_mp4(frames: Sequence[Image.Image | np.ndarray], path: str | Path, fps: float = 12.0) -> Path:
    """Write frames as H.264 (yuv420p, +faststart) MP4 within level 5.2: cropped to even sizes
    (741x500 -> 740x500), larger frames scaled down to :func:`h264_size`; never padded.

    Returns:
        The path written.
    """
    if not frames:
        raise ValueError("no frames to write")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= 120):
        raise ValueError(f"fps={fps!r} must be between 0 and 120")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [np.asarray(frame.convert("RGB") if isinstance(frame, Image.Image) else frame, dtype=np.uint8) for frame in frames]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("all frames must have the same size")
    size = h264_size(arrays[0].shape[1], arrays[0].shape[0], fps)
    writer = imageio.get_writer(
        path, format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1,
        output_params=["-movflags", "+faststart", "-crf", "18"], ffmpeg_log_level="error",
    )
    try:
        for array in arrays:
            writer.append_data(_fitted(array, size))
    finally:
        writer.close()
    return path


def read_frames(path: str | Path) -> list[np.ndarray]:
    """All frames of a video as (H, W, 3) uint8 arrays."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return [np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 3) for frame in reader]
