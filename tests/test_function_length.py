"""No function in the library, the study or the app is over 60 lines: long ones are split
into named steps (the lens's render as plan, blur, composite, fill)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 60


def test_no_function_over_sixty_lines():
    files = [ROOT / "app.py", *(ROOT / "dofgen").rglob("*.py"), *(ROOT / "study").rglob("*.py")]
    long = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > LIMIT:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []
