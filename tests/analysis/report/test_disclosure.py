"""Disclosure control of ``cohort report`` that holds, and is no broader than the rule requires.

The cohorts are imported through the CLI from CSV files written here (the ``mini`` instrument of the
cohort fixtures: four items 1-5, a mean score that needs two answers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner, Result

from analysis.privacy.suppression import SUPPRESSED, line_mask
from surveytool.cli import cli

MINI = str(Path(__file__).resolve().parents[2] / "fixtures" / "cohort" / "mini.yaml")
ITEMS = ["M1", "M2", "M3", "M4"]


def _run(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _report(tmp_path: Path, rows: pd.DataFrame) -> Path:
    source = tmp_path / "answers.csv"
    rows.to_csv(source, index=False)
    cohort = tmp_path / "cohort.parquet"
    imported = _run(
        "cohort", "import", source, "-i", MINI, "--key-file", tmp_path / "k.key", "-o", cohort
    )
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "report"
    made = _run("cohort", "report", cohort, "-i", MINI, "--no-figures", "-o", out)
    assert made.exit_code == 0, made.output
    return out


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _answers(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.integers(1, 6, size=(n, 4)).astype(object), columns=ITEMS)
    frame.insert(0, "respondent_id", [f"r{i:03d}" for i in range(n)])
    return frame


def test_no_statistic_from_fewer_than_the_minimum_cell(tmp_path: Path) -> None:
    # 18 respondents answered M1; only 4 answered the other items (a score needs two answers)
    rows = _answers(18, 1)
    rows.loc[4:, ["M2", "M3", "M4"]] = None
    out = _report(tmp_path, rows)
    desc = _csv(out, "score_descriptives").set_index("scale")
    assert (desc.loc["calm"].drop("label") == SUPPRESSED).all()  # n = 4: no mean, sd, min, max
    reliability = _csv(out, "reliability").set_index("subscale")
    assert reliability.loc["calm", "raw_alpha"] == SUPPRESSED
    items = _csv(out, "item_statistics").set_index("item")
    frequencies = _csv(out, "item_frequencies").set_index("item")
    for item in ("M2", "M3", "M4"):
        # 4 answers: every answer count is small, and the missing count (14 of 18) would give
        # their sum back, so it is suppressed with them
        assert frequencies.loc[item, "missing"] == SUPPRESSED
        assert items.loc[item, "missing"] == SUPPRESSED
        assert items.loc[item, "mean"] == SUPPRESSED
    assert items.loc["M1", "n"] == SUPPRESSED  # 18 answers over 5 points: every cell is small


def test_a_few_missing_answers_hide_nothing(tmp_path: Path) -> None:
    rows = _answers(200, 2)
    rows.loc[:8, "M2"] = None  # 9 respondents skipped M2
    out = _report(tmp_path, rows)
    items = _csv(out, "item_statistics").set_index("item")
    assert items.loc["M2", "n"] == "191"
    assert items.loc["M2", "missing"] == "9"
    assert items.loc["M2", "mean"] != SUPPRESSED and items.loc["M2", "sd"] != SUPPRESSED
    frequencies = _csv(out, "item_frequencies").set_index("item")
    assert frequencies.loc["M2", "missing"] == "9"
    assert SUPPRESSED not in frequencies.loc["M2"].to_numpy().tolist()


def test_an_index_with_a_few_rows_not_computed_hides_no_table(tmp_path: Path) -> None:
    rows = _answers(200, 3)
    rows.loc[:8, ["M2", "M3", "M4"]] = None  # 9 respondents with one answer: indices not computed
    out = _report(tmp_path, rows)
    careless = _csv(out, "careless").set_index("index")
    not_computed = careless["not_computed"]
    assert "9" in not_computed.tolist()
    flags = _csv(out, "careless_flags")
    assert SUPPRESSED not in flags["respondents"].tolist()


def test_line_mask_primary_on_answer_cells_and_complements_that_hold() -> None:
    answers = np.array([True, True, True, False])
    # a small missing count alone: nothing hidden
    assert not line_mask(np.array([[50, 60, 70, 9]]), 10, sensitive=answers).any()
    # one small answer cell: a complement joins it (the smallest other non-zero cell)
    assert line_mask(np.array([[3, 60, 70, 12]]), 10, sensitive=answers).tolist() == [
        [True, False, False, True]
    ]
    # answers that hold fewer than 10 together: the missing count joins them
    assert line_mask(np.array([[1, 2, 1, 14]]), 10, sensitive=answers).tolist() == [
        [True, True, True, True]
    ]


def _two_waves(tmp_path: Path) -> Path:
    first, second = _answers(30, 4), _answers(30, 5)
    first.insert(1, "wave", "baseline")
    second.insert(1, "wave", "follow-up")
    source = tmp_path / "waves.csv"
    pd.concat([first, second]).to_csv(source, index=False)
    mapping = tmp_path / "waves.yaml"
    mapping.write_text("id_column: respondent_id\nwaves: [wave]\n", "utf-8")
    cohort = tmp_path / "waves.parquet"
    imported = _run(
        "cohort", "import", source, "-i", MINI, "--map", mapping,
        "--key-file", tmp_path / "k.key", "-o", cohort,
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "rows imported 60" in imported.output
    return cohort


def test_norms_refuse_to_pool_repeated_measures_unless_told(tmp_path: Path) -> None:
    cohort = _two_waves(tmp_path)
    out = tmp_path / "norms.yaml"
    refused = _run("cohort", "norms", cohort, "-i", MINI, "-o", out)
    assert refused.exit_code == 1
    assert "60 rows of 30 people in several waves" in refused.output
    assert "--wave wave=VALUE" in refused.output and "--pool-waves" in refused.output
    assert not out.exists()
    one = _run("cohort", "norms", cohort, "-i", MINI, "--wave", "wave=baseline", "-o", out)
    assert one.exit_code == 0, one.output
    text = out.read_text("utf-8")
    assert "n: 30" in text and "wave = baseline" in text
    per_wave = _run("cohort", "norms", cohort, "-i", MINI, "--group", "wave", "-o", out)
    assert per_wave.exit_code == 0, per_wave.output
    pooled = _run("cohort", "norms", cohort, "-i", MINI, "--pool-waves", "-o", out)
    assert pooled.exit_code == 0, pooled.output
    assert "all waves pooled" in out.read_text("utf-8")
    unknown = _run("cohort", "norms", cohort, "-i", MINI, "--wave", "wave=later", "-o", out)
    assert unknown.exit_code == 1 and "its values: baseline, follow-up" in unknown.output


def test_report_compares_waves_within_person(tmp_path: Path) -> None:
    cohort = _two_waves(tmp_path)
    out = tmp_path / "report"
    made = _run(
        "cohort", "report", cohort, "-i", MINI, "--group", "wave", "--no-figures", "-o", out
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert not (out / "group_tests_wave.csv").exists()  # no independent-groups tests
    tests = _csv(out, "wave_tests_wave")
    assert set(tests["test"]) == {"paired_t", "wilcoxon"}
    assert tests["n"].tolist() == ["30", "30"]
    retest = _csv(out, "retest_wave")
    assert retest["waves"].tolist() == ["baseline -> follow-up"]
    assert retest["icc_a1"].iloc[0] != SUPPRESSED
    # COSMIN: invariance over time from the same 30 people at both waves, not as two groups
    cosmin = _csv(out, "cosmin")
    over_time = cosmin[cosmin["property"] == "measurement invariance over time (wave)"]
    assert len(over_time) == 1
    assert "measurement invariance (wave)" not in set(cosmin["property"])
    row = over_time.iloc[0]
    assert "30 people seen at every wave" in row["basis"]
    assert row["rating"] in {"+", "−"} and "ΔSRMR metric" in row["value"]


def test_wide_waves_are_reshaped_on_import_and_normed_by_wave(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    n = 40
    frame = pd.DataFrame({"child": [f"c{i:02d}" for i in range(n)]})
    frame["site"] = ["north", "south", "999", "north"] * (n // 4)
    for wave in (1, 2, 3):
        for item in ITEMS:
            frame[f"s{wave}_{item}"] = rng.integers(1, 6, n).astype(object)
    frame.loc[30:, [f"s3_{i}" for i in ITEMS]] = None  # ten children missed wave 3
    source = tmp_path / "panel.csv"
    frame.to_csv(source, index=False)
    template = tmp_path / "panel.yaml"
    made = _run(
        "cohort", "map-template", source, "-i", MINI,
        "--wide-waves", r"^s(?P<wave>\d+)_(?P<column>M\d)$", "-o", template,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "matched 4 of 4 items" in made.output
    text = template.read_text("utf-8")
    assert "wide_waves:" in text and 'waves: ["wave"]' in text
    kept = [line for line in text.splitlines() if not line.startswith('  - "site"')]
    mapping = "\n".join(kept).replace("groups: []", "groups: [site]") + "\nmissing: {site: [999]}\n"
    template.write_text(mapping, "utf-8")
    cohort = tmp_path / "panel.parquet"
    imported = _run(
        "cohort", "import", source, "-i", MINI, "--map", template,
        "--key-file", tmp_path / "k.key", "-o", cohort,
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    # 40 children x 3 waves = 120 rows; the 10 missed wave-3 visits are no respondents
    assert (
        "rows read 120 = rows imported 110 + rows quarantined 10 (10 with no item answered)"
        in imported.output
    )
    assert "site: 30 cell(s) with a declared missing code (999) read as missing" in (
        imported.output
    )
    stored = pd.read_parquet(cohort)
    assert stored["pseudonym"].nunique() == 40
    assert sorted(stored["site"].dropna().unique().tolist()) == ["north", "south"]
    first = frame[[f"s2_{i}" for i in ITEMS]].iloc[0].astype(int).to_numpy().tolist()
    assert stored[ITEMS].iloc[1].astype(int).to_numpy().tolist() == first  # child 0, wave 2
    out = tmp_path / "norms.yaml"
    refused = _run("cohort", "norms", cohort, "-i", MINI, "-o", out)
    assert refused.exit_code == 1 and "110 rows of 40 people" in refused.output
    normed = _run("cohort", "norms", cohort, "-i", MINI, "--wave", "wave=1", "-o", out)
    assert normed.exit_code == 0, normed.output
    assert "n: 40" in out.read_text("utf-8")


def test_norms_of_a_cohort_left_empty_by_k_anonymity_is_a_message(tmp_path: Path) -> None:
    rows = _answers(4, 8)
    rows["age"] = [21, 35, 48, 62]
    source = tmp_path / "few.csv"
    rows.to_csv(source, index=False)
    mapping = tmp_path / "few.yaml"
    mapping.write_text(
        "quasi_identifiers:\n  age: {generalize: age_band}\nk_suppression: records\n", "utf-8"
    )
    cohort = tmp_path / "few.parquet"
    imported = _run(
        "cohort", "import", source, "-i", MINI, "--map", mapping, "--k", "3",
        "--key-file", tmp_path / "k.key", "-o", cohort,
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "every new row (4) was suppressed for k-anonymity" in imported.output
    normed = _run("cohort", "norms", cohort, "-i", MINI, "-o", tmp_path / "n.yaml")
    assert normed.exit_code == 1
    assert "holds no respondent rows" in normed.output


def test_every_suppressed_cell_has_its_reason(tmp_path: Path) -> None:
    rows = _answers(18, 1)
    rows.loc[4:, ["M2", "M3", "M4"]] = None
    out = _report(tmp_path, rows)
    reasons = _csv(out, "suppressed_cells")
    listed = {(t, int(r), c) for t, r, c in reasons[["table", "row", "column"]].to_numpy()}
    for csv_path in out.glob("*.csv"):
        if csv_path.stem == "suppressed_cells":
            continue
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        for i, j in zip(*np.nonzero(table.to_numpy() == SUPPRESSED), strict=True):
            assert (csv_path.name, int(i) + 1, str(table.columns[j])) in listed
    frequencies = reasons[reasons["table"] == "item_frequencies.csv"]
    why = {(k, c): str(r) for k, c, r in frequencies[["key", "column", "reason"]].to_numpy()}
    assert why[("M2", "missing")].startswith("complement")
    assert why[("M2", "1")] == "fewer than 10 respondents" or why[("M2", "1")].startswith("compl")
    desc = reasons[reasons["table"] == "score_descriptives.csv"]
    assert set(desc["reason"]) == {"scored for fewer than 10 respondents"}
