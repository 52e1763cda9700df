"""Issue 33's red team at scale: can a participant (or a client pooling participants) tell
which side is ours from the videos themselves, can one client mint participants by rotating
X-Forwarded-For, and does a reused completion code show its use?

Run by hand from the repository root: ``nice -n 10 python -m benchmarks.bench_study_linkage
[--participants 40] [--out benchmarks/RESULTS.md]``. Launches the app (``STUDY_ONLY=1``) in
its own process on a 25-prompt x 7-method manifest whose videos each have a picture of their
own; every participant (one client, localhost) downloads both videos of each question before
answering. The recurrence rule ("the video that recurs is ours", ``tests.support.study_linkage``)
is scored by the hash of the compressed samples (``bytes``) and by the decoded picture
(``pixels``), from one's own session (all of it, or only earlier questions) and pooling k
sessions. Then 30 starts from the same client with a new X-Forwarded-For each, and one code
checked twice with ``python -m study codes``.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from study import BASELINES
from study.store import read_records
from tests.support.study_linkage import PixelKeys, distinct_manifest, pooled, rule, session, truth
from tests.support.study_server import StudyServer

ROOT = Path(__file__).resolve().parent.parent


def _row(name: str, scored: dict) -> str:
    return f"| {name} | {scored['right']:.1%} | {scored['decided']} of {scored['questions']} | {scored['wrong']} |"


def _attack(server: StudyServer, participants: int, folder: Path) -> tuple[list[list], list[str], list[str]]:
    pixels, sessions, codes = PixelKeys(), [], []
    for _ in range(participants):
        views, done = session(server.url, folder, pixels)
        sessions.append(views)
        codes.append(done.split("**")[-2] if "**" in done else "")
    minted = {httpx.post(server.url + "gradio_api/run/begin", json={"data": ["", True]}, headers={"x-forwarded-for": f"203.0.113.{n}"},
                         timeout=60).json()["data"][0] for n in range(30)} - {""}
    checks = [subprocess.run([sys.executable, "-m", "study", "codes", codes[0], "--data", server.env["STUDY_DATA_DIR"]], cwd=ROOT,
                             capture_output=True, text=True).stdout.strip() for _ in range(2)]
    return sessions, [str(len(minted))], checks


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_study_linkage", description=__doc__)
    parser.add_argument("--participants", type=int, default=40, help="Participants, one after another, all from this client.")
    parser.add_argument("--out", type=Path, help="Markdown file to append the tables to (default: print only).")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    env = {"STUDY_MANIFEST": str(distinct_manifest(folder / "stimuli", prompts=25, baselines=BASELINES)), "STUDY_DATA_DIR": str(folder / "data"),
           "STUDY_ONLY": "1", "STUDY_NEW_PARTICIPANTS": f"{args.participants + 5}/3600"}
    (folder / "files").mkdir()
    server = StudyServer(env).start()
    try:
        sessions, minted, checks = _attack(server, args.participants, folder / "files")
    finally:
        server.kill()
    assignments = read_records(folder / "data", "assignments-*.jsonl")
    truth([v for s in sessions for v in s], assignments)
    repeats = [len(r["questions"]) - len({q["prompt_id"] for q in r["questions"]}) for r in assignments[: args.participants]]
    lines = [
        f"### Content linkage, forged addresses, code reuse: {args.participants} participants — {datetime.date.today().isoformat()}",
        "", f"Machine: {machine('cpu')}; app and participants on the same machine (localhost), `STUDY_ONLY=1`, "
        f"{os.getloadavg()[0]:.1f} load average at the end.", "",
        f"Prompts shown twice or more to one participant: {sum(r > 0 for r in repeats)} of {len(repeats)} participants, "
        f"{sum(repeats) / max(1, len(repeats)):.1f} repeats on average ({dict(sorted(Counter(repeats).items()))}).", "",
        "| rule | right | decided | wrong calls |", "|---|---|---|---|",
    ]
    for key in ("bytes", "pixels"):
        lines.append(_row(f"{key}, own session", _total([rule(s, s, key) for s in sessions])))
        lines.append(_row(f"{key}, own earlier questions", _total([rule(s, s, key, earlier_only=True) for s in sessions])))
        for k in (2, 5, args.participants):
            lines.append(_row(f"{key}, {k} sessions pooled", pooled(sessions, k, key)))
    lines += ["", f"30 starts from this client, each with a new X-Forwarded-For, after the {args.participants} participants "
              f"(limit {args.participants + 5}): {minted[0]} new participants.", "",
              "One completion code checked twice (`python -m study codes`), the second answer:", "", "```", checks[1], "```"]
    report("\n".join(lines) + "\n", args.out)


def _total(scores: list[dict]) -> dict:
    questions = sum(s["questions"] for s in scores)
    return {"right": sum(s["right"] * s["questions"] for s in scores) / max(1, questions), "decided": sum(s["decided"] for s in scores),
            "wrong": sum(s["wrong"] for s in scores), "questions": questions}


if __name__ == "__main__":
    main()
