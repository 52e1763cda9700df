"""The Study and Results tabs: handlers, identity, blinding, refusals, queue capacity."""

import json
import re
import threading
import time
import urllib.request
from dataclasses import replace

import httpx
import pytest
from gradio_client import Client

from app import build_app, launch
from study.ratelimit import RateLimit
from study.service import StudyService
from study.ui import results_tab as results_ui
from study.ui import study_tab as study_ui
from study.ui.queue import reserve_queue
from study.ratelimit import Backoff
from study.ui.results_tab import check_code, download_table, export_raw, results
from study.ui.study_tab import FIELDS, begin, resume, vote_left, vote_right
from study import BASELINES, CONTROLS, OURS
from study.codes import completion_code, new_participant, verify_code
from study.store import read_records, read_votes

from tests.support.study_helpers import write_manifest

METHOD_IDS = (OURS, *BASELINES, *CONTROLS)
F = {name: i for i, name in enumerate(FIELDS)}


@pytest.fixture()
def study(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_NEW_PARTICIPANTS", "100/60")
    service = StudyService(write_manifest(tmp_path / "stimuli", prompts=22), tmp_path / "data")
    monkeypatch.setattr(study_ui, "_SERVICE", service)
    return service


class FakeRequest:
    def __init__(self, host="10.0.0.1", query=None):
        self.headers, self.query_params = {}, dict(query or {})
        self.client = type("Client", (), {"host": host})()


def _names_a_method(text: str) -> list[str]:
    return [m for m in METHOD_IDS if re.search(rf"(?<![A-Za-z0-9]){re.escape(m)}(?![A-Za-z0-9])", text)]


def test_a_participant_answers_twenty_questions(study):
    first = resume(None)
    assert first[F["intro"]]["visible"] is True and first[F["token"]] == ""
    screen = begin("", True, FakeRequest(query={"PROLIFIC_PID": "p-77", "other": "x"}))
    token = screen[F["token"]]
    participant = token.split(".")[0]
    assert "Question 1 of 20" in screen[F["progress"]] and screen[F["shown_index"]] == "0"
    clicks = []
    for k in range(20):
        choice = "left" if k % 3 else "right"
        clicks.append(choice)
        if k == 19:  # the code is issued only once every answer is stored
            assert study.store.complete(participant) is False
        screen = (vote_left if choice == "left" else vote_right)(token, screen[F["shown_index"]])
        if k < 19:
            assert f"Question {k + 2} of 20" in screen[F["progress"]] and screen[F["done_text"]] == ""
    code = completion_code(study.store.secret, participant)
    assert screen[F["done"]]["visible"] is True and code in screen[F["done_text"]]
    votes = sorted(read_votes(study.store.folder), key=lambda v: v["question_index"])
    assert [v["choice"] for v in votes] == clicks
    assert resume(token)[F["done"]]["visible"] is True  # a refresh after the end shows the end
    assert read_records(study.store.folder, "assignments-*.jsonl")[0]["recruitment"] == {"PROLIFIC_PID": "p-77"}
    assert study.store.verify(code)["participant_id"] == participant and study.store.verify("AAAAAAAAAA") is None


def test_the_server_decides_which_question_is_on_screen(study):
    screen = begin("", True)
    token = screen[F["token"]]
    refused = vote_left(token, "5")  # question 6 while question 1 shows: nothing stored
    assert "not the one on screen" in refused[F["notice"]] and read_votes(study.store.folder) == []
    screen = vote_left(token, "0")
    again = vote_right(token, "0")  # a stale second click on question 1: counted once
    assert again[F["shown_index"]] == "1" and len(read_votes(study.store.folder)) == 1
    assert read_votes(study.store.folder)[0]["choice"] == "left"
    assert resume(token)[F["shown_index"]] == "1"
    assert "not stored" in vote_left(token, "x")[F["notice"]]


def test_ids_are_made_by_the_server_and_consent_is_exactly_true(study):
    for consent in ("no", 1, "true", None, False):
        screen = begin("", consent)
        assert "tick the box" in screen[F["status"]] and screen[F["intro"]]["visible"] is True
    assert read_records(study.store.folder, "assignments-*.jsonl") == []
    chosen = "attacker-chosen-id-0001"
    forged = f"{'a' * 24}.{'0' * 32}"
    for token in (chosen, forged, "\ud800" * 30, {"x": 1}):
        assert "press Start" in vote_left(token, "0")[F["status"]]
        screen = begin(token, True)
        assert screen[F["token"]].split(".")[0] not in (chosen, "a" * 24)
    assert all(len(r["participant_id"]) == 24 for r in read_records(study.store.folder, "assignments-*.jsonl"))
    secret = study.store.secret
    participant, token = new_participant(secret)
    assert verify_code(secret, participant, completion_code(secret, participant).lower())
    assert not verify_code(b"another secret", participant, completion_code(secret, participant))


def test_new_participants_are_rate_limited_per_client(study, monkeypatch):
    monkeypatch.setattr(study, "limit", RateLimit("3/600"))
    tokens = [begin("", True, FakeRequest("10.0.0.1"))[F["token"]] for _ in range(3)]
    refused = begin("", True, FakeRequest("10.0.0.1"))
    assert "Too many new participants" in refused[F["status"]] and refused[F["token"]] == ""
    assert begin("", True, FakeRequest("10.0.0.2"))[F["token"]]  # another client is not held back
    assert begin(tokens[0], True, FakeRequest("10.0.0.1"))[F["token"]] == tokens[0]  # returning is not new
    assert study.store.participants() == 4


def test_balancing_counts_are_kept_per_begin(study):
    for _ in range(30):
        begin("", True)
    counts = study.store.shown_counts()
    recount = {}
    for record in read_records(study.store.folder, "assignments-*.jsonl"):
        for q in record["questions"]:
            recount[q["prompt_id"], q["baseline"]] = recount.get((q["prompt_id"], q["baseline"]), 0) + 1
    assert counts == recount and max(counts.values()) - min(counts.values()) <= 1


def test_each_view_gets_its_own_file_and_answered_ones_are_deleted(study):
    screen = begin("", True)
    token = screen[F["token"]]
    names = []
    for _ in range(5):
        left, right = screen[F["left"]], screen[F["right"]]
        assert resume(token)[F["left"]] == left  # a repeat of the same view: the same files
        names += [left, right]
        screen = vote_left(token, screen[F["shown_index"]])
        assert not any(__import__("os").path.exists(p) for p in (left, right))
    other = begin("", True)
    names += [other[F["left"]], other[F["right"]]]
    assert len(set(names)) == len(names)


def test_a_broken_manifest_is_said_and_nothing_breaks(tmp_path, monkeypatch):
    (tmp_path / "bad.jsonl").write_text('{"prompt_id": "p"}\n')
    monkeypatch.setattr(study_ui, "_SERVICE", StudyService(tmp_path / "bad.jsonl", tmp_path / "d"))
    assert "not running" in resume(None)[F["status"]]
    assert "not running" in begin("", True)[F["status"]]


def test_results_are_gated_and_raw_export_needs_the_token(study, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(results_ui, "WRONG_TOKENS", Backoff(clock=lambda: clock[0]))
    screen = begin("", True)
    for _ in range(20):
        screen = vote_left(screen[F["token"]], screen[F["shown_index"]])
    code = screen[F["done_text"]].split("**")[-2]
    study.config = replace(study.config, admin_token="", closed=False)  # what STUDY_ADMIN_TOKEN and STUDY_CLOSED set
    locked = results(None)
    assert "for researchers" in locked[0] and all(part is None for part in locked[1:])
    assert "off" in export_raw("anything")[0]
    study.config = replace(study.config, admin_token="s3cret-token")
    assert all(part is None for part in results("guess")[1:])
    assert "Too many wrong tokens" in export_raw("s3cret-token")[0]  # while an address waits, no token is compared
    clock[0] += 1.01
    assert "not right" in export_raw("guess")[0] and export_raw("guess")[1] == ""
    clock[0] += 1.5
    assert "Too many wrong tokens" in check_code("s3cret-token", code)  # the second wrong one: 2 s
    clock[0] += 0.6
    status, table, *_ = results("s3cret-token")
    assert table.set_index("baseline").loc["overall", "votes"] == 20 and "Hub sync off" in status
    assert "not right" in download_table("guess")[0] and "Too many" in download_table("s3cret-token")[0]  # a right one cleared the count
    clock[0] += 1.01
    message, files = download_table("s3cret-token")
    assert json.loads(files)["preference.csv"].startswith("baseline,votes") and "preference.json" in json.loads(files)
    message, text = export_raw("s3cret-token")
    assert len(text.splitlines()) == 20 and json.loads(text.splitlines()[0])["participant_id"] == screen[F["token"]].split(".")[0]
    first = check_code("s3cret-token", code)
    assert first.startswith("REVIEW: 20 answers faster than 3 s") and "attention checks: 0 passed, 0 failed" in first
    assert "code checked 1 time," in first
    again = check_code("s3cret-token", code)  # a code handed in twice shows its count
    assert "code checked 2 times" in again and "checked before" in again
    assert "Not a completion code" in check_code("s3cret-token", "ZZZZZZZZZZ")
    assert "token first" in check_code("", code)
    study.config = replace(study.config, closed=True)  # closed: aggregated results open to all, raw still gated
    assert results(None)[1] is not None and export_raw("")[1] == "" and "data:image/png;base64," in results(None)[4]


def test_votes_have_capacity_that_results_cannot_take(study, monkeypatch):
    """The shared queue full of slow Results calls: votes still go through at once."""
    release = threading.Event()

    def slow_results(token=None):
        release.wait(60)
        return results_ui.LOCKED, None, None, None, None, None, None, None

    monkeypatch.setattr(results_ui, "results", slow_results)
    demo = build_app()
    reserve_queue(demo.queue(default_concurrency_limit=1, max_size=4)).launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        index = next(i for i, fn in demo.fns.items() if fn.fn is slow_results)
        join = demo.local_url + "gradio_api/queue/join"
        answers = [httpx.post(join, json={"data": [""], "fn_index": index, "session_hash": f"poller{k}"}).status_code for k in range(8)]
        assert answers.count(200) == 5 and 503 in answers  # one running, four waiting: the shared queue is full
        client = Client(demo.local_url, verbose=False, download_files=False)
        start = time.perf_counter()
        out = client.predict("", True, api_name="/begin")
        for _ in range(3):
            out = client.predict(out[0], out[5], api_name="/vote_left")
        assert time.perf_counter() - start < 30 and "Question 4 of 20" in out[2]
        assert len(read_votes(study.store.folder)) == 3
    finally:
        release.set()
        demo.close()


def test_blinding_and_one_line_refusals_over_the_api(study, capfd, monkeypatch):
    monkeypatch.setenv("STUDY_ONLY", "1")
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        seen = []
        with urllib.request.urlopen(demo.local_url) as page:
            seen.append(page.read().decode())
        with urllib.request.urlopen(demo.local_url.rstrip("/") + "/config") as config:
            seen.append(config.read().decode())  # the whole page's layout, labels and ids
        client = Client(demo.local_url, verbose=False)
        out = client.predict("", True, api_name="/begin")
        for k in range(20):
            seen.append(json.dumps(out, default=str))
            out = client.predict(out[0], out[5], api_name="/vote_left" if k % 2 else "/vote_right")
        seen.append(json.dumps(out, default=str))
        assert "explore-" not in seen[1] and "results-token" in seen[1]  # participants' app: the Study, and the researcher page
        lone = '"' + "\\ud800" * 40 + '"'  # a lone surrogate, as JSON can carry it
        raw = [httpx.post(demo.local_url + f"gradio_api/run/{name}", content=f'{{"data": [{first}, {second}]}}', headers={"content-type": "application/json"})
               for name, first, second in (("begin", lone, "true"), ("vote_left", lone, '"0"'), ("vote_left", json.dumps(out[0]), lone))]
        assert [r.status_code for r in raw] == [200, 200, 200]
        refused = [client.predict("", False, api_name="/begin")[1]] + [json.dumps(r.json()["data"]) for r in raw]
        assert "tick the box" in refused[0] and "Question 1 of 20" in refused[1] and "press Start" in refused[2]
        assert "Traceback" not in capfd.readouterr().err  # a refusal is a line on screen, not a logged exception
        leaks = {m for text in seen for m in _names_a_method(text)}
        assert leaks == set(), f"the study sent method ids to the browser: {leaks}"
        assert any(".mp4" in text for text in seen)  # the videos were among what was checked
    finally:
        demo.close()


def test_a_recruitment_id_is_one_participant(study, monkeypatch):
    monkeypatch.setattr(study, "limit", RateLimit("1/600"))
    first = begin("", True, FakeRequest("10.0.0.1", {"PROLIFIC_PID": "5f00aa"}))
    again = begin("", True, FakeRequest("10.0.0.2", {"PROLIFIC_PID": "5f00aa"}))  # another browser, the same Prolific id
    assert again[F["token"]] == first[F["token"]] and study.store.participants() == 1
    vote_left(first[F["token"]], first[F["shown_index"]])
    assert begin("", True, FakeRequest("10.0.0.1", {"PROLIFIC_PID": "5f00aa"}))[F["shown_index"]] == "1"  # resumed, not new
    worker = begin("", True, FakeRequest("10.0.0.3", {"workerId": "A1B2"}))
    assert begin("", True, FakeRequest("10.0.0.4", {"workerId": "A1B2"}))[F["token"]] == worker[F["token"]]
    assert study.store.participants() == 2


class HeaderRequest:
    """A request from ``peer`` with raw header lines (several ``X-Forwarded-For`` lines allowed)."""

    def __init__(self, peer: str, *forwarded: str):
        from starlette.datastructures import Headers

        self.headers = Headers(raw=[(b"x-forwarded-for", line.encode("latin-1")) for line in forwarded])
        self.client, self.query_params = type("Client", (), {"host": peer})(), {}


@pytest.mark.parametrize("trusted", [0, 1, ("10.0.0.0/8",)])
def test_forwarded_headers_cannot_mint_participants(study, monkeypatch, trusted):
    """One client rotating X-Forwarded-For (one line, two lines, 5000 characters) gets the limit, whatever it writes."""
    monkeypatch.setattr(study, "limit", RateLimit("3/600"))
    study.config = replace(study.config, trusted_proxies=trusted)
    proxy, client = ("10.0.0.9", "203.0.113.7") if trusted else ("203.0.113.7", None)
    started = 0
    for n in range(40):
        forged = [f"198.51.{n}.{k}" for k in range(3)]
        lines = [", ".join(forged + ([client] if client else []))]
        if n % 3 == 1:  # a second header line ahead of the proxy's
            lines = [forged[0], lines[0]]
        if n % 3 == 2:
            lines = ["9" * 5000 + ", " + lines[0]]
        started += bool(begin("", True, HeaderRequest(proxy, *lines))[F["token"]])
    assert started == 3 and study.store.participants() == 3
    assert begin("", True, HeaderRequest("10.0.0.9", "203.0.113.8") if trusted else HeaderRequest("203.0.113.8"))[F["token"]]


def test_client_keys():
    from study.ratelimit import client_key

    assert client_key(HeaderRequest("10.0.0.9", "1.2.3.4, 5.6.7.8"), 1) == "5.6.7.8"
    assert client_key(HeaderRequest("10.0.0.9", "1.2.3.4", "5.6.7.8"), 2) == "1.2.3.4"
    assert client_key(HeaderRequest("10.0.0.9", "1.2.3.4, 5.6.7.8"), 0) == "10.0.0.9"
    assert client_key(HeaderRequest("10.0.0.9", "not-an-address"), 1) == "10.0.0.9"  # garbage: the hop that reported it
    assert client_key(HeaderRequest("10.0.0.9", "2001:db8:1:2::7"), 1) == client_key(HeaderRequest("10.0.0.9", "2001:db8:1:2::99"), 1) == "2001:db8:1:2::/64"
    assert client_key(HeaderRequest("10.0.0.9", "8.8.8.8, 10.1.1.1"), ("10.0.0.0/8",)) == "8.8.8.8"
    assert client_key(HeaderRequest("10.0.0.9", "[2001:db8::1]:443"), 1) == "2001:db8::/64" and client_key(None) == "local"


def test_fewer_prompts_than_questions_is_said(tmp_path, monkeypatch, caplog):
    from tests.support.study_helpers import tiny_video

    folder = tmp_path / "few"
    tiny_video(folder / "videos" / "broken.mp4", shade=99)
    checks = [{"prompt_id": f"p{p}", "prompt": f"prompt {p}", "method": "frame_shuffled", "catch": True, "video": "videos/broken.mp4"} for p in range(3)]
    with caplog.at_level("WARNING"):
        service = StudyService(write_manifest(folder, prompts=5, extra=checks), tmp_path / "data")
    assert "The manifest has 5 prompts" in service.shortfall and "3 questions and 2 attention checks" in service.shortfall
    assert service.shortfall in caplog.text
    monkeypatch.setattr(study_ui, "_SERVICE", service)
    screen = begin("", True)
    assert "Question 1 of 5** (this study has 5 questions)" in screen[F["progress"]]
    service.config = replace(service.config, admin_token="t" * 40)
    monkeypatch.setattr(results_ui, "WRONG_TOKENS", Backoff())
    assert service.shortfall in results("t" * 40)[0]
