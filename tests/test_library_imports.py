"""The library (``dofgen/`` outside ``dofgen/ui/``) never imports the app's ``study`` package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_study(source: str) -> bool:
    return any(name == "study" or name.startswith("study.") for name in imported_modules(source))


def test_the_check_sees_imports_at_any_depth():
    assert imports_study("def f():\n    from study.manifest import load_manifest\n")
    assert imports_study("if True:\n    import study.aggregate as a\n")
    assert imports_study("from study import OURS\n")
    assert not imports_study("import studying\nfrom dofgen.manifest import read_stimuli\nfrom . import study\n")


def test_library_modules_do_not_import_study():
    library = [path for path in (ROOT / "dofgen").rglob("*.py") if "ui" not in path.relative_to(ROOT / "dofgen").parts[:1]]
    assert len(library) > 20  # the walk found the library
    offenders = [str(path.relative_to(ROOT)) for path in library if imports_study(path.read_text(encoding="utf-8"))]
    assert offenders == []
