"""Print a benchmark's Markdown and append it to a results file."""

from __future__ import annotations

from pathlib import Path


def report(text: str, out: Path | None) -> None:
    """Print ``text``; when ``out`` is given, append it there after a blank line."""
    print(text)
    if out:
        with out.open("a") as handle:
            handle.write("\n" + text)
