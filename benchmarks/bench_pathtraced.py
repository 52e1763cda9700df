"""Score every lens against the path-traced (Blender Cycles) references, no bpy needed.

Run by hand from the repository root: ``python -m benchmarks.bench_pathtraced [--lenses ...]
[--scenes ...] [--no-write] [--crops DIR]``. Scenes are ``benchmarks/pathtraced/scenes/*.npz``
(rendered by ``benchmarks/pathtraced/render_scenes.py`` under bpy, see its README; read by
``benchmarks.pathtraced.scene_loader``). Scores (``dofgen.metrics``) are in sRGB:

- PSNR over the whole frame (borders included: the frame's border should behave like the
  scene going on);
- PSNR in the edge band: pixels within ``max(3, c / 2)`` px of a depth discontinuity, where
  a discontinuity is a pair of 4-neighbours whose signed CoC differs by more than 1 px and
  ``c`` is the larger |CoC| of the pair;
- SSIM (11x11 Gaussian window, sigma 1.5, valid region, mean over RGB);
- PSNR inside the light regions (every pixel the bokeh of a clipped light can reach: light
  pixels dilated by their CoC radius + 1 px) and outside them;
- seconds per render (one warm-up render per lens first).

Means are given over every scene, over the tuning scenes and over the held-out ones
(``scene_loader.HELD_OUT``: scored, never tuned on). The table replaces the "Path-traced benchmark" section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.pathtraced.naive import render_naive_layered, render_taf_srgb
from benchmarks.pathtraced.scene_loader import SCENES_DIR, BenchScene, load_scene
from benchmarks.report import report_section
from dofgen.argparse_help import ArgumentParser
from dofgen.lens import render
from dofgen.metrics import disc_dilate, edge_band, psnr, ssim

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
DISC_CHECK = ROOT / "benchmarks" / "pathtraced" / "disc_check.json"
SECTION = "## Path-traced benchmark"
#: The Explore tab's default highlight boost (its slider's value).
APP_HIGHLIGHT_BOOST = 0.5


# ----------------------------------------------------------------------------- lenses
Renderer = Callable[[BenchScene], torch.Tensor]


@dataclass(frozen=True)
class Lens:
    """A dofgen lens method with its keyword arguments, or a renderer of its own.

    ``blades``: whether the lens takes the scene's aperture blades (else it renders round).
    Add keywords the lens API grows (e.g. a quality setting) to ``kwargs``.
    """

    kwargs: dict = field(default_factory=dict)
    blades: bool = False
    renderer: Renderer | None = None

    def __call__(self, scene: BenchScene) -> torch.Tensor:
        if self.renderer is not None:
            return self.renderer(scene)
        blades = scene.blades if self.blades else 0
        return render(scene.image, scene.depth, scene.camera, blades=blades, **self.kwargs)


LENSES: dict[str, Lens] = {
    "layered": Lens({"method": "layered"}, blades=True),
    "layered no boost": Lens({"method": "layered", "highlight_boost": 0.0}, blades=True),
    "layered fast": Lens({"method": "layered", "quality": "fast"}, blades=True),
    f"layered boost {APP_HIGHLIGHT_BOOST:g}": Lens({"method": "layered", "highlight_boost": APP_HIGHLIGHT_BOOST}, blades=True),
    "layered boost 1": Lens({"method": "layered", "highlight_boost": 1.0}, blades=True),
    "drbokeh": Lens({"method": "drbokeh"}),
    "taf": Lens({"method": "taf"}),
    "naive layered": Lens(blades=True, renderer=lambda s: render_naive_layered(s.image, s.coc, s.blades)),
    "taf sRGB": Lens(renderer=lambda s: render_taf_srgb(s.image, s.coc)),
}


# ----------------------------------------------------------------------------- metrics
def light_region(light_mask: torch.Tensor, coc: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: where the bokeh of a clipped light can reach (CoC radius + 1 px)."""
    return disc_dilate(light_mask, coc.abs() / 2 + 1.0)


@dataclass
class Score:
    psnr: float
    edge: float
    ssim: float
    light: float
    outside: float
    seconds: float


def score(scene: BenchScene, out: torch.Tensor, seconds: float) -> Score:
    coc = scene.coc[0, 0]
    band = edge_band(coc)
    lights = light_region(scene.light_mask, coc)
    ref = scene.reference
    out = out.float().clamp(0.0, 1.0)
    return Score(
        psnr(out, ref), psnr(out, ref, band), ssim(out, ref),
        psnr(out, ref, lights) if bool(scene.light_mask.any()) else math.nan,
        psnr(out, ref, ~lights), seconds,
    )


# ----------------------------------------------------------------------------- report
def _fmt(value: float, digits: int = 2) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.fmean(kept) if kept else math.nan


MISSING = Score(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)


