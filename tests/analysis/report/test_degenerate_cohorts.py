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


def test_a_subscale_with_an_unanswered_item_is_not_computable_not_suppressed(
    tmp_path: Path,
) -> None:
    # with --min-cell 1 (suppression off) the missing items' subscale was marked "suppressed"
    # ("answered by fewer than 1 respondents"); nothing is hidden there: it is not computable
    cohort = _cohort(tmp_path, "missing_items")
    result = CliRunner().invoke(
        cli,
        ["cohort", "report", str(cohort), "-i", str(MINI), "--min-cell", "1", "--no-figures",
         "-o", str(tmp_path / "report")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report" / "report.html").read_text("utf-8")
    section = html[html.index('id="reliability"') :]
    section = section[: section.index("</section>")]
    assert "suppressed" not in section and "fewer than 1 respondents" not in section
    assert "not computable" in section


def test_a_subscale_whose_answered_items_have_few_answers_stays_suppressed(tmp_path: Path) -> None:
    # M1 unanswered, M2 and M3 answered by 3 of 30 (min cell 10): the subscale's mean and sd come
    # from those 3, so its row is suppressed like the items' (an unanswered item must not lift it)
    n = 30
    frame = pd.DataFrame(
        {
            "respondent_id": [f"p{i:02d}" for i in range(n)],
            "M2": [2, 3, 4] + [None] * (n - 3),
            "M3": [3, 4, 5] + [None] * (n - 3),
            "M4": [1 + i % 5 for i in range(n)],
        }
    )
    source = tmp_path / "few.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "few.parquet"
    runner = CliRunner()
    imported = runner.invoke(
        cli,
        ["cohort", "import", str(source), "-i", str(MINI), "--key-file", str(tmp_path / "k.key"),
         "-o", str(out)],
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    report = runner.invoke(
        cli,
        ["cohort", "report", str(out), "-i", str(MINI), "--no-figures", "-o",
         str(tmp_path / "report")],
    )  # fmt: skip
    assert report.exit_code == 0, report.output
    reliability = pd.read_csv(tmp_path / "report" / "reliability.csv", dtype=str)
    row = reliability.set_index(reliability.columns[0]).loc["calm"]
    assert row["mean"] == "suppressed" and row["sd"] == "suppressed", row.to_dict()
