from collections import Counter

from study import BASELINES
from study.assign import assign, question_count

PAIRS = [(f"p{p}", b) for p in range(25) for b in BASELINES]
CATCH = [(f"p{p}", "frame_shuffled") for p in range(3)]


def test_twenty_balanced_distinct_and_deterministic():
    questions = assign("participant-0001", PAIRS)
    assert len(questions) == 20 and [q.index for q in questions] == list(range(20))
    per_baseline = Counter(q.baseline for q in questions)
    assert set(per_baseline) == set(BASELINES) and max(per_baseline.values()) - min(per_baseline.values()) <= 1
    assert len({q.prompt_id for q in questions}) == 20
    assert all({q.left_method, q.right_method} == {"ours", q.baseline} for q in questions)
    assert assign("participant-0001", PAIRS) == questions
    assert assign("participant-0002", PAIRS) != questions
    sides = Counter(q.left_method == "ours" for q in assign("participant-0003", PAIRS) + assign("participant-0004", PAIRS))
    assert 8 <= sides[True] <= 32


def test_a_thousand_participants_never_see_a_prompt_twice():
    """Attention checks included (each on a prompt of its own): ours never recurs within a participant."""
    shown: Counter = Counter()
    for n in range(1000):
        questions = assign(f"participant-{n:04d}", PAIRS, shown, catch=CATCH, checks=2)
        prompts = [q.prompt_id for q in questions]
        assert len(prompts) == len(set(prompts)) == 22, (n, Counter(prompts).most_common(2))
        assert sum(q.catch for q in questions) == 2 and not questions[0].catch
        per_baseline = Counter(q.baseline for q in questions if not q.catch)
        assert len(per_baseline) == len(BASELINES) and max(per_baseline.values()) - min(per_baseline.values()) <= 1
        shown.update((q.prompt_id, q.baseline) for q in questions if not q.catch)
    plain = [shown[pair] for pair in PAIRS if pair[0] not in {p for p, _ in CATCH}]
    assert max(plain) - min(plain) <= 2  # prompts without checks: balanced across participants


def test_least_shown_pairs_come_first_across_participants():
    shown: Counter = Counter()
    for n in range(15):  # 15 x 20 = 300 = 2 x 150 pairs: every pair shown exactly twice
        for q in assign(f"participant-{n:04d}", PAIRS, shown):
            shown[q.prompt_id, q.baseline] += 1
    assert set(shown.values()) == {2} and len(shown) == len(PAIRS)


def test_at_most_as_many_questions_as_prompts():
    pairs = [("p0", "sdxl"), ("p0", "sdxl_taf"), ("p1", "sdxl")]
    questions = assign("participant-0009", pairs)
    assert len(questions) == 2 and {q.prompt_id for q in questions} == {"p0", "p1"}
    five = [(f"p{p}", b) for p in range(5) for b in BASELINES]
    assert question_count(five, CATCH, 20, 2) == (3, 2)  # 5 prompts: the 2 checks keep theirs, 3 preference questions
    questions = assign("participant-0010", five, catch=CATCH, checks=2)
    assert len(questions) == 5 and len({q.prompt_id for q in questions}) == 5 and sum(q.catch for q in questions) == 2
    assert question_count(PAIRS, (), 20, 2) == (20, 0)  # no catch rows: no checks
