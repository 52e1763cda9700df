"""The study's demo stimuli (assets/study/demo-study/): every prompt of the bundled demo
(assets/study/demo/, ``python -m scripts.make_demo_stimuli``) in 7 framings — crops and
mirror images of its sweeps, the same framing for every method of a prompt — so the study
has 21 prompts and a participant gets 20 questions without seeing a prompt twice.

Run from the repository root: ``python -m scripts.make_demo_study``. Demo stimuli only: the
real study's stimuli come from the real models (docs/study.md).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "assets" / "study" / "demo" / "manifest.jsonl"
OUT = ROOT / "assets" / "study" / "demo-study"
#: (name, share of the width and height kept, left and top of the crop as shares of the
#: room left, mirrored)
FRAMINGS = [
    ("whole", 1.0, 0.0, 0.0, False),
    ("mirrored", 1.0, 0.0, 0.0, True),
    ("left", 0.75, 0.0, 0.5, False),
    ("right mirrored", 0.75, 1.0, 0.5, True),
    ("centre", 0.7, 0.5, 0.5, False),
    ("top left mirrored", 0.75, 0.0, 0.0, True),
    ("bottom right", 0.75, 1.0, 1.0, False),
]


def frame(source: Path, target: Path, keep: float, left: float, top: float, mirrored: bool) -> Path:
    """``source`` cropped to ``keep`` of its width and height (even sizes) at (``left``,
    ``top``) of the room left, mirrored if asked, as H.264 MP4."""
    crop = f"crop=trunc(iw*{keep}/2)*2:trunc(ih*{keep}/2)*2:(iw-trunc(iw*{keep}/2)*2)*{left}:(ih-trunc(ih*{keep}/2)*2)*{top}"
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-vf", crop + (",hflip" if mirrored else ""),
         "-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-map_metadata", "-1", str(target)],
        check=True,
    )
    return target


def main() -> None:
    lines = SOURCE.read_text().splitlines()
    header = json.loads(lines[0])
    header["manifest"]["description"] = "Demo stimuli: the bundled scenes' sweeps in 7 framings each; not the paper's study."
    rows = [header]
    for row in map(json.loads, lines[1:]):
        for number, (name, keep, left, top, mirrored) in enumerate(FRAMINGS, start=1):
            prompt_id = f"{row['prompt_id']}-{number}"
            video = frame(SOURCE.parent / row["video"], OUT / "videos" / f"{prompt_id}-{row['method']}.mp4", keep, left, top, mirrored)
            rows.append({**row, "prompt_id": prompt_id, "prompt": f"{row['prompt']} ({name})", "video": f"videos/{video.name}"})
            print(video, flush=True)
    rows[1:] = sorted(rows[1:], key=lambda r: (r["prompt_id"], r["method"]))
    (OUT / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {OUT / 'manifest.jsonl'}")


if __name__ == "__main__":
    main()
