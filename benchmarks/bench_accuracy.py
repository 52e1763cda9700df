"""PSNR of each lens against thin-lens ground truth (averaged pinhole views).

Run by hand from the repository root: ``python -m benchmarks.bench_accuracy [--out
benchmarks/RESULTS.md]``. Scenes: a
single textured plane behind and in front of the focal plane, and a textured card at 1.5 m
before a textured wall at 6 m (85 mm f/1.4, 256 px) focused on the card and on the wall.
'edges' is the band within the largest CoC radius of a depth edge.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from dofgen.camera import CameraSettings
from dofgen.groundtruth import Plane, noise_texture, render_planes
from dofgen.lens import METHODS, coc_diameter_px, render
from dofgen.metrics import psnr

SIZE, MARGIN = 256, 40


def scenes() -> list[tuple[str, list[Plane], CameraSettings]]:
    full = SIZE + 2 * MARGIN
    wall = Plane(6.0, noise_texture(full, full, seed=1, colour=(0.25, 0.45, 0.75)))
    mask = torch.zeros(1, full, full)
    mask[:, MARGIN + 70 : MARGIN + 190, MARGIN + 60 : MARGIN + 170] = 1.0
    card = Plane(1.5, noise_texture(full, full, seed=2, colour=(0.85, 0.5, 0.2)), mask)
    texture = noise_texture(full, full, seed=3, colour=(0.5, 0.45, 0.4))
    return [
        ("plane behind focus (4 m, focus 1.5 m)", [Plane(4.0, texture)], CameraSettings(1.4, 85.0, 1.5)),
        ("plane in front of focus (0.9 m, focus 1.5 m)", [Plane(0.9, texture)], CameraSettings(1.4, 85.0, 1.5)),
        ("card in focus, wall behind", [wall, card], CameraSettings(1.4, 85.0, 1.5)),
        ("wall in focus, card in front", [wall, card], CameraSettings(1.4, 85.0, 6.0)),
    ]


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_accuracy", description=__doc__)
    parser.add_argument("--out", type=Path, help="Markdown file to append the table to (default: print only).")
    args = parser.parse_args()
    lines = [
        f"### Lens accuracy against thin-lens ground truth — {datetime.date.today().isoformat()}",
        "",
        "PSNR (dB) over the interior (a border of the largest CoC radius left out); 'edges': within that radius of a depth edge.",
        "",
        "| scene | max CoC (px) | " + " | ".join(f"{m} all | {m} edges" for m in METHODS) + " |",
        "|---|---|" + "---|---|" * len(METHODS),
    ]
    for name, planes, camera in scenes():
        image, depth, truth = render_planes(planes, camera, SIZE, SIZE, MARGIN, samples=400)
        coc = float(coc_diameter_px(depth, camera, SIZE).abs().max())
        border = int(coc / 2) + 2
        interior = torch.zeros(SIZE, SIZE, dtype=torch.bool)
        interior[border:-border, border:-border] = True
        d = depth[None, None]
        size = 2 * border - 3
        edges = interior & (F.max_pool2d(d, size, 1, size // 2) != -F.max_pool2d(-d, size, 1, size // 2))[0, 0]
        cells = []
        for method in METHODS:
            out = render(image, depth, camera, method)
            cells.append(f"{psnr(out, truth, interior):.1f}")
            cells.append(f"{psnr(out, truth, edges):.1f}" if edges.any() else "–")
        lines.append(f"| {name} | {coc:.1f} | " + " | ".join(cells) + " |")
    report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
