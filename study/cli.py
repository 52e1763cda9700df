"""``dofgen-study`` (or ``python -m study``): the study's commands for researchers (Section E).

- ``build``: the stimuli, one aperture-sweep video per prompt and method (``study.build``);
- ``catch``: attention checks added to a manifest (``study.catch``);
- ``aggregate``: preference rates, intervals and Figure A6 from the votes (``study.aggregate``);
- ``codes``: whose completion code this is, and whether they finished.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from study.store import VoteStore


def codes(argv: list[str] | None = None) -> int:
    """Tell a researcher whose completion code ``CODE`` is; exit 0 only for a finished participant."""
    parser = argparse.ArgumentParser(
        prog="dofgen-study codes", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Say whose completion code this is and how many answers they gave (needs the study's secret).",
    )
    parser.add_argument("code", help="The completion code a participant handed in.")
    parser.add_argument("--data", type=Path, default=argparse.SUPPRESS, help="The study's data folder; unset: the configured one (STUDY_DATA_DIR, see docs/configuration.md).")
    args = parser.parse_args(argv)
    report = VoteStore(getattr(args, "data", None)).verify(args.code)
    if report is None:
        print(f"{args.code}: not a completion code of this study")
        return 1
    print(f"{args.code}: participant {report['participant_id']}, {report['answered']} of {report['questions']} answered, "
          f"recruitment {report['recruitment']}, complete={report['complete']}")
    return 0 if report["complete"] else 1


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
