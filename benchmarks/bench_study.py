"""50 simulated participants voting at once: time from a vote to the next question.

Run by hand: ``python benchmarks/bench_study.py [--participants 50] [--out benchmarks/RESULTS.md]``.
Launches the app in its own process on localhost with a 25-prompt x 7-method manifest of
tiny videos and a fresh data folder; each participant is a ``gradio_client`` session (in
threads of this process, files not downloaded) that starts and answers 20 questions as fast
as the server lets it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from study_helpers import write_manifest  # noqa: E402

from benchmarks.bench_lens import machine  # noqa: E402
from benchmarks.report import report  # noqa: E402
from study.store import read_votes  # noqa: E402

SERVER = "from app import build_app, launch; launch(build_app(), server_name='127.0.0.1', server_port={port}, quiet=True)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from gradio_client import Client

    folder = Path(tempfile.mkdtemp())
    env = dict(os.environ, STUDY_MANIFEST=str(write_manifest(folder / "stimuli", prompts=25)), STUDY_DATA_DIR=str(folder / "data"))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port)], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            Client(url, verbose=False)
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(1)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def participant(n: int) -> None:
        try:
            client = Client(url, verbose=False, download_files=False)
            out = client.predict("", True, api_name="/begin")
            for k in range(20):
                start = time.perf_counter()
                out = client.predict(out[5], api_name="/vote_left" if (n + k) % 2 else "/vote_right")
                with lock:
                    latencies.append(time.perf_counter() - start)
        except Exception as error:  # reported in the table
            errors.append(repr(error))

    threads = [threading.Thread(target=participant, args=(n,)) for n in range(args.participants)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    stored = len(read_votes(folder / "data"))
    server.terminate()
    server.wait()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    lines = [
        f"### Study: {args.participants} participants voting at once — {datetime.date.today().isoformat()}",
        "",
        f"Machine: {machine('cpu')}; app and clients on the same machine (localhost).",
        "",
        "| participants | votes sent | votes stored | errors | p50 vote → next question (s) | p99 (s) | wall (s) |",
        "|---|---|---|---|---|---|---|",
        f"| {args.participants} | {len(latencies)} | {stored} | {len(errors)} | {statistics.median(latencies):.3f} | {p99:.3f} | {wall:.1f} |",
    ]
    report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
