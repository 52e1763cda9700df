"""The red-team pass as a test: concurrent voters through the page's own API, the server
SIGKILLed mid-run and started again on the same data folder.

Checks: no acknowledged vote lost, no duplicate, each participant resumes on the question the
server had on screen, balancing intact, and blinding: no video URL is ever shared across
participants or questions (the 50-voter version is ``benchmarks/bench_study.py``).
"""

from __future__ import annotations

import collections
import threading
import urllib.error
import urllib.request

import pytest

from gradio_client import Client

from study.store import VoteStore, read_records, read_votes
from study_helpers import write_manifest
from study_server import StudyServer

#: Outputs of /begin and /vote_* as the API returns them (the layout columns are not values).
API = ("token", "status", "progress", "left", "right", "shown_index", "notice", "done_text", "completion_url")
TOKEN, STATUS, LEFT, RIGHT, INDEX, DONE = (API.index(n) for n in ("token", "status", "left", "right", "shown_index", "done_text"))


def voter(url: str, n: int, votes: int, log: dict, start: threading.Event | None = None, state: dict | None = None) -> None:
    """Answer ``votes`` questions (starting, or continuing from ``state``); record what was acknowledged."""
    client = Client(url, verbose=False, download_files=False)
    out = client.predict(state["token"], api_name="/resume") if state else client.predict("", True, api_name="/begin")
    for k in range(votes):
        if out[DONE]:
            break
        token, index = out[TOKEN], int(out[INDEX])
        log["seen"].append((n, index, out[LEFT]["url"], out[RIGHT]["url"]))
        if start is not None and k == 2:
            start.set()
        out = client.predict(token, str(index), api_name="/vote_left" if (n + k) % 2 else "/vote_right")
        log["acknowledged"].append((token.split(".")[0], index))  # the screen moved on: the vote is stored
        log["state"][n] = {"token": token, "next": int(out[INDEX]) if not out[DONE] else None}


def test_voters_survive_a_sigkill(tmp_path):
    manifest = write_manifest(tmp_path / "stimuli", prompts=5)
    env = {"STUDY_MANIFEST": str(manifest), "STUDY_DATA_DIR": str(tmp_path / "data"), "STUDY_ONLY": "1", "STUDY_NEW_PARTICIPANTS": "100/60"}
    log = {"seen": [], "acknowledged": [], "state": {}}
    server = StudyServer(env).start()
    try:
        threads, started = [], []
        for n in range(8):
            started.append(threading.Event())
            threads.append(threading.Thread(target=_quietly, args=(voter, server.url, n, 20, log, started[-1])))
            threads[-1].start()
        for event in started:
            event.wait(60)
        server.kill()  # mid-run: each voter has answered at least two questions
        for thread in threads:
            thread.join(60)
        acknowledged = list(log["acknowledged"])
        stored = read_votes(tmp_path / "data")
        keys = [(v["participant_id"], v["question_index"]) for v in stored]
        assert len(keys) == len(set(keys)), "a question was stored twice"
        assert set(acknowledged) <= set(keys), "an acknowledged vote was lost"
        before = {n: dict(s) for n, s in log["state"].items()}

        server.start()  # the same data folder and secret: everyone continues
        client = Client(server.url, verbose=False, download_files=False)
        for n, state in before.items():
            resumed = client.predict(state["token"], api_name="/resume")
            participant = state["token"].split(".")[0]
            expected = 1 + max(i for p, i in keys if p == participant)
            assert int(resumed[INDEX]) == expected, f"voter {n} did not resume on question {expected + 1}"
        threads = [threading.Thread(target=_quietly, args=(voter, server.url, n, 20, log, None, before[n])) for n in before]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        votes = read_votes(tmp_path / "data")
        per = collections.Counter(v["participant_id"] for v in votes)
        assert sorted(per.values()) == [20] * 8 and len(per) == 8, per  # no one lost, no one duplicated
        assert len({(v["participant_id"], v["question_index"]) for v in votes}) == 160
        assert len(read_records(tmp_path / "data", "assignments-*.jsonl")) == 8  # nobody got a second assignment
        by_baseline = collections.Counter()
        for (prompt, baseline), count in VoteStore(tmp_path / "data").shown_counts().items():
            by_baseline[baseline] += count
        assert max(by_baseline.values()) - min(by_baseline.values()) <= 8  # balanced across baselines
        urls = [url for _, _, left, right in log["seen"] for url in (left, right)]
        views = {(n, i) for n, i, _, _ in log["seen"]}
        per_url = collections.Counter(url.rsplit("/", 1)[-1] for url in urls)
        repeated = {name for name, count in per_url.items() if count > 1}
        shared = {name for name in repeated if len({(n, i) for n, i, l, r in log["seen"] if name in (l.rsplit('/', 1)[-1], r.rsplit('/', 1)[-1])}) > 1}
        assert shared == set(), "a video name was shown in two questions or to two participants"
        assert len(views) >= 160
        fresh = client.predict("", True, api_name="/begin")
        with urllib.request.urlopen(fresh[LEFT]["url"]) as response:  # the question on screen is served
            assert response.read(12)[4:8] == b"ftyp"
        with pytest.raises(urllib.error.HTTPError):  # an answered question's copies are gone
            urllib.request.urlopen(log["seen"][-1][2])
    finally:
        server.kill()


def _quietly(fn, *args) -> None:
    """Run a voter; a connection refused by the killed server ends it (what was acknowledged counts)."""
    try:
        fn(*args)
    except Exception:  # the server was killed under it
        pass
