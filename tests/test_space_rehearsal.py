"""A Space rehearsal: ``app.py`` started as a Space starts it (``SYSTEM=spaces``, ``SPACE_ID``,
``GRADIO_SERVER_NAME=0.0.0.0``, port 7860, a persistent data folder, ``STUDY_ONLY=1``, votes
synced to a Hub dataset), stopped with SIGTERM mid-study as a Space restart stops it, and
started again: the participant resumes on the same question, and the Hub (a local stand-in
for ``HfApi``) has every vote.

Port 7860 is used when it is free; when it is taken (another app on this machine), a free
port, and the test says so on its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from dofgen.ui.server import port_free
from study.store import read_records, read_votes
from tests.support.study_helpers import write_manifest
from tests.support.study_server import API, DONE, INDEX, TOKEN, free_port

ROOT = Path(__file__).resolve().parent.parent
#: ``python app.py``, with ``huggingface_hub.HfApi`` replaced by the local stand-in first.
LAUNCH = (
    "import runpy, sys; from tests.support.local_hub import install; install(sys.argv[1]); "
    "runpy.run_path('app.py', run_name='__main__')"
)


def _answers(url: str, timeout: float) -> bool:
    """Wait until the app answers at ``url`` (its launch returns only once it serves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=5):
                return True
        except OSError:
            time.sleep(0.2)  # a retry interval while the port opens, not a wait for an outcome
    return False


class Space:
    """``python app.py`` in the Space's environment."""

    def __init__(self, tmp: Path, port: int) -> None:
        self.hub = tmp / "hub"
        self.url = f"http://127.0.0.1:{port}/"
        self.env = {
            **os.environ, "SYSTEM": "spaces", "SPACE_ID": "lab/dofgen-study", "GRADIO_SERVER_NAME": "0.0.0.0",
            "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "STUDY_ONLY": "1",
            "STUDY_DATA_DIR": str(tmp / "data"), "STUDY_MANIFEST": str(write_manifest(tmp / "stimuli", prompts=5)),
            "STUDY_DATASET_REPO": "lab/dofgen-votes", "HF_TOKEN": "hf_stand_in", "STUDY_SYNC_SECONDS": "3600",
            "STUDY_SECRET": "from-the-space-settings-0123456789abcdef",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Space:
        self.process = subprocess.Popen([sys.executable, "-c", LAUNCH, str(self.hub)], cwd=ROOT, env=self.env)
        assert _answers(self.url, 300) and self.process.poll() is None, "the app did not start"
        return self

    def terminate(self) -> int:
        """SIGTERM, as a Space restart sends it; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)


@pytest.mark.slow
def test_a_space_restart_mid_study_loses_nothing(tmp_path, capsys):
    from gradio_client import Client

    port = 7860 if port_free(7860) and port_free(7860, "127.0.0.1") else free_port()
    if port != 7860:
        with capsys.disabled():
            print(f"\n[space rehearsal] port 7860 is taken on this machine; rehearsing on {port}")
    space = Space(tmp_path, port).start()
    try:
        client = Client(space.url, verbose=False, download_files=False)
        screen = client.predict("", True, api_name="/begin")
        token = screen[TOKEN]
        assert read_records(tmp_path / "data", "assignments-*.jsonl"), "another app answered on the port"
        for _ in range(3):
            screen = client.predict(token, screen[INDEX], api_name="/vote_left")
        assert screen[INDEX] == "3"
        huge = httpx.post(space.url + "gradio_api/upload", files={"files": ("big.mp4", b"\0" * (40 * 2**20))}, timeout=120)
        assert huge.status_code == 413  # refused, and the app serves on
        assert read_votes(space.hub / "lab/dofgen-votes") == []  # the next scheduled commit is an hour away
        space.terminate()
        local = read_votes(tmp_path / "data")
        assert len(local) == 3 and sorted(v["vote_id"] for v in read_votes(space.hub / "lab/dofgen-votes")) == sorted(v["vote_id"] for v in local)

        space.start()  # at once, on the same port
        client = Client(space.url, verbose=False, download_files=False)
        resumed = client.predict(token, api_name="/resume")
        assert resumed[INDEX] == "3" and not resumed[DONE] and len(resumed) == len(API)
        client.predict(token, "3", api_name="/vote_right")
        space.terminate()
        assert len(read_votes(space.hub / "lab/dofgen-votes")) == 4 == len(read_votes(tmp_path / "data"))
    finally:
        space.kill()
