"""Section B (and F.2's check of the metric) on real photo pairs: ``python -m dofgen.evaluate
pairs --root DIR``.

Each pair is one scene photographed all in focus (f/16) and at a wide aperture (f/1.8). Two
layouts are read, anywhere under ``DIR``:

- EBB! (Everything is Better with Bokeh!): ``original/NAME.jpg`` (all in focus) beside
  ``bokeh/NAME.jpg`` (wide aperture);
- ``NAME_f16.jpg`` and ``NAME_f1.8.jpg`` in one folder (any two f-numbers: the larger is the
  all-in-focus photo).

It reports the share of pairs whose all-in-focus photo has the higher signal energy, under
Section F.2's energy and under ours without the zero frequency (the paper reports 96 % on
EBB!). With ``--generate`` it does what Section B does: caption each all-in-focus photo with
a vision-language model (default InternVL3), generate ours at f/1.8 and f/16 from the caption
(one scene, two apertures), and write a side-by-side figure per pair and an HTML index.
"""

from __future__ import annotations

import html
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from dofgen import config
from dofgen.argparse_help import ArgumentParser
from dofgen.camera import CameraSettings
from dofgen.imageio import to_tensor
from dofgen.metrics import ENERGIES, signal_energy

DEFAULT_CAPTIONER = config.PAIRS_CAPTIONER.default
SUFFIXES = (".jpg", ".jpeg", ".png")
_NAMED = re.compile(r"^(?P<name>.+)_f(?P<f>\d+(?:\.\d+)?)$", re.IGNORECASE)
#: The apertures of EBB! (and of Section B's generation).
WIDE_F, DEEP_F = 1.8, 16.0
PANEL_HEIGHT = 256


@dataclass(frozen=True)
class PhotoPair:
    """One scene: the all-in-focus photo and the wide-aperture one."""

    name: str
    all_in_focus: Path
    wide: Path
    all_in_focus_f: float
    wide_f: float


def find_pairs(root: str | Path) -> list[PhotoPair]:
    """Every pair under ``root`` in either layout, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"--root {root} is not a folder")
    pairs: list[PhotoPair] = []
    for original in sorted(p for p in root.rglob("original") if p.is_dir() and (p.parent / "bokeh").is_dir()):
        prefix = original.parent.relative_to(root).as_posix()
        for sharp in sorted(p for p in original.iterdir() if p.suffix.lower() in SUFFIXES):
            wide = next((w for w in (original.parent / "bokeh").glob(sharp.stem + ".*") if w.suffix.lower() in SUFFIXES), None)
            if wide is not None:
                name = sharp.stem if prefix == "." else f"{prefix}/{sharp.stem}"
                pairs.append(PhotoPair(name, sharp, wide, DEEP_F, WIDE_F))
    named: dict[tuple[Path, str], dict[float, Path]] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()):
        match = _NAMED.match(path.stem)
        if match:
            named.setdefault((path.parent, match["name"]), {})[float(match["f"])] = path
    for (folder, name), photos in sorted(named.items()):
        if len(photos) >= 2:
            deep, wide = max(photos), min(photos)
            relative = folder.relative_to(root).as_posix()
            pairs.append(PhotoPair(name if relative == "." else f"{relative}/{name}", photos[deep], photos[wide], deep, wide))
    return sorted(pairs, key=lambda pair: pair.name)


def pair_energies(pair: PhotoPair) -> dict[str, float]:
    """Signal energy of both photos under each definition. A wide photo of another size is
    resized (antialiased) to the all-in-focus photo's size first."""
    sharp = to_tensor(Image.open(pair.all_in_focus))
    wide = to_tensor(Image.open(pair.wide))
    if wide.shape != sharp.shape:
        wide = F.interpolate(wide[None], size=sharp.shape[-2:], mode="bilinear", antialias=True, align_corners=False)[0]
    row = {}
    for energy in ENERGIES:
        both = signal_energy(torch.stack([sharp, wide]), include_dc=energy == "paper")
        row[f"all_in_focus_{energy}"], row[f"wide_{energy}"] = float(both[0]), float(both[1])
        row[f"all_in_focus_higher_{energy}"] = bool(both[0] > both[1])
    return row


