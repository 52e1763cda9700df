"""What a researcher sees when checking a completion code: whose it is, whether they finished,
their attention checks, how many answers came too fast, how often the code was checked
before, and a one-word verdict.

The Results tab's code check and ``python -m study.codes CODE`` (``dofgen-study codes``)
both print :meth:`CodeCheck.text`. Each check is recorded in the data folder
(``checks-<uuid>.jsonl``, synced with the votes), so a code handed in twice shows its count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from study import OURS
from study.store import VoteStore

#: More than this share of answers faster than ``STUDY_MIN_VIEW_S`` asks for a review.
FAST_SHARE = 0.25


@dataclass(frozen=True)
class CodeCheck:
    """One check of one participant's completion code."""

    participant_id: str
    recruitment: dict
    questions: int
    answered: int
    checks_passed: int
    checks_failed: int
    fast: int
    untimed: int
    min_view_s: float
    times_checked: int
    first_checked_at: str

    @property
    def complete(self) -> bool:
        return self.answered == self.questions

    def reasons(self) -> list[str]:
        """Why the code needs a review (none: accept)."""
        reasons = []
        if not self.complete:
            reasons.append(f"only {self.answered} of {self.questions} answered")
        if self.checks_failed:
            reasons.append(f"failed {self.checks_failed} attention check{'s' * (self.checks_failed > 1)}")
        if self.fast > FAST_SHARE * max(1, self.answered):
            reasons.append(f"{self.fast} answers faster than {self.min_view_s:g} s")
        if self.times_checked > 1:
            reasons.append(f"this code was checked before ({self.times_checked} times in all, first at {self.first_checked_at})")
        return reasons

    @property
    def verdict(self) -> str:
        return "review" if self.reasons() else "accept"

    def text(self) -> str:
        """The check, one fact a line, the verdict first."""
        reasons = self.reasons()
        return "\n".join([
            f"{self.verdict.upper()}" + (f": {'; '.join(reasons)}" if reasons else ""),
            f"participant {self.participant_id}, recruitment {self.recruitment or 'none recorded'}",
            f"answered {self.answered} of {self.questions} questions",
            f"attention checks: {self.checks_passed} passed, {self.checks_failed} failed",
            f"answers faster than {self.min_view_s:g} s: {self.fast} of {self.answered}" + (f" ({self.untimed} not timed)" if self.untimed else ""),
            f"code checked {self.times_checked} time{'s' * (self.times_checked > 1)}, first at {self.first_checked_at}",
        ])


def _seconds(vote: dict) -> float | None:
    try:
        return (datetime.fromisoformat(vote["answered_at"]) - datetime.fromisoformat(vote["shown_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def check_code(store: VoteStore, code: object, min_view_s: float) -> CodeCheck | None:
    """Check ``code`` against the store and record the check; None when it is nobody's code."""
    report = store.verify(code) if isinstance(code, str) and code.strip() else None
    if report is None:
        return None
    votes = list(report["answers"].values())
    catches = [v for v in votes if v.get("catch")]
    seconds = [_seconds(v) for v in votes]
    checks = store.record_check(report["participant_id"])
    return CodeCheck(
        participant_id=report["participant_id"], recruitment=report["recruitment"], questions=len(report["questions"]), answered=len(votes),
        checks_passed=sum(v.get("chosen_method") == OURS for v in catches), checks_failed=sum(v.get("chosen_method") != OURS for v in catches),
        fast=sum(s is not None and s < min_view_s for s in seconds), untimed=sum(s is None for s in seconds), min_view_s=min_view_s,
        times_checked=len(checks), first_checked_at=str(checks[0]["checked_at"]),
    )
