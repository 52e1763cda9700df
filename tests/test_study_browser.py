"""The Study as a participant meets it, in Debian's chromium (Playwright): answering, a reload
mid-study, a server restart mid-study, a phone, and the researcher's Results page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from study import BASELINES, CONTROLS, OURS
from study.store import read_records, read_votes
from tests.support.study_helpers import tiny_video, write_manifest
from tests.support.study_server import StudyServer

from tests.support.browser import answered, browser, loaded, new_context, shots_dir  # noqa: F401 (fixture; skips without chromium)

pytestmark = pytest.mark.slow  # each test starts the app in its own process

ADMIN = "researcher-s3cret-token"


@pytest.fixture()
def server(tmp_path):
    folder = tmp_path / "stimuli"
    manifest = write_manifest(folder, prompts=22)
    for index, video in enumerate(sorted((folder / "videos").glob("p*.mp4"))):
        tiny_video(video, shade=index * 7)
    env = {"STUDY_MANIFEST": str(manifest), "STUDY_DATA_DIR": str(tmp_path / "data"), "STUDY_ONLY": "1", "STUDY_ADMIN_TOKEN": ADMIN}
    running = StudyServer(env)
    running.env["STUDY_COMPLETION_URL"] = running.url + "?completed={code}"  # where a recruiter would take them back
    with running:
        yield running


def _on_question(page, k: int) -> None:
    page.wait_for_function(
        "k => (document.querySelector('#study-progress') || {}).innerText?.includes(`Question ${k} of 20`)", arg=k, timeout=30_000
    )
    page.wait_for_selector("#study-left-video video[src]", timeout=30_000)


def _videos_shown(page) -> None:
    """Wait until both videos of the question have their first frame (for a screenshot)."""
    page.wait_for_function(
        "() => ['#study-left-video video', '#study-right-video video'].every(s => { const v = document.querySelector(s); return v && v.readyState >= 2 && v.videoWidth > 0; })",
        timeout=30_000,
    )


def _start(page, url: str) -> None:
    page.goto(url)
    loaded(page)  # the load's answer (the start screen, or where a participant was) is in
    page.locator("#study-consent input").check()
    page.locator("#study-start").click()
    _on_question(page, 1)


def _no_method_named(page) -> None:
    html = page.content()
    leaked = [m for m in (OURS, *BASELINES, *CONTROLS) if re.search(rf"(?<![A-Za-z0-9]){m}(?![A-Za-z0-9])", html)]
    assert leaked == [], f"the page names {leaked}"


def _participant(page) -> str:
    return page.evaluate("() => localStorage.getItem('dofgen-study-participant')").split(".")[0]


def test_twenty_questions_with_a_reload_and_a_restart(server, browser, tmp_path):
    """Consent, votes, a reload, a SIGKILL + restart, more votes, the completion code."""
    data = Path(server.env["STUDY_DATA_DIR"])
    context = new_context(browser, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(server.url)
    loaded(page)
    page.locator("#study-start").click()  # no consent: one line, the intro stays
    page.wait_for_function("() => document.querySelector('#study-status')?.innerText.includes('tick the box')")
    assert page.locator("#study-consent").is_visible() and page.locator(".error").count() == 0
    page.locator("#study-consent input").check()
    page.locator("#study-start").click()
    clicks, sources = [], set()
    for k in range(20):
        _on_question(page, k + 1)
        _no_method_named(page)
        sources.update(page.locator("video").evaluate_all("vs => vs.map(v => v.src)"))
        if k == 0:
            _videos_shown(page)
            page.screenshot(path=str(shots_dir(tmp_path) / "study-laptop.png"), full_page=True)
        if k == 2:  # a reload mid-study: same participant, same question
            page.reload()
            _on_question(page, 3)
        if k == 5:  # the server dies (SIGKILL) and comes back: same participant, same question
            server.kill()
            server.start()
            page.reload()
            _on_question(page, 6)
        choice = "left" if (k * 7) % 3 else "right"
        clicks.append(choice)
        page.locator(f"#study-vote-{choice}").click()
    page.wait_for_url(re.compile(r"completed=[A-Z2-7]{10}$"), timeout=30_000)  # taken to the completion URL with the code
    code = page.url.rsplit("=", 1)[1]
    page.wait_for_function("code => (document.querySelector('#study-done') || {}).innerText?.includes(code)", arg=code, timeout=30_000)
    votes = sorted(read_votes(data), key=lambda v: v["question_index"])
    assert [v["choice"] for v in votes] == clicks
    assert {v["participant_id"] for v in votes} == {_participant(page)}
    assert len(read_records(data, "assignments-*.jsonl")) == 1  # one person, one assignment
    assert len(sources) >= 40  # every view had its own video names
    page.reload()  # after the end, a reload shows the end again
    page.wait_for_function("() => (document.querySelector('#study-done') || {}).innerText?.includes('completion code')", timeout=30_000)
    context.close()


def test_a_phone_stacks_the_videos_and_the_labels_say_a_and_b(server, browser, tmp_path):
    phone = new_context(browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = phone.new_page()
    _start(page, server.url + "?PROLIFIC_PID=abc123&STUDY_ID=s1&SESSION_ID=x9")
    first = page.locator("#study-left-video").bounding_box()
    second = page.locator("#study-right-video").bounding_box()
    assert second["y"] >= first["y"] + first["height"] - 1  # stacked: the second video is below
    text = page.locator("#study-left-video").inner_text() + page.locator("#study-right-video").inner_text()
    assert "Video A" in text and "Video B" in text and "Left" not in text and "Right" not in text
    assert page.locator("#study-vote-left").inner_text() == "A is better"
    _videos_shown(page)
    page.screenshot(path=str(shots_dir(tmp_path) / "study-phone.png"), full_page=True)
    records = read_records(Path(server.env["STUDY_DATA_DIR"]), "assignments-*.jsonl")
    assert records[0]["recruitment"] == {"PROLIFIC_PID": "abc123", "STUDY_ID": "s1", "SESSION_ID": "x9"}
    phone.close()


def test_results_are_locked_and_the_token_is_not_kept(server, browser):
    context = new_context(browser)
    page = context.new_page()
    _start(page, server.url)
    page.locator("#study-vote-left").click()
    _on_question(page, 2)
    researcher = context.new_page()
    researcher.goto(server.url + "researcher")
    researcher.wait_for_selector("#results-status")
    assert "for researchers" in researcher.locator("#results-status").inner_text()
    with answered(researcher):  # no token: its answer lands, still locked, no numbers
        researcher.locator("#results-refresh").click()
    assert "for researchers" in researcher.locator("#results-status").inner_text()
    researcher.locator("#results-token input").fill(ADMIN)
    researcher.locator("#results-refresh").click()
    researcher.wait_for_function("() => document.querySelector('#results-status')?.innerText.includes('1 answers')", timeout=60_000)
    with researcher.expect_download() as download:
        researcher.get_by_text("Raw votes and completion codes").click()
        researcher.locator("#results-export").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["question_index"] == 0
    storage = researcher.evaluate("() => JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))")
    assert ADMIN not in storage  # not in localStorage, nor in Gradio's run history
    runs = researcher.request.get(server.url + "gradio_api/info").text()
    assert ADMIN not in runs and "export_raw" not in runs and "check_code" not in runs
    context.close()
