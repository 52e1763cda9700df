import math
import uuid

import pandas as pd
import pytest
from PIL import Image
from scipy.stats import binomtest

from study.aggregate import main, preference_table
from study.store import VoteStore

from study_helpers import write_manifest


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

    store = VoteStore(tmp_path / "data", load_manifest(write_manifest(tmp_path / "stimuli", prompts=4)))
    for n in range(3):
        pid = f"participant-{n:04d}"
        for q in store.questions(pid):
            store.submit(pid, q.index, "left" if q.left_method == "ours" else "right")  # always ours
    assert main(["--source", str(tmp_path / "data"), "--out", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "preference.csv")
    assert table.set_index("baseline").loc["overall", "preference"] == 1.0 and table.set_index("baseline").loc["overall", "votes"] == 60
    assert "| overall |" in (tmp_path / "out" / "preference.md").read_text()
    assert Image.open(tmp_path / "out" / "preference.png").size[0] > 500
    assert main(["--source", str(tmp_path / "missing-folder-xyz"), "--out", str(tmp_path / "o2")]) == 1
