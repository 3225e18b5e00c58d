"""docs/parity.md is what the lead resolves issue 17 with: every test it names must exist (the
file, and the function when it names one), so the list cannot drift from the tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_test_named_in_parity_md_exists() -> None:
    text = (ROOT / "docs" / "parity.md").read_text(encoding="utf-8")
    named = NAMED.findall(text)
    assert len(named) > 40, "the list of points and tests is missing"
    missing = []
    for file, function in named:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif function and function not in _functions(path):
            missing.append(f"{file}::{function}")
    assert not missing, f"docs/parity.md names tests that do not exist: {missing}"
