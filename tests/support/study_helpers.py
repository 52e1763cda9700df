"""Small manifests with real (tiny) MP4 files for the study tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dofgen.video import write_mp4
from study import BASELINES


def tiny_video(path: Path, shade: int = 0) -> Path:
    frames = [np.full((16, 16, 3), (shade + 40 * i) % 256, np.uint8) for i in range(2)]
    return write_mp4(frames, path, fps=2)


def write_manifest(folder: Path, prompts: int = 5, baselines=BASELINES, demo: bool = False, extra: list[dict] | None = None) -> Path:
    """A JSON Lines manifest: ``prompts`` prompts x (ours + baselines), one video each."""
    folder.mkdir(parents=True, exist_ok=True)
    source = tiny_video(folder / "videos" / "source.mp4")
    lines = [json.dumps({"manifest": {"demo": True}})] if demo else []
    for p in range(prompts):
        for method in ("ours", *baselines):
            video = folder / "videos" / f"p{p}-{method}.mp4"
            video.write_bytes(source.read_bytes())
            lines.append(json.dumps({"prompt_id": f"p{p}", "prompt": f"prompt {p}", "method": method, "video": f"videos/{video.name}"}))
    lines += [json.dumps(row) for row in extra or []]
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path
