"""The curation run: shards → EXIF rules → models → ``OUT/deep`` and ``OUT/shallow``.

Each shard streams through the filters in batches and its kept rows go to
``OUT/shards/<id>/rows.arrow``; ``OUT/shards/<id>/stats.json`` (written last, atomically)
marks it done, so a resumed run skips it. Shards run ``num_proc`` at a time on one machine
(``datasets.Dataset.map``) and are split between machines with
``datasets.distributed.split_dataset_by_node`` (rank and world size from ``accelerate
launch`` or ``torchrun``); when every machine is done, the main process gathers the shards
into the two datasets and writes the report (:mod:`dofgen.curate.report`). The output folder
must be shared by the machines.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dofgen.curate import rules
from dofgen.curate.exif_tags import FIELDS, read_exif
from dofgen.curate.models import BlurClassifier, Captioner, ValidityChecker, load_optional
from dofgen.curate.report import write_report
from dofgen.curate.rules import DROP_NOT_PHOTO, DROP_UNDECODABLE, F_BINS, KEEP_BLUR, MODEL_KINDS, SUBSETS
from dofgen.curate.sources import DEFAULT_SHARD_SIZE, list_shards, read_shard
from dofgen.distributed import partial_state

#: JPEGs are decoded at the smallest DCT scale that keeps this many pixels a side (the
#: models' inputs are smaller); with no models, at the smallest scale, only to check them.
DECODE_SIDE = 512


def features():
    """The columns of ``OUT/deep`` and ``OUT/shallow``."""
    from datasets import Features, Image as ImageFeature, Value

    text = {"make", "model", "lens_make", "lens_model", "datetime", "description"}
    return Features({
        "image": ImageFeature(),
        "file_name": Value("string"),
        "subset": Value("string"),
        "prompt": Value("string"),
        "prompt_source": Value("string"),
        "exif": {name: Value("string" if name in text else "float64") for name in FIELDS},
        "photo_score": Value("float32"),
        "blur_class": Value("string"),
        "shard": Value("string"),
    })


@dataclass
class CurateConfig:
    """What ``python -m dofgen.curate`` was asked to do."""

    input: str
    out: str
    no_models: bool = False
    captioner: str | None = None
    validity: str | None = None
    blur_classifier: str | None = None
    device: str | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    batch_size: int = 8
    num_proc: int = 1


_MODELS: dict[tuple, dict] = {}


def load_models(config: CurateConfig) -> tuple[dict, dict[str, str]]:
    """The models of this process (loaded once per process) and a status line for each."""
    key = (config.no_models, config.captioner, config.validity, config.blur_classifier, config.device)
    if key not in _MODELS:
        if config.no_models:
            _MODELS[key] = {kind: (None, "not run (--no-models)") for kind in MODEL_KINDS}
        else:
            _MODELS[key] = {
                "captioner": load_optional("captioner", lambda: Captioner.from_pretrained(config.captioner, config.device)),
                "validity": load_optional("validity", lambda: ValidityChecker.from_pretrained(config.validity, config.device)),
                "blur_classifier": load_optional("blur", lambda: BlurClassifier.from_pretrained(config.blur_classifier, config.device)),
            }
    loaded = _MODELS[key]
    return {kind: model for kind, (model, _) in loaded.items()}, {kind: status for kind, (_, status) in loaded.items()}


def f_histogram(values: list[float]) -> list[int]:
    """Counts of f-numbers in :data:`F_BINS` (clipped into the end bins)."""
    clipped = np.clip(np.asarray(values, dtype=float), F_BINS[0], np.nextafter(F_BINS[-1], 0))
    return np.histogram(clipped, F_BINS)[0].tolist()


class ShardRun:
    """Filters one shard's records; counts what each filter dropped."""

    def __init__(self, config: CurateConfig, models: dict, shard_id: str) -> None:
        self.config, self.models, self.shard_id = config, models, shard_id
        self.counts: Counter = Counter()
        self.f_before: list[float] = []
        self.f_after: dict[str, list[float]] = {subset: [] for subset in SUBSETS}

    def rows(self, records):
        """Kept rows (dicts with the :func:`features` columns) from a stream of records."""
        batch = []
        for record in records:
            self.counts["input"] += 1
            status, exif = read_exif(record.data)
            if status != "ok":
                self.counts[{"missing": rules.DROP_NO_EXIF, "corrupt": rules.DROP_CORRUPT_EXIF, "unreadable": rules.DROP_UNREADABLE}[status]] += 1
                continue
            if exif.f_number is not None:
                self.f_before.append(exif.f_number)
            verdict = rules.exif_verdict(exif)
            if verdict.subset is None:
                self.counts[verdict.reason] += 1
                continue
            self.counts[f"{verdict.subset}: EXIF rules passed"] += 1
            batch.append((record, exif, verdict.subset))
            if len(batch) == self.config.batch_size:
                yield from self._models(batch)
                batch = []
        yield from self._models(batch)

    def _models(self, batch: list) -> list[dict]:
        if not batch:
            return []
        rows, images = [], []
        for record, exif, subset in batch:
            try:
                image = Image.open(io.BytesIO(record.data))
                image.draft("RGB", (DECODE_SIDE, DECODE_SIDE) if any(self.models.values()) else (64, 64))
                image.load()  # the whole file is decoded (at a JPEG's reduced scale): truncation shows
            except Exception:  # truncated or garbled pixel data
                self.counts[f"{subset}: {DROP_UNDECODABLE}"] += 1
                continue
            prompt, source = (record.caption, "input") if record.caption else ((exif.description, "exif") if exif.description else ("", "none"))
            rows.append({"image": {"bytes": record.data, "path": None}, "file_name": record.file_name, "subset": subset, "prompt": prompt,
                         "prompt_source": source, "exif": exif.as_dict(), "photo_score": None, "blur_class": None, "shard": self.shard_id})
            images.append(image)
        captioner, validity, blur = (self.models[kind] for kind in MODEL_KINDS)
        missing = [i for i, row in enumerate(rows) if not row["prompt"]]
        if captioner is not None and missing:
            for i, caption in zip(missing, captioner([images[i] for i in missing])):
                if caption:
                    rows[i]["prompt"], rows[i]["prompt_source"] = caption, "captioner"
        if validity is not None and rows:
            for row, score in zip(rows, validity(images)):
                row["photo_score"] = score
        if blur is not None and rows:
            for row, label in zip(rows, blur(images)):
                row["blur_class"] = label
        kept = []
        for row in rows:
            subset = row["subset"]
            if row["photo_score"] is not None and row["photo_score"] <= 0.5:
                self.counts[f"{subset}: {DROP_NOT_PHOTO}"] += 1
            elif row["blur_class"] is not None and row["blur_class"] != KEEP_BLUR[subset]:
                self.counts[f"{subset}: blur class not {KEEP_BLUR[subset]}"] += 1
            else:
                self.counts[f"captions: {row['prompt_source']}"] += 1
                self.counts[f"{subset}: kept"] += 1
                self.f_after[subset].append(row["exif"]["f_number"])
                kept.append(row)
        return kept


