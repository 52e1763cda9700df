"""Votes and assignments: append-only JSON Lines, fsync'ed, on local disk first (Section E).

Each process appends to its own files (``votes-<uuid>.jsonl``, ``assignments-<uuid>.jsonl``)
in the data folder (``StudyConfig.data_dir``, never inside the source tree); a vote is
flushed and fsync'ed before ``submit`` returns, so the participant's screen moves on only
once it is on disk. Readers skip a torn last line. The store keeps, in memory, each
participant's questions and answers and how often each pair was shown (updated per
assignment: O(1) per new participant), and which question is on screen (the first one not
answered: the server decides, the client's index is only checked). ``study.sync`` copies
the folder to and from a Hub dataset.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dofgen import __version__
from study import OURS
from study.assign import Question, assign
from study.codes import find_code, load_secret
from study.config import StudyConfig
from study.manifest import Manifest

CHOICES = ("left", "right")
#: URL parameters that name one recruited person: a second start with the same value resumes them.
IDENTITY_PARAMS = ("PROLIFIC_PID", "workerId")
_PARTICIPANT = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def valid_participant(participant_id: object) -> bool:
    """8 to 64 letters, digits, '-' or '_' (ids are random; nothing else reaches a file)."""
    return isinstance(participant_id, str) and participant_id.isascii() and bool(_PARTICIPANT.match(participant_id))


class VoteRefused(ValueError):
    """A malformed or not-allowed vote; nothing was stored."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def read_records(folder: Path, pattern: str) -> list[dict]:
    """Every JSON object in the folder's files matching ``pattern``; a torn or broken line
    (a crash mid-write) is skipped."""
    records = []
    for path in sorted(Path(folder).glob(pattern)):
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def read_votes(folder: str | Path) -> list[dict]:
    """All votes in a data folder, deduplicated by ``vote_id``."""
    unique: dict[str, dict] = {}
    for record in read_records(Path(folder), "votes-*.jsonl"):
        if isinstance(record.get("vote_id"), str):
            unique.setdefault(record["vote_id"], record)
    return list(unique.values())


def _identities(recruitment: dict) -> list[tuple[str, str]]:
    """The (parameter, value) pairs of ``recruitment`` that name one recruited person."""
    return [(name, str(recruitment[name])) for name in IDENTITY_PARAMS if str(recruitment.get(name) or "").strip()]


