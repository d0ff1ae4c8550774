"""``cohort report`` and ``cohort norms`` on degenerate cohorts (issue 12, finding 13).

A cohort missing items, one of a single respondent, and ones where the answers do not vary: the
statistics that need variance or more respondents are reported as not computable (empty cells
and a note), never a traceback and never a NumPy warning on the terminal.
Instrument: tests/fixtures/cohort/mini.yaml (M1..M4 on a 1..5 scale, M4 reversed).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from surveytool.cli import cli

TESTS = Path(__file__).resolve().parents[2]
MINI = TESTS / "fixtures" / "cohort" / "mini.yaml"


def _rows(kind: str) -> pd.DataFrame:
    n = 1 if kind == "one" else 12
    ids = [f"p{i:02d}" for i in range(n)]
    if kind in ("one", "constant_all"):
        return pd.DataFrame({"respondent_id": ids, **{f"M{j}": [3] * n for j in range(1, 5)}})
    varied = {
        "M1": [1 + i % 5 for i in range(n)],
        "M2": [1 + (i * 3) % 5 for i in range(n)],
    }
    if kind == "missing_items":
        return pd.DataFrame({"respondent_id": ids, **varied})
    # one item constant, the others vary
    return pd.DataFrame(
        {"respondent_id": ids, **varied, "M3": [3] * n, "M4": [1 + (i * 2) % 5 for i in range(n)]}
    )


def _cohort(tmp_path: Path, kind: str) -> Path:
    source = tmp_path / f"{kind}.csv"
    _rows(kind).to_csv(source, index=False)
    out = tmp_path / f"{kind}.parquet"
    result = CliRunner().invoke(
        cli,
        ["cohort", "import", str(source), "-i", str(MINI), "--key-file", str(tmp_path / "k.key"),
         "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("kind", ["one", "constant_all", "constant_item", "missing_items"])
def test_report_and_norms_on_a_degenerate_cohort(tmp_path: Path, kind: str) -> None:
    cohort = _cohort(tmp_path, kind)
    runner = CliRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning would reach the terminal
        report = runner.invoke(
            cli,
            ["cohort", "report", str(cohort), "-i", str(MINI), "--min-cell", "1", "--no-figures",
             "-o", str(tmp_path / "report")],
        )  # fmt: skip
        norms = runner.invoke(
            cli,
            ["cohort", "norms", str(cohort), "-i", str(MINI), "--min-cell", "1",
             "-o", str(tmp_path / "norms.yaml")],
        )  # fmt: skip
    for result in (report, norms):
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            kind,
            result.exception,
        )
        assert "Traceback" not in result.output
        assert "Warning" not in result.output, result.output
    if kind == "one":
        assert report.exit_code == 1 and "at least" in report.output
        assert norms.exit_code == 1 and "sd" in norms.output, norms.output
        return
    assert report.exit_code == 0, report.output
    html = (tmp_path / "report" / "report.html").read_text("utf-8")
    assert "not computable" in html
    reliability = pd.read_csv(tmp_path / "report" / "reliability.csv")
    if kind == "constant_all":
        assert reliability["raw_alpha"].isna().all()
    if kind == "constant_all":
        assert norms.exit_code == 1 and "sd" in norms.output, norms.output
    else:
        assert norms.exit_code == 0, norms.output
