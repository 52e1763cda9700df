"""The data folder's copy on the Hub (Section E's votes outlive a Space restart).

Votes always go to local disk first (``study.store``); this module only copies files:

- ``restore``: at start-up, the dataset repository's ``*.jsonl`` files are downloaded
  (``snapshot_download``) and each one the folder lacks, or holds shorter, is copied in;
- ``HubSync``: a background thread that uploads the folder every minute (``upload_folder``,
  ``*.jsonl`` only: the study secret never leaves), retries with back-off when the Hub
  cannot be reached, and says how it stands (``status``); ``stop`` uploads once more, which
  the app does on SIGTERM (what a Space gets before it restarts).

Configured by ``STUDY_DATASET_REPO`` and ``HF_TOKEN``; ``api`` may be any object with
``create_repo``, ``upload_folder`` and ``snapshot_download`` of ``huggingface_hub.HfApi``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

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


class HubSync:
    """Restore, then upload ``folder`` to a Hub dataset every ``every_s`` seconds, in the background."""

    def __init__(self, folder: str | Path, repo_id: str, api, every_s: float = EVERY_S, on_restore=None) -> None:
        self.folder, self.repo_id, self.api, self.every_s = Path(folder), repo_id, api, every_s
        self.on_restore = on_restore
        self.restored = False
        self.last_sync: str | None = None
        self.last_error: str | None = None
        self.failures = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._upload_lock = threading.Lock()
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

    def upload(self) -> None:
        """Upload the folder now (raises what the Hub raises)."""
        with self._upload_lock:
            self.api.create_repo(repo_id=self.repo_id, repo_type="dataset", private=True, exist_ok=True)
            self.api.upload_folder(
                repo_id=self.repo_id, repo_type="dataset", folder_path=str(self.folder), allow_patterns=PATTERNS,
                commit_message=f"study votes {_stamp()}",
            )
            self.last_sync = _stamp()

    def _attempt(self, step) -> bool:
        try:
            step()
        except Exception as error:  # an unreachable Hub, a bad token: said, retried
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            return False
        self.failures, self.last_error = 0, None
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
        while not self._stopped.is_set():
            step = self.upload if self.restored else self._restore
            ok = self._attempt(step)
            wait = self.every_s if ok else min(MAX_BACKOFF_S, 5.0 * 2 ** min(self.failures, 8))
            if not ok or not self.restored:
                wait = min(wait, self.every_s)
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the thread and upload once more (on SIGTERM); True if that upload went through."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return self.restored and self._attempt(self.upload)


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
