"""The Study and Results tabs: handlers, blinding, simulated participants over the API."""

import json
import re
import threading
import urllib.request

import gradio as gr
import pytest
from gradio_client import Client

from app import build_app, launch
from dofgen.ui import study as study_ui
from dofgen.ui.results import export_raw, results
from dofgen.ui.study import StudyService, begin, completion_code, resume, vote_left, vote_right
from study import BASELINES, CONTROLS, OURS
from study.store import read_votes

from study_helpers import write_manifest

METHOD_IDS = (OURS, *BASELINES, *CONTROLS)


@pytest.fixture()
def study(tmp_path, monkeypatch):
    service = StudyService(write_manifest(tmp_path / "stimuli", prompts=5), tmp_path / "data")
    monkeypatch.setattr(study_ui, "_SERVICE", service)
    return service


def _names_a_method(text: str) -> list[str]:
    return [m for m in METHOD_IDS if re.search(rf"(?<![A-Za-z0-9]){re.escape(m)}(?![A-Za-z0-9])", text)]


def test_a_participant_answers_twenty_questions(study):
    first = resume(None)
    assert first[2]["visible"] is True and first[1] is None  # the instructions first
    with pytest.raises(gr.Error, match="agree"):
        begin("", False)
    screen = begin("", True)
    participant = screen[0]
    assert "Question 1 of 20" in screen[6] and screen[9] == 0
    clicks = []
    for k in range(20):
        choice = "left" if k % 3 else "right"
        clicks.append(choice)
        screen = (vote_left if choice == "left" else vote_right)(screen[1], screen[9])
        if k < 19:
            assert f"Question {k + 2} of 20" in screen[6]
    assert screen[4]["visible"] is True and completion_code(participant) in screen[10]
    votes = sorted(read_votes(study.store.folder), key=lambda v: v["question_index"])
    assert [v["choice"] for v in votes] == clicks
    assert resume(participant)[4]["visible"] is True  # a refresh after the end shows the end


def test_a_refresh_resumes_and_a_double_click_counts_once(study):
    screen = begin("", True)
    screen = vote_left(screen[1], screen[9])
    again = vote_left(begin(screen[0], True)[1], 0)  # a stale second click on question 1
    assert again[9] == 1 and len(read_votes(study.store.folder)) == 1
    resumed = resume(screen[0])
    assert resumed[9] == 1 and "Question 2 of 20" in resumed[6]
    with pytest.raises(gr.Error, match="not stored"):
        vote_left(screen[1], 57)


def test_fewer_pairs_are_said_on_screen(tmp_path, monkeypatch):
    service = StudyService(write_manifest(tmp_path / "s", prompts=2, baselines=BASELINES[:3]), tmp_path / "d")
    monkeypatch.setattr(study_ui, "_SERVICE", service)
    assert "Question 1 of 6** (this study has 6 questions)" in begin("", True)[6]


def test_a_broken_manifest_is_said_and_nothing_breaks(tmp_path, monkeypatch):
    (tmp_path / "bad.jsonl").write_text('{"prompt_id": "p"}\n')
    monkeypatch.setattr(study_ui, "_SERVICE", StudyService(tmp_path / "bad.jsonl", tmp_path / "d"))
    assert "not running" in resume(None)[5]
    with pytest.raises(gr.Error, match="not running"):
        begin("", True)


def test_results_and_raw_export(study, monkeypatch):
    screen = begin("", True)
    for _ in range(20):
        screen = vote_left(screen[1], screen[9])
    table, plot, chart, files = results()
    assert table.set_index("baseline").loc["overall", "votes"] == 20 and len(files) == 2
    monkeypatch.delenv("STUDY_ADMIN_TOKEN", raising=False)
    with pytest.raises(gr.Error, match="off"):
        export_raw("anything")
    monkeypatch.setenv("STUDY_ADMIN_TOKEN", "s3cret-token")
    with pytest.raises(gr.Error, match="not right"):
        export_raw("guess")
    lines = open(export_raw("s3cret-token")).read().splitlines()
    assert len(lines) == 20 and json.loads(lines[0])["participant_id"] == screen[0]


def test_blinding_and_simulated_participants_over_the_api(study):
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        seen = []
        with urllib.request.urlopen(demo.local_url) as page:
            seen.append(page.read().decode())
        with urllib.request.urlopen(demo.local_url.rstrip("/") + "/config") as config:
            seen.append(config.read().decode())  # the whole page's layout, labels and ids
        errors, lock = [], threading.Lock()

        def participant(n: int) -> None:
            try:
                client = Client(demo.local_url, verbose=False)
                out = client.predict("", True, api_name="/begin")
                for k in range(20):
                    with lock:
                        seen.append(json.dumps(out, default=str))
                    out = client.predict(out[5], api_name="/vote_left" if (k + n) % 2 else "/vote_right")
                with lock:
                    seen.append(json.dumps(out, default=str))
            except Exception as error:  # collected, reported below
                errors.append(repr(error))

        threads = [threading.Thread(target=participant, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []
        votes = read_votes(study.store.folder)
        assert len(votes) == 8 * 20 and len({(v["participant_id"], v["question_index"]) for v in votes}) == 160
        leaks = {m for text in seen for m in _names_a_method(text)}
        assert leaks == set(), f"the study tab sent method ids to the browser: {leaks}"
        assert any(".mp4" in text for text in seen)  # the videos were among what was checked
    finally:
        demo.close()
