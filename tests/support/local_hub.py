"""A stand-in for the ``huggingface_hub.HfApi`` methods the study's sync uses, over a local
folder (a dataset repository on disk)."""

from __future__ import annotations

import fnmatch
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
from huggingface_hub.errors import RepositoryNotFoundError


class LocalHub:
    """create_repo / create_commit / run_as_future / snapshot_download of ``HfApi`` over
    ``root/<repo_id>``; ``commits`` counts the commits that changed files."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.commits = 0
        self.down = False
        self._runner = ThreadPoolExecutor(max_workers=1)  # as HfApi.run_as_future: one at a time

    def _repo(self, repo_id: str) -> Path:
        return self.root / repo_id

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("the Hub cannot be reached")

    def create_repo(self, repo_id: str, repo_type: str, private: bool = False, exist_ok: bool = False):
        self._check()
        assert repo_type == "dataset"
        self._repo(repo_id).mkdir(parents=True, exist_ok=exist_ok)
        return SimpleNamespace(repo_id=repo_id)

    def create_commit(self, repo_id: str, repo_type: str, operations: list, commit_message: str = "", revision: str | None = None):
        self._check()
        assert repo_type == "dataset"
        for operation in operations:
            data = operation.path_or_fileobj.read()  # what CommitScheduler sends: the file capped at its scanned size
            (self._repo(repo_id) / operation.path_in_repo).write_bytes(data)
        self.commits += 1
        return SimpleNamespace(oid=str(self.commits))

    def run_as_future(self, function, *args, **kwargs) -> Future:
        return self._runner.submit(function, *args, **kwargs)

    def snapshot_download(self, repo_id: str, repo_type: str, allow_patterns: list[str], local_dir: str) -> str:
        self._check()
        if not self._repo(repo_id).is_dir():  # a repo not made yet: what the Hub answers
            raise RepositoryNotFoundError(f"404: no dataset {repo_id}", response=httpx.Response(404, request=httpx.Request("GET", "http://hub")))
        for path in self._repo(repo_id).iterdir():
            if any(fnmatch.fnmatch(path.name, p) for p in allow_patterns):
                shutil.copyfile(path, Path(local_dir) / path.name)
        return local_dir


def install(root: str | Path) -> None:
    """Make ``huggingface_hub.HfApi`` a :class:`LocalHub` over ``root`` (for an app started in
    its own process, before it imports anything that uses the Hub)."""
    import huggingface_hub

    class LocalHfApi(LocalHub):
        def __init__(self, token: str | None = None, **_: object) -> None:
            super().__init__(Path(root))

    huggingface_hub.HfApi = LocalHfApi
