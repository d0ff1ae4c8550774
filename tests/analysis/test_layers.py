"""The research layer's packages depend downwards only: statistics never import the cohort
import, the report or the command line; privacy and mapping never import the report or the
cohort pipeline. Read from the source (every import statement, also inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ANALYSIS = Path(__file__).resolve().parents[2] / "analysis"

#: package -> the packages above it, which it must not import
ABOVE = {
    "stats": ("analysis.report", "analysis.cohort", "analysis.cli", "analysis.mapping"),
    "privacy": ("analysis.report", "analysis.cohort", "analysis.cli"),
    "mapping": ("analysis.report", "analysis.cohort", "analysis.cli"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_a_package_never_imports_a_layer_above_it(package: str) -> None:
    offences = [
        f"{path.relative_to(ANALYSIS.parent)}:{line}: {module}"
        for path in sorted((ANALYSIS / package).rglob("*.py"))
        for line, module in _imports(path)
        if module.startswith(ABOVE[package])
    ]
    assert offences == []
