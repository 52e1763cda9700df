import math
import uuid

import pandas as pd
import pytest
from PIL import Image
from scipy.stats import binomtest

from study.aggregate import exclusions, main, per_participant, per_prompt, preference_table, write_parquet
from study.store import VoteStore

from tests.support.study_helpers import write_manifest


def _votes(spec: dict[str, tuple[int, int]], participants: int = 5) -> list[dict]:
    votes = []
    for baseline, (wins, total) in spec.items():
        for i in range(total):
            votes.append({"vote_id": str(uuid.uuid4()), "participant_id": f"p{i % participants}", "baseline": baseline,
                          "chosen_method": "ours" if i < wins else baseline, "preferred_ours": i < wins})
    return votes


def _wilson(wins: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = wins / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def test_rates_intervals_and_p_values():
    votes = _votes({"sdxl": (45, 50), "sdxl_taf": (20, 40)})
    votes += votes[:3]  # duplicates of stored votes count once
    table = preference_table(votes).set_index("baseline")
    assert list(table.index) == ["sdxl", "sdxl_taf", "overall"]
    assert table.loc["sdxl", "votes"] == 50 and table.loc["sdxl", "wins"] == 45 and table.loc["sdxl", "preference"] == 0.9
    low, high = _wilson(45, 50)
    assert table.loc["sdxl", "wilson_low"] == pytest.approx(low) and table.loc["sdxl", "wilson_high"] == pytest.approx(high)
    assert table.loc["sdxl", "p_value"] == pytest.approx(binomtest(45, 50).pvalue)
    assert table.loc["sdxl_taf", "p_value"] == pytest.approx(1.0)
    assert table.loc["overall", "votes"] == 90 and table.loc["overall", "wins"] == 65
    assert table.loc["sdxl", "bootstrap_low"] <= 0.9 <= table.loc["sdxl", "bootstrap_high"]
    assert table.loc["sdxl", "participants"] == 5


def test_empty_votes_give_an_empty_overall_row():
    table = preference_table([])
    assert list(table["baseline"]) == ["overall"] and table.loc[0, "votes"] == 0


def test_command_line_writes_table_and_chart(tmp_path, capsys):
    from study.manifest import load_manifest

    store = VoteStore(tmp_path / "data", load_manifest(write_manifest(tmp_path / "stimuli", prompts=20)))
    for n in range(3):
        pid = f"participant-{n:04d}"
        for q in store.questions(pid):
            store.submit(pid, q.index, "left" if q.left_method == "ours" else "right")  # always ours
    assert main(["--source", str(tmp_path / "data"), "--out", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "preference.csv")
    assert table.set_index("baseline").loc["overall", "preference"] == 1.0 and table.set_index("baseline").loc["overall", "votes"] == 60
    assert "| overall |" in (tmp_path / "out" / "preference.md").read_text()
    assert Image.open(tmp_path / "out" / "preference.png").size[0] > 500
    for name in ("preference_after_exclusions.csv", "per_prompt.csv", "per_participant.csv", "exclusions.csv", "votes.parquet"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert main(["--source", str(tmp_path / "missing-folder-xyz"), "--out", str(tmp_path / "o2")]) == 1


def _timed(participant: str, index: int, baseline: str, ours: bool, seconds: float, catch: bool = False, prompt: str = "p0") -> dict:
    return {"vote_id": str(uuid.uuid4()), "participant_id": participant, "question_index": index, "prompt_id": prompt, "baseline": baseline,
            "chosen_method": "ours" if ours else baseline, "preferred_ours": ours, "catch": catch,
            "shown_at": "2026-11-26T10:00:00.000+00:00", "answered_at": f"2026-11-26T10:00:{seconds:06.3f}+00:00"}


def test_exclusions_attention_checks_and_fast_answers():
    votes = [
        _timed("careful", 0, "sdxl", True, 8.0), _timed("careful", 1, "no_lens", True, 6.0, catch=True), _timed("careful", 2, "sdxl_taf", True, 1.0),
        _timed("careless", 0, "sdxl", False, 9.0), _timed("careless", 1, "no_lens", False, 7.0, catch=True), _timed("careless", 2, "sdxl_taf", False, 9.0),
    ]
    listed = exclusions(votes, min_seconds=3)
    assert sorted(map(tuple, listed.values.tolist())) == [
        ("careful", 2, "answered in 1.0 s (< 3 s)"), ("careless", -1, "failed the attention check at question 2")
    ]
    everything = preference_table(votes).set_index("baseline")
    assert everything.loc["overall", "votes"] == 4  # attention checks never count as preferences
    after = preference_table(votes, exclude=True, min_seconds=3).set_index("baseline")
    assert after.loc["overall", "votes"] == 1 and after.loc["overall", "wins"] == 1 and list(after.index) == ["sdxl", "overall"]
    people = per_participant(votes, min_seconds=3).set_index("participant_id")
    assert people.loc["careful", ["answers", "checks_passed", "checks", "fast_answers", "excluded"]].tolist() == [3, 1, 1, 1, False]
    assert people.loc["careless", "excluded"] and people.loc["careless", "median_seconds"] == 9.0
    prompts = per_prompt(votes + [_timed("careful", 3, "sdxl", True, 5.0, prompt="p1")]).set_index("prompt_id")
    assert prompts.loc["p0", ["votes", "wins"]].tolist() == [4, 2] and prompts.loc["p1", "preference"] == 1.0


def test_parquet_export_loads_with_datasets(tmp_path):
    from datasets import load_dataset

    votes = [_timed(f"p{i % 3}", i, "sdxl", i % 2 == 0, 5.0) for i in range(9)]
    write_parquet(votes, tmp_path / "votes.parquet")
    dataset = load_dataset("parquet", data_files=str(tmp_path / "votes.parquet"), split="train")
    assert dataset.num_rows == 9 and sum(dataset["preferred_ours"]) == 5 and set(dataset["participant_id"]) == {"p0", "p1", "p2"}
    assert dataset[0]["seconds"] == 5.0
