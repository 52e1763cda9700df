"""Per-view video copies do not pile up: each process keeps them in a folder of its own under
one root (locked while the process lives), folders of processes that ended are deleted at
start-up, and copies shown but unanswered for ``STUDY_VIEW_EXPIRY_S`` (30 minutes) are
deleted while it runs (:meth:`study.service.StudyService.expire_views`).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: Where every process's view folders live (a temp folder: they never need to outlive a process).
ROOT = Path(tempfile.gettempdir()) / "dofgen-study-views"
LOCK = ".lock"
_HELD: list = []  # the open lock files of this process's folders (closing one frees its folder)


def view_folder(root: Path = ROOT) -> Path:
    """A new folder for this process's view copies, locked for the process's lifetime;
    folders under ``root`` whose process has ended are deleted first."""
    clear_ended(root)
    name = f"{os.getpid()}-{secrets.token_hex(6)}"
    making = root / f".{name}"  # hidden until locked: no other process's start-up deletes it
    making.mkdir(parents=True)
    handle = (making / LOCK).open("w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD.append(handle)
    return making.rename(root / name)


def clear_ended(root: Path = ROOT) -> list[Path]:
    """Delete the folders under ``root`` that no living process holds; return them."""
    cleared = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith(".") and not _held(folder / LOCK):
            shutil.rmtree(folder, ignore_errors=True)
            cleared.append(folder)
    return cleared


def _held(lock: Path) -> bool:
    """Whether a living process holds ``lock`` (a folder without one is being made, or left over)."""
    try:
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


def expired(shown: dict[str, tuple], max_age_s: float, at: datetime | None = None) -> list[str]:
    """The participants in ``shown`` (participant -> (index, left, right, ISO time shown, ...))
    whose view has been on screen, unanswered, longer than ``max_age_s`` at ``at`` (default: now)."""
    limit = (at or datetime.now(timezone.utc)) - timedelta(seconds=max_age_s)
    return [participant for participant, view in shown.items() if datetime.fromisoformat(view[3]) < limit]
