"""Soak: the whole app (Explore, Study, Results) in its own process, driven through its own API
by slider renders, abandoned study participants and uploads, with its disk and memory
recorded every 1,000 events. The target: flat, at most 200 MB of disk growth and 300 MB of
RSS growth.

Run by hand from the repository root: ``nice -n 10 python -m benchmarks.bench_soak [--renders
10000] [--participants 500] [--uploads 50] [--out benchmarks/RESULTS.md]``.

The scene is a small photo (96 x 64 px, with its depth map), so that 10,000 renders take
minutes: the cache files are small, what counts is that they do not pile up. The cache age
(``DOFGEN_CACHE_MAX_AGE_S``) and the view expiry (``STUDY_VIEW_EXPIRY_S``) are scaled down
(``--max-age``, 30 s; 900 s and 1,800 s in the app) so that minutes stand for hours. The
server's temp folder (``TMPDIR``: Gradio's cache and uploads, the app's files, the study's
view copies) and its study data folder are what "disk" measures; RSS is the server process's.
Oversize request bodies (30 MB) are sent alongside the uploads, and each must be refused
(413).
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from tests.support.study_helpers import write_manifest
from tests.support.study_server import StudyServer

LENS = ("Circle", 0.0, "Ours (layered)")
OVERSIZE_BYTES = 30 * 2**20


def _disk_mb(*folders: Path) -> tuple[float, int]:
    """Megabytes and files under ``folders``."""
    sizes = [p.stat().st_size for folder in folders for p in folder.rglob("*") if p.is_file()]
    return sum(sizes) / 2**20, len(sizes)


class Soak:
    """The server, its clients and the table of samples."""

    def __init__(self, root: Path, max_age_s: int) -> None:
        from gradio_client import Client

        self.tmp, self.data = root / "tmp", root / "data"
        self.tmp.mkdir(parents=True)
        env = {
            "TMPDIR": str(self.tmp), "STUDY_DATA_DIR": str(self.data), "STUDY_ONLY": "",
            "STUDY_MANIFEST": str(write_manifest(root / "stimuli", prompts=25)), "STUDY_NEW_PARTICIPANTS": "1000000/1",
            "DOFGEN_SALIENCY": "spectral", "DOFGEN_CACHE_MAX_AGE_S": str(max_age_s), "STUDY_VIEW_EXPIRY_S": str(max_age_s),
        }
        self.server = StudyServer(env).start(timeout=600)
        self.process = psutil.Process(self.server.process.pid)
        self.explore = Client(self.server.url, verbose=False, download_files=False)
        self.study = Client(self.server.url, verbose=False, download_files=False)
        self.photo, self.depth = root / "photo.jpg", root / "depth.npy"
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(self.photo)
        np.save(self.depth, np.tile(np.linspace(1.0, 6.0, 96, dtype=np.float32), (64, 1)))
        self.rows: list[tuple] = []
        self.refused: list[int] = []
        self.start = time.perf_counter()

    def upload(self) -> None:
        from gradio_client import handle_file

        self.explore.predict(handle_file(str(self.photo)), handle_file(str(self.depth)), api_name="/use_photo")

    def oversize(self) -> None:
        answer = httpx.post(self.server.url + "gradio_api/upload", content=b"\0" * OVERSIZE_BYTES, headers={"content-type": "multipart/form-data; boundary=x"}, timeout=120)
        self.refused.append(answer.status_code)

    def render(self, k: int) -> None:
        self.explore.predict(1.4 + (k % 200) * 0.1, 50, False, 2.0, *LENS, api_name="/refocus_view")

    def participant(self) -> None:
        self.study.predict("", True, api_name="/begin")  # consents, sees a question, never answers

    def sample(self, events: int) -> None:
        mb, files = _disk_mb(self.tmp, self.data)
        self.rows.append((events, time.perf_counter() - self.start, mb, files, self.process.memory_info().rss / 2**20))
        print(f"{events:6d} events  {self.rows[-1][1]:7.0f} s  disk {mb:7.1f} MB in {files} files  RSS {self.rows[-1][4]:7.1f} MB", flush=True)


def run(soak: Soak, renders: int, participants: int, uploads: int) -> None:
    """Interleave the events evenly; sample every 1,000 (and at the start and the end). Each
    of the first five uploads comes with an oversize body."""
    total = renders + participants + uploads
    due = sorted((round((i + 0.5) * total / count), kind) for kind, count in (("participant", participants), ("upload", uploads)) for i in range(count))
    soak.upload()  # the session's scene
    soak.sample(0)
    done_renders = 0
    for event in range(1, total + 1):
        if due and due[0][0] <= event:
            kind = due.pop(0)[1]
            if kind == "participant":
                soak.participant()
            else:
                soak.upload()
                if len(soak.refused) < 5:
                    soak.oversize()
        else:
            soak.render(done_renders)
            done_renders += 1
        if event % 1000 == 0 or event == total:
            soak.sample(event)


def table(soak: Soak, args) -> str:
    first, last = soak.rows[0], soak.rows[-1]
    peak_disk = max(r[2] for r in soak.rows) - first[2]
    peak_rss = max(r[4] for r in soak.rows) - first[4]
    lines = [
        f"### Soak: {args.renders} slider renders, {args.participants} abandoned participants, {args.uploads} uploads — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine('cpu')}, load average {os.getloadavg()[0]:.1f} at the end (other agents' tests on the same cores). "
        f"The whole app in its own process on localhost; a 96 x 64 px photo as the scene; cache age and view expiry scaled "
        f"to {args.max_age} s (900 s and 1,800 s in the app). Oversize 30 MB bodies answered: {soak.refused}.",
        "",
        "| events | seconds | disk (MB) | files | server RSS (MB) |",
        "|---|---|---|---|---|",
        *(f"| {e} | {s:.0f} | {mb:.1f} | {files} | {rss:.0f} |" for e, s, mb, files, rss in soak.rows),
        "",
        f"Growth from the first sample: disk {last[2] - first[2]:+.1f} MB at the end (peak {peak_disk:+.1f} MB; target at most 200), "
        f"RSS {last[4] - first[4]:+.0f} MB at the end (peak {peak_rss:+.0f} MB; target at most 300).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_soak", description=__doc__)
    parser.add_argument("--renders", type=int, default=10_000, help="Slider renders (/refocus_view).")
    parser.add_argument("--participants", type=int, default=500, help="Study participants who start and never answer.")
    parser.add_argument("--uploads", type=int, default=50, help="Photo and depth-map uploads (/use_photo).")
    parser.add_argument("--max-age", type=int, default=30, help="Cache age and view expiry, seconds (scaled down from the app's).")
    parser.add_argument("--out", type=Path, help="Markdown file to append the table to (default: print only).")
    args = parser.parse_args()
    soak = Soak(Path(tempfile.mkdtemp(prefix="dofgen-soak-")), args.max_age)
    try:
        run(soak, args.renders, args.participants, args.uploads)
    finally:
        soak.server.kill()
    report(table(soak, args), args.out)


if __name__ == "__main__":
    main()
