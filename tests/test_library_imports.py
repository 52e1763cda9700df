"""Import directions: ``dofgen`` (library and Explore tab) never imports the app's ``study``
package; ``study`` imports only the library's public modules, never a command-line module nor
the Explore tab; no two modules import each other, even through imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Library modules that are commands (their ``main`` parses a command line), or the Explore tab.
NOT_FOR_STUDY = ("dofgen.ui.explore", "dofgen.ui.models")


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(path): path for path in (ROOT / package).rglob("*.py")}


def is_command(path: Path) -> bool:
    """A module run as a command: ``__main__.py``, ``cli.py``, or one with ``if __name__ == "__main__"``."""
    text = path.read_text(encoding="utf-8")
    return path.name in ("__main__.py", "cli.py") or '__name__ == "__main__"' in text


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_study(source: str) -> bool:
    return any(within(name, "study") for name in imported_modules(source))


def test_the_check_sees_imports_at_any_depth():
    assert imports_study("def f():\n    from study.manifest import load_manifest\n")
    assert imports_study("if True:\n    import study.aggregate as a\n")
    assert imports_study("from study import OURS\n")
    assert not imports_study("import studying\nfrom dofgen.manifest import read_stimuli\nfrom . import study\n")


def test_dofgen_never_imports_study():
    library = modules("dofgen")
    assert len(library) > 20  # the walk found the library
    offenders = [name for name, path in library.items() if imports_study(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_study_imports_only_public_library_modules():
    library = modules("dofgen")
    forbidden = {name for name, path in library.items() if is_command(path) or name.rsplit(".", 1)[-1].startswith("_")}
    forbidden |= set(NOT_FOR_STUDY)
    assert "dofgen.evaluate" in forbidden and "dofgen.cli" in forbidden  # the check knows the commands
    offenders = {
        name: sorted(m for m in imported_modules(path.read_text(encoding="utf-8")) if any(within(m, f) for f in forbidden))
        for name, path in modules("study").items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_two_modules_import_each_other():
    every = modules("dofgen") | modules("study")
    imports = {name: {m for m in imported_modules(path.read_text(encoding="utf-8")) if m in every and m != name} for name, path in every.items()}
    pairs = sorted({tuple(sorted((a, b))) for a, found in imports.items() for b in found if a in imports.get(b, ()) and not within(a, b) and not within(b, a)})
    assert pairs == []
