"""A source named as text that is not text (issue 12, finding 15): a gzip file named ``.csv`` was
called "not UTF-8". ``surveytool score`` and ``surveytool cohort import`` read through the one
reader, which tells by the first bytes what the file is and how to fix it: exit 1, one
``error:`` line naming the file, no traceback, nothing written, the source untouched.

Instruments: tests/fixtures/scoring/cli.yaml (Q1..Q7) for score and tests/fixtures/cohort/mini.yaml
(M1..M4) for cohort import; the data are the same small table for both (items of both).
"""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from surveytool.cli import cli
from surveytool.io.sources import SourceError, read_source

TESTS = Path(__file__).resolve().parents[2]
SCORING = TESTS / "fixtures" / "scoring" / "cli.yaml"
MINI = TESTS / "fixtures" / "cohort" / "mini.yaml"
TABLE = pd.DataFrame(
    {
        "pid": ["a", "b"],
        **{f"Q{k}": [1, 2] for k in range(1, 8)},
        **{f"M{k}": [1, 2] for k in range(1, 5)},
    }
)


def _csv(sep: str = ",") -> bytes:
    return TABLE.to_csv(index=False, sep=sep).encode("utf-8")


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    TABLE.to_excel(buffer, index=False)
    return buffer.getvalue()


def _parquet() -> bytes:
    buffer = io.BytesIO()
    TABLE.to_parquet(buffer)
    return buffer.getvalue()


# (file name, its bytes, words the message must hold: what the file is and how to fix it)
CASES: dict[str, tuple[str, Callable[[], bytes], tuple[str, ...]]] = {
    "gzip named .csv": (
        "answers.csv",
        lambda: gzip.compress(_csv()),
        ("gzip-compressed, not CSV text", "gunzip -c answers.csv > answers-unpacked.csv"),
    ),
    "gzip named .tsv": (
        "answers.tsv",
        lambda: gzip.compress(_csv("\t")),
        ("gzip-compressed, not TSV text", "gunzip -c answers.tsv > answers-unpacked.tsv"),
    ),
    "gzip named .csv.gz": (
        "answers.csv.gz",
        lambda: gzip.compress(_csv()),
        ("gzip-compressed", "gunzip -k answers.csv.gz"),
    ),
    "gzip, a space in the name": (
        "my answers.csv",
        lambda: gzip.compress(_csv()),
        ("gzip-compressed", "gunzip -c 'my answers.csv' > 'my answers-unpacked.csv'"),
    ),
    "bzip2 named .csv": (
        "answers.csv",
        lambda: bz2.compress(_csv()),
        ("bzip2-compressed, not CSV text", "bunzip2 -c answers.csv"),
    ),
    "zip of one csv named .csv": (
        "answers.csv",
        lambda: _zip_of({"export/answers.csv": _csv()}),
        ("a zip archive, not CSV text", "extract 'export/answers.csv' from it"),
    ),
    "zip of two files named .csv": (
        "answers.csv",
        lambda: _zip_of({"a.csv": _csv(), "b.csv": _csv()}),
        ("a zip archive, not CSV text", "extract the data file from it"),
    ),
    "xlsx named .csv": (
        "answers.csv",
        _xlsx,
        ("an Excel workbook (.xlsx), not CSV text", "give it the extension .xlsx"),
    ),
    "parquet named .csv": (
        "answers.csv",
        _parquet,
        ("a Parquet file, not CSV text", "give it the extension .parquet"),
    ),
}


def _commands(source: Path, out: Path) -> dict[str, list[str]]:
    return {
        "score": ["score", "-i", str(SCORING), str(source), "--id-column", "pid", "-o", str(out / "s.csv")],
        "cohort import": [
            "cohort", "import", str(source), "-i", str(MINI),
            "--key-file", str(out / "keys" / "k.key"), "-o", str(out / "c.parquet"),
        ],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["score", "cohort import"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_file_that_is_not_text_is_named_with_its_fix(
    tmp_path: Path, case: str, command: str
) -> None:
    name, make, words = CASES[case]
    source = tmp_path / "in" / name
    source.parent.mkdir()
    data = make()
    source.write_bytes(data)
    out = tmp_path / "out"
    (out / "keys").mkdir(parents=True, mode=0o700)
    result = CliRunner().invoke(cli, _commands(source, out)[command])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {source}: the file is ")
    for word in words:
        assert word in lines[0]
    assert "UTF-8" not in result.output
    assert source.read_bytes() == data  # the source untouched
    # nothing written, no key made (the cohort's lock file, empty, stays by design)
    assert [p for p in out.rglob("*") if p.is_file() and p.suffix != ".lock"] == []


def test_the_reader_refuses_a_compressed_file_before_decoding(tmp_path: Path) -> None:
    source = tmp_path / "answers.csv"
    source.write_bytes(gzip.compress(_csv()))
    with pytest.raises(SourceError, match="gzip-compressed, not CSV text"):
        read_source(source)
    with pytest.raises(SourceError, match="gzip-compressed, not CSV text"):
        read_source(source, format="qualtrics")  # a text format asked for by name too


def test_text_starting_like_a_signature_is_read(tmp_path: Path) -> None:
    """Only whole signatures count: a header starting ``PK`` or ``BZh`` is text."""
    source = tmp_path / "answers.csv"
    source.write_text("PKid,BZh,Q1\na,b,1\n", "utf-8")
    table = read_source(source)
    assert list(table.frame.columns) == ["PKid", "BZh", "Q1"]
