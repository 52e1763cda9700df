"""The data folder's copy on the Hub (Section E's votes outlive a Space restart).

Votes always go to local disk first (``study.store``); this module only copies files:

- ``restore``: at start-up, the dataset repository's ``*.jsonl`` files are downloaded
  (``snapshot_download``) and each one the folder lacks, or holds shorter, is copied in;
- ``HubSync``: a background thread that restores (retrying with back-off while the Hub
  cannot be reached), then hands the uploads to :class:`VoteScheduler`, huggingface_hub's
  ``CommitScheduler``: every minute it commits the changed ``*.jsonl`` files (the study
  secret never leaves), each capped at the size it had when scanned, so a line being
  appended waits for the next commit; a failed commit is retried at the next interval.
  ``status`` says how it stands; ``stop`` commits once more, which the app does on SIGTERM
  (what a Space gets before it restarts).

Configured by ``STUDY_DATASET_REPO`` and ``HF_TOKEN``; ``api`` may be any object with the
``create_repo``, ``create_commit``, ``run_as_future`` and ``snapshot_download`` of
``huggingface_hub.HfApi``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from huggingface_hub import CommitScheduler

from study.config import StudyConfig

PATTERNS = ["*.jsonl"]
EVERY_S = 60.0
MAX_BACKOFF_S = 600.0


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S UTC")


def restore(folder: str | Path, repo_id: str, api) -> list[str]:
    """Copy the repository's vote and assignment files into ``folder`` where it lacks them
    or holds a shorter copy (a file only ever grows); return the names copied."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dofgen-restore-") as scratch:
        snapshot = Path(api.snapshot_download(repo_id=repo_id, repo_type="dataset", allow_patterns=PATTERNS, local_dir=scratch))
        copied = []
        for source in sorted(snapshot.glob("*.jsonl")):
            target = folder / source.name
            if not target.exists() or target.stat().st_size < source.stat().st_size:
                partial = target.with_name(f".{target.name}.restore")
                shutil.copyfile(source, partial)
                os.replace(partial, target)
                copied.append(source.name)
    return copied


class VoteScheduler(CommitScheduler):
    """``CommitScheduler`` over the study's data folder, private, ``*.jsonl`` only;
    ``on_result(error or None)`` hears how each commit went (for the status line)."""

    def __init__(self, *, on_result, **kwargs) -> None:
        self.on_result = on_result  # before the scheduler's thread starts its first commit
        super().__init__(repo_type="dataset", private=True, allow_patterns=PATTERNS, **kwargs)

    def push_to_hub(self):
        try:
            info = super().push_to_hub()
        except Exception as error:
            self.on_result(error)
            raise
        self.on_result(None)
        return info


class HubSync:
    """Restore, then commit ``folder`` to a Hub dataset every ``every_s`` seconds, in the background."""

    def __init__(self, folder: str | Path, repo_id: str, api, every_s: float = EVERY_S, on_restore=None) -> None:
        self.folder, self.repo_id, self.api, self.every_s = Path(folder), repo_id, api, every_s
        self.on_restore = on_restore
        self.restored = False
        self.scheduler: VoteScheduler | None = None
        self.last_sync: str | None = None
        self.last_error: str | None = None
        self.failures = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="study-hub-sync", daemon=True)

    def start(self) -> HubSync:
        self._thread.start()
        return self

    def status(self) -> str:
        """One line for the researcher: restored or not, last upload, last error."""
        parts = [f"Hub sync to {self.repo_id}:"]
        parts.append("restored at start-up;" if self.restored else "not restored yet;")
        parts.append(f"last upload {self.last_sync};" if self.last_sync else "no upload yet;")
        if self.last_error:
            parts.append(f"failing ({self.failures} in a row, retrying): {self.last_error}")
        else:
            parts.append("OK")
        return " ".join(parts)

    def upload(self, timeout: float | None = None) -> None:
        """Commit the changed files now, in the scheduler's turn (raises what the Hub raises)."""
        if self.scheduler is None:
            raise RuntimeError("the Hub sync has not started its uploads yet")
        self.scheduler.trigger().result(timeout)

    def _schedule(self) -> None:
        """Start the scheduler (it makes the repository, private, if there is none, and commits at once)."""
        self.scheduler = VoteScheduler(
            repo_id=self.repo_id, folder_path=self.folder, every=max(self.every_s, 0.01) / 60, hf_api=self.api, on_result=self._result,
        )

    def _result(self, error: Exception | None) -> None:
        """One step's outcome: an error is said and counted (and retried), success clears it."""
        if error is not None:
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            return
        self.failures, self.last_error = 0, None
        if self.scheduler is not None:
            self.last_sync = _stamp()

    def _attempt(self, step) -> bool:
        try:
            step()
        except Exception as error:  # an unreachable Hub, a bad token: said, retried
            self._result(error)
            return False
        self._result(None)
        return True

    def _restore(self) -> None:
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            restore(self.folder, self.repo_id, self.api)
        except RepositoryNotFoundError:
            pass  # a new study: no repository yet, nothing to restore
        self.restored = True
        if self.on_restore:
            self.on_restore()

    def _run(self) -> None:
        """Restore, then start the scheduler, each retried with back-off (at most ``every_s``) until it works."""
        while not self._stopped.is_set() and self.scheduler is None:
            if self._attempt(self._schedule if self.restored else self._restore):
                continue
            self._wake.wait(min(self.every_s, MAX_BACKOFF_S, 5.0 * 2 ** min(self.failures, 8)))
            self._wake.clear()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop and commit once more (on SIGTERM); True if that commit went through."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.scheduler is None:
            return False
        ok = self._attempt(lambda: self.upload(timeout))
        self.scheduler.stop()
        return ok


def from_config(config: StudyConfig, folder: str | Path, on_restore=None, api=None) -> HubSync | None:
    """A started ``HubSync`` when the config names a dataset repo (and a token, or ``api`` is given)."""
    if not config.dataset_repo or not (config.hf_token or api):
        return None
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=config.hf_token)
    return HubSync(folder, config.dataset_repo, api, every_s=config.sync_seconds, on_restore=on_restore).start()


def wait_until(predicate, timeout: float) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (for start-up and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
