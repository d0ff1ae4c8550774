"""``analysis.cli``: library messages name parameters; the command line spells them as its flags."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import analysis
from analysis.cli import FLAGS, cohort, flag, spelled
from analysis.errors import AnalysisError, Param, Phrase
from surveytool.cli import cli

PACKAGE = Path(analysis.__file__).parent
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cohort"


def test_a_phrase_is_the_python_spelling_and_keeps_its_parameters() -> None:
    phrase = Phrase("add ", Param("allow_instrument_mismatch", True), ", or ", Param("k", 5))
    assert phrase == "add allow_instrument_mismatch=True, or k=5"
    assert isinstance(phrase, str)
    assert spelled(phrase) == "add --allow-instrument-mismatch, or --k 5"
    assert spelled("plain text") == "plain text"
    assert pickle.loads(pickle.dumps(phrase)).spell(flag) == spelled(phrase)


def test_every_flag_in_the_table_is_an_option_of_a_cohort_command() -> None:
    options = {o for c in cohort.commands.values() for p in c.params for o in p.opts}
    assert set(FLAGS.values()) <= options


def test_a_library_message_names_the_parameter() -> None:
    with pytest.raises(AnalysisError) as raised:
        analysis.import_cohort(FIXTURES / "plain_mini.csv", FIXTURES / "mini.yaml")
    assert "key_file" in str(raised.value) and "--" not in str(raised.value)


def _message_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_library_messages_name_no_cli_flag() -> None:
    flag_like = re.compile(r"(^|[\s(`'\"])--[a-z][a-z-]+")
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "cli.py"
        for line, text in _message_strings(path)
        if flag_like.search(text)
    ]
    assert offences == []


def test_cli_errors_show_flags(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["cohort", "import", str(FIXTURES / "plain_mini.csv"), "-i", str(FIXTURES / "mini.yaml"),
         "--strict", "--key-file", str(tmp_path / "k.key"), "-o", str(tmp_path / "c.parquet")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "(--strict)" in result.output and "strict=True" not in result.output