def shard_dir(out: str | Path, shard_id: str) -> Path:
    return Path(out) / "shards" / shard_id


def process_shard(shard: dict, config: CurateConfig, rank: int = 0) -> dict:
    """Run one shard; write its rows and, last, its stats (the done marker). Returns the stats."""
    from datasets.arrow_writer import ArrowWriter

    start = time.perf_counter()
    models, status = load_models(config)
    folder = shard_dir(config.out, shard["id"])
    if folder.exists():
        shutil.rmtree(folder)  # a half-written shard from an interrupted run
    folder.mkdir(parents=True)
    run = ShardRun(config, models, shard["id"])
    schema = features()
    writer = ArrowWriter(features=schema, path=str(folder / "rows.arrow"))
    try:
        for row in run.rows(read_shard(config.input, shard)):
            writer.write(schema.encode_example(row))
    except Exception as error:  # an unreadable tar or Parquet file: report it, retry it next run
        (folder / "error.txt").write_text(f"{type(error).__name__}: {error}")
        return {"shard": shard["id"], "error": f"{type(error).__name__}: {error}"}
    finally:
        writer.finalize()
    stats = {
        "shard": shard["id"], "process": rank, "counts": dict(run.counts), "seconds": time.perf_counter() - start, "models": status,
        "f_before": f_histogram(run.f_before), "f_after": {s: f_histogram(v) for s, v in run.f_after.items()},
    }
    partial = folder / "stats.json.partial"
    partial.write_text(json.dumps(stats))
    os.replace(partial, folder / "stats.json")
    return stats


