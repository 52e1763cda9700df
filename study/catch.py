"""Attention checks for a manifest (Section E's study, made robust to careless answers):
our sweep with its frames shuffled, so the blur jumps about instead of falling steadily —
plainly worse than ours.

``python -m study.catch --manifest stimuli/manifest.jsonl --prompts 3`` writes
``catch/<prompt_id>-frame_shuffled.mp4`` beside the manifest for the first 3 prompts and
appends one ``"catch": true`` row per video (the app then adds ``STUDY_ATTENTION_CHECKS``
of them to each participant's questions).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import imageio_ffmpeg

from dofgen.video import read_frames, write_mp4
from study import OURS
from study.manifest import ManifestError, load_manifest

METHOD = "frame_shuffled"


def shuffled_order(count: int, seed: int) -> list[int]:
    """A permutation of ``range(count)`` that moves every frame (no frame stays in place when count > 1)."""
    rng = random.Random(seed)
    order = list(range(count))
    while count > 1 and any(i == j for i, j in enumerate(order)):
        rng.shuffle(order)
    return order


def shuffle_frames(source: Path, target: Path, seed: int = 0) -> Path:
    """Write ``source`` with its frames in a random order (same size and rate) to ``target``."""
    frames = read_frames(source)
    count, seconds = imageio_ffmpeg.count_frames_and_secs(str(source))
    return write_mp4([frames[i] for i in shuffled_order(len(frames), seed)], target, fps=count / seconds if seconds else 12.0)


def add_checks(manifest_path: str | Path, prompts: int) -> list[dict]:
    """Make frame-shuffled catch videos of ours for the first ``prompts`` prompts and append their rows."""
    manifest = load_manifest(manifest_path)
    have = {prompt_id for prompt_id, _ in manifest.catch_pairs()}
    chosen = [s for s in manifest.stimuli if s.method == OURS and s.prompt_id not in have][:prompts]
    rows = []
    for seed, stimulus in enumerate(chosen):
        relative = Path("catch") / f"{stimulus.prompt_id}-{METHOD}.mp4"
        shuffle_frames(stimulus.video, manifest.path.parent / relative, seed)
        rows.append({"prompt_id": stimulus.prompt_id, "prompt": stimulus.prompt, "method": METHOD, "catch": True, "video": relative.as_posix()})
    with manifest.path.open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    load_manifest(manifest.path)  # still valid
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dofgen-study catch", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Add attention checks to a manifest: for some prompts, our video against a frame-shuffled copy of itself.",
    )
    parser.add_argument("--manifest", required=True, type=Path, help="A JSON Lines manifest; it is rewritten with the checks added.")
    parser.add_argument("--prompts", type=int, default=3, help="How many prompts get a frame-shuffled check.")
    args = parser.parse_args(argv)
    if args.manifest.suffix.lower() != ".jsonl":
        sys.stderr.write("python -m study.catch: the manifest must be JSON Lines (.jsonl)\n")
        return 1
    try:
        rows = add_checks(args.manifest, args.prompts)
    except ManifestError as error:
        sys.stderr.write(f"python -m study.catch: {error}\n")
        return 1
    for row in rows:
        print(row["video"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
