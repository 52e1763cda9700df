"""``python -m dofgen.evaluate``: the Table-2 metrics of Section F.2, and Section B's real pairs.

``python -m dofgen.evaluate --manifest M --out DIR``: Blur Monotonicity (over each sweep's
stop frames, with Section F.2's energy and with ours, which leaves out the zero frequency)
and Content Consistency (top-3 classes of a segmentation model) for every video of a study
manifest, as a Table-2-shaped Markdown and CSV, with per-prompt detail. Under ``accelerate
launch`` the videos are split between the processes (``PartialState.split_between_processes``).
Resumable: each video's row is kept in ``DIR/rows/`` once measured, and a rerun (after an
interruption, or with more videos) measures only the videos it has no row for. Seconds per
measured video go to the ``accelerate`` trackers (``--report-to``, TensorBoard in ``DIR/logs``).

``python -m dofgen.evaluate pairs --root DIR``: Section B and F.2's check on real photo pairs
(see :mod:`dofgen.evaluate_pairs`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from dofgen.argparse_help import ArgumentParser
from dofgen.distributed import partial_state
from dofgen.manifest import ManifestError, Stimulus, read_stimuli
from dofgen.markdown import markdown_table
from dofgen.metrics import ENERGIES, content_consistency, rising_pairs, sweep_energy
from dofgen.video import read_frames

#: One line under every table that has both Blur Monotonicity columns.
ENERGY_NOTE = (
    "Blur Monotonicity (paper) sums the energy over all frequencies as Section F.2 defines it; "
    "(AC) leaves out the zero frequency, which a linear-light blur raises in an sRGB frame "
    "without adding detail."
)


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


def evaluate_stimulus(stimulus: Stimulus, segmenter=None) -> dict:
    """One video's row: stops, rising pairs under each energy, Blur Monotonicity under each,
    and Content Consistency (NaN without a segmenter)."""
    per_stop = stimulus.meta.get("frames_per_stop")
    frames = stop_frames(read_frames(stimulus.video), int(per_stop) if per_stop else None)
    row = {"prompt_id": stimulus.prompt_id, "method": stimulus.method, "stops": len(frames), "pairs": max(len(frames) - 1, 0)}
    for energy in ENERGIES:
        rising = rising_pairs(sweep_energy(frames, energy))[0] if len(frames) > 1 else 0
        row[f"rising_{energy}"] = rising
        row[f"blur_monotonicity_{energy}"] = 100.0 * rising / row["pairs"] if row["pairs"] else float("nan")
    row["content_consistency"] = content_consistency(frames, segmenter) if segmenter is not None and len(frames) > 1 else float("nan")
    return row


def summarize(per_prompt: pd.DataFrame) -> pd.DataFrame:
    """Per method: prompts, Blur Monotonicity over all its sweeps' pairs (each energy), mean
    Content Consistency."""
    rows = []
    for method, group in per_prompt.groupby("method", sort=False):
        pairs = group["pairs"].sum()
        row = {"method": method, "prompts": len(group)}
        for energy in ENERGIES:
            row[f"blur_monotonicity_{energy}"] = 100.0 * group[f"rising_{energy}"].sum() / pairs if pairs else float("nan")
        row["content_consistency"] = group["content_consistency"].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def kept_row(stimulus: Stimulus, segmenter, segmenter_id: str, kept: Path | None) -> tuple[dict, bool]:
    """The video's row, and whether it was measured now: read from ``kept`` when measured
    before (same video file, same segmenter), else measured (and kept there)."""
    if kept is None:
        return evaluate_stimulus(stimulus, segmenter), True
    stat = stimulus.video.stat()
    key = json.dumps([stimulus.prompt_id, stimulus.method, str(stimulus.video), stat.st_size, stat.st_mtime_ns, segmenter_id])
    path = kept / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
    if path.is_file():
        return json.loads(path.read_text()), False
    row = evaluate_stimulus(stimulus, segmenter)
    kept.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(row))
    os.replace(temporary, path)
    return row, True


def evaluate(
    stimuli: Iterable[Stimulus], segmenter=None, kept: Path | None = None, segmenter_id: str = "",
    log: Callable[..., None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per method, per prompt) tables for a manifest's stimuli.

    Under several processes (``accelerate launch``) each evaluates its share of the videos
    and every process returns the whole tables. With ``kept`` (a folder), rows measured
    before with the segmenter named ``segmenter_id`` are read back (:func:`kept_row`).
    ``log(values, step=k)`` (an ``Accelerator.log``) gets the seconds of each video measured.
    """
    from accelerate.utils import gather_object

    state = partial_state()
    stimuli = list(stimuli)
    rows, measured = [], 0
    with state.split_between_processes(list(range(len(stimuli)))) as mine:
        for index in mine:
            start = time.perf_counter()
            row, new = kept_row(stimuli[index], segmenter, segmenter_id, kept)
            rows.append(row)
            measured += new
            if new and log is not None:
                log({"seconds_per_video": time.perf_counter() - start, "videos_measured": measured}, step=measured)
    if state.num_processes > 1:
        sys.stderr.write(f"process {state.process_index + 1}/{state.num_processes}: {len(rows)} of {len(stimuli)} videos\n")
    if state.num_processes > 1:
        rows = gather_object(rows)
    per_prompt = pd.DataFrame(rows)
    return summarize(per_prompt), per_prompt


