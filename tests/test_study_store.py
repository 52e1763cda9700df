import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from study.manifest import load_manifest
from study.store import VoteRefused, VoteStore, read_votes, start_hub_sync

from study_helpers import write_manifest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def manifest(tmp_path):
    return load_manifest(write_manifest(tmp_path / "stimuli", prompts=5))


def test_votes_are_stored_once_and_survive_a_restart(tmp_path, manifest):
    store = VoteStore(tmp_path / "data", manifest)
    questions = store.questions("participant-a1")
    assert len(questions) == 20 and store.questions("participant-a1") == questions
    vote = store.submit("participant-a1", 0, "left", shown_at="2026-11-25T10:00:00Z")
    assert vote["chosen_method"] == questions[0].left_method and vote["baseline"] == questions[0].baseline
    assert vote["preferred_ours"] == (questions[0].left_method == "ours")
    assert set(vote) >= {"vote_id", "participant_id", "question_index", "prompt_id", "left_method", "right_method", "choice",
                         "chosen_method", "baseline", "shown_at", "answered_at", "app_version"}
    again = store.submit("participant-a1", 0, "right")  # double click / retry: one vote
    assert again == vote and len(read_votes(tmp_path / "data")) == 1
    reopened = VoteStore(tmp_path / "data", manifest)
    assert reopened.questions("participant-a1") == questions  # a reload resumes the same sequence
    assert reopened.submit("participant-a1", 0, "right") == vote
    assert reopened.answered("participant-a1") == {0: vote}


@pytest.mark.parametrize(
    "participant, index, choice, message",
    [
        ("participant-a1", 20, "left", "not assigned"),
        ("participant-a1", -1, "left", "not assigned"),
        ("participant-a1", "3", "left", "integer"),
        ("participant-a1", 1, "middle", "choice"),
        ("participant-zz", 1, "left", "no questions"),
        ("../../etc", 1, "left", "participant id"),
        (None, 1, "left", "participant id"),
    ],
)
def test_malformed_or_unassigned_votes_store_nothing(tmp_path, manifest, participant, index, choice, message):
    store = VoteStore(tmp_path / "data", manifest)
    store.questions("participant-a1")
    with pytest.raises(VoteRefused, match=message):
        store.submit(participant, index, choice)
    assert read_votes(tmp_path / "data") == []


def test_a_torn_last_line_is_skipped(tmp_path, manifest):
    store = VoteStore(tmp_path / "data", manifest)
    store.questions("participant-a1")
    store.submit("participant-a1", 1, "left")
    with store._votes.path.open("ab") as handle:
        handle.write(b'{"vote_id": "torn", "partic')
    assert [v["question_index"] for v in read_votes(tmp_path / "data")] == [1]
    assert VoteStore(tmp_path / "data", manifest).answered("participant-a1").keys() == {1}


def test_sigkill_loses_no_acknowledged_vote(tmp_path, manifest):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from study.manifest import load_manifest
        from study.store import VoteStore
        store = VoteStore({str(tmp_path / "data")!r}, load_manifest({str(manifest.path)!r}))
        n = 0
        while True:
            pid = f"participant-{{n:05d}}"
            for i, _ in enumerate(store.questions(pid)):
                store.submit(pid, i, "left" if i % 2 else "right")
                print(pid, i, flush=True)
            n += 1
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    deadline = time.time() + 60
    while len(acknowledged) < 150 and time.time() < deadline:
        pid, index = process.stdout.readline().split()
        acknowledged.append((pid, int(index)))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored = {(v["participant_id"], v["question_index"]) for v in read_votes(tmp_path / "data")}
    assert len(acknowledged) == 150 and set(acknowledged) <= stored
    store = VoteStore(tmp_path / "data", manifest)  # the store still opens and serves
    assert store.answered(acknowledged[0][0])


def test_votes_load_with_datasets(tmp_path, manifest):
    from datasets import load_dataset

    store = VoteStore(tmp_path / "data", manifest)
    for pid in ("participant-a1", "participant-b2"):
        for i, _ in enumerate(store.questions(pid)[:5]):
            store.submit(pid, i, "left")
    dataset = load_dataset("json", data_files=str(tmp_path / "data" / "votes-*.jsonl"), split="train")
    assert dataset.num_rows == 10 and set(dataset["participant_id"]) == {"participant-a1", "participant-b2"}


def test_hub_sync_pushes_the_folder_as_a_dataset(tmp_path, manifest):
    from huggingface_hub import HfApi, RepoUrl

    class RecordingApi(HfApi):
        def __init__(self):
            super().__init__(endpoint="http://127.0.0.1:9", token="hf_test")
            self.commits, self.repos = [], []

        def create_repo(self, repo_id, **kwargs):
            self.repos.append((repo_id, kwargs.get("repo_type")))
            return RepoUrl(f"http://127.0.0.1:9/datasets/{repo_id}", endpoint="http://127.0.0.1:9")

        def create_commit(self, repo_id, operations, **kwargs):
            self.commits.append((repo_id, kwargs.get("repo_type"), {op.path_in_repo: op.path_or_fileobj.read() for op in operations}))

    store = VoteStore(tmp_path / "data", manifest)
    store.questions("participant-a1")
    store.submit("participant-a1", 0, "left")
    api = RecordingApi()
    assert start_hub_sync(tmp_path / "data", repo_id=None, api=api) is None  # not configured: nothing
    scheduler = start_hub_sync(tmp_path / "data", repo_id="lab/dofgen-votes", api=api, every_minutes=1)
    try:
        assert scheduler.every == 5.0  # never more often than every 5 minutes
        scheduler.trigger().result(timeout=30)
        assert api.repos == [("lab/dofgen-votes", "dataset")]
        repo_id, repo_type, files = api.commits[-1]
        assert (repo_id, repo_type) == ("lab/dofgen-votes", "dataset")
        votes = [json.loads(line) for name, data in files.items() if name.startswith("votes-") for line in data.splitlines()]
        assert [v["question_index"] for v in votes] == [0]
    finally:
        scheduler.stop()
