"""Preference rates per baseline (Figure A6): Wilson and participant-bootstrap intervals.

``python -m study.aggregate --source FOLDER_OR_HUB_REPO --out DIR`` writes the table (CSV,
JSON, Markdown) and the bar chart (PNG).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from study import BASELINES

BOOTSTRAP_SAMPLES = 2000
COLUMNS = ["baseline", "votes", "wins", "preference", "wilson_low", "wilson_high", "bootstrap_low", "bootstrap_high", "p_value", "participants"]


def _dedupe(votes: Iterable[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(list(votes))
    if frame.empty:
        return pd.DataFrame(columns=["vote_id", "participant_id", "baseline", "preferred_ours"])
    frame = frame.drop_duplicates("vote_id")
    if "preferred_ours" not in frame:
        frame["preferred_ours"] = frame["chosen_method"] == "ours"
    return frame[frame["baseline"].notna()]


def _bootstrap(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[float, float]:
    """95 % interval of the preference rate, resampling participants (their votes correlate)."""
    per = frame.groupby("participant_id")["preferred_ours"].agg(["sum", "count"]).to_numpy(dtype=float)
    if len(per) < 2:
        return float("nan"), float("nan")
    picks = rng.integers(0, len(per), size=(BOOTSTRAP_SAMPLES, len(per)))
    sums, counts = per[picks, 0].sum(axis=1), per[picks, 1].sum(axis=1)
    rates = sums / counts
    return float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975))


def _row(name: str, frame: pd.DataFrame, rng: np.random.Generator) -> dict:
    votes, wins = len(frame), int(frame["preferred_ours"].sum())
    if votes == 0:
        return dict(zip(COLUMNS, [name, 0, 0] + [float("nan")] * 6 + [0]))
    test = binomtest(wins, votes, 0.5, alternative="two-sided")
    interval = test.proportion_ci(confidence_level=0.95, method="wilson")
    low, high = _bootstrap(frame, rng)
    return {
        "baseline": name, "votes": votes, "wins": wins, "preference": wins / votes,
        "wilson_low": interval.low, "wilson_high": interval.high, "bootstrap_low": low, "bootstrap_high": high,
        "p_value": test.pvalue, "participants": int(frame["participant_id"].nunique()),
    }


def preference_table(votes: Iterable[dict], seed: int = 0) -> pd.DataFrame:
    """Per baseline: votes, wins for ours, preference rate, Wilson 95 % interval, a
    participant-clustered bootstrap 95 % interval, the two-sided binomial p-value against
    50 %, and participants; then an ``overall`` row. Votes are deduplicated by ``vote_id``."""
    frame = _dedupe(votes)
    rng = np.random.default_rng(seed)
    present = list(frame["baseline"].unique()) if len(frame) else []
    names = [b for b in BASELINES if b in present] + sorted(b for b in present if b not in BASELINES)
    rows = [_row(name, frame[frame["baseline"] == name], rng) for name in names]
    rows.append(_row("overall", frame, rng))
    return pd.DataFrame(rows, columns=COLUMNS)


def bar_chart(table: pd.DataFrame, path: str | Path) -> Path:
    """Figure A6: preference for ours per baseline, Wilson intervals, a 50 % line (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table[table["baseline"] != "overall"]
    fig, ax = plt.subplots(figsize=(7.5, 3.8), dpi=150)
    x = np.arange(len(rows))
    rates = rows["preference"].to_numpy() * 100
    errors = np.vstack([rates - rows["wilson_low"].to_numpy() * 100, rows["wilson_high"].to_numpy() * 100 - rates])
    ax.bar(x, rates, color="#e8743b", yerr=errors, capsize=4, label="ours preferred (Wilson 95 %)")
    ax.axhline(50, color="black", linestyle="--", linewidth=1, label="no preference (50 %)")
    for xi, votes in zip(x, rows["votes"]):
        ax.text(xi, 2, f"n={votes}", ha="center", va="bottom", fontsize=7, color="white")
    ax.set_xticks(x, rows["baseline"], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("preference for ours (%)")
    ax.set_title("Human study: ours vs each baseline")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def load_source(source: str) -> list[dict]:
    """Votes from a data folder, or from a Hub dataset repository (``owner/name``)."""
    from dofgen.loading import local_files_only
    from study.store import read_votes

    path = Path(source)
    if path.is_dir():
        return read_votes(source)
    if source.startswith((".", "/", "~")) or source.count("/") != 1 or path.parent.is_dir() or local_files_only(source):
        raise FileNotFoundError(f"no folder {source} here, and it is not a Hub dataset this machine can reach")
    from datasets import load_dataset

    dataset = load_dataset(source, data_files="votes-*.jsonl", split="train")
    return list(dataset)


def markdown_table(table: pd.DataFrame) -> str:
    """The table as Markdown, rates and p-values to three decimals."""
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_outputs(table: pd.DataFrame, out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "preference.csv", out / "preference.json", out / "preference.md", out / "preference.png"]
    table.to_csv(paths[0], index=False)
    paths[1].write_text(table.to_json(orient="records", indent=2))
    paths[2].write_text(markdown_table(table))
    bar_chart(table, paths[3])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m study.aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="a data folder of votes-*.jsonl, or a Hub dataset repo id")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        votes = load_source(args.source)
    except Exception as error:  # a missing folder, an unreachable repo: one line
        sys.stderr.write(f"python -m study.aggregate: cannot read votes from {args.source!r}: {error}\n")
        return 1
    table = preference_table(votes)
    for path in write_outputs(table, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
