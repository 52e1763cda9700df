from collections import Counter

from study import BASELINES
from study.assign import assign

PAIRS = [(f"p{p}", b) for p in range(25) for b in BASELINES]


def test_twenty_balanced_distinct_and_deterministic():
    questions = assign("participant-0001", PAIRS)
    assert len(questions) == 20 and [q.index for q in questions] == list(range(20))
    per_baseline = Counter(q.baseline for q in questions)
    assert set(per_baseline) == set(BASELINES) and max(per_baseline.values()) - min(per_baseline.values()) <= 1
    assert len({(q.prompt_id, q.baseline) for q in questions}) == 20
    assert all({q.left_method, q.right_method} == {"ours", q.baseline} for q in questions)
    assert assign("participant-0001", PAIRS) == questions
    assert assign("participant-0002", PAIRS) != questions
    sides = Counter(q.left_method == "ours" for q in assign("participant-0003", PAIRS) + assign("participant-0004", PAIRS))
    assert 8 <= sides[True] <= 32


def test_least_shown_pairs_come_first_across_participants():
    shown: Counter = Counter()
    for n in range(15):  # 15 x 20 = 300 = 2 x 150 pairs: every pair shown exactly twice
        for q in assign(f"participant-{n:04d}", PAIRS, shown):
            shown[q.prompt_id, q.baseline] += 1
    assert set(shown.values()) == {2} and len(shown) == len(PAIRS)


def test_fewer_pairs_than_twenty():
    pairs = [("p0", "sdxl"), ("p0", "sdxl_taf"), ("p1", "sdxl")]
    questions = assign("participant-0009", pairs)
    assert len(questions) == 3 and {(q.prompt_id, q.baseline) for q in questions} == set(pairs)
