"""The study's red-team pass: 50 participants voting at once through the page's own API,
the server SIGKILLed mid-run, started again, everyone resumed to the end.

Run by hand from the repository root: ``python -m benchmarks.bench_study [--participants 50] [--out
benchmarks/RESULTS.md]``.
Launches the app (``STUDY_ONLY=1``) in its own process on localhost with a 25-prompt x
7-method manifest of tiny videos and a fresh data folder; each participant is a
``gradio_client`` session (threads of this process, files not downloaded). Reports what
was acknowledged before the kill and lost, duplicates, wrong resumes, assignments, the
baseline balance, blinding (video names shown in more than one view; the partner-count
guess of which side is ours), and the time from a vote to the next question.
"""

from __future__ import annotations

import datetime
import statistics
import tempfile
from pathlib import Path

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from tests.support.study_helpers import write_manifest
from tests.support.study_server import StudyServer, red_team


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_study", description=__doc__)
    parser.add_argument("--participants", type=int, default=50, help="Participants voting at once.")
    parser.add_argument("--out", type=Path, help="Markdown file to append the table to (default: print only).")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    env = {"STUDY_MANIFEST": str(write_manifest(folder / "stimuli", prompts=25)), "STUDY_DATA_DIR": str(folder / "data"),
           "STUDY_ONLY": "1", "STUDY_NEW_PARTICIPANTS": f"{args.participants * 2}/60"}
    server = StudyServer(env).start()
    try:
        found = red_team(server, args.participants)
    finally:
        server.kill()
    latencies = found["latency"]
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    lines = [
        f"### Study red team: {args.participants} participants, SIGKILL mid-run, restart — {datetime.date.today().isoformat()}",
        "",
        f"Machine: {machine('cpu')}; app and clients on the same machine (localhost), `STUDY_ONLY=1`.",
        "",
        "| participants | acknowledged before the kill | lost | duplicates | stored | complete | assignments | wrong resumes | baseline spread | views | names in 2+ views | 'ours' guessed right | p50 vote → next (s) | p99 (s) | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {args.participants} | {found['acknowledged_at_kill']} | {found['lost']} | {found['duplicates']} | {found['stored']} | {found['complete']} | "
        f"{found['assignments']} | {found['wrong_resume']} of {found['resumed']} | {found['baseline_spread']} | {found['views']} | {found['shared_names']} | "
        f"{found['inferred']:.1%} | {statistics.median(latencies):.3f} | {p99:.3f} | {found['wall_s']:.1f} |",
        "",
        f"{found['started']} of {args.participants} had answered two questions when the server was killed; "
        f"client-side errors (the kill cutting calls): {dict(found['errors']) or 'none'}.",
    ]
    report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
