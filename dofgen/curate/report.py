"""The curation report: what each filter dropped, and f-number histograms before and after.

``OUT/report.json`` (all numbers), ``OUT/report.md`` (the same as tables) and
``OUT/f_numbers.png`` (f-numbers of every photo with one, before any filter, and of the
deep and shallow sets after all of them).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from dofgen.curate import rules
from dofgen.curate.rules import DROP_NOT_PHOTO, DROP_UNDECODABLE, F_BINS, KEEP_BLUR, MODEL_KINDS, SUBSETS

GLOBAL_FILTERS = (rules.DROP_UNREADABLE, rules.DROP_NO_EXIF, rules.DROP_CORRUPT_EXIF, rules.DROP_NO_F_NUMBER, rules.DROP_F_ABOVE_50)
SUBSET_FILTERS = {
    "deep": (rules.DROP_NO_EXPOSURE, rules.DROP_LONG_EXPOSURE),
    "shallow": (rules.DROP_PHONE_LIST, rules.DROP_PHONE_FOCAL),
}


def funnel(counts: Counter) -> list[dict]:
    """Each filter in order: the set it applies to, rows in, rows dropped, rows left."""
    steps = []
    left = counts["input"]
    steps.append({"filter": "input photos", "set": "all", "in": left, "dropped": 0, "left": left})
    for name in GLOBAL_FILTERS:
        steps.append({"filter": name, "set": "all", "in": left, "dropped": counts[name], "left": left - counts[name]})
        left -= counts[name]
    for subset in SUBSETS:
        exif_rules = f"f-number {'below 10' if subset == 'shallow' else 'from 10 to 50'}"
        dropped_here = counts[f"{subset}: EXIF rules passed"] + sum(counts[name] for name in SUBSET_FILTERS[subset])
        steps.append({"filter": exif_rules, "set": subset, "in": left, "dropped": left - dropped_here, "left": dropped_here})
        rows = dropped_here
        later = (*SUBSET_FILTERS[subset], f"{subset}: {DROP_UNDECODABLE}", f"{subset}: {DROP_NOT_PHOTO}", f"{subset}: blur class not {KEEP_BLUR[subset]}")
        for name in later:
            dropped = counts[name]
            label = name.split(": ", 1)[1]
            steps.append({"filter": label, "set": subset, "in": rows, "dropped": dropped, "left": rows - dropped})
            rows -= dropped
        assert rows == counts[f"{subset}: kept"], (subset, rows, counts)
    return steps


def plot_f_numbers(before: np.ndarray, after: dict[str, np.ndarray], path: Path) -> None:
    """Histogram of f-numbers (log scale) before the filters and in each set after them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4), dpi=100)
    widths = np.diff(F_BINS)
    axis.bar(F_BINS[:-1], before, width=widths, align="edge", color="0.75", label=f"before filters ({int(before.sum())})")
    colours = {"deep": "tab:blue", "shallow": "tab:orange"}
    for subset in SUBSETS:
        axis.bar(F_BINS[:-1], after[subset], width=widths, align="edge", alpha=0.8, color=colours[subset],
                 label=f"{subset} after filters ({int(after[subset].sum())})")
    axis.axvline(rules.SHALLOW_BELOW_F, color="k", linestyle="--", linewidth=1)
    axis.axvline(rules.DEEP_F_RANGE[1], color="k", linestyle="--", linewidth=1)
    axis.set_xscale("log")
    ticks = [1, 1.4, 2, 2.8, 4, 5.6, 8, 10, 16, 22, 32, 50]
    axis.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axis.set_xlabel("f-number (EXIF)")
    axis.set_ylabel("photos")
    axis.set_title("f-numbers before and after Section D's filters")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_report(out: Path, stats: list[dict], sizes: dict[str, int], **extra) -> dict:
    """Sum the shards' stats and write report.json, report.md and f_numbers.png."""
    counts: Counter = Counter()
    before = np.zeros(len(F_BINS) - 1, dtype=np.int64)
    after = {subset: np.zeros(len(F_BINS) - 1, dtype=np.int64) for subset in SUBSETS}
    seconds = 0.0
    models: dict[str, str] = {}
    for shard in stats:
        counts.update(shard["counts"])
        before += np.asarray(shard["f_before"])
        for subset in SUBSETS:
            after[subset] += np.asarray(shard["f_after"][subset])
        seconds += shard["seconds"]
        models = models or shard["models"]
    steps = funnel(counts)
    captions = {key.split(": ", 1)[1]: value for key, value in counts.items() if key.startswith("captions: ")}
    report = {
        "rows": sizes,
        "filters": steps,
        "captions": captions,
        "models": {kind: models.get(kind, "not run") for kind in MODEL_KINDS},
        "throughput": {"photos": counts["input"], "core_seconds": round(seconds, 3),
                       "photos_per_core_second": round(counts["input"] / seconds, 2) if seconds else None},
        "f_number_bins": F_BINS.tolist(),
        "f_numbers_before": before.tolist(),
        "f_numbers_after": {subset: values.tolist() for subset, values in after.items()},
        **extra,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    plot_f_numbers(before, after, out / "f_numbers.png")
    lines = ["# Curation report (Section D)", "", f"deep: {sizes['deep']} rows, shallow: {sizes['shallow']} rows", "",
             "| filter | set | in | dropped | left |", "|---|---|---|---|---|"]
    lines += [f"| {s['filter']} | {s['set']} | {s['in']} | {s['dropped']} | {s['left']} |" for s in steps]
    lines += ["", "| prompt source | rows |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(captions.items())]
    lines += ["", "| model | status |", "|---|---|"] + [f"| {k} | {v} |" for k, v in report["models"].items()]
    failed = report.get("shards", {}).get("failed", [])
    if failed:
        lines += ["", "Failed shards (run again to retry them):", ""] + [f"- {f['shard']}: {f['error']}" for f in failed]
    tp = report["throughput"]
    lines += ["", f"Throughput: {tp['photos']} photos in {tp['core_seconds']} core-seconds "
              f"({tp['photos_per_core_second']} photos per core per second).", "", "![f-numbers](f_numbers.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    return report
