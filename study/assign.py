"""Which questions a participant answers: ours against one baseline, for one prompt each."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from study import OURS

QUESTIONS_PER_PARTICIPANT = 20


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


def assign(
    participant_id: str,
    pairs: Sequence[tuple[str, str]],
    shown: Mapping[tuple[str, str], int] | None = None,
    count: int = QUESTIONS_PER_PARTICIPANT,
    catch: Sequence[tuple[str, str]] = (),
    checks: int = 0,
) -> list[Question]:
    """Questions for one participant, deterministic from the id and ``shown``.

    Baselines take turns (least shown overall first), so within a participant their counts
    differ by at most one while each has prompts left; each turn takes that baseline's least
    shown prompt across participants (``shown``: times each (prompt, baseline) pair was
    assigned before), ties broken by the participant's own random order. No pair twice;
    sides random; fewer pairs than ``count`` give as many questions as there are pairs.

    Attention checks: ``checks`` of the ``catch`` pairs (prompt, plainly broken video) are
    added at random places after the first question; ours is the right answer there.
    """
    shown = shown or {}
    rng = _rng(participant_id)
    tiebreak = {pair: rng.random() for pair in sorted(pairs)}
    remaining: dict[str, list[str]] = {}
    for prompt_id, baseline in sorted(pairs):
        remaining.setdefault(baseline, []).append(prompt_id)
    load = {b: sum(shown.get((p, b), 0) for p in prompts) for b, prompts in remaining.items()}
    order = sorted(remaining, key=lambda b: (load[b], rng.random()))
    chosen: list[tuple[str, str]] = []
    while len(chosen) < count and any(remaining.values()):
        for baseline in order:
            if len(chosen) == count:
                break
            if not remaining[baseline]:
                continue
            prompt_id = min(remaining[baseline], key=lambda p: (shown.get((p, baseline), 0), tiebreak[p, baseline]))
            remaining[baseline].remove(prompt_id)
            chosen.append((prompt_id, baseline))
    rng.shuffle(chosen)
    slots = [(p, b, False) for p, b in chosen]
    for prompt_id, method in rng.sample(sorted(catch), min(checks, len(catch))):
        slots.insert(rng.randint(1, len(slots)), (prompt_id, method, True))
    questions = []
    for index, (prompt_id, baseline, is_catch) in enumerate(slots):
        left, right = (OURS, baseline) if rng.random() < 0.5 else (baseline, OURS)
        questions.append(Question(index, prompt_id, baseline, left, right, is_catch))
    return questions