def energy_table(pairs: list[PhotoPair]) -> tuple[pd.DataFrame, dict]:
    """(per pair rows, summary with the share of pairs ordered right under each energy)."""
    rows = [{"name": p.name, "all_in_focus": str(p.all_in_focus), "wide": str(p.wide), "all_in_focus_f": p.all_in_focus_f,
             "wide_f": p.wide_f, **pair_energies(p)} for p in pairs]
    table = pd.DataFrame(rows)
    summary = {"pairs": len(rows)}
    for energy in ENERGIES:
        summary[f"all_in_focus_higher_{energy}_percent"] = round(100.0 * table[f"all_in_focus_higher_{energy}"].mean(), 2) if rows else None
    return table, summary


def generation_size(photo: Image.Image, long_side: int) -> tuple[int, int]:
    """(width, height) with the photo's aspect ratio, the long side ``long_side``, multiples of 8."""
    scale = long_side / max(photo.size)
    return tuple(max(64, int(round(side * scale / 8)) * 8) for side in photo.size)  # type: ignore[return-value]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def side_by_side(panels: list[tuple[str, Image.Image]], caption: str, height: int = PANEL_HEIGHT) -> Image.Image:
    """Panels in a row, each labelled above, the caption wrapped below."""
    font, small = _font(16), _font(14)
    scaled = [(label, image.convert("RGB").resize((max(1, round(image.width * height / image.height)), height), Image.LANCZOS)) for label, image in panels]
    width = sum(image.width for _, image in scaled) + 8 * (len(scaled) + 1)
    words, lines, line = caption.split(), [], ""
    limit = max(20, width // 8)
    for word in words:
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    figure = Image.new("RGB", (width, height + 32 + 20 * len(lines) + 12), "white")
    draw = ImageDraw.Draw(figure)
    x = 8
    for label, image in scaled:
        draw.text((x, 6), label, fill="black", font=font)
        figure.paste(image, (x, 28))
        x += image.width + 8
    for index, text in enumerate(lines):
        draw.text((8, height + 36 + 20 * index), text, fill=(40, 40, 40), font=small)
    return figure


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "pair"


def generate(pairs: list[PhotoPair], out: Path, captioner, pipeline, size: int, seed: int) -> list[dict]:
    """Section B: caption, generate ours at f/1.8 and f/16, write a figure per pair."""
    from dofgen.pipeline import refocus

    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "ours").mkdir(parents=True, exist_ok=True)
    rows = []
    for pair in pairs:
        sharp, wide = Image.open(pair.all_in_focus).convert("RGB"), Image.open(pair.wide).convert("RGB")
        caption = captioner([sharp])[0] or "a photo"
        base = CameraSettings.from_exif(Image.open(pair.all_in_focus)).camera  # focal length and sensor from EXIF
        width, height = generation_size(sharp, size)
        shallow = pipeline(caption, base.replace(f_number=WIDE_F), seed=seed, width=width, height=height)
        deep = refocus(shallow, shallow.camera.replace(f_number=DEEP_F))  # the same scene at f/16
        stem = _safe(pair.name)
        shallow.image.save(out / "ours" / f"{stem}_f{WIDE_F:g}.png")
        deep.image.save(out / "ours" / f"{stem}_f{DEEP_F:g}.png")
        panels = [(f"real f/{pair.all_in_focus_f:g}", sharp), (f"real f/{pair.wide_f:g}", wide),
                  (f"ours f/{DEEP_F:g}", deep.image), (f"ours f/{WIDE_F:g}", shallow.image)]
        side_by_side(panels, caption).save(out / "figures" / f"{stem}.jpg", quality=90)
        rows.append({"name": pair.name, "caption": caption, "figure": f"figures/{stem}.jpg", "focus_distance_m": round(shallow.focus_distance, 3)})
    return rows


