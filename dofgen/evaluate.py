"""``python -m dofgen.evaluate --manifest M --out DIR``: the Table-2 metrics per method.

Blur Monotonicity (over each sweep's stop frames) and Content Consistency (top-3 classes of
a segmentation model) for every video of a study manifest, as a Table-2-shaped Markdown and
CSV, with per-prompt detail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pandas as pd

from dofgen.metrics import blur_monotonicity, content_consistency


def read_frames(path: str | Path) -> list[np.ndarray]:
    """All frames of a video as (H, W, 3) uint8 arrays."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return [np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 3) for frame in reader]


def stop_frames(frames: list[np.ndarray], frames_per_stop: int | None) -> list[np.ndarray]:
    """The frames on the aperture stops: every ``frames_per_stop``-th one when the manifest
    says so, else the frames with consecutive repeats dropped."""
    if frames_per_stop:
        return frames[::frames_per_stop]
    kept = [frames[0]]
    for frame in frames[1:]:
        if not np.array_equal(frame, kept[-1]):
            kept.append(frame)
    return kept


def evaluate(manifest, segmenter=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per method, per prompt) tables for a loaded manifest."""
    detail = []
    sweeps: dict[str, list[list[np.ndarray]]] = {}
    for stimulus in manifest.stimuli:
        per_stop = stimulus.meta.get("frames_per_stop")
        frames = stop_frames(read_frames(stimulus.video), int(per_stop) if per_stop else None)
        row = {"prompt_id": stimulus.prompt_id, "method": stimulus.method, "stops": len(frames)}
        row["blur_monotonicity"] = blur_monotonicity([frames]) if len(frames) > 1 else float("nan")
        row["content_consistency"] = content_consistency(frames, segmenter) if segmenter is not None and len(frames) > 1 else float("nan")
        detail.append(row)
        if len(frames) > 1:
            sweeps.setdefault(stimulus.method, []).append(frames)
    per_prompt = pd.DataFrame(detail)
    rows = []
    for method, group in per_prompt.groupby("method", sort=False):
        rows.append({
            "method": method,
            "prompts": len(group),
            "blur_monotonicity": blur_monotonicity(sweeps[method]) if method in sweeps else float("nan"),
            "content_consistency": group["content_consistency"].mean(),
        })
    return pd.DataFrame(rows), per_prompt


def main(argv: list[str] | None = None) -> int:
    from dofgen.segmentation import Segmenter
    from study.aggregate import markdown_table
    from study.manifest import ManifestError, load_manifest

    parser = argparse.ArgumentParser(prog="python -m dofgen.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--segmenter", help="segmentation model id or folder (default: DOFGEN_SEGMENTER); 'none' skips Content Consistency")
    parser.add_argument("--device")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
    except ManifestError as error:
        sys.stderr.write(f"python -m dofgen.evaluate: {error}\n")
        return 2
    segmenter, note = None, ""
    if (args.segmenter or "").lower() != "none":
        try:
            segmenter = Segmenter.from_pretrained(args.segmenter, device=args.device)
        except RuntimeError as error:
            note = f"Content Consistency not computed: {error}"
            sys.stderr.write(note + "\n")
    table, per_prompt = evaluate(manifest, segmenter)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "table.csv", index=False)
    per_prompt.to_csv(args.out / "per_prompt.csv", index=False)
    text = "| method | prompts | Blur Monotonicity ↑ | Content Consistency ↑ |\n|---|---|---|---|\n" + "".join(
        f"| {r.method} | {r.prompts} | {r.blur_monotonicity:.2f} | {'n/a' if pd.isna(r.content_consistency) else f'{r.content_consistency:.2f}'} |\n"
        for r in table.itertuples()
    )
    if note:
        text += f"\n{note}\n"
    text += "\n## Per prompt\n\n" + markdown_table(per_prompt)
    (args.out / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
