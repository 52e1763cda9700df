"""The content-linkage attack on the study's blinding, as a participant (or a client pooling
several participants) can run it: "the video that recurs across my questions is ours".

Participants go through the page's API (``gradio_client``), download both videos of every
question before answering, and key each file two ways:

- ``bytes``: the MD5 of its compressed samples (one MD5 per H.264 packet, ``ffmpeg -c copy
  -f framemd5``), whatever the container, padding or name around them;
- ``pixels``: its decoded picture (a 16 x 16 grey thumbnail of every frame), matched to the
  nearest picture seen before (the same when within :data:`PIXEL_MATCH` grey levels).

The rule, per question: the side whose key comes back more often in the other questions
considered (one's own session, or a pool of sessions) is ours; a tie is a coin flip, scored
as half right. Used by ``tests/test_study_redteam.py`` and ``benchmarks/bench_study_linkage.py``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from dofgen.video import write_mp4
from study import OURS

#: Mean absolute difference (grey levels) under which two thumbnails are the same picture.
PIXEL_MATCH = 6.0


@dataclass
class View:
    """One question as the participant saw it: keys of the left and right file, and the truth."""

    participant: str
    index: int
    left: dict
    right: dict
    ours_left: bool | None = None


def distinct_manifest(folder: Path, prompts: int = 22, baselines=("sdxl", "sdxl_taf", "deepdof_taf")) -> Path:
    """A manifest whose every (prompt, method) video has a picture of its own (random 8 px
    blocks, 32 x 32, 2 frames), so content can link files."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for p in range(prompts):
        for method in (OURS, *baselines):
            rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"p{p}-{method}".encode()).digest()[:8], "big"))
            blocks = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
            frames = [np.kron(np.clip(blocks.astype(int) + 30 * k, 0, 255).astype(np.uint8), np.ones((8, 8, 1), np.uint8)) for k in range(2)]
            video = write_mp4(frames, folder / "videos" / f"p{p}-{method}.mp4", fps=2)
            lines.append(json.dumps({"prompt_id": f"p{p}", "prompt": f"prompt {p}", "method": method, "video": f"videos/{video.name}"}))
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def packet_key(path: Path) -> str:
    """The attacker's byte rule: a hash of the file's compressed samples (not its container)."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return hashlib.md5("".join(line.rsplit(",", 1)[-1] for line in out.splitlines() if not line.startswith("#")).encode()).hexdigest()


def thumbnail(path: Path) -> np.ndarray:
    """(frames, 16, 16) grey thumbnails of the decoded video, float."""
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-vf", "scale=16:16", "-pix_fmt", "gray", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, 16, 16).astype(float)


class PixelKeys:
    """Picture ids: a thumbnail within :data:`PIXEL_MATCH` of one seen before gets its id."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def key(self, thumb: np.ndarray) -> int:
        for number, other in enumerate(self.seen):
            if other.shape == thumb.shape and np.abs(other - thumb).mean() < PIXEL_MATCH:
                return number
        self.seen.append(thumb)
        return len(self.seen) - 1


def keys(url: str, folder: Path, pixels: PixelKeys) -> dict:
    """Download ``url`` into ``folder`` and key it (``bytes`` and ``pixels``)."""
    path = folder / url.rsplit("/", 1)[-1].split("?")[0]
    with urllib.request.urlopen(url, timeout=60) as response:
        path.write_bytes(response.read())
    return {"bytes": packet_key(path), "pixels": pixels.key(thumbnail(path))}


def session(url: str, folder: Path, pixels: PixelKeys, headers: dict | None = None) -> tuple[list[View], str]:
    """One participant answering "left" to everything, keying both files of each question
    before answering; returns the views and the completion screen's text."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False, headers=headers)
    out = client.predict("", True, api_name="/begin")
    views = []
    for _ in range(100):
        if out[7]:  # done_text
            break
        token, index = out[0], int(out[5])
        views.append(View(token.split(".")[0], index, keys(out[3]["url"], folder, pixels), keys(out[4]["url"], folder, pixels)))
        out = client.predict(token, str(index), api_name="/vote_left")
    return views, out[7]


def truth(views: list[View], assignments: list[dict]) -> list[View]:
    """Fill in which side showed ours, from the stored assignments."""
    left = {(r["participant_id"], q["index"]): q["left_method"] == OURS for r in assignments for q in r["questions"]}
    for view in views:
        view.ours_left = left[view.participant, view.index]
    return views


def rule(views: list[View], pool: list[View], key: str, earlier_only: bool = False) -> dict:
    """Score the recurrence rule on ``views``, counting recurrences in ``pool`` (other questions
    only; ``earlier_only``: only the same participant's earlier questions). Returns right
    (ties as half), decided (questions with a side that recurs more) and wrong calls."""
    right = decided = wrong = 0.0
    for view in views:
        others = [v for v in pool if (v.participant, v.index) != (view.participant, view.index)
                  and not (earlier_only and (v.participant != view.participant or v.index > view.index))]
        seen = Counter(side[key] for v in others for side in (v.left, v.right))
        left, right_count = seen[view.left[key]], seen[view.right[key]]
        if left == right_count:
            right += 0.5
            continue
        decided += 1
        correct = (left > right_count) == view.ours_left
        right += correct
        wrong += not correct
    return {"right": right / max(1, len(views)), "decided": int(decided), "wrong": int(wrong), "questions": len(views)}


def pooled(sessions: list[list[View]], k: int, key: str) -> dict:
    """The rule over pools of ``k`` sessions (one client's participants): each question judged
    by recurrences across all questions of its pool."""
    views, decided, right, wrong = 0, 0, 0.0, 0
    for start in range(0, len(sessions) - k + 1, k):
        pool = [v for s in sessions[start:start + k] for v in s]
        scored = rule(pool, pool, key)
        views += scored["questions"]
        right += scored["right"] * scored["questions"]
        decided += scored["decided"]
        wrong += scored["wrong"]
    return {"right": right / max(1, views), "decided": decided, "wrong": wrong, "questions": views}
