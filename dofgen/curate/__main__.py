"""``python -m dofgen.curate --input DIR --out OUT``: Section D's deep and shallow DoF datasets.

Writes ``OUT/deep`` and ``OUT/shallow`` (``datasets.load_from_disk``), ``OUT/report.md``,
``OUT/report.json`` and ``OUT/f_numbers.png``. Run it again to resume (done shards are
skipped). Across machines: ``accelerate launch --num_processes N -m dofgen.curate ...`` (or
``torchrun``), with ``OUT`` on a shared file system.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dofgen.argparse_help import ArgumentParser
from dofgen.curate.run import CurateConfig, run
from dofgen.curate.sources import DEFAULT_SHARD_SIZE


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m dofgen.curate", description=__doc__)
    parser.add_argument("--input", required=True, type=Path, help="Folder of photos, webdataset tars and/or Parquet files.")
    parser.add_argument("--out", required=True, type=Path, help="Output folder (deep/, shallow/, the report); run again with the same one to resume.")
    parser.add_argument("--no-models", action="store_true", help="EXIF rules only: no captioner, validity model or blur classifier.")
    parser.add_argument("--captioner", help="Image-to-text model id or folder (default: DOFGEN_CAPTIONER, else BLIP-2).")
    parser.add_argument("--validity-model", help="Vision-language model for the yes/no photo check (default: DOFGEN_VALIDITY, else InternVL3-1B).")
    parser.add_argument("--blur-classifier", help="Image classifier labelled none/desirable/undesirable (default: DOFGEN_BLUR_CLASSIFIER).")
    parser.add_argument("--device", help="Device for the models (default: cuda when available).")
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, help="Photos per shard of a folder tree.")
    parser.add_argument("--batch-size", type=int, default=8, help="Photos per model batch.")
    parser.add_argument("--num-proc", type=int, default=1, help="Shards processed at once on this machine.")
    args = parser.parse_args(argv)
    config = CurateConfig(
        input=str(args.input), out=str(args.out), no_models=args.no_models, captioner=args.captioner,
        validity=args.validity_model, blur_classifier=args.blur_classifier, device=args.device,
        shard_size=args.shard_size, batch_size=args.batch_size, num_proc=args.num_proc,
    )
    try:
        report = run(config)
    except ValueError as error:
        sys.stderr.write(f"python -m dofgen.curate: {error}\n")
        return 2
    if "rows" not in report:  # not the main process
        return 0
    print(json.dumps({"rows": report["rows"], "models": report["models"], "throughput": report["throughput"]}))
    for failure in report["shards"]["failed"]:
        sys.stderr.write(f"python -m dofgen.curate: shard {failure['shard']} failed ({failure['error']}); run again to retry it\n")
    return 1 if report["shards"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
