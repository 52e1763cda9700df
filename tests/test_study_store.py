import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from study import OURS
from study.manifest import load_manifest
from study.store import VoteRefused, VoteStore, read_votes

from tests.support.study_helpers import write_manifest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def manifest(tmp_path):
    return load_manifest(write_manifest(tmp_path / "stimuli", prompts=22))


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
        ("participant-a1", 3, "left", "not the one on screen"),
        ("particip\ud800nt-a1", 0, "left", "participant id"),
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
    store.submit("participant-a1", 0, "left")
    with store._votes.path.open("ab") as handle:
        handle.write(b'{"vote_id": "torn", "partic')
    assert [v["question_index"] for v in read_votes(tmp_path / "data")] == [0]
    assert VoteStore(tmp_path / "data", manifest).answered("participant-a1").keys() == {0}


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


def test_balancing_counts_cost_the_same_whatever_the_number_of_participants(tmp_path, manifest, monkeypatch):
    """shown_counts is kept per assignment, never recomputed by scanning every participant."""
    import study.store as store_module

    store = VoteStore(tmp_path / "data", manifest)
    seen = []
    real_assign = store_module.assign
    monkeypatch.setattr(store_module, "assign", lambda pid, pairs, shown, **kw: seen.append(sum(shown.values())) or real_assign(pid, pairs, shown, **kw))
    for n in range(40):
        store.questions(f"participant-{n:04d}")
    assert seen == [20 * n for n in range(40)]  # each begin sees every earlier assignment counted
    scans = []
    monkeypatch.setattr(VoteStore, "_questions", property(lambda self: scans.append(1) or self.__dict__["_questions"]), raising=False)
    before = len(scans)
    store.shown_counts()
    assert len(scans) == before  # counting reads no assignment


def test_catch_questions_are_added_and_marked(tmp_path, monkeypatch):
    from tests.support.study_helpers import tiny_video

    folder = tmp_path / "stimuli"
    tiny_video(folder / "videos" / "broken.mp4", shade=99)
    path = write_manifest(folder, prompts=22, extra=[{"prompt_id": f"p{p}", "prompt": f"prompt {p}", "method": "frame_shuffled", "catch": True, "video": "videos/broken.mp4"} for p in range(3)])
    manifest = load_manifest(path)
    assert manifest.catch_pairs() == [("p0", "frame_shuffled"), ("p1", "frame_shuffled"), ("p2", "frame_shuffled")]
    assert all(b != "frame_shuffled" for _, b in manifest.pairs())
    store = VoteStore(tmp_path / "data", manifest)
    questions = store.questions("participant-c1")
    catches = [q for q in questions if q.catch]
    assert len(questions) == 22 and len(catches) == 2 and questions[0].catch is False
    assert all(OURS in (q.left_method, q.right_method) for q in catches)
    for q in questions:
        vote = store.submit("participant-c1", q.index, "left")
    assert sum(v["catch"] for v in read_votes(tmp_path / "data")) == 2
    monkeypatch.setenv("STUDY_ATTENTION_CHECKS", "0")
    assert not any(q.catch for q in VoteStore(tmp_path / "data2", manifest).questions("participant-c2"))
    assert vote["participant_id"] == "participant-c1"


def test_the_secret_is_configured_or_kept_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDY_SECRET", raising=False)
    first = VoteStore(tmp_path / "data").secret
    assert VoteStore(tmp_path / "data").secret == first and len(first) == 64  # a restart reads the same one
    assert oct((tmp_path / "data" / ".study-secret").stat().st_mode)[-3:] == "600"
    monkeypatch.setenv("STUDY_SECRET", "from-the-space-settings-0123456789")
    assert VoteStore(tmp_path / "data").secret == b"from-the-space-settings-0123456789"


def test_researchers_verify_a_code_from_the_command_line(tmp_path, manifest, capsys, monkeypatch):
    from study.cli import main
    from study.codes import completion_code

    monkeypatch.delenv("STUDY_SECRET", raising=False)
    store = VoteStore(tmp_path / "data", manifest)
    for pid in ("participant-done", "participant-half"):
        questions = store.questions(pid, {"PROLIFIC_PID": pid[-4:]})
        for q in questions[: 20 if pid.endswith("done") else 10]:
            store.submit(pid, q.index, "left")
    done = completion_code(store.secret, "participant-done")
    assert main(["codes", done, "--data", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{done}: ACCEPT\n") and "participant-done" in out and "code checked 1 time," in out
    assert main(["codes", done, "--data", str(tmp_path / "data")]) == 1  # handed in again: its count shows, and a review
    assert "REVIEW: this code was checked before (2 times" in capsys.readouterr().out
    assert main(["codes", completion_code(store.secret, "participant-half"), "--data", str(tmp_path / "data")]) == 1  # not finished
    assert "REVIEW: only 10 of 20 answered" in capsys.readouterr().out
    run = subprocess.run([sys.executable, "-m", "study.codes", done, "--data", str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1 and "code checked 3 times" in run.stdout  # python -m study.codes: the same, the count kept on disk
    assert main(["codes", "ABCDEFGHIJ", "--data", str(tmp_path / "data")]) == 1
    assert "not a completion code" in capsys.readouterr().out