def _number(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.2f}"


def table_markdown(table: pd.DataFrame) -> str:
    """The per-method table as Markdown, both Blur Monotonicity columns, with the note."""
    text = "| method | prompts | Blur Monotonicity (paper) ↑ | Blur Monotonicity (AC) ↑ | Content Consistency ↑ |\n|---|---|---|---|---|\n"
    text += "".join(
        f"| {r.method} | {r.prompts} | {_number(r.blur_monotonicity_paper)} | {_number(r.blur_monotonicity_ac)} | {_number(r.content_consistency)} |\n"
        for r in table.itertuples()
    )
    return text + f"\n{ENERGY_NOTE}\n"


def manifest_main(argv: list[str]) -> int:
    """The manifest command (Table 2)."""
    from dofgen.segmentation import Segmenter

    parser = ArgumentParser(prog="python -m dofgen.evaluate", description=__doc__)
    parser.add_argument("--manifest", required=True, type=Path, help="The study manifest (CSV or JSON Lines) of the sweep videos to measure.")
    parser.add_argument("--out", required=True, type=Path, help="Output folder: table.md, table.csv, per_prompt.csv, the kept rows (rows/) and the tracker logs (logs/).")
    parser.add_argument("--segmenter", help="Segmentation model id or folder, or 'none' to skip Content Consistency (default: DOFGEN_SEGMENTER).")
    parser.add_argument("--device", help="Device for the segmenter (default: this process's device under accelerate).")
    parser.add_argument("--report-to", default="tensorboard", help="An accelerate tracker, or 'none'.")
    args = parser.parse_args(argv)
    try:
        _, stimuli = read_stimuli(args.manifest)
    except ManifestError as error:
        sys.stderr.write(f"python -m dofgen.evaluate: {error}\n")
        return 2
    state = partial_state()
    accelerator = None
    if args.report_to != "none":
        from accelerate import Accelerator
        from accelerate.utils import ProjectConfiguration

        accelerator = Accelerator(cpu=state.device.type == "cpu", log_with=args.report_to,
                                  project_config=ProjectConfiguration(project_dir=str(args.out), logging_dir=str(args.out / "logs")))
        accelerator.init_trackers("dofgen-evaluate")
    segmenter, note = None, ""
    if (args.segmenter or "").lower() != "none":
        try:
            segmenter = Segmenter.from_pretrained(args.segmenter, device=args.device or state.device)
        except RuntimeError as error:
            note = f"Content Consistency not computed: {error}"
            if state.is_main_process:
                sys.stderr.write(note + "\n")
    segmenter_id = "none" if segmenter is None else segmenter.model.config._name_or_path  # the model it resolved to
    table, per_prompt = evaluate(stimuli, segmenter, args.out / "rows", segmenter_id, accelerator.log if accelerator else None)
    if accelerator is not None:
        accelerator.end_training()
    if not state.is_main_process:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "table.csv", index=False)
    per_prompt.to_csv(args.out / "per_prompt.csv", index=False)
    text = table_markdown(table)
    if note:
        text += f"\n{note}\n"
    text += "\n## Per prompt\n\n" + markdown_table(per_prompt)
    (args.out / "table.md").write_text(text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``pairs ...`` runs Section B's check on real pairs; anything else is the manifest command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["pairs"]:
        from dofgen.evaluate_pairs import main as pairs_main

        return pairs_main(argv[1:])
    return manifest_main(argv)


if __name__ == "__main__":
    sys.exit(main())