def is_done(out: str | Path, shard_id: str) -> bool:
    return (shard_dir(out, shard_id) / "stats.json").is_file()


def _error(out: str | Path, shard_id: str) -> str:
    path = shard_dir(out, shard_id) / "error.txt"
    return path.read_text() if path.is_file() else "not processed"


def _map_shards(batch: dict, config: CurateConfig, rank: int) -> dict:
    """``Dataset.map`` body: process each shard of a batch; one JSON line of stats each."""
    if config.num_proc > 1:
        import torch

        torch.set_num_threads(1)  # one core per process
    shards = [dict(zip(batch, values)) for values in zip(*batch.values())]
    return {"stats": [json.dumps(process_shard(shard, config, rank)) for shard in shards]}


def assemble(out: str | Path, shard_ids: list[str]) -> dict[str, int]:
    """``OUT/deep`` and ``OUT/shallow`` from the shards' rows; returns their row counts."""
    from datasets import Dataset, concatenate_datasets

    parts = [Dataset.from_file(str(shard_dir(out, i) / "rows.arrow")) for i in shard_ids]
    parts = [part for part in parts if len(part)]
    sizes = {}
    for subset in SUBSETS:
        target = Path(out) / subset
        if target.exists():
            shutil.rmtree(target)
        chosen = concatenate_datasets(parts).filter(lambda s, subset=subset: s == subset, input_columns="subset") if parts else []
        if len(chosen):
            chosen.save_to_disk(str(target))
        else:
            save_empty(target)
        sizes[subset] = len(chosen)
    return sizes


def save_empty(target: Path) -> None:
    """An empty dataset with :func:`features` that ``load_from_disk`` opens (datasets 5 saves
    an empty dataset without any data file, which it then cannot load)."""
    from datasets import Dataset
    from datasets.arrow_writer import ArrowWriter

    Dataset.from_dict({name: [] for name in features()}, features=features()).save_to_disk(str(target))
    name = "data-00000-of-00001.arrow"
    writer = ArrowWriter(features=features(), path=str(target / name))
    writer.finalize()
    state = json.loads((target / "state.json").read_text())
    state["_data_files"] = [{"filename": name}]
    (target / "state.json").write_text(json.dumps(state, indent=2))


def run(config: CurateConfig) -> dict:
    """Curate ``config.input`` into ``config.out``; returns the report (main process) or this
    node's stats (other processes)."""
    from datasets import Dataset
    from datasets.distributed import split_dataset_by_node

    state = partial_state()
    if config.device is None and state.device.type == "cuda":
        config.device = str(state.device)  # one GPU per process under accelerate launch / torchrun
    out = Path(config.out)
    shards = list_shards(config.input, config.shard_size, exclude=out)
    if not shards:
        raise ValueError(f"--input {config.input} holds no photos, tars or Parquet files")
    everything = Dataset.from_list(shards)
    mine = split_dataset_by_node(everything, rank=state.process_index, world_size=state.num_processes)
    pending = mine.filter(lambda shard_id: not is_done(out, shard_id), input_columns="id")
    skipped = len(mine) - len(pending)
    if len(pending):
        pending.map(_map_shards, fn_kwargs={"config": config, "rank": state.process_index}, batched=True, batch_size=1, num_proc=min(config.num_proc, len(pending)) if config.num_proc > 1 else None,
                    remove_columns=pending.column_names, keep_in_memory=True, load_from_cache_file=False)
    state.wait_for_everyone()
    if state.num_processes > 1:
        from accelerate.utils import gather_object

        skipped = sum(gather_object([skipped]))
    if not state.is_main_process:
        return {"processed": len(pending), "skipped": skipped}
    ids = [shard["id"] for shard in shards if is_done(out, shard["id"])]
    failed = [{"shard": s["id"], "error": _error(out, s["id"])} for s in shards if not is_done(out, s["id"])]
    stats = [json.loads((shard_dir(out, i) / "stats.json").read_text()) for i in ids]
    sizes = assemble(out, ids)
    per_process = Counter(stat.get("process", 0) for stat in stats)
    summary = {"total": len(shards), "done": len(ids), "skipped_as_done": skipped, "failed": failed, "processes": state.num_processes,
               "shards_per_process": {str(rank): per_process[rank] for rank in range(state.num_processes)}}
    return write_report(out, stats, sizes, config=asdict(config), shards=summary)