def table(scenes: list[BenchScene], scores: dict[str, dict[str, Score]]) -> str:
    """Markdown: overall means per lens (over the scenes every lens scored), then per-scene
    PSNR / edge band / SSIM / light regions ("–" where a lens was not run)."""
    lenses = list(scores)
    scores = {lens: {s.name: scores[lens].get(s.name, MISSING) for s in scenes} for lens in lenses}
    common = [s for s in scenes if all(not math.isnan(scores[lens][s.name].psnr) for lens in lenses)]
    lines = [
        f"{SECTION}",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; `python -m benchmarks.bench_pathtraced`.",
        f"{len(scenes)} Cycles scenes at 384x256 (`benchmarks/pathtraced/`), inputs sRGB clipped, scored in sRGB. "
        "Edge band: within max(3, CoC/2) px of a depth discontinuity. Lights: where a clipped "
        "light's bokeh can reach (mean over the scenes that have lights); 'outside': the rest of "
        "those frames and of every other frame. Means are of dB values over scenes.",
        "",
    ]
    tuning, held_out = ([s for s in common if s.held_out == flag] for flag in (False, True))
    groups = [(f"Over the {len(common)} scenes every lens scored:", common),
              (f"Tuning scenes ({len(tuning)}: {', '.join(s.name for s in tuning)}):", tuning),
              (f"Held-out scenes ({len(held_out)}: {', '.join(s.name for s in held_out)}; scored, never tuned on):", held_out)]
    if len(common) < len(scenes):
        groups.append(("Over every scene each lens scored (not comparable across lenses with different counts):", None))
    for title, group in [(title, group) for title, group in groups if group is None or group]:
        lines += [title, "", "| lens | scenes | PSNR | edge band | SSIM | lights | outside lights | s / render |",
                  "|---|---|---|---|---|---|---|---|"]
        for lens in lenses:
            chosen = group if group is not None else [s for s in scenes if not math.isnan(scores[lens][s.name].psnr)]
            rows = [scores[lens][s.name] for s in chosen]
            lines.append(
                f"| {lens} | {len(rows)} | {_fmt(_mean([r.psnr for r in rows]))} | {_fmt(_mean([r.edge for r in rows]))} | "
                f"{_fmt(_mean([r.ssim for r in rows]), 4)} | {_fmt(_mean([r.light for r in rows]))} | "
                f"{_fmt(_mean([r.outside for r in rows]))} | {_fmt(statistics.median([r.seconds for r in rows]) if rows else math.nan, 3)} |"
            )
        lines.append("")
    for title, key in (("PSNR (dB)", "psnr"), ("edge band PSNR (dB)", "edge"), ("SSIM", "ssim")):
        digits = 4 if key == "ssim" else 2
        lines += [f"Per scene, {title}:", "", "| scene | max CoC (px) | reference noise (dB) | " + " | ".join(lenses) + " |",
                  "|---|---|---|" + "---|" * len(lenses)]
        for s in scenes:
            cells = " | ".join(_fmt(getattr(scores[lens][s.name], key), digits) for lens in lenses)
            lines.append(f"| {s.name} | {float(s.coc.abs().max()):.1f} | {_fmt(s.noise_psnr)} | {cells} |")
        lines.append("")
    light_scenes = [s for s in scenes if bool(s.light_mask.any())]
    if light_scenes:
        lines += ["Per scene with lights, PSNR inside / outside the light regions (dB):", "",
                  "| scene | " + " | ".join(lenses) + " |", "|---|" + "---|" * len(lenses)]
        for s in light_scenes:
            cells = " | ".join(f"{_fmt(scores[lens][s.name].light)} / {_fmt(scores[lens][s.name].outside)}" for lens in lenses)
            lines.append(f"| {s.name} | {cells} |")
        lines.append("")
    lines += ["Reference noise: sRGB PSNR between the reference's two half renders (different seeds); "
              "the reference, their mean, is about 3 dB cleaner still."]
    if DISC_CHECK.exists():
        discs = {k: v for k, v in json.loads(DISC_CHECK.read_text()).items() if isinstance(v, dict)}
        lines += ["", "Disc check (`render_scenes.py --disc-check`, 85 mm f/1.4 focused at 1.5 m): a point light's "
                  "bokeh diameter (vertex to vertex for 6 blades) against the design's CoC formula:", "",
                  "| light | CoC formula (px) | measured (px) | error | centre offset (px) |", "|---|---|---|---|---|"]
        for name, disc in discs.items():
            lines.append(f"| {name} | {disc['coc_formula_px']:.2f} | {disc['diameter_px']:.2f} | "
                         f"{disc['error_percent']:+.2f} % | {max(map(abs, disc['centre_offset_px'])):.2f} |")
    return "\n".join(lines) + "\n"


CROP_LENSES = ("layered", "naive layered", "drbokeh")


