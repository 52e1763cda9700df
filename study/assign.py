"""Which questions a participant answers: ours against one baseline, for one prompt each.

A participant sees every prompt at most once (attention checks included): a prompt shown
twice would show ours twice, and the video that recurs across one's questions is ours. So a
participant gets at most as many questions as the manifest has prompts; with fewer prompts
than ``STUDY_QUESTIONS`` plus the attention checks, the checks keep their number and the
preference questions are cut to the prompts left (:func:`question_count`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from study import OURS

QUESTIONS_PER_PARTICIPANT = 20
#: The cost of a (prompt, baseline) pair the manifest does not have.
UNAVAILABLE = 1e18


@dataclass(frozen=True)
class Question:
    """Question ``index`` (0-based): which prompt, which baseline, and which side shows what."""

    index: int
    prompt_id: str
    baseline: str
    left_method: str
    right_method: str
    catch: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _rng(participant_id: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(participant_id.encode("utf-8")).digest()[:8], "big"))


def question_count(pairs: Sequence[tuple[str, str]], catch: Sequence[tuple[str, str]], count: int, checks: int) -> tuple[int, int]:
    """(preference questions, attention checks) one participant gets: each prompt at most once."""
    catch_prompts = {p for p, _ in catch}
    checks = min(checks, len(catch_prompts))
    prompts = {p for p, _ in pairs} | catch_prompts
    return max(0, min(count, len({p for p, _ in pairs}), len(prompts) - checks)), checks


def _pick_checks(rng: random.Random, catch: Sequence[tuple[str, str]], checks: int) -> list[tuple[str, str]]:
    """``checks`` attention checks on distinct prompts, at random."""
    by_prompt: dict[str, list[str]] = {}
    for prompt_id, method in sorted(catch):
        by_prompt.setdefault(prompt_id, []).append(method)
    return [(p, rng.choice(by_prompt[p])) for p in rng.sample(sorted(by_prompt), min(checks, len(by_prompt)))]


def _slots(rng: random.Random, remaining: Mapping[str, list[str]], shown: Mapping[tuple[str, str], int], count: int) -> list[str]:
    """Which baseline each of ``count`` questions pairs with: the baselines in turn, least
    shown overall first (counts within a participant differ by at most one), each only as
    often as it has prompts."""
    load = {b: sum(shown.get((p, b), 0) for p in prompts) for b, prompts in remaining.items()}
    order = sorted(remaining, key=lambda b: (load[b], rng.random()))
    slots: list[str] = []
    for turn in range(count):
        for baseline in order:
            if len(slots) < count and len(remaining[baseline]) > turn:
                slots.append(baseline)
    return slots


def _pick_pairs(
    rng: random.Random, pairs: Sequence[tuple[str, str]], shown: Mapping[tuple[str, str], int], count: int, used: set[str]
) -> list[tuple[str, str]]:
    """``count`` (prompt, baseline) pairs on prompts not in ``used``, each prompt at most once.

    The baselines' turns (:func:`_slots`) are matched to prompts at least cost (a linear
    assignment), the cost of a pair growing with the square of its times shown across
    participants: least-shown pairs first, ties broken by the participant's own random order."""
    remaining: dict[str, list[str]] = {}
    for prompt_id, baseline in sorted(pairs):
        if prompt_id not in used:
            remaining.setdefault(baseline, []).append(prompt_id)
    prompts = sorted({p for ps in remaining.values() for p in ps})
    slots = _slots(rng, remaining, shown, min(count, len(prompts)))
    if not slots:
        return []
    floor = min(shown.get(pair, 0) for pair in pairs)
    per_prompt = {p: sum(shown.get((p, b), 0) for b in remaining) for p in prompts}
    spread = max(1, max(per_prompt.values()) - min(per_prompt.values()))
    cost = np.full((len(slots), len(prompts)), UNAVAILABLE)
    column = {p: j for j, p in enumerate(prompts)}
    for i, baseline in enumerate(slots):
        for prompt_id in remaining[baseline]:
            pair_cost = 4 * (shown.get((prompt_id, baseline), 0) - floor + 1) ** 2
            cost[i, column[prompt_id]] = pair_cost + (per_prompt[prompt_id] - min(per_prompt.values())) / spread + rng.random() * 0.5
    rows, columns = linear_sum_assignment(cost)
    return [(prompts[j], slots[i]) for i, j in zip(rows, columns) if cost[i, j] < UNAVAILABLE]


def assign(
    participant_id: str,
    pairs: Sequence[tuple[str, str]],
    shown: Mapping[tuple[str, str], int] | None = None,
    count: int = QUESTIONS_PER_PARTICIPANT,
    catch: Sequence[tuple[str, str]] = (),
    checks: int = 0,
) -> list[Question]:
    """Questions for one participant, deterministic from the id and ``shown``.

    ``pairs``: (prompt, baseline) pairs; ``shown``: times each was assigned before. No
    prompt twice (:func:`question_count` says how many questions that leaves); baselines
    balanced within the participant, least-shown pairs first across participants; sides
    random. Attention checks: ``checks`` of the ``catch`` pairs (prompt, plainly broken
    video), on prompts of their own, at random places after the first question; ours is
    the right answer there.
    """
    rng = _rng(participant_id)
    count, checks = question_count(pairs, catch, count, checks)
    picked_checks = _pick_checks(rng, catch, checks)
    used = {p for p, _ in picked_checks}
    chosen = _pick_pairs(rng, pairs, shown or {}, count, used)
    rng.shuffle(chosen)
    slots = [(p, b, False) for p, b in chosen]
    for prompt_id, method in picked_checks:
        slots.insert(rng.randint(1, max(1, len(slots))), (prompt_id, method, True))
    questions = []
    for index, (prompt_id, baseline, is_catch) in enumerate(slots):
        left, right = (OURS, baseline) if rng.random() < 0.5 else (baseline, OURS)
        questions.append(Question(index, prompt_id, baseline, left, right, is_catch))
    return questions
