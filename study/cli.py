"""``dofgen-study`` (or ``python -m study``): the study's commands for researchers (Section E).

- ``build``: the stimuli, one aperture-sweep video per prompt and method (``study.build``);
- ``catch``: attention checks added to a manifest (``study.catch``);
- ``aggregate``: preference rates, intervals and Figure A6 from the votes (``study.aggregate``);
- ``codes``: whose completion code this is, how they answered, and accept or review (``study.codecheck``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from study.codecheck import check_code
from study.config import StudyConfig
from study.store import VoteStore


def codes(argv: list[str] | None = None) -> int:
    """Tell a researcher whose completion code ``CODE`` is and whether to accept it; exit 0 only on "accept"."""
    parser = argparse.ArgumentParser(
        prog="dofgen-study codes", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Say whose completion code this is, how they answered (attention checks, answers faster than STUDY_MIN_VIEW_S), "
        "how often the code was checked, and a verdict: accept or review (needs the study's secret). The check is recorded.",
    )
    parser.add_argument("code", help="The completion code a participant handed in.")
    parser.add_argument("--data", type=Path, default=argparse.SUPPRESS, help="The study's data folder; unset: the configured one (STUDY_DATA_DIR, see docs/configuration.md).")
    args = parser.parse_args(argv)
    config = StudyConfig.from_env()
    report = check_code(VoteStore(getattr(args, "data", None), config=config), args.code, config.min_view_s)
    if report is None:
        print(f"{args.code}: not a completion code of this study")
        return 1
    print(f"{args.code}: {report.text()}")
    return 0 if report.verdict == "accept" else 1


def main(argv: list[str] | None = None) -> int:
    """Run one of the study's commands: ``dofgen-study {build,catch,aggregate,codes} ...``."""
    from study import aggregate, build, catch

    commands = {"build": build.main, "catch": catch.main, "aggregate": aggregate.main, "codes": codes}
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if argv[0] not in commands:
        print(f"dofgen-study: unknown command {argv[0]!r}\n\n{__doc__.strip()}", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
