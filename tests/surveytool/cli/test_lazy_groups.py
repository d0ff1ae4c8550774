"""The core never imports the research layer: ``analysis`` is loaded only by the lazy ``cohort`` group.

An AST scan of every module of ``surveytool``: no ``import analysis`` / ``from analysis ...``
anywhere (at any depth, under ``TYPE_CHECKING`` too), no ``importlib.import_module`` /
``__import__`` of it, and the one string naming an ``analysis`` module is the entry of
``surveytool.cli.LAZY_GROUPS``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import surveytool
from surveytool.cli import LAZY_GROUPS, cli

PACKAGE = Path(surveytool.__file__).parent
LOADER = PACKAGE / "cli" / "__init__.py"


def _is_analysis(name: str | None) -> bool:
    return name is not None and (name == "analysis" or name.startswith("analysis."))


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if _is_analysis(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_analysis(node.module):
            found.append(f"{where}: from {node.module} import ...")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _is_analysis(node.value)
            and path != LOADER
        ):
            found.append(f"{where}: names module {node.value!r}")
    return found


def test_surveytool_never_imports_analysis() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert LOADER in files and len(files) > 20
    offences = [o for f in files for o in _offences(f)]
    assert offences == []


def test_the_lazy_loader_is_the_one_place_that_names_analysis() -> None:
    tree = ast.parse(LOADER.read_text("utf-8"))
    named = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and _is_analysis(n.value)
    ]
    assert named == ["analysis.cli"]
    assert {name: (g.module, g.attribute) for name, g in LAZY_GROUPS.items()} == {
        "cohort": ("analysis.cli", "cohort")
    }


def test_cohort_group_is_loaded_by_name_and_listed() -> None:
    from analysis.cli import cohort

    assert cli.get_command(None, "cohort") is cohort  # type: ignore[arg-type]
    listing = CliRunner().invoke(cli, ["--help"]).output
    assert "cohort" in listing and LAZY_GROUPS["cohort"].help in listing
    sub = CliRunner().invoke(cli, ["cohort", "--help"])
    assert sub.exit_code == 0
    assert {"import", "map-template", "report", "norms"} <= set(cohort.commands)
    for name in cohort.commands:
        assert name in sub.output


def test_cohort_help_loads_analysis_without_the_statistics_stack() -> None:
    code = (
        "import sys\nfrom surveytool.cli import cli\n"
        "try:\n    cli(['cohort', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('analysis.cli' in sys.modules, 'scipy' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True False False"
