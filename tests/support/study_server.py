"""The app in its own process (so a test can SIGKILL it and start it again on the same data)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The app, launched; once it answers (Gradio's launch returns only then) it writes a line to
#: the pipe ``{ready}`` and serves until killed.
SERVER = (
    "import os; from app import build_app, launch; "
    "demo = launch(build_app(), server_name='127.0.0.1', server_port={port}, quiet=True, prevent_thread_lock=True); "
    "os.write({ready}, b'ready\\n'); os.close({ready}); demo.block_thread()"
)


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
        """Start the app and wait for its ready line (no polling); then check it answers."""
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVER.format(port=self.port, ready=write)], cwd=ROOT, env=self.env, pass_fds=[write]
            )
        finally:
            os.close(write)  # the child holds the only write end: its exit ends the read
        try:
            if not select.select([read], [], [], timeout)[0]:
                self.kill()
                raise TimeoutError("the app did not start")
            if not os.read(read, 16).startswith(b"ready"):
                self.process.wait(timeout=60)
                raise RuntimeError(f"the app exited with {self.process.returncode}")
        finally:
            os.close(read)
        with urllib.request.urlopen(self.url + "gradio_api/info", timeout=30):
            return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)

    def __enter__(self) -> StudyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


#: Outputs of /begin, /resume and /vote_* as the API returns them (layout columns carry no value).
API = ("token", "status", "progress", "left", "right", "shown_index", "notice", "done_text", "completion_url")
TOKEN, LEFT, RIGHT, INDEX, DONE = (API.index(n) for n in ("token", "left", "right", "shown_index", "done_text"))


def voter(url: str, n: int, log: dict, started=None, state: dict | None = None) -> None:
    """One participant through the page's API: begin (or resume ``state``) and answer until
    done; each acknowledged vote, each view's video names and the latency are logged. A
    killed server ends the voter (what was acknowledged counts)."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, download_files=False, httpx_kwargs={"timeout": 300})
        out = client.predict(state["token"], api_name="/resume") if state else client.predict("", True, api_name="/begin")
        for k in range(100):
            if out[DONE]:
                break
            token, index = out[TOKEN], int(out[INDEX])
            log["seen"].append((token.split(".")[0], index, out[LEFT]["url"].rsplit("/", 1)[-1], out[RIGHT]["url"].rsplit("/", 1)[-1]))
            if started is not None and k == 2:
                started.set()
            start = time.perf_counter()
            out = client.predict(token, str(index), api_name="/vote_left" if (n + k) % 2 else "/vote_right")
            log["latency"].append(time.perf_counter() - start)
            log["acknowledged"].append((token.split(".")[0], index))  # the screen moved on: the vote is stored
            log["tokens"][n] = token
    except Exception as error:  # the server was killed under it
        log["errors"].append(type(error).__name__)


class _Both:
    """Sets two events at once."""

    def __init__(self, *events) -> None:
        self.events = events

    def set(self) -> None:
        for event in self.events:
            event.set()


def red_team(server: StudyServer, voters: int) -> dict:
    """``voters`` concurrent participants; SIGKILL once each has answered two questions;
    restart; every one resumes and finishes. Returns what the checks need (see keys)."""
    import collections
    import threading

    from gradio_client import Client

    from study.store import VoteStore, read_records, read_votes

    data = Path(server.env["STUDY_DATA_DIR"])
    log = {"seen": [], "acknowledged": [], "latency": [], "tokens": {}, "errors": []}
    started = [threading.Event() for _ in range(voters)]
    ready = [threading.Event() for _ in range(voters)]  # started, or the voter has ended

    def first_voter(n: int) -> None:
        try:
            voter(server.url, n, log, _Both(started[n], ready[n]))
        finally:
            ready[n].set()

    wall = time.perf_counter()
    threads = [threading.Thread(target=first_voter, args=(n,)) for n in range(voters)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    for event in ready:
        event.wait(max(0.0, deadline - time.monotonic()))
    server.kill()
    for thread in threads:
        thread.join(120)
    acknowledged_at_kill = set(log["acknowledged"])
    stored = [(v["participant_id"], v["question_index"]) for v in read_votes(data)]
    server.start()
    client = Client(server.url, verbose=False, download_files=False, httpx_kwargs={"timeout": 300})
    wrong_resume = 0
    for n, token in log["tokens"].items():
        participant = token.split(".")[0]
        expected = 1 + max(i for p, i in stored if p == participant)
        resumed = client.predict(token, api_name="/resume")
        wrong_resume += (bool(resumed[DONE]) != (expected == 20)) or (expected < 20 and int(resumed[INDEX]) != expected)
    threads = [threading.Thread(target=voter, args=(server.url, n, log, None, {"token": t})) for n, t in log["tokens"].items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    wall = time.perf_counter() - wall
    votes = read_votes(data)
    keys = [(v["participant_id"], v["question_index"]) for v in votes]
    store = VoteStore(data)
    per_baseline = collections.Counter()
    for (_, baseline), count in store.shown_counts().items():
        per_baseline[baseline] += count
    views = collections.defaultdict(set)  # file name -> views it was shown in
    partners = collections.defaultdict(set)  # file name -> names it was paired with
    for participant, index, left, right in log["seen"]:
        for name, other in ((left, right), (right, left)):
            views[name].add((participant, index))
            partners[name].add(other)
    methods = {(r["participant_id"], q["index"]): q["left_method"] for r in read_records(data, "assignments-*.jsonl") for q in r["questions"]}
    guesses = [(len(partners[l]) > len(partners[r])) if len(partners[l]) != len(partners[r]) else (hash((l, r)) % 2 == 0)
               for _, _, l, r in log["seen"]]
    truth = [methods[p, i] == "ours" for p, i, _, _ in log["seen"]]
    return {
        "voters": voters,
        "acknowledged_at_kill": len(acknowledged_at_kill),
        "lost": len(acknowledged_at_kill - set(stored)) + len(set(log["acknowledged"]) - set(keys)),
        "duplicates": len(keys) - len(set(keys)),
        "stored": len(set(keys)),
        "complete": sum(1 for c in collections.Counter(p for p, _ in keys).values() if c == 20),
        "assignments": len(read_records(data, "assignments-*.jsonl")),
        "wrong_resume": wrong_resume,
        "resumed": len(log["tokens"]),
        "baseline_spread": max(per_baseline.values()) - min(per_baseline.values()),
        "shared_names": sum(1 for v in views.values() if len(v) > 1),
        "views": len({(p, i) for p, i, _, _ in log["seen"]}),
        "inferred": sum(g == t for g, t in zip(guesses, truth)) / max(1, len(truth)),
        "errors": collections.Counter(log["errors"]),
        "started": sum(e.is_set() for e in started),
        "latency": sorted(log["latency"]),
        "wall_s": wall,
    }
