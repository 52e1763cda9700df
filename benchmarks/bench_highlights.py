"""Highlight boost on procedural scenes it was not tuned on: lights against white surfaces.

Run by hand from the repository root: ``python -m benchmarks.bench_highlights [--out
benchmarks/RESULTS.md]``. Each scene is generated from a seed and rendered with thin-lens
ground truth (``dofgen.groundtruth``: averaged pinhole views, in linear light, emitters kept
brighter than white; the input is the pinhole view, clipped to sRGB): a textured background
(half the scenes a white sky above it), dark occluding bars at mid depth (white sky shows as
stripes between them), a pure-white card and white specks of texture (white, not lights),
and, in every other scene, clusters of small emitters of varied sizes, colours and gains.
Scenes from ``TUNING_SEEDS`` may be tuned on; ``HELD_OUT_SEEDS`` are only scored.

Scores (sRGB PSNR, ``dofgen.metrics``): inside the light regions (light pixels dilated by
their CoC radius + 1 px) and outside them, for the layered lens with no boost, the default
boost and boost 1; on the scenes without lights, the whole frame.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from dofgen.camera import CameraSettings
from dofgen.groundtruth import Plane, noise_texture, render_planes
from dofgen.lens import DEFAULT_HIGHLIGHT_BOOST, coc_diameter_px, render
from dofgen.metrics import disc_dilate, psnr

HEIGHT, WIDTH, MARGIN = 256, 384, 48
TUNING_SEEDS = tuple(range(0, 12))
HELD_OUT_SEEDS = tuple(range(100, 112))
BOOSTS = {"no boost": 0.0, "default": DEFAULT_HIGHLIGHT_BOOST, "boost 1": 1.0}
#: Emitter colours (linear-light ratios): warm, tungsten, white, cool, red, green.
COLOURS = ((1.0, 0.72, 0.42), (1.0, 0.55, 0.25), (1.0, 1.0, 1.0), (0.7, 0.85, 1.0), (1.0, 0.3, 0.25), (0.4, 1.0, 0.5))


@dataclass(frozen=True)
class HighlightScene:
    """A generated scene: (1, 3, H, W) sRGB input and truth, (H, W) depth and light mask."""

    name: str
    image: torch.Tensor
    depth: torch.Tensor
    truth: torch.Tensor
    camera: CameraSettings
    light_mask: torch.Tensor


def _rect(mask: torch.Tensor, top: int, left: int, height: int, width: int, value: float = 1.0) -> None:
    mask[..., max(top, 0) : top + height, max(left, 0) : left + width] = value


def _lights(rng: random.Random, full: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clusters of small emitters (discs 1-6 px across, gains 3-40): a plane's texture,
    mask and gain."""
    mask, gain = torch.zeros(1, *full), torch.ones(1, *full)
    texture = torch.ones(3, *full)
    ys, xs = torch.meshgrid(torch.arange(full[0]), torch.arange(full[1]), indexing="ij")
    for _ in range(rng.randint(1, 4)):
        cy, cx = rng.uniform(MARGIN + 20, full[0] - MARGIN - 20), rng.uniform(MARGIN + 20, full[1] - MARGIN - 20)
        for _ in range(rng.randint(1, 5)):
            y, x, radius = cy + rng.uniform(-30, 30), cx + rng.uniform(-40, 40), rng.uniform(0.5, 3.0)
            disc = ((ys - y) ** 2 + (xs - x) ** 2).float().sqrt().sub(radius).neg().add(0.5).clamp(0, 1)[None]
            colour = torch.tensor(rng.choice(COLOURS)).view(3, 1, 1)
            texture = torch.where(disc > 0, colour ** (1 / 2.2), texture)
            gain = torch.where(disc > 0, torch.tensor(rng.uniform(3.0, 40.0)), gain)
            mask = torch.maximum(mask, disc)
    return texture, mask, gain