def save_crops(scene: BenchScene, outputs: dict[str, torch.Tensor], folder: Path, size: int = 80) -> list[Path]:
    """Labelled PNG strips (input | reference | layered | naive layered | drbokeh, as far as
    they were rendered), 3x, at the light nearest the centre and at layered's worst depth edge."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    coc = scene.coc[0, 0]
    height, width = coc.shape
    centres = {}
    if bool(scene.light_mask.any()):
        ys, xs = torch.nonzero(scene.light_mask, as_tuple=True)
        pick = int(((ys - height / 2) ** 2 + (xs - width / 2) ** 2).argmin())
        centres["light"] = (int(ys[pick]), int(xs[pick]))
    if "layered" in outputs:
        error = (outputs["layered"].float() - scene.reference).abs().mean(dim=(0, 1))
        error = F.avg_pool2d(error[None, None], 9, 1, 4)[0, 0] * edge_band(coc)
        index = int(error.argmax())
        centres["edge"] = (index // width, index % width)
    tiles = {"input": scene.image, "reference": scene.reference, **{k: outputs[k] for k in CROP_LENSES if k in outputs}}
    paths = []
    for label, (cy, cx) in centres.items():
        y0 = min(max(cy - size // 2, 0), height - size)
        x0 = min(max(cx - size // 2, 0), width - size)
        strip = torch.cat([t[0, :, y0 : y0 + size, x0 : x0 + size].float() for t in tiles.values()], dim=2)
        array = (strip.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        picture = Image.fromarray(array).resize((array.shape[1] * 3, array.shape[0] * 3), Image.NEAREST)
        canvas = Image.new("RGB", (picture.width, picture.height + 14), "white")
        canvas.paste(picture, (0, 14))
        draw = ImageDraw.Draw(canvas)
        for i, name in enumerate(tiles):
            draw.text((i * size * 3 + 3, 1), name, fill="black")
        path = folder / f"{scene.name}_{label}.png"
        canvas.save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_pathtraced", description=__doc__)
    parser.add_argument("--lenses", nargs="*", choices=list(LENSES), help="Lenses to score (default: all).")
    parser.add_argument("--scenes", nargs="*", help="Scene names to score (default: every npz in --scenes-dir).")
    parser.add_argument("--no-write", action="store_true", help="Print the table only; leave RESULTS.md alone.")
    parser.add_argument("--crops", type=Path, help="Folder for PNG crops: input | reference | each lens.")
    parser.add_argument("--scenes-dir", type=Path, default=SCENES_DIR, help="Folder of the scene npz files.")
    parser.add_argument("--cached-only", action="store_true", help="Render nothing: make the table from the --reuse scores.")
    parser.add_argument("--reuse", type=Path, help="JSON of scores: reuse those of unchanged scene files and add new ones "
                        "(only for lenses whose code did not change since).")
    args = parser.parse_args()
    paths = sorted(args.scenes_dir.glob("*.npz"))
    if args.scenes:
        known = {p.stem for p in paths}
        unknown = sorted(set(args.scenes) - known)
        if unknown:
            parser.error(f"unknown scenes {unknown}; have {sorted(known)}")
        paths = [p for p in paths if p.stem in args.scenes]
    if not paths:
        parser.error(f"no scenes in {args.scenes_dir}; render them with benchmarks/pathtraced/render_scenes.py")
    scenes = [load_scene(p) for p in paths]
    lenses = {name: LENSES[name] for name in (args.lenses or LENSES)}
    scores: dict[str, dict[str, Score]] = {name: {} for name in lenses}
    stored = json.loads(args.reuse.read_text()) if args.reuse and args.reuse.exists() else {}
    for name in lenses:
        for scene in scenes:
            if f"{scene.name}:{scene.digest}" in stored.get(name, {}):
                scores[name][scene.name] = Score(**stored[name][f"{scene.name}:{scene.digest}"])
    with torch.inference_mode():
        for name, lens in lenses.items():
            if len(scores[name]) < len(scenes) and not args.cached_only:
                lens(scenes[0])  # warm-up
        for scene in scenes:
            outputs = {}
            for name, lens in lenses.items():
                if (scene.name in scores[name] and not args.crops) or args.cached_only:
                    continue
                start = time.perf_counter()
                outputs[name] = lens(scene)
                seconds = time.perf_counter() - start
                if scene.name not in scores[name]:
                    scores[name][scene.name] = score(scene, outputs[name], seconds)
                    stored.setdefault(name, {})[f"{scene.name}:{scene.digest}"] = dataclasses.asdict(scores[name][scene.name])
            if args.reuse:
                args.reuse.write_text(json.dumps(stored, indent=1))
            print(f"{scene.name}: " + ", ".join(f"{n} {scores[n].get(scene.name, MISSING).psnr:.2f}" for n in lenses), flush=True)
            if args.crops:
                save_crops(scene, outputs, args.crops)
    report_section(table(scenes, scores), None if args.no_write else RESULTS, SECTION)


if __name__ == "__main__":
    main()
