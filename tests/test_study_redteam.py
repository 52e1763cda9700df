"""The red-team pass as a test: 8 concurrent voters through the page's own API, the server
SIGKILLed mid-run and started again on the same data folder (50 voters:
``benchmarks/bench_study.py``).

Checks: no acknowledged vote lost, no duplicate, everyone resumes on the question the server
had on screen and finishes with one assignment, balancing intact, and blinding: no video
name is shared across participants or questions, so the partner-count inference that found
"ours" in 1000 of 1000 questions is at chance.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from gradio_client import Client

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
