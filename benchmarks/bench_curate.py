"""Throughput of ``python -m dofgen.curate`` per core (EXIF rules, no models).

Run by hand from the repository root: ``python -m benchmarks.bench_curate [--photos 400] [--side 1600]
[--out benchmarks/RESULTS.md]``.
Writes ``--photos`` JPEGs (``--side`` px on the long side, quality 90, camera EXIF with
f-numbers spread over f/1.4 to f/32, a quarter from phones) into a temporary folder, runs
the curation with one process and reports photos per core-second (the shards' own time:
read, EXIF, rules, decode check, Arrow write) and the wall time including the final
assembly of ``OUT/deep`` and ``OUT/shallow``.
"""

from __future__ import annotations

import datetime
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, TiffImagePlugin

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from dofgen.curate.run import CurateConfig, run

STOPS = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0, 32.0)


def photo(index: int, side: int) -> bytes:
    """A JPEG of smooth noise with camera EXIF."""
    rng = np.random.default_rng(index)
    small = (rng.random((side * 3 // 64, side // 16, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(small).resize((side, side * 3 // 4), Image.BICUBIC)
    exif = Image.Exif()
    phone = index % 4 == 0
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = ("Apple", "iPhone 14") if phone else ("Canon", "Canon EOS R6")
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.FNumber] = TiffImagePlugin.IFDRational(int(STOPS[index % len(STOPS)] * 10), 10)
    sub[ExifTags.Base.ExposureTime] = TiffImagePlugin.IFDRational(1, 250)
    sub[ExifTags.Base.FocalLength] = TiffImagePlugin.IFDRational(50, 1)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_curate", description=__doc__)
    parser.add_argument("--photos", type=int, default=400, help="How many JPEGs to write and curate.")
    parser.add_argument("--side", type=int, default=1600, help="Long side of each JPEG in pixels.")
    parser.add_argument("--out", type=Path, help="Markdown file to append the table to (default: print only).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        root.mkdir()
        size = 0
        for index in range(args.photos):
            data = photo(index, args.side)
            size += len(data)
            (root / f"{index:06d}.jpg").write_bytes(data)
        start = time.perf_counter()
        result = run(CurateConfig(input=str(root), out=str(Path(tmp) / "out"), no_models=True, shard_size=100))
        wall = time.perf_counter() - start
    tp = result["throughput"]
    load = os.getloadavg()[0]
    text = (
        f"## Curation throughput, EXIF rules only (issue 13)\n\n"
        f"`python -m benchmarks.bench_curate --photos {args.photos} --side {args.side}`, {datetime.date.today()}, "
        f"{machine('cpu')}, load average {load:.1f} while it ran.\n\n"
        f"| photos | JPEG size | rows deep / shallow | photos per core-second | wall (with assembly) |\n|---|---|---|---|---|\n"
        f"| {tp['photos']} | {size / args.photos / 1e6:.2f} MB, {args.side} px | {result['rows']['deep']} / {result['rows']['shallow']} | "
        f"{tp['photos_per_core_second']:.1f} | {wall:.1f} s |\n"
    )
    report(text, args.out)


if __name__ == "__main__":
    main()
