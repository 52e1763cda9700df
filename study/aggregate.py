"""Preference rates per baseline (Figure A6): Wilson and participant-bootstrap intervals,
with and without exclusions, and breakdowns per prompt and per participant.

Exclusions: participants who fail an attention check (a ``catch`` question where they did
not pick ours), and answers faster than a minimum viewing time (``STUDY_MIN_VIEW_S``,
default 3 s). Every exclusion is listed; attention checks never count as preference votes.

``python -m study.aggregate --source FOLDER_OR_HUB_REPO --out DIR`` writes the tables (CSV,
JSON, Markdown), the bar chart (PNG) and the votes as Parquet (``votes.parquet``, which
``datasets.load_dataset("parquet", ...)`` reads).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from dofgen.markdown import markdown_table
from study import BASELINES
from study.config import StudyConfig

BOOTSTRAP_SAMPLES = 2000
COLUMNS = ["baseline", "votes", "wins", "preference", "wilson_low", "wilson_high", "bootstrap_low", "bootstrap_high", "p_value", "participants"]


def votes_frame(votes: Iterable[dict]) -> pd.DataFrame:
    """Votes deduplicated by ``vote_id``, with ``catch`` (bool) and ``seconds`` (shown to answered)."""
    frame = pd.DataFrame(list(votes))
    if frame.empty:
        return pd.DataFrame(columns=["vote_id", "participant_id", "question_index", "prompt_id", "baseline", "preferred_ours", "catch", "seconds"])
    frame = frame.drop_duplicates("vote_id")
    if "preferred_ours" not in frame:
        frame["preferred_ours"] = frame["chosen_method"] == "ours"
    frame["catch"] = frame["catch"].fillna(False).astype(bool) if "catch" in frame else False
    times = {name: pd.to_datetime(frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object), utc=True, errors="coerce", format="ISO8601")
             for name in ("shown_at", "answered_at")}
    frame["seconds"] = (times["answered_at"] - times["shown_at"]).dt.total_seconds()
    return frame[frame["baseline"].notna()].reset_index(drop=True)


def exclusions(votes: Iterable[dict] | pd.DataFrame, min_seconds: float | None = None) -> pd.DataFrame:
    """Every exclusion: (participant_id, question_index, reason). A failed attention check
    excludes the participant (question_index -1); a fast answer excludes that answer."""
    frame = votes if isinstance(votes, pd.DataFrame) else votes_frame(votes)
    min_seconds = StudyConfig.from_env().min_view_s if min_seconds is None else min_seconds
    rows = []
    catch = frame["catch"].astype(bool)
    for vote in frame.loc[catch & ~frame["preferred_ours"].astype(bool)].itertuples():
        rows.append((vote.participant_id, -1, f"failed the attention check at question {int(vote.question_index) + 1}"))
    fast = frame.loc[~catch & (frame["seconds"].astype(float) < min_seconds)]
    for vote in fast.itertuples():
        rows.append((vote.participant_id, int(vote.question_index), f"answered in {vote.seconds:.1f} s (< {min_seconds:g} s)"))
    return pd.DataFrame(rows, columns=["participant_id", "question_index", "reason"]).drop_duplicates()


def _dedupe(votes: Iterable[dict], exclude: bool = False, min_seconds: float | None = None) -> pd.DataFrame:
    """The preference votes (no attention checks), optionally after the exclusions."""
    frame = votes_frame(votes)
    if exclude and len(frame):
        listed = exclusions(frame, min_seconds)
        failed = set(listed.loc[listed["question_index"] == -1, "participant_id"])
        fast = set(zip(listed["participant_id"], listed["question_index"]))
        keep = ~frame["participant_id"].isin(failed) & ~pd.Series(
            [(p, int(q)) in fast for p, q in zip(frame["participant_id"], frame["question_index"])], index=frame.index, dtype=bool
        )
        frame = frame[keep]
    return frame.loc[~frame["catch"].astype(bool)]


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


def preference_table(votes: Iterable[dict], seed: int = 0, exclude: bool = False, min_seconds: float | None = None) -> pd.DataFrame:
    """Per baseline: votes, wins for ours, preference rate, Wilson 95 % interval, a
    participant-clustered bootstrap 95 % interval, the two-sided binomial p-value against
    50 %, and participants; then an ``overall`` row. Votes are deduplicated by ``vote_id``;
    attention checks never count; ``exclude`` applies ``exclusions`` first."""
    frame = _dedupe(votes, exclude, min_seconds)
    rng = np.random.default_rng(seed)
    present = list(frame["baseline"].unique()) if len(frame) else []
    names = [b for b in BASELINES if b in present] + sorted(b for b in present if b not in BASELINES)
    rows = [_row(name, frame[frame["baseline"] == name], rng) for name in names]
    rows.append(_row("overall", frame, rng))
    return pd.DataFrame(rows, columns=COLUMNS)


def per_prompt(votes: Iterable[dict]) -> pd.DataFrame:
    """Per prompt: preference votes, wins for ours, preference rate."""
    frame = _dedupe(votes)
    grouped = frame.groupby("prompt_id")["preferred_ours"].agg(["count", "sum"]).reset_index()
    grouped.columns = ["prompt_id", "votes", "wins"]
    grouped["wins"] = grouped["wins"].astype(int)
    grouped["preference"] = grouped["wins"] / grouped["votes"]
    return grouped


def per_participant(votes: Iterable[dict], min_seconds: float | None = None) -> pd.DataFrame:
    """Per participant: answers, median seconds per answer, attention checks passed of
    shown, fast answers, and whether the participant is excluded."""
    frame = votes_frame(votes)
    columns = ["participant_id", "answers", "median_seconds", "checks_passed", "checks", "fast_answers", "excluded"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    listed = exclusions(frame, min_seconds)
    rows = []
    for participant_id, own in frame.groupby("participant_id"):
        checks = own[own["catch"]]
        mine = listed[listed["participant_id"] == participant_id]
        rows.append((participant_id, len(own), float(own["seconds"].median()), int(checks["preferred_ours"].astype(bool).sum()),
                     len(checks), int((mine["question_index"] >= 0).sum()), bool((mine["question_index"] == -1).any())))
    return pd.DataFrame(rows, columns=columns)


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


def load_source(source: str, api=None) -> list[dict]:
    """Votes from a data folder, or from a Hub dataset repository (``owner/name``, its
    ``votes-*.jsonl`` downloaded with ``api``, default ``HfApi()``), read alike: a torn or
    broken line (a copy taken mid-append) is skipped."""
    from dofgen.loading import local_files_only
    from study.store import read_votes

    path = Path(source)
    if path.is_dir():
        return read_votes(source)
    if source.startswith((".", "/", "~")) or source.count("/") != 1 or path.parent.is_dir() or (api is None and local_files_only(source)):
        raise FileNotFoundError(f"no folder {source} here, and it is not a Hub dataset this machine can reach")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    with tempfile.TemporaryDirectory(prefix="dofgen-votes-") as scratch:
        api.snapshot_download(repo_id=source, repo_type="dataset", allow_patterns=["votes-*.jsonl"], local_dir=scratch)
        return read_votes(scratch)


def write_parquet(votes: Iterable[dict], path: str | Path) -> Path:
    """The votes (deduplicated, with ``catch`` and ``seconds``) as one Parquet file."""
    frame = votes_frame(votes)
    frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    frame.to_parquet(path, index=False)
    return Path(path)


def write_outputs(votes: list[dict], out: str | Path) -> list[Path]:
    """Tables with and without exclusions, breakdowns, the exclusions, the chart and Parquet votes."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = preference_table(votes)
    paths = [out / "preference.csv", out / "preference.json", out / "preference.md", out / "preference.png"]
    table.to_csv(paths[0], index=False)
    paths[1].write_text(table.to_json(orient="records", indent=2))
    paths[2].write_text(markdown_table(table))
    bar_chart(table, paths[3])
    extra = {
        "preference_after_exclusions.csv": preference_table(votes, exclude=True),
        "per_prompt.csv": per_prompt(votes),
        "per_participant.csv": per_participant(votes),
        "exclusions.csv": exclusions(votes),
    }
    for name, frame in extra.items():
        frame.to_csv(out / name, index=False)
        paths.append(out / name)
    paths.append(write_parquet(votes, out / "votes.parquet"))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dofgen-study aggregate", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Write the preference rates per baseline (Figure A6) with their intervals, with and without exclusions, "
                    "the breakdowns, the bar chart and the votes as Parquet.",
    )
    parser.add_argument("--source", required=True, help="A data folder of votes-*.jsonl, or a Hub dataset repository id (owner/name).")
    parser.add_argument("--out", required=True, type=Path, help="The folder the tables, chart and Parquet file are written to.")
    args = parser.parse_args(argv)
    try:
        votes = load_source(args.source)
    except Exception as error:  # a missing folder, an unreachable repo: one line
        sys.stderr.write(f"python -m study.aggregate: cannot read votes from {args.source!r}: {error}\n")
        return 1
    for path in write_outputs(votes, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
