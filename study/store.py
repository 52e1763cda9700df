"""Votes and assignments: append-only JSON Lines, fsync'ed, optionally pushed to the Hub.

Each process appends to its own files (``votes-<uuid>.jsonl``, ``assignments-<uuid>.jsonl``)
in the data folder (``STUDY_DATA_DIR``, default ``data/study`` beside the app); a vote is
flushed and fsync'ed before ``submit`` returns, so the participant's screen moves on only
once it is on disk. Readers skip a torn last line. With ``STUDY_DATASET_REPO`` and a token,
a ``huggingface_hub.CommitScheduler`` pushes the folder to that dataset repository.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dofgen import __version__
from study import OURS
from study.assign import Question, assign
from study.manifest import Manifest

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "study"
CHOICES = ("left", "right")
_PARTICIPANT = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def valid_participant(participant_id: object) -> bool:
    """8 to 64 letters, digits, '-' or '_' (ids are random; nothing else reaches a file)."""
    return isinstance(participant_id, str) and bool(_PARTICIPANT.match(participant_id))


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

    def __init__(self, folder: str | Path | None = None, manifest: Manifest | None = None, app_version: str = __version__) -> None:
        self.folder = Path(folder or os.environ.get("STUDY_DATA_DIR") or DEFAULT_DATA_DIR)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self.app_version = app_version
        token = uuid.uuid4().hex
        self._votes = _Appender(self.folder / f"votes-{token}.jsonl")
        self._assignments = _Appender(self.folder / f"assignments-{token}.jsonl")
        self._lock = threading.Lock()
        self._questions: dict[str, list[Question]] = {}
        for record in read_records(self.folder, "assignments-*.jsonl"):
            try:
                questions = [Question(**q) for q in record["questions"]]
            except (KeyError, TypeError):
                continue
            self._questions.setdefault(str(record.get("participant_id")), questions)
        self._answers: dict[str, dict[int, dict]] = {}  # participant -> question index -> vote
        for vote in read_votes(self.folder):
            self._answers.setdefault(str(vote.get("participant_id")), {}).setdefault(vote.get("question_index"), vote)

    def shown_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for questions in self._questions.values():
            for q in questions:
                counts[q.prompt_id, q.baseline] = counts.get((q.prompt_id, q.baseline), 0) + 1
        return counts

    @staticmethod
    def check_participant(participant_id: object) -> str:
        if not valid_participant(participant_id):
            raise VoteRefused("the participant id must be 8 to 64 letters, digits, '-' or '_'")
        return participant_id

    def has_participant(self, participant_id: str) -> bool:
        with self._lock:
            return participant_id in self._questions

    def questions(self, participant_id: str) -> list[Question]:
        """The participant's questions: stored ones on a return visit, else newly assigned
        (least-shown pairs first) and stored before they are shown."""
        participant_id = self.check_participant(participant_id)
        if self.manifest is None:
            raise VoteRefused("no study is running (no manifest loaded)")
        with self._lock:
            if participant_id not in self._questions:
                questions = assign(participant_id, self.manifest.pairs(), self.shown_counts())
                self._assignments.append(
                    {"participant_id": participant_id, "questions": [q.as_dict() for q in questions], "created_at": now(), "app_version": self.app_version}
                )
                self._questions[participant_id] = questions
            return self._questions[participant_id]

    def answered(self, participant_id: str) -> dict[int, dict]:
        with self._lock:
            return dict(self._answers.get(participant_id, {}))

    def submit(self, participant_id: object, question_index: object, choice: object, shown_at: str | None = None) -> dict:
        """Store one vote, fsync'ed, and return it. A repeat of an answered question returns
        the stored vote and stores nothing; a malformed or unassigned one raises VoteRefused."""
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
                "preferred_ours": chosen == OURS,
                "shown_at": shown_at if isinstance(shown_at, str) else None,
                "answered_at": now(),
                "app_version": self.app_version,
            }
            self._votes.append(vote)
            answers[question_index] = vote
            return vote


def start_hub_sync(folder: str | Path, repo_id: str | None = None, token: str | None = None, every_minutes: float = 5.0, api=None):
    """Push the data folder to a Hub dataset every ``every_minutes`` (at least 5) and once
    at exit, when a repository and token are configured (``STUDY_DATASET_REPO``, ``HF_TOKEN``).

    Returns the ``CommitScheduler``, or None when not configured.
    """
    from huggingface_hub import CommitScheduler

    repo_id = repo_id or os.environ.get("STUDY_DATASET_REPO")
    token = token or os.environ.get("HF_TOKEN")
    if not repo_id or not (token or api):
        return None
    return CommitScheduler(
        repo_id=repo_id, repo_type="dataset", folder_path=folder, every=max(5.0, every_minutes),
        token=token, allow_patterns=["*.jsonl"], hf_api=api,
    )
