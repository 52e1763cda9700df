"""The app in its own process (so a test can SIGKILL it and start it again on the same data)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "from app import build_app, launch; launch(build_app(), server_name='127.0.0.1', server_port={port}, quiet=True)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StudyServer:
    """``python app.py`` with a study environment; ``kill`` is SIGKILL, ``start`` starts it again."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **env}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> StudyServer:
        self.process = subprocess.Popen([sys.executable, "-c", SERVER.format(port=self.port)], cwd=ROOT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError("the app did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)

    def __enter__(self) -> StudyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
