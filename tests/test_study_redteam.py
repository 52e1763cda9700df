"""The red-team passes as tests. First: 8 concurrent voters through the page's own API, the
server SIGKILLed mid-run and started again on the same data folder (50 voters:
``benchmarks/bench_study.py``). Second (issue 33): content linkage from one's own session and
pooled sessions, rotating X-Forwarded-For, and code reuse (figures at scale:
``benchmarks/bench_study_linkage.py``).

Checks: no acknowledged vote lost, no duplicate, everyone resumes on the question the server
had on screen and finishes with one assignment, balancing intact, and blinding: no video
name is shared across participants or questions, so the partner-count inference that found
"ours" in 1000 of 1000 questions is at chance.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import replace

import httpx
import pytest
from gradio_client import Client

from study.store import read_records
from study.ui.results_tab import check_code

from tests.support.study_helpers import write_manifest
from tests.support.study_server import LEFT, StudyServer, red_team


@pytest.mark.slow
def test_voters_survive_a_sigkill(tmp_path):
    manifest = write_manifest(tmp_path / "stimuli", prompts=22)
    env = {"STUDY_MANIFEST": str(manifest), "STUDY_DATA_DIR": str(tmp_path / "data"), "STUDY_ONLY": "1", "STUDY_NEW_PARTICIPANTS": "100/60"}
    server = StudyServer(env).start()
    try:
        found = red_team(server, voters=8)
        assert found["acknowledged_at_kill"] >= 16 and found["lost"] == 0 and found["duplicates"] == 0
        assert found["resumed"] == 8 and found["wrong_resume"] == 0
        assert found["stored"] == 160 and found["complete"] == 8 and found["assignments"] == 8
        assert found["baseline_spread"] <= 8  # each participant adds 20 questions over 6 baselines
        assert found["views"] >= 160 and found["shared_names"] == 0
        assert found["inferred"] < 0.8  # 8 x 20 guesses at chance
        client = Client(server.url, verbose=False, download_files=False)
        fresh = client.predict("", True, api_name="/begin")
        with urllib.request.urlopen(fresh[LEFT]["url"]) as response:  # the question on screen is served
            assert response.read(12)[4:8] == b"ftyp"
        client.predict(fresh[0], fresh[5], api_name="/vote_left")
        with pytest.raises(urllib.error.HTTPError):  # an answered question's copies are gone
            urllib.request.urlopen(fresh[LEFT]["url"])
    finally:
        server.kill()


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """The study-only app in this process on a manifest whose videos have pictures of their own
    (22 prompts x ours + 2 baselines), with a researcher token; yields (url, service)."""
    from app import build_app, launch
    from study.service import StudyService
    from study.ui import study_tab

    from tests.support.study_linkage import distinct_manifest

    monkeypatch.setenv("STUDY_ONLY", "1")
    monkeypatch.setenv("STUDY_NEW_PARTICIPANTS", "5/600")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")  # uvicorn's default, put back after the test
    monkeypatch.delenv("STUDY_SECRET", raising=False)
    service = StudyService(distinct_manifest(tmp_path / "stimuli", baselines=("sdxl", "sdxl_taf")), tmp_path / "data")
    service.config = replace(service.config, admin_token="r" * 40)
    monkeypatch.setattr(study_tab, "_SERVICE", service)
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield demo.local_url, service
    finally:
        demo.close()


@pytest.mark.slow
def test_red_team_content_linkage_forged_addresses_and_code_reuse(served, tmp_path):
    """The three attacks of issue 33, through the page's own API.

    1. Content linkage: 2 participants (one client) download every video before answering; "the
       video that recurs across my questions is ours" by a hash of the compressed samples and by
       the decoded picture finds nothing to go on in one's own session (no prompt repeats), and
       the byte rule finds nothing across the pooled sessions either (each view encoded afresh).
    2. Rotating X-Forwarded-For from one client mints at most the configured 5 participants.
    3. A completion code checked twice shows its use count, and a bot's code is not accepted.
    """
    from tests.support.study_linkage import PixelKeys, pooled, rule, session, truth

    url, service = served
    broken = []  # every attack that worked, said in a line
    pixels = PixelKeys()
    sessions, done = [], []
    for n in range(2):
        views, text = session(url, tmp_path, pixels, headers={"X-Forwarded-For": f"198.51.100.{n}"})
        sessions.append(views)
        done.append(text)
    views = truth([v for s in sessions for v in s], read_records(service.store.folder, "assignments-*.jsonl"))
    assert len(views) == 40
    repeated = sum(len(s) - len({q.prompt_id for q in service.store.questions(s[0].participant)}) for s in sessions)
    if repeated:
        broken.append(f"{repeated} prompts shown twice to one participant")
    for key in ("bytes", "pixels"):
        own = [rule(s, s, key) for s in sessions]
        score = sum(r["right"] * r["questions"] for r in own) / len(views)
        if sum(r["decided"] for r in own) or score > 0.55:  # nothing should recur within a session: a coin flip, 50 %
            broken.append(f"the {key} recurrence rule from one's own session: {score:.0%} right, {sum(r['decided'] for r in own)} decided")
    shared = pooled(sessions, 2, "bytes")
    if shared["decided"]:  # no compressed sample shared by two views, even across sessions
        broken.append(f"pooling 2 sessions, the byte rule decides {shared['decided']} questions, {shared['right']:.0%} right")

    minted = set()
    for n in range(40):  # one client, a new X-Forwarded-For each time (one line, two lines, an overlong one)
        forged = f"203.0.{n}.{n % 7}"
        headers = [("x-forwarded-for", forged)] + ([("x-forwarded-for", f"192.0.2.{n}")] if n % 2 else [])
        if n % 5 == 4:
            headers = [("x-forwarded-for", "7" * 5000 + "," + forged)]
        token = httpx.post(url + "gradio_api/run/begin", json={"data": ["", True]}, headers=headers, timeout=60).json()["data"][0]
        minted.add(token) if token else None
    if len(minted) > 5:
        broken.append(f"one client minted {len(minted)} participants by rotating X-Forwarded-For (limit 5)")

    code = done[0].split("**")[-2]
    first, again = check_code("r" * 40, code), check_code("r" * 40, code)
    if not ("1 time" in first and "2 times" in again):
        broken.append(f"a code checked twice does not show its use count: {again!r}")
    if "accept" in again.lower().split(":")[0]:
        broken.append(f"a code answered in no time and checked twice is accepted: {again!r}")
    assert broken == [], "\n".join(broken)
