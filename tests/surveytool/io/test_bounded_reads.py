"""Bounded reads: what would hang or exhaust memory is refused with one line, quickly.

Real commands in real subprocesses (a hang would otherwise hang the test run; each has a
timeout): a FIFO or ``/dev/zero`` as responses, instrument or mapping; a sparse file over the
size limit (refused by its size before a byte is read); a line over the line limit; a table
over the cell limit (its header's width times its lines), and a wide table under it, read whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from surveytool.io.files import (
    MAX_CELLS,
    MAX_LINE_BYTES,
    MAX_SOURCE_BYTES,
    FileTooLargeError,
    check_cells,
    check_line_lengths,
    read_bytes_bounded,
)

INSTRUMENT = Path(__file__).resolve().parents[2] / "fixtures" / "scoring" / "cli.yaml"
HEADER = "pid,Q1,Q2,Q3,Q4,Q5,Q6,Q7\n"


def _surveytool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "surveytool", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def _one_error(run: subprocess.CompletedProcess[str], match: str) -> None:
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors and match in errors[0], run.stderr


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


def test_a_fifo_or_a_device_is_refused_not_read(tmp_path: Path, fifo: Path) -> None:
    out = tmp_path / "s.csv"
    _one_error(_surveytool("score", "-i", INSTRUMENT, fifo, "-o", out, cwd=tmp_path), "FIFO")
    _one_error(_surveytool("score", "-i", INSTRUMENT, "/dev/zero", "-o", out, cwd=tmp_path),
               "device")  # fmt: skip
    assert not out.exists()
    validate = _surveytool("instruments", "validate", "/dev/zero", cwd=tmp_path)
    assert validate.returncode == 1 and "not a regular file" in validate.stdout
    source = tmp_path / "raw.csv"
    source.write_text(HEADER + "a,1,2,3,4,5,1,2\n", "utf-8")
    for mapping in (fifo, Path("/dev/zero")):
        run = _surveytool(
            "cohort", "import", source, "-i", INSTRUMENT, "--map", mapping,
            "--key-file", tmp_path / "keys" / "k", "-o", tmp_path / "c.parquet", cwd=tmp_path,
        )  # fmt: skip
        _one_error(run, str(mapping))  # the mapping's report: its problem, located
        assert "[file_unreadable]: cannot read the mapping file: it is not a regular file" in (
            run.stderr
        )
    assert not (tmp_path / "c.parquet").exists()


def test_a_source_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: no disk space, no time
        handle.write(HEADER.encode())
        handle.truncate(MAX_SOURCE_BYTES + 1)
    run = _surveytool("score", "-i", INSTRUMENT, huge, "-o", tmp_path / "s.csv", cwd=tmp_path)
    _one_error(run, f"larger than the limit of {MAX_SOURCE_BYTES:,} bytes")


def test_a_line_over_the_limit_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "long.csv"
    with source.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        handle.write("a," + "x" * (MAX_LINE_BYTES + 1) + ",2,3,4,5,1,2\n")
    run = _surveytool("score", "-i", INSTRUMENT, source, "-o", tmp_path / "s.csv", cwd=tmp_path)
    _one_error(run, "line 2 is longer than the limit")


def test_a_table_over_the_cell_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    # 20,001 names over 20,000 one-cell lines: a small file that pandas would pad to 4 * 10**8
    # cells (its short rows filled to the header's width), refused from the header and the lines
    source = tmp_path / "padded.csv"
    width = 20_001
    assert width * (width + 1) > MAX_CELLS
    names = ["pid", *(f"c{i}" for i in range(width - 1))]
    source.write_text(",".join(names) + "\n" + "1\n" * width, "utf-8")
    run = _surveytool("score", "-i", INSTRUMENT, source, "-o", tmp_path / "s.csv", cwd=tmp_path)
    _one_error(run, f"{width:,} columns x {width + 1:,} lines")
    assert "more than the limit of 400,000,000" in run.stderr
    assert not (tmp_path / "s.csv").exists()


def test_a_table_of_100000_columns_is_scored_whole(tmp_path: Path) -> None:
    # was refused (a 20,000-column limit) because it took minutes; read in time linear in its
    # cells now. Every unknown column is reported, once, and the items are scored as in a
    # narrow file of the same rows.
    from surveytool.cli import cli  # in process: the subprocess' start-up is not the point

    extra = 100_000
    header = HEADER.strip().split(",")
    rows = [["a", "1", "2", "3", "4", "5", "1", "2"], ["b", "5", "4", "3", "2", "1", "", "3"]]
    wide = tmp_path / "wide.csv"
    with wide.open("w", encoding="utf-8") as handle:
        handle.write(",".join([*header, *(f"x{i}" for i in range(extra))]) + "\n")
        for row in rows:
            handle.write(",".join([*row, *(str(i % 5 + 1) for i in range(extra))]) + "\n")
    narrow = tmp_path / "narrow.csv"
    narrow.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows), "utf-8")
    runner = CliRunner()
    for source in (wide, narrow):
        out = tmp_path / f"{source.stem}_scores.csv"
        run = runner.invoke(
            cli, ["score", "-i", str(INSTRUMENT), str(source), "--id-column", "pid", "-o", str(out)]
        )
        assert run.exit_code == 0, run.output
    assert (tmp_path / "wide_scores.csv").read_text("utf-8") == (
        tmp_path / "narrow_scores.csv"
    ).read_text("utf-8")
    quarantine = pd.read_csv(tmp_path / "wide_scores.quarantine.csv", dtype=str)
    unknown = quarantine[quarantine["code"] == "unmatched_column"]
    assert unknown["column"].tolist() == [f"x{i}" for i in range(extra)]
    assert len(quarantine) == extra + (quarantine["code"] != "unmatched_column").sum()


def test_a_wide_parquet_file_is_read_for_the_columns_wanted_and_named_for_the_rest(
    tmp_path: Path,
) -> None:
    # pyarrow read every column of a wide Parquet file (11 s at 10**5); now only the wanted
    # ones, the others named from the schema: score reports them as unknown, as for a CSV
    from surveytool.cli import cli
    from surveytool.io.sources import read_source

    extra = 2_000
    header = HEADER.strip().split(",")
    rows = [["a", 1, 2, 3, 4, 5, 1, 2], ["b", 5, 4, 3, 2, 1, None, 3]]
    wide = pd.DataFrame(
        [[*r, *(i % 5 + 1 for i in range(extra))] for r in rows],
        columns=[*header, *(f"x{i}" for i in range(extra))],
    )
    wide.to_parquet(tmp_path / "wide.parquet", index=False)
    wide.to_csv(tmp_path / "wide.csv", index=False)
    table = read_source(tmp_path / "wide.parquet", wanted=lambda names: names[:3])
    assert list(table.frame.columns) == header[:3]
    assert table.unread_columns == tuple(header[3:]) + tuple(f"x{i}" for i in range(extra))
    whole = read_source(tmp_path / "wide.parquet")
    pd.testing.assert_frame_equal(whole.frame[header[:3]], table.frame)
    assert whole.unread_columns == ()
    assert read_source(tmp_path / "wide.parquet", wanted=lambda names: []).unread_columns == ()

    runner = CliRunner()
    for name in ("wide.parquet", "wide.csv"):
        out = tmp_path / f"{Path(name).suffix[1:]}_scores.csv"
        run = runner.invoke(
            cli,
            ["score", "-i", str(INSTRUMENT), str(tmp_path / name), "--id-column", "pid",
             "-o", str(out), "--ignore-columns", "x7"],
        )  # fmt: skip
        assert run.exit_code == 0, run.output
    assert (tmp_path / "parquet_scores.csv").read_text("utf-8") == (
        tmp_path / "csv_scores.csv"
    ).read_text("utf-8")
    parquet = pd.read_csv(tmp_path / "parquet_scores.quarantine.csv", dtype=str)
    csv = pd.read_csv(tmp_path / "csv_scores.quarantine.csv", dtype=str)
    pd.testing.assert_frame_equal(parquet, csv)  # the unread named as unknown, the same lines
    unknown = parquet.loc[parquet["code"] == "unmatched_column", "column"].tolist()
    assert unknown == [f"x{i}" for i in range(extra) if i != 7]


def test_bounded_reads_count_the_bytes_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    assert read_bytes_bounded(path, 5) == b"12345"
    with pytest.raises(FileTooLargeError, match="larger than the limit of 4 bytes"):
        read_bytes_bounded(path, 4)
    check_line_lengths(path, b"ab\ncd\nef", 2)
    for data, line in [(b"abc\nd", 1), (b"a\nbcd", 2), (b"ab\ncd\nefg\n", 3)]:
        with pytest.raises(FileTooLargeError, match=f"line {line} is longer"):
            check_line_lengths(path, data, 2)
    check_cells(path, 10, 10, 100)
    with pytest.raises(FileTooLargeError, match="10 columns x 11 lines = 110 cells"):
        check_cells(path, 10, 11, 100)
