"""Hub sync: restore at start-up, commits in the background (CommitScheduler), once more on SIGTERM.

``LocalHub`` stands in for the ``HfApi`` methods the sync uses, over a local folder
(a dataset repository on disk); an unreachable Hub is a real ``HfApi`` pointed at a closed port.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from study.service import StudyService
from study.ui import study_tab as study_ui
from study.ui.study_tab import FIELDS, begin, resume, vote_left
from study.store import read_votes
from study.sync import HubSync, restore, wait_until

from tests.support.local_hub import LocalHub
from tests.support.study_helpers import write_manifest

ROOT = Path(__file__).resolve().parent.parent
F = {name: i for i, name in enumerate(FIELDS)}


@pytest.fixture()
def hub_env(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_DATASET_REPO", "lab/dofgen-votes")
    monkeypatch.setenv("STUDY_SYNC_SECONDS", "0.2")
    monkeypatch.setenv("STUDY_RESTORE_WAIT_S", "5")
    monkeypatch.setenv("STUDY_NEW_PARTICIPANTS", "100/60")
    return write_manifest(tmp_path / "stimuli", prompts=22)


def _service(manifest, data, hub, monkeypatch) -> StudyService:
    service = StudyService(manifest, data, hub_api=hub)
    monkeypatch.setattr(study_ui, "_SERVICE", service)
    return service


def test_a_restart_without_disk_restores_the_study_from_the_hub(tmp_path, hub_env, monkeypatch):
    hub = LocalHub(tmp_path / "hub")
    hub.create_repo("lab/dofgen-votes", repo_type="dataset")
    monkeypatch.setenv("STUDY_SECRET", "kept-in-the-space-secrets-0123456789abcdef")  # no persistent disk: the secret comes from settings
    first = _service(hub_env, tmp_path / "disk-1", hub, monkeypatch)
    screen = begin("", True)
    token = screen[F["token"]]
    for _ in range(3):
        screen = vote_left(token, screen[F["shown_index"]])
    counts = first.store.shown_counts()
    assert wait_until(lambda: len(read_votes(hub.root / "lab/dofgen-votes")) == 3, 10)  # synced within the interval
    first.sync.stop()

    second = _service(hub_env, tmp_path / "disk-2", hub, monkeypatch)  # a fresh, empty disk
    assert second.sync.restored and len(read_votes(second.store.folder)) == 3
    assert second.store.shown_counts() == counts  # balancing continues where it was
    resumed = resume(token)
    assert resumed[F["shown_index"]] == "3" and "Question 4 of 20" in resumed[F["progress"]]
    vote_left(token, "3")  # and goes on appending
    assert len(read_votes(second.store.folder)) == 4
    assert second.sync.stop() and len(read_votes(hub.root / "lab/dofgen-votes")) == 4
    assert not any(p.name.startswith(".study") for p in (hub.root / "lab/dofgen-votes").iterdir())  # the secret stays home


def test_an_unreachable_hub_does_not_stop_the_study(tmp_path, hub_env, monkeypatch):
    from huggingface_hub import HfApi

    monkeypatch.setenv("STUDY_RESTORE_WAIT_S", "30")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    start = time.perf_counter()
    service = _service(hub_env, tmp_path / "disk", HfApi(endpoint="http://127.0.0.1:9", token="hf_x"), monkeypatch)
    screen = begin("", True)
    assert "Question 1 of 20" in screen[F["progress"]] and time.perf_counter() - start < 30
    vote_left(screen[F["token"]], screen[F["shown_index"]])
    assert len(read_votes(service.store.folder)) == 1  # local disk first
    assert wait_until(lambda: service.sync.failures > 0, 10) and not service.sync.restored
    assert "failing" in service.sync.status() and "retrying" in service.sync.status()
    service.sync.stop(timeout=5)


def test_sync_retries_until_the_hub_is_back(tmp_path):
    hub = LocalHub(tmp_path / "hub")
    hub.down = True
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "votes-a.jsonl").write_text('{"vote_id": "v1", "participant_id": "p", "question_index": 0, "baseline": "sdxl"}\n')
    sync = HubSync(folder, "lab/votes", hub, every_s=0.1).start()
    assert wait_until(lambda: sync.failures >= 2, 10) and not sync.restored
    hub.down = False
    assert wait_until(lambda: hub.commits >= 1, 20) and "OK" in sync.status()
    assert (hub.root / "lab/votes" / "votes-a.jsonl").exists()
    sync.stop()


def test_restore_keeps_the_longer_copy(tmp_path):
    hub = LocalHub(tmp_path / "hub")
    hub.create_repo("lab/votes", repo_type="dataset")
    (hub.root / "lab/votes" / "votes-a.jsonl").write_text("{}\n")
    (hub.root / "lab/votes" / "votes-b.jsonl").write_text("{}\n{}\n")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "votes-a.jsonl").write_text("{}\n{}\n{}\n")  # the local disk is ahead of the Hub
    assert restore(folder, "lab/votes", hub) == ["votes-b.jsonl"]
    assert (folder / "votes-a.jsonl").read_text().count("\n") == 3


def test_sigterm_uploads_once_more(tmp_path):
    hub_root = tmp_path / "hub"
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path[:0] = [{str(ROOT)!r}]
        os.environ.update(STUDY_DATASET_REPO="lab/votes", STUDY_SYNC_SECONDS="3600", STUDY_SECRET="s" * 32)
        from tests.support.local_hub import LocalHub
        from study.ui import study_tab as study_ui
        hub = LocalHub({str(hub_root)!r})
        svc = study_ui.StudyService({str(write_manifest(tmp_path / "stimuli", prompts=22))!r}, {str(tmp_path / "data")!r}, hub_api=hub)
        study_ui._SERVICE = svc
        study_ui.upload_on_sigterm(svc)
        screen = study_ui.begin("", True)
        study_ui.vote_left(screen[0], screen[8])
        print("voted", flush=True)
        while True:
            time.sleep(0.1)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout.readline().strip() == "voted"
    assert read_votes(hub_root / "lab/votes") == []  # the next scheduled upload is an hour away
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGTERM
    assert [v["question_index"] for v in read_votes(hub_root / "lab/votes")] == [0]


def test_hub_copies_are_read_as_local_ones_a_torn_line_skipped(tmp_path):
    from study.aggregate import load_source

    hub = LocalHub(tmp_path / "hub")
    hub.create_repo("lab/votes", repo_type="dataset")
    votes = [{"vote_id": f"v{i}", "participant_id": "p", "question_index": i, "baseline": "sdxl", "choice": "ours"} for i in range(2)]
    lines = "".join(json.dumps(v) + "\n" for v in votes)
    (hub.root / "lab/votes" / "votes-a.jsonl").write_text(lines + '{"vote_id": "v2", "partic')  # copied mid-append
    local = tmp_path / "data"
    local.mkdir()
    (local / "votes-a.jsonl").write_text(lines + '{"vote_id": "v2", "partic')
    assert load_source("lab/votes", api=hub) == read_votes(local) == votes


def test_each_commit_sends_the_votes_as_they_were_scanned(tmp_path):
    """An append under way while a commit reads waits for the next commit; the secret never leaves."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "votes-a.jsonl").write_text('{"vote_id": "v0"}\n')
    (folder / ".study-secret").write_text("s")

    class AppendingHub(LocalHub):
        def create_commit(self, *args, **kwargs):
            with (folder / "votes-a.jsonl").open("a") as handle:  # a vote lands mid-commit
                handle.write('{"vote_id": "v1"}\n')
            return super().create_commit(*args, **kwargs)

    hub = AppendingHub(tmp_path / "hub")
    sync = HubSync(folder, "lab/votes", hub, every_s=3600).start()
    try:
        assert wait_until(lambda: hub.commits >= 1, 20)
        assert (hub.root / "lab/votes" / "votes-a.jsonl").read_text() == '{"vote_id": "v0"}\n'
        sync.upload(timeout=20)  # the next commit sends the rest
        assert (hub.root / "lab/votes" / "votes-a.jsonl").read_text().count("\n") >= 2
        assert sorted(p.name for p in (hub.root / "lab/votes").iterdir()) == ["votes-a.jsonl"]
        assert "OK" in sync.status() and "last upload" in sync.status()
    finally:
        sync.stop(timeout=20)
