"""Time a 1024x1024 aperture sweep over the study stops, render and encode.

Run by hand from the repository root: ``python -m benchmarks.bench_sweep [--device cuda] [--out
benchmarks/RESULTS.md]``.
The tabletop scene resized to 1024x1024, focus 1.2 m, 50 mm; 8 stops with 6 frames from each
stop to the next (43 frames, the last on f/22), H.264 at 12 fps.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen import scenes
from dofgen.argparse_help import ArgumentParser
from dofgen.camera import STUDY_STOPS
from dofgen.pipeline import DefocusPipeline
from dofgen.video import aperture_sweep, write_mp4


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_sweep", description=__doc__)
    parser.add_argument("--device", default="cpu", help="Device to render on (cpu, cuda, ...).")
    parser.add_argument("--out", type=Path, help="Markdown file to append the table to (default: print only).")
    parser.add_argument("--skip-encode", action="store_true", help="Time the render only (no imageio-ffmpeg needed).")
    args = parser.parse_args()
    scene = scenes.load("tabletop")
    image = scene.image.resize((1024, 1024))
    depth = F.interpolate(scene.depth[None, None], size=(1024, 1024), mode="nearest")[0, 0]
    pipeline = DefocusPipeline(device=args.device)
    result = pipeline.from_image(image, depth, camera=scene.camera.replace(f_number=1.8), focus_distance=1.2)
    start = time.perf_counter()
    frames = aperture_sweep(result, STUDY_STOPS, frames_per_stop=6)
    rendered = time.perf_counter() - start
    encoded, size = float("nan"), float("nan")
    if not args.skip_encode:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            path = write_mp4(frames, Path(folder) / "sweep.mp4", fps=12)
            encoded = time.perf_counter() - start
            size = path.stat().st_size
    lines = [
        f"### Aperture sweep, render and encode — {datetime.date.today().isoformat()}",
        "",
        f"Machine: {machine(args.device if args.device != 'cpu' else 'cpu')}; torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "",
        "| size | frames | render (s) | encode (s) | total (s) | MP4 size (MB) |",
        "|---|---|---|---|---|---|",
        f"| 1024² | {len(frames)} | {rendered:.1f} | {encoded:.1f} | {rendered + encoded:.1f} | {size / 1e6:.1f} |",
    ]
    report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
