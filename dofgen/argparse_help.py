"""What the command lines of dofgen, its benchmarks and its scripts share.

Help shows each flag's default (``argparse.ArgumentDefaultsHelpFormatter``), except where the
default says nothing (None, False) or the help names it already; a description keeps its
line breaks, so a module docstring reads as written. :class:`TerseParser` reports a bad flag
in one line.
"""

from __future__ import annotations

import argparse
import sys


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help (when they say something), descriptions as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "%(default)" in text or "default:" in text:
            return text
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with :class:`HelpFormatter` (and so its subcommands' parsers)."""

    def __init__(self, *args, formatter_class: type[argparse.HelpFormatter] = HelpFormatter, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


class TerseParser(ArgumentParser):
    """Bad flags: one line on stderr (no usage), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def summary(doc: str) -> str:
    """The first paragraph of a docstring on one line: a whole sentence for a short help."""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())