def write_index(out: Path, summary: dict, table: pd.DataFrame, generated: list[dict]) -> Path:
    """``out/index.html``: the summary, then each pair's figure (or energies) with its caption."""
    captions = {row["name"]: row for row in generated}
    shares = ", ".join(f"{energy}: {summary[f'all_in_focus_higher_{energy}_percent']} %" for energy in ENERGIES)
    parts = ["<!doctype html><meta charset='utf-8'><title>Real pairs (Section B)</title>",
             "<style>body{font-family:sans-serif;margin:2em}figure{margin:0 0 2em}img{max-width:100%}</style>",
             f"<h1>Real pairs (Section B)</h1><p>{summary['pairs']} pairs; all-in-focus photo has the higher energy in {html.escape(shares)}.</p>"]
    for row in table.itertuples():
        name = html.escape(row.name)
        energies = f"paper {row.all_in_focus_paper:.3g} vs {row.wide_paper:.3g}; AC {row.all_in_focus_ac:.3g} vs {row.wide_ac:.3g}"
        if row.name in captions:
            item = captions[row.name]
            parts.append(f"<figure><img src='{html.escape(item['figure'])}' alt='{name}'><figcaption><b>{name}</b>: "
                         f"{html.escape(item['caption'])} <small>({html.escape(energies)})</small></figcaption></figure>")
        else:
            parts.append(f"<p><b>{name}</b>: {html.escape(energies)}</p>")
    path = out / "index.html"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m dofgen.evaluate pairs", description=__doc__)
    parser.add_argument("--root", required=True, type=Path, help="Folder of pairs (EBB!'s original/ and bokeh/, or NAME_f16 and NAME_f1.8 photos).")
    parser.add_argument("--out", type=Path, default=Path("pairs-eval"), help="Output folder.")
    parser.add_argument("--generate", action="store_true", help="Also caption each photo, generate ours at f/1.8 and f/16, and write figures.")
    parser.add_argument("--captioner", help=f"Vision-language model id or folder (default: DOFGEN_PAIRS_CAPTIONER, else {DEFAULT_CAPTIONER}).")
    parser.add_argument("--generator", help="Diffusers SDXL id or folder (default: DOFGEN_GENERATOR).")
    parser.add_argument("--depth-model", help="Depth model id or folder (default: DOFGEN_DEPTH).")
    parser.add_argument("--saliency", help="Saliency model id or folder, or 'spectral' (default: DOFGEN_SALIENCY).")
    parser.add_argument("--size", type=int, default=1024, help="Long side of the generated images in pixels.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the generator.")
    parser.add_argument("--device", help="Device for the models (default: cuda when available).")
    args = parser.parse_args(argv)
    try:
        pairs = find_pairs(args.root)
        if not pairs:
            raise ValueError(f"--root {args.root} holds no pairs (original/ + bokeh/, or NAME_f16.jpg + NAME_f1.8.jpg)")
        table, summary = energy_table(pairs)
        generated = []
        if args.generate:
            from dofgen.curate.models import Captioner
            from dofgen.pipeline import DefocusPipeline

            captioner = Captioner.from_pretrained(args.captioner or config.value(config.PAIRS_CAPTIONER),
                                                  args.device, env_var="DOFGEN_PAIRS_CAPTIONER")
            pipeline = DefocusPipeline.from_pretrained(args.generator, args.depth_model, args.saliency, args.device)
            generated = generate(pairs, args.out, captioner, pipeline, args.size, args.seed)
    except ValueError as error:
        sys.stderr.write(f"python -m dofgen.evaluate pairs: {error}\n")
        return 2
    except RuntimeError as error:  # a model that cannot load
        sys.stderr.write(f"python -m dofgen.evaluate pairs: {error}\n")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "pairs.csv", index=False)
    summary["energies"] = "paper: all frequencies (Section F.2); ac: zero frequency left out"
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_index(args.out, summary, table, generated)
    print(json.dumps(summary))
    return 0