def make_scene(seed: int, samples: int) -> HighlightScene:
    """The scene of ``seed`` (lights in the even ones), its truth from ``samples`` pinhole views."""
    rng = random.Random(seed)
    full = (HEIGHT + 2 * MARGIN, WIDTH + 2 * MARGIN)
    focus = rng.uniform(1.5, 3.0)
    camera = CameraSettings(rng.uniform(1.4, 2.8), 85.0, focus, sensor_width_mm=36.0)
    background = noise_texture(*full, seed=seed, colour=tuple(rng.uniform(0.1, 0.45) for _ in range(3)))
    specks = torch.rand(1, *full, generator=torch.Generator().manual_seed(seed)) > 0.998
    background = torch.where(specks, torch.ones(3, 1, 1), background)  # white specks of texture
    if rng.random() < 0.5:  # a white sky above a horizon
        background[:, : MARGIN + rng.randint(40, 120)] = 1.0
    far = rng.uniform(6.0, 20.0)
    planes = [Plane(far, background)]
    bars = torch.zeros(1, *full)
    for _ in range(rng.randint(2, 6)):  # dark poles and branches: white sky shows between them
        if rng.random() < 0.5:
            _rect(bars, 0, rng.randint(MARGIN, full[1] - MARGIN), full[0], rng.randint(6, 30))
        else:
            _rect(bars, rng.randint(MARGIN, MARGIN + 140), 0, rng.randint(4, 16), full[1])
    planes.append(Plane(rng.uniform(focus * 1.2, far * 0.8), noise_texture(*full, seed=seed + 1, colour=(0.08, 0.07, 0.06)), bars))
    card = torch.zeros(1, *full)
    _rect(card, rng.randint(MARGIN + 100, MARGIN + 180), rng.randint(MARGIN, full[1] - MARGIN - 60), rng.randint(20, 50), rng.randint(20, 60))
    subject = noise_texture(*full, seed=seed + 2, colour=tuple(rng.uniform(0.2, 0.6) for _ in range(3)))
    subject = torch.where(card > 0, torch.ones(3, 1, 1), subject)  # a pure white card
    subject_mask = card.clone()
    _rect(subject_mask, MARGIN + 150, rng.randint(MARGIN, full[1] // 2), 200, rng.randint(60, 160))
    planes.append(Plane(rng.choice([focus, rng.uniform(0.8, 1.2)]), subject, subject_mask))
    lights_depth = None
    if seed % 2 == 0:
        lights_depth = rng.choice([far * 0.95, rng.uniform(focus * 1.5, far * 0.9), rng.uniform(0.7, 1.0)])
        planes.append(Plane(lights_depth, *_lights(rng, full)))
    image, depth, truth = render_planes(planes, camera, HEIGHT, WIDTH, MARGIN, samples)
    lit = ((depth - lights_depth).abs() < 1e-4) if lights_depth is not None else torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)
    return HighlightScene(f"seed {seed}", image[None], depth, truth[None], camera, lit & (image.amax(0) >= 0.999))


def scores(scene: HighlightScene) -> dict[str, tuple[float, float]]:
    """Per boost, PSNR inside and outside the light regions (inside NaN without lights)."""
    coc = coc_diameter_px(scene.depth, scene.camera, WIDTH)
    region = disc_dilate(scene.light_mask, coc.abs() / 2 + 1.0)
    out = {}
    for name, boost in BOOSTS.items():
        rendered = render(scene.image, scene.depth, scene.camera, highlight_boost=boost).clamp(0, 1)
        inside = psnr(rendered, scene.truth, region) if bool(scene.light_mask.any()) else math.nan
        out[name] = (inside, psnr(rendered, scene.truth, ~region))
    return out


def _mean(values: list[float]) -> str:
    kept = [v for v in values if not math.isnan(v)]
    return f"{statistics.fmean(kept):.2f}" if kept else "–"


def split_table(title: str, rows: dict[str, dict[str, tuple[float, float]]]) -> list[str]:
    """Markdown lines: means over the split's light scenes and its scenes without lights."""
    lit = [r for r in rows.values() if not math.isnan(r["no boost"][0])]
    dark = [r for r in rows.values() if math.isnan(r["no boost"][0])]
    lines = [title, "", "| boost | lights (dB) | outside lights (dB) | scenes without lights (dB) |", "|---|---|---|---|"]
    for name in BOOSTS:
        lines.append(f"| {name} | {_mean([r[name][0] for r in lit])} | {_mean([r[name][1] for r in lit])} | {_mean([r[name][1] for r in dark])} |")
    lines += ["", "| scene | " + " | ".join(f"{n} in / out" for n in BOOSTS) + " |", "|---|" + "---|" * len(BOOSTS)]
    for scene, r in rows.items():
        lines.append(f"| {scene} | " + " | ".join(f"{_mean([r[n][0]])} / {r[n][1]:.2f}" for n in BOOSTS) + " |")
    return lines + [""]


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_highlights", description=__doc__)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dofgen_highlight_scenes_v2.pt"), help="File the generated scenes are kept in (generated when missing).")
    parser.add_argument("--per-split", type=int, default=12, help="Scenes of each split (the first seeds of TUNING_SEEDS and HELD_OUT_SEEDS).")
    parser.add_argument("--samples", type=int, default=512, help="Pinhole views averaged for the ground truth.")
    parser.add_argument("--threads", type=int, help="Torch threads (default: torch's own); 1 on a shared machine.")
    parser.add_argument("--out", type=Path, help="Markdown file to append the tables to (default: print only).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tuning, held_out = TUNING_SEEDS[: args.per_split], HELD_OUT_SEEDS[: args.per_split]
    cached = torch.load(args.cache, weights_only=False) if args.cache.exists() else {}
    scenes = {}
    for seed in tuning + held_out:  # kept as plain dicts of tensors
        key = (seed, args.samples)
        scenes[seed] = HighlightScene(**cached[key]) if key in cached else make_scene(seed, args.samples)
        cached[key] = {field.name: getattr(scenes[seed], field.name) for field in dataclasses.fields(HighlightScene)}
        torch.save(cached, args.cache)
        print(f"{scenes[seed].name}: generated", flush=True)
    with torch.inference_mode():
        results = {seed: scores(scene) for seed, scene in scenes.items()}
    lines = [
        f"### Highlight boost on procedural scenes — {datetime.date.today().isoformat()}",
        "",
        f"Machine: {machine('cpu')}. {len(scenes)} scenes at {WIDTH}x{HEIGHT} (`python -m benchmarks.bench_highlights --per-split "
        f"{args.per_split} --samples {args.samples}`), thin-lens ground truth from {args.samples} pinhole views, emitters in HDR, "
        "inputs clipped; the layered lens (accurate).",
        "",
    ]
    lines += split_table(f"Tuning scenes (seeds {tuning[0]}-{tuning[-1]}):", {scenes[s].name: results[s] for s in tuning})
    lines += split_table(f"Held-out scenes (seeds {held_out[0]}-{held_out[-1]}; scored, never tuned on):", {scenes[s].name: results[s] for s in held_out})
    report("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
