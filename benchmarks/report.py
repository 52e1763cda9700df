"""Print a benchmark's Markdown and append it to a results file."""

from __future__ import annotations

from pathlib import Path


def report(text: str, out: Path | None) -> None:
    """Print ``text``; when ``out`` is given, append it there after a blank line."""
    print(text)
    if out:
        with out.open("a") as handle:
            handle.write("\n" + text)


def report_section(text: str, out: Path | None, heading: str) -> None:
    """Print ``text`` (which starts with ``heading``); when ``out`` is given, replace the
    section under ``heading`` there (up to the next ``## `` heading), or append it."""
    print(text)
    if not out:
        return
    old = out.read_text() if out.exists() else ""
    start = old.find(heading + "\n")
    if start < 0:
        out.write_text(old.rstrip("\n") + "\n\n" + text)
        return
    end = old.find("\n## ", start + len(heading))
    rest = old[end + 1 :] if end >= 0 else ""
    out.write_text(old[:start] + text + ("\n" + rest if rest else ""))