@dataclass
class _Appender:
    path: Path

    def append(self, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


class VoteStore:
    """The study's store for one process; safe across threads."""

    def __init__(
        self, folder: str | Path | None = None, manifest: Manifest | None = None, app_version: str = __version__,
        config: StudyConfig | None = None,
    ) -> None:
        """``folder`` None: the config's data folder; ``config`` None: ``StudyConfig.from_env()``."""
        config = config or StudyConfig.from_env()
        self.folder = Path(folder or config.data_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self.app_version = app_version
        self.attention_checks = config.attention_checks
        self.questions_per_participant = config.questions
        self.secret = load_secret(self.folder, config.secret)
        token = uuid.uuid4().hex
        self._votes = _Appender(self.folder / f"votes-{token}.jsonl")
        self._assignments = _Appender(self.folder / f"assignments-{token}.jsonl")
        self._checks = _Appender(self.folder / f"checks-{token}.jsonl")
        self._lock = threading.Lock()
        self._questions: dict[str, list[Question]] = {}
        self._recruitment: dict[str, dict] = {}
        self._recruited: dict[tuple[str, str], str] = {}  # (PROLIFIC_PID or workerId, value) -> participant
        self._answers: dict[str, dict[int, dict]] = {}  # participant -> question index -> vote
        self._shown: Counter[tuple[str, str]] = Counter()
        self.refresh()

    def refresh(self) -> None:
        """Read what the folder holds that this store does not know yet (after a restore)."""
        assignments = read_records(self.folder, "assignments-*.jsonl")
        votes = read_votes(self.folder)
        with self._lock:
            for record in assignments:
                participant_id = str(record.get("participant_id"))
                if participant_id in self._questions:
                    continue
                try:
                    questions = [Question(**q) for q in record["questions"]]
                except (KeyError, TypeError):
                    continue
                self._add(participant_id, questions, record.get("recruitment") or {})
            for vote in votes:
                self._answers.setdefault(str(vote.get("participant_id")), {}).setdefault(vote.get("question_index"), vote)

    def _add(self, participant_id: str, questions: list[Question], recruitment: dict) -> None:
        self._questions[participant_id] = questions
        self._recruitment[participant_id] = recruitment
        for key in _identities(recruitment):
            self._recruited.setdefault(key, participant_id)
        self._shown.update((q.prompt_id, q.baseline) for q in questions if not q.catch)

    def shown_counts(self) -> dict[tuple[str, str], int]:
        """Times each (prompt, baseline) pair was assigned, kept as participants are added."""
        with self._lock:
            return dict(self._shown)

    def participants(self) -> int:
        with self._lock:
            return len(self._questions)

    @staticmethod
    def check_participant(participant_id: object) -> str:
        if not valid_participant(participant_id):
            raise VoteRefused("the participant id must be 8 to 64 letters, digits, '-' or '_'")
        return participant_id

    def has_participant(self, participant_id: str) -> bool:
        with self._lock:
            return participant_id in self._questions

    def questions(self, participant_id: str, recruitment: dict | None = None) -> list[Question]:
        """The participant's questions: stored ones on a return visit, else newly assigned
        (least-shown pairs first, plus the attention checks) and stored before they are shown.
        ``recruitment`` (URL parameters such as ``PROLIFIC_PID``) is kept with a new one."""
        participant_id = self.check_participant(participant_id)
        with self._lock:
            return self._questions_locked(participant_id, recruitment)

    def start(self, participant_id: str, recruitment: dict | None = None) -> str:
        """The participant a start makes: the one already recruited under the same
        ``PROLIFIC_PID`` or ``workerId`` if any (resumed), else ``participant_id``, assigned now."""
        participant_id = self.check_participant(participant_id)
        with self._lock:
            known = self._recruited_locked(recruitment)
            if known is None:
                self._questions_locked(participant_id, recruitment)
            return known or participant_id

    def recruited(self, recruitment: dict | None) -> str | None:
        """The participant already recruited under ``recruitment``'s ``PROLIFIC_PID`` or ``workerId``."""
        with self._lock:
            return self._recruited_locked(recruitment)

    def _recruited_locked(self, recruitment: dict | None) -> str | None:
        return next((self._recruited[key] for key in _identities(recruitment or {}) if key in self._recruited), None)

    def _questions_locked(self, participant_id: str, recruitment: dict | None) -> list[Question]:
        if self.manifest is None:
            raise VoteRefused("no study is running (no manifest loaded)")
        if participant_id not in self._questions:
            questions = assign(
                participant_id, self.manifest.pairs(), self._shown, count=self.questions_per_participant,
                catch=self.manifest.catch_pairs(), checks=self.attention_checks,
            )
            recruitment = dict(recruitment or {})
            self._assignments.append(
                {"participant_id": participant_id, "questions": [q.as_dict() for q in questions], "recruitment": recruitment,
                 "created_at": now(), "app_version": self.app_version}
            )
            self._add(participant_id, questions, recruitment)
        return self._questions[participant_id]

    def answered(self, participant_id: str) -> dict[int, dict]:
        with self._lock:
            return dict(self._answers.get(participant_id, {}))

    def current(self, participant_id: str) -> int:
        """The question on screen: the participant's first unanswered one (their count when done)."""
        with self._lock:
            return self._current(participant_id)

    def _current(self, participant_id: str) -> int:
        questions = self._questions.get(participant_id, [])
        answers = self._answers.get(participant_id, {})
        return next((q.index for q in questions if q.index not in answers), len(questions))

    def complete(self, participant_id: str) -> bool:
        with self._lock:
            questions = self._questions.get(participant_id)
            return bool(questions) and self._current(participant_id) == len(questions)

    def submit(self, participant_id: object, question_index: object, choice: object, shown_at: str | None = None) -> dict:
        """Store one vote for the question on screen, fsync'ed, and return it. A repeat of an
        answered question returns the stored vote and stores nothing; a malformed vote, or one
        for a question not on screen, raises VoteRefused."""
        participant_id = self.check_participant(participant_id)
        if choice not in CHOICES:
            raise VoteRefused(f"choice must be 'left' or 'right', got {choice!r}")
        if not isinstance(question_index, int) or isinstance(question_index, bool):
            raise VoteRefused(f"question_index must be an integer, got {question_index!r}")
        with self._lock:
            questions = self._questions.get(participant_id)
            if questions is None:
                raise VoteRefused("this participant has no questions assigned")
            if not 0 <= question_index < len(questions):
                raise VoteRefused(f"question {question_index} was not assigned to this participant")
            answers = self._answers.setdefault(participant_id, {})
            if question_index in answers:
                return answers[question_index]
            if question_index != self._current(participant_id):
                raise VoteRefused(f"question {question_index + 1} is not the one on screen")
            question = questions[question_index]
            chosen = question.left_method if choice == "left" else question.right_method
            vote = {
                "vote_id": str(uuid.uuid4()),
                "participant_id": participant_id,
                "question_index": question_index,
                "prompt_id": question.prompt_id,
                "left_method": question.left_method,
                "right_method": question.right_method,
                "choice": choice,
                "chosen_method": chosen,
                "baseline": question.baseline,
                "catch": question.catch,
                "preferred_ours": chosen == OURS,
                "shown_at": shown_at if isinstance(shown_at, str) else None,
                "answered_at": now(),
                "app_version": self.app_version,
            }
            self._votes.append(vote)
            answers[question_index] = vote
            return vote

    def verify(self, code: str) -> dict | None:
        """Whose completion code ``code`` is: participant, recruitment, questions and answers
        (question index -> vote); None if nobody's."""
        with self._lock:
            participant_id = find_code(self.secret, code, self._questions)
            if participant_id is None:
                return None
            return {"participant_id": participant_id, "recruitment": self._recruitment.get(participant_id, {}),
                    "questions": list(self._questions[participant_id]), "answers": dict(self._answers.get(participant_id, {}))}

    def record_check(self, participant_id: str) -> list[dict]:
        """Note (fsync'ed, in ``checks-<uuid>.jsonl``) that a researcher checked this participant's
        code now; return every check of it on record, this one included, oldest first."""
        with self._lock:
            self._checks.append({"check_id": str(uuid.uuid4()), "participant_id": participant_id, "checked_at": now()})
        unique = {r["check_id"]: r for r in read_records(self.folder, "checks-*.jsonl") if r.get("participant_id") == participant_id}
        return sorted(unique.values(), key=lambda r: str(r.get("checked_at")))
