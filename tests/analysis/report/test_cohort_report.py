"""``surveytool cohort report`` and ``surveytool cohort norms``: real files, real matplotlib.

One simulated cohort of 400 (PPAI, 3% careless, 6% of the answers to six items missing, so the
listwise CFA keeps most respondents) is imported with two group columns:
``site`` (a, b, c and a group ``d`` of 5 respondents) and ``arm`` (three large groups, one with
HTML characters in its name). The report is made once through the command line; its CSVs are
compared with the analysis API on the same cohort, and its suppression is audited: every hidden
cell stays undetermined by the published totals, by interval propagation over the group table.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

import analysis
import surveytool.io.tables
from analysis.privacy.identifiers import safe_file_name
from analysis.privacy.pseudonyms import PseudonymKey
from analysis.privacy.suppression import SUPPRESSED, hidden_columns
from analysis.report import (
    MANIFEST_FILE,
    REPORT_FILE,
    build_cohort_report,
    read_cohort_file,
    write_report,
)
from surveytool.cli import cli
from surveytool.instrument.load import load_text
from surveytool.instrument.registry import bundled_file, load_instrument
from surveytool.io.tables import write_table
from surveytool.scoring.engine import score_responses
from surveytool.scoring.simulate import SimulationSpec, simulate

PPAI = load_instrument("ppai@1.0.0")
ARM_ODD = "treat <b>&</b>"
MIN_CELL = 10
RTOL = 1e-12  # CSV floats are written with every digit (shortest round-trip repr)


def _run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", keep_default_na=False, dtype=str)


def _num(values: Any) -> np.ndarray:
    """CSV text as floats (empty: NaN); anything else, "suppressed" included, raises."""
    return np.array([np.nan if v in ("", "nan") else float(v) for v in values], dtype=np.float64)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cohort_report")


@pytest.fixture(scope="module")
def cohort_file(workspace: Path) -> Path:
    spec = SimulationSpec(
        n=400,
        seed=11,
        careless=0.03,
        group_column="site",
        groups=("a", "b", "c"),
        group_shift=0.3,
    )
    frame = simulate(PPAI, spec)
    frame.loc[frame.index[:5], "site"] = "d"  # a group of 5
    rng = np.random.default_rng(5)
    for item in ("FF1", "FF2", "DW3", "PH4", "LS5", "TB1"):  # planted missingness
        frame[item] = frame[item].mask(rng.random(len(frame)) < 0.06)
    frame["arm"] = rng.choice(["control", ARM_ODD, "waitlist"], len(frame))
    write_table(frame, workspace / "export.csv")
    path = workspace / "cohort.parquet"
    analysis.import_cohort(
        workspace / "export.csv",
        PPAI,
        output=path,
        mapping={"id_column": "respondent_id", "groups": ["site", "arm"]},
        key_file=workspace / "cohort.key",
    )
    return path


@pytest.fixture(scope="module")
def report_dir(workspace: Path, cohort_file: Path) -> Path:
    out = workspace / "report"
    result = _run(
        "cohort", "report", str(cohort_file), "-i", "ppai@1.0.0", "--group", "site", "--group", "arm",
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "report:" in result.stdout and "suppressed" in result.stdout
    return out


@pytest.fixture(scope="module")
def api(cohort_file: Path) -> dict[str, Any]:
    """The analysis API on the same cohort, called directly."""
    cohort = read_cohort_file(cohort_file)
    frame = cohort.frame
    ignore = [c for c in frame.columns if c not in PPAI.item_by_id and c not in ("site", "arm")]
    scored = score_responses(PPAI, frame, group_columns=["site", "arm"], ignore_columns=ignore)
    responses = scored.responses
    scales = PPAI.scored_ids()
    rel = analysis.reliability(PPAI, responses)
    keyed = analysis.keyed_items(PPAI, responses)
    return {
        "frame": frame,
        "scores": scored.scores,
        "scales": scales,
        "rel": rel,
        "items": analysis.item_statistics(PPAI, responses),
        "describe": analysis.describe_scores(scored.scores, scales),
        "correlations": analysis.score_correlations(scored.scores, scales, reliabilities=rel),
        "keyed": keyed,
        "parallel": analysis.parallel_analysis(keyed, random_state=0),
        "cfa": analysis.cfa(PPAI, responses),
        "responses": responses,
    }


# ---------------------------------------------------------------------------------------------
# files and contents
# ---------------------------------------------------------------------------------------------
def test_report_and_every_csv_are_written(report_dir: Path) -> None:
    manifest = json.loads((report_dir / MANIFEST_FILE).read_text("utf-8"))
    assert manifest["kind"] == "surveytool.cohort_report"
    assert manifest["instrument"]["hash"] == PPAI.content_hash
    tables = manifest["tables"]
    for expected in (
        "overview", "imports", "reliability", "reliability_items", "omega", "item_statistics",
        "item_frequencies", "careless", "careless_flags", "score_descriptives",
        "score_correlations", "disattenuated_correlations", "groups_site", "group_tests_site",
        "group_effects_site", "group_descriptives_arm", "group_tests_arm", "parallel_analysis",
        "efa_adequacy", "efa_loadings", "efa_factor_correlations", "efa_variance", "cfa_fit",
        "cfa_loadings",
    ):  # fmt: skip
        assert f"{expected}.csv" in tables
    on_disk = {p.name for p in report_dir.iterdir()}
    assert on_disk == {*tables, REPORT_FILE, MANIFEST_FILE}  # no temporary files left behind
    html = (report_dir / REPORT_FILE).read_text("utf-8")
    for csv in tables:
        assert csv in html  # every table is in the page too
    assert html.count("<svg") >= 6  # distributions, heat map, items, groups x2, scree, loadings
    assert not list(report_dir.parent.glob(".report.*"))


def test_report_states_instrument_and_cohort_provenance(
    report_dir: Path, cohort_file: Path, workspace: Path
) -> None:
    html = (report_dir / REPORT_FILE).read_text("utf-8")
    meta = read_cohort_file(cohort_file).metadata
    assert PPAI.version in html and PPAI.content_hash in html
    assert meta.ledger.imports[0].sha256 in html  # the import ledger
    # the source by its safe basename and keyed hash (issue 12, finding 8)
    key = PseudonymKey.from_file(workspace / "cohort.key", create=False)
    assert safe_file_name("export.csv", key) in html
    assert "HMAC-SHA-256" in html and meta.key_fingerprint in html  # disclosure summary
    overview = _csv(report_dir, "overview").set_index("field")["value"]
    assert overview["instrument content hash"] == PPAI.content_hash
    assert overview["cohort instrument hash"] == PPAI.content_hash
    assert overview["respondent rows"] == "400"


def test_html_loads_nothing_from_elsewhere(report_dir: Path) -> None:
    html = (report_dir / REPORT_FILE).read_text("utf-8")
    assert "http://" not in html and "https://" not in html
    lowered = html.lower()
    for banned in ("<script", "<link", "<iframe", "<img", "@import", "@font-face", " src="):
        assert banned not in lowered, banned
    for target in re.findall(r"url\(([^)]*)\)", html):
        assert target.startswith("#"), target  # only references inside the page's own SVG
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#") or re.fullmatch(r"[\w.-]+\.csv", href), href
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # several inline SVGs on one page, no clashing ids


def test_group_values_are_escaped(report_dir: Path) -> None:
    html = (report_dir / REPORT_FILE).read_text("utf-8")
    assert "treat &lt;b&gt;&amp;&lt;/b&gt;" in html
    assert ARM_ODD not in html


# ---------------------------------------------------------------------------------------------
# numbers equal the analysis API
# ---------------------------------------------------------------------------------------------
def _assert_columns_equal(
    csv: pd.DataFrame, expected: pd.DataFrame, columns: list[str], atol: float = 0.0
) -> None:
    for col in columns:
        np.testing.assert_allclose(
            _num(csv[col]),
            expected[col].to_numpy(dtype=np.float64),
            rtol=RTOL,
            atol=atol,
            err_msg=col,
        )


def test_reliability_numbers_equal_the_api(report_dir: Path, api: dict[str, Any]) -> None:
    rel = api["rel"]
    csv = _csv(report_dir, "reliability").set_index("subscale").loc[rel.scales.index]
    _assert_columns_equal(csv, rel.scales, [c for c in rel.scales.columns])
    assert csv.loc["fault_finding", "items"] == "FF1, FF2, FF3, FF4 (r)"
    items = _csv(report_dir, "reliability_items").set_index(["subscale", "item"])
    items = items.loc[rel.items.index]
    _assert_columns_equal(
        items, rel.items, ["raw_r", "std_r", "r_cor", "r_drop", "alpha_if_deleted"]
    )
    published = items["mean"] != SUPPRESSED
    assert published.any()
    _assert_columns_equal(items[published], rel.items[published.to_numpy()], ["n", "mean", "sd"])


def test_item_numbers_equal_the_api(report_dir: Path, api: dict[str, Any]) -> None:
    stats = api["items"]
    freq = _csv(report_dir, "item_frequencies").set_index("item").loc[stats.frequencies.index]
    truth = stats.frequencies.copy()
    truth.columns = [str(c) for c in truth.columns]
    truth["missing"] = stats.items["missing"]
    hidden = freq == SUPPRESSED
    assert hidden.to_numpy().sum() > 0
    np.testing.assert_array_equal(
        _num(freq.where(~hidden, "-1").to_numpy().ravel()),
        truth.where(~hidden.to_numpy(), -1).to_numpy(dtype=np.float64).ravel(),
    )
    # every small count is hidden; each row with a hidden cell hides at least two
    small = (truth >= 1) & (truth < MIN_CELL)
    assert not (small & ~hidden).to_numpy().any()
    assert set(hidden.sum(axis=1).unique()) <= {0} | set(range(2, truth.shape[1] + 1))
    table = _csv(report_dir, "item_statistics").set_index("item").loc[stats.items.index]
    rows_hidden = hidden.any(axis=1)
    assert (
        (table.loc[rows_hidden, ["n", "missing", "mean", "sd", "floor"]] == SUPPRESSED).all().all()
    )
    open_rows = ~rows_hidden.to_numpy()
    assert open_rows.any()
    _assert_columns_equal(
        table[open_rows],
        stats.items[open_rows],
        ["n", "missing", "missing_rate", "mean", "sd", "median", "skew", "kurtosis", "floor"],
    )


def test_score_numbers_equal_the_api(report_dir: Path, api: dict[str, Any]) -> None:
    described = api["describe"]
    csv = _csv(report_dir, "score_descriptives").set_index("scale").loc[described.index]
    _assert_columns_equal(csv, described, list(described.columns))
    pairs = api["correlations"].pairs
    got = _csv(report_dir, "score_correlations")
    assert list(got["scale_x"]) == list(pairs["scale_x"])
    _assert_columns_equal(
        got, pairs, ["r", "n", "ci_lower", "ci_upper", "p", "p_holm", "disattenuated"]
    )


def test_group_comparisons_equal_the_api(report_dir: Path, api: dict[str, Any]) -> None:
    scores, scales = api["scores"], api["scales"]
    arm = analysis.compare_groups(scores, "arm", scales)  # every arm is large: all compared
    got = _csv(report_dir, "group_tests_arm").set_index(["scale", "test"]).loc[arm.tests.index]
    # the report's tests come from exact counts (rational sums): a small H or F of the API
    # (scipy's H = 12/(n(n + 1))·ΣR²/n − 3(n + 1) in floats) carries an absolute rounding error
    # of about 1e-13, so those are compared within 1e-12 absolute as well
    columns = ["statistic", "df1", "df2", "p", "p_holm"]
    _assert_columns_equal(got, arm.tests, columns, atol=1e-12)
    effects = _csv(report_dir, "group_effects_arm").set_index(["scale", "effect"])
    _assert_columns_equal(effects.loc[arm.effects.index], arm.effects, ["estimate"], atol=1e-12)
    site_tests = _csv(report_dir, "group_tests_site")
    compared = site_tests["groups"].iloc[0].split(" vs ")
    site = analysis.compare_groups(scores, "site", scales, levels=compared)
    got = site_tests.set_index(["scale", "test"]).loc[site.tests.index]
    _assert_columns_equal(got, site.tests, ["statistic", "df1", "p", "p_holm"])
    assert set(site.tests.index.get_level_values("test")) == {"welch_t", "mann_whitney"}


def test_factor_numbers_equal_the_api(report_dir: Path, api: dict[str, Any]) -> None:
    pa = api["parallel"]
    got = _csv(report_dir, "parallel_analysis").set_index("number")
    _assert_columns_equal(
        got,
        pa.eigenvalues.reset_index(drop=True).set_axis(got.index),
        ["pc", "fa", "sim_fa_quantile"],
    )
    efa = analysis.efa(api["keyed"], pa.n_factors)
    loadings = _csv(report_dir, "efa_loadings").set_index("item").loc[efa.loadings.index]
    _assert_columns_equal(loadings, efa.loadings, list(efa.loadings.columns))
    fit = api["cfa"].fit
    got_fit = _csv(report_dir, "cfa_fit").iloc[0]
    for key in ("chisq", "df", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr"):
        assert float(got_fit[key]) == pytest.approx(fit[key], rel=1e-9)


# ---------------------------------------------------------------------------------------------
# small-cell suppression
# ---------------------------------------------------------------------------------------------
def test_group_of_five_is_suppressed_with_its_complement(
    report_dir: Path, api: dict[str, Any]
) -> None:
    sizes = api["frame"]["site"].value_counts()
    assert sizes["d"] == 5
    table = _csv(report_dir, "groups_site").set_index("site")
    hidden = set(table.index[table["n"] == SUPPRESSED])
    smallest_other = sizes.drop("d").idxmin()
    assert hidden == {"d", smallest_other}
    assert table.loc["all respondents", "n"] == "400"
    shown = sorted(set(sizes.index) - hidden)
    for g in shown:
        assert int(table.loc[g, "n"]) == sizes[g]
    desc = _csv(report_dir, "group_descriptives_site")
    cells = desc[["n", "mean", "sd", "ci_lower", "ci_upper"]]
    in_hidden = desc["group"].isin(list(hidden)).to_numpy()
    assert (cells[in_hidden] == SUPPRESSED).all().all()
    assert not (cells[~in_hidden] == SUPPRESSED).any().any()
    tests = _csv(report_dir, "group_tests_site")
    assert set(tests["groups"]) == {" vs ".join(shown)}
    # no mean of a hidden group is in any cell of its scale's rows, digit for digit (rows of
    # other scales can hold the same rational number by chance: 193/58 = 386/116)
    scores = api["scores"]
    for scale, rows in desc.groupby("scale"):
        published = set(rows.to_numpy().ravel())
        for g in hidden:
            assert repr(float(scores.loc[scores["site"] == g, scale].mean())) not in published
    html = (report_dir / REPORT_FILE).read_text("utf-8")
    assert "suppressed" in html


def _audit_lines(
    lines: list[tuple[float, dict[str, float | None]]], bounds: dict[str, float]
) -> None:
    """Interval attack on lines ``total = Σ cells`` (None: suppressed), a cell ≤ bound[group].

    Repeats: each hidden cell lies in [max(0, T − Σ published − Σ others' upper bounds),
    min(bound, T − Σ published − Σ others' lower bounds)]. A hidden cell is recovered when its
    interval closes to one value; the test asserts none does.
    """
    state = []
    for total, cells in lines:
        rest = total - sum(v for v in cells.values() if v is not None)
        hidden = [g for g, v in cells.items() if v is None]
        lo = dict.fromkeys(hidden, 0.0)
        hi = {g: min(bounds.get(g, rest), rest) for g in hidden}
        state.append((rest, hidden, lo, hi))
    changed = True
    while changed:
        changed = False
        for rest, hidden, lo, hi in state:
            for g in hidden:
                others_hi = sum(hi[h] for h in hidden if h != g)
                others_lo = sum(lo[h] for h in hidden if h != g)
                new_lo, new_hi = max(lo[g], rest - others_hi), min(hi[g], rest - others_lo)
                if (new_lo, new_hi) != (lo[g], hi[g]):
                    lo[g], hi[g], changed = new_lo, new_hi, True
    for rest, hidden, lo, hi in state:
        assert len(hidden) != 1, "a lone suppressed cell equals the total minus the rest"
        if hidden:
            assert rest >= MIN_CELL, "suppressed cells that together hold fewer than min_cell"
        for g in hidden:
            assert lo[g] < hi[g], f"suppressed cell {g} is determined: {lo[g]}"


def test_no_suppressed_value_can_be_recovered_from_totals(report_dir: Path) -> None:
    """Brute force over every line of the site group table with its published totals."""
    sizes = _csv(report_dir, "groups_site").set_index("site")["n"]
    total = float(sizes.pop("all respondents"))
    size_cells = {str(g): None if v == SUPPRESSED else float(v) for g, v in sizes.items()}
    lines: list[tuple[float, dict[str, float | None]]] = [(total, size_cells)]
    scale_n = _csv(report_dir, "score_descriptives").set_index("scale")["n"].astype(float)
    desc = _csv(report_dir, "group_descriptives_site")
    for scale, part in desc.groupby("scale"):
        cells = {
            g: None if v == SUPPRESSED else float(v)
            for g, v in zip(part["group"], part["n"], strict=True)
        }
        lines.append((float(scale_n[scale]), cells))
    # a group's n for one scale is at most its size: the bound an attacker would use
    bounds = {g: total if v is None else v for g, v in size_cells.items()}
    _audit_lines(lines, bounds)
    # and the exhaustive version on the group sizes: every split of the unpublished rest among
    # the hidden groups that respects nothing but non-negativity is consistent with the table
    hidden = [g for g, v in size_cells.items() if v is None]
    rest = int(total - sum(v for v in size_cells.values() if v is not None))
    solutions = {(a, rest - a) for a in range(rest + 1)} if len(hidden) == 2 else set()
    assert len(solutions) > 1 and len({s[0] for s in solutions}) > 1


def test_frequency_and_careless_lines_are_safe(report_dir: Path) -> None:
    freq = _csv(report_dir, "item_frequencies").set_index("item")
    for _, row in freq.iterrows():
        cells = {str(c): None if v == SUPPRESSED else float(v) for c, v in row.items()}
        _audit_lines([(400.0, cells)], {})
    careless = _csv(report_dir, "careless")
    for _, row in careless.iterrows():
        cells = {
            c: None if row[c] == SUPPRESSED else float(row[c])
            for c in ("flagged", "not_flagged", "not_computed")
        }
        _audit_lines([(400.0, cells)], {})


def test_hidden_columns_keeps_every_line_safe() -> None:
    lines = np.array([[100, 50, 40, 5], [98, 50, 9, 5], [100, 49, 40, 0]])
    hidden = hidden_columns(lines, MIN_CELL)
    # 5 and 9 are small, so their columns hide; the last line has no one in the last column,
    # which would leave its 40 alone there: the smallest other cell of that line (49) joins
    assert hidden.tolist() == [False, True, True, True]
    for line in lines:
        live = hidden & (line > 0)
        assert live.sum() != 1 and (live.sum() == 0 or line[live].sum() >= MIN_CELL)
    lines = np.array([[100, 50, 40, 5], [100, 50, 45, 0]])
    hidden = hidden_columns(lines, MIN_CELL)
    for line in lines:
        assert (hidden & (line > 0)).sum() != 1
    assert not hidden_columns(lines, 1).any()


# ---------------------------------------------------------------------------------------------
# the command line: errors, mismatch, atomic writes
# ---------------------------------------------------------------------------------------------
def test_cli_errors_are_messages_not_tracebacks(workspace: Path, cohort_file: Path) -> None:
    out = str(workspace / "never")
    missing = _run(
        "cohort", "report", str(workspace / "nope.parquet"), "-i", "ppai@1.0.0", "-o", out
    )
    assert missing.exit_code == 1 and "no such cohort file" in missing.output
    plain = workspace / "plain.csv"
    plain.write_text("a,b\n1,2\n", "utf-8")
    not_cohort = _run("cohort", "report", str(plain), "-i", "ppai@1.0.0", "-o", out)
    assert not_cohort.exit_code == 1 and "cohort" in not_cohort.output
    bad_group = _run(
        "cohort", "report", str(cohort_file), "-i", "ppai@1.0.0", "--group", "FF1", "-o", out
    )
    assert bad_group.exit_code == 1 and "site, arm" in bad_group.output
    unknown = _run("cohort", "report", str(cohort_file), "-i", "nosuch", "-o", out)
    assert unknown.exit_code == 1 and "no instrument 'nosuch'" in unknown.output
    occupied = workspace / "occupied"
    occupied.mkdir()
    (occupied / "thesis.docx").write_text("precious", "utf-8")
    refused = _run("cohort", "report", str(cohort_file), "-i", "ppai@1.0.0", "-o", str(occupied))
    assert refused.exit_code == 1 and "other files" in refused.output
    assert (occupied / "thesis.docx").read_text("utf-8") == "precious"
    zero = _run(
        "cohort", "report", str(cohort_file), "-i", "ppai@1.0.0", "--min-cell", "0", "-o", out
    )
    assert zero.exit_code == 2
    for result in (missing, not_cohort, bad_group, unknown, refused):
        assert result.output.startswith("error: ") or "\nerror: " in result.output
        assert isinstance(result.exception, SystemExit)
    assert not Path(out).exists()


def test_instrument_mismatch_is_refused_unless_allowed(workspace: Path, cohort_file: Path) -> None:
    changed = workspace / "ppai_changed.yaml"
    text = bundled_file("ppai@1.0.0").read_text("utf-8")
    changed.write_text(text.replace('version: "1.0.0"', 'version: "1.0.1"', 1), "utf-8")
    assert load_instrument(changed).content_hash != PPAI.content_hash
    out = workspace / "mismatch"
    refused = _run("cohort", "report", str(cohort_file), "-i", str(changed), "-o", str(out))
    assert refused.exit_code == 1
    assert (
        "--allow-instrument-mismatch" in refused.output and PPAI.content_hash[:12] in refused.output
    )
    assert not out.exists()
    norms = _run(
        "cohort", "norms", str(cohort_file), "-i", str(changed), "-o", str(workspace / "n.yaml")
    )
    assert norms.exit_code == 1 and "--allow-instrument-mismatch" in norms.output
    allowed = _run(
        "cohort", "report", str(cohort_file), "-i", str(changed), "--allow-instrument-mismatch",
        "--no-figures", "-o", str(out),
    )  # fmt: skip
    assert allowed.exit_code == 0, allowed.output
    html = (out / REPORT_FILE).read_text("utf-8")
    assert "Instrument mismatch allowed" in html and "<svg" not in html
    overview = _csv(out, "overview").set_index("field")["value"]
    assert overview["hashes match"].startswith("no")


def test_writes_are_atomic(
    workspace: Path, cohort_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = build_cohort_report(cohort_file, "ppai@1.0.0", groups=["site"], figures=False)
    out = workspace / "atomic"
    first = write_report(report, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {p.name for p in first} == set(before)
    calls = {"n": 0}
    real = surveytool.io.tables.write_table

    def crash_on_third(*args: Any, **kwargs: Any) -> list[Path]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(surveytool.io.tables, "write_table", crash_on_third)
    with pytest.raises(OSError, match="disk full"):
        write_report(report, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old report, intact
    assert sorted(p.name for p in workspace.iterdir() if p.name.startswith(".atomic")) == []
    monkeypatch.undo()
    write_report(report, out)  # an earlier report is replaced as a whole
    assert (out / REPORT_FILE).is_file()
    fresh = workspace / "fresh" / "nested"
    write_report(report, fresh)
    assert (fresh / MANIFEST_FILE).is_file()


# ---------------------------------------------------------------------------------------------
# norms
# ---------------------------------------------------------------------------------------------
def test_norms_block_validates_and_gives_t_scores(workspace: Path, cohort_file: Path) -> None:
    help_text = _run("cohort", "norms", "--help").output
    assert "norms:" in help_text and "paste" in help_text.lower() and "version" in help_text
    out = workspace / "norms.yaml"
    result = _run(
        "cohort", "norms", str(cohort_file), "-i", "ppai@1.0.0", "--group", "site", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    block = out.read_text("utf-8")
    assert block.startswith("norms:\n")
    normed = load_text(bundled_file("ppai@1.0.0").read_text("utf-8") + "\n" + block, "ppai+norms")
    assert normed.norms is not None and normed.norms.group_columns == ("site",)
    cells = {e.group.get("site", "all") for e in normed.norms.entries}
    assert "d" not in cells and "all" in cells  # the group of 5 has no entry
    assert len(cells) == 3  # everyone + two sites: the smallest other site went with "d"
    cohort = read_cohort_file(cohort_file).frame
    ignore = [c for c in cohort.columns if c not in PPAI.item_by_id and c != "site"]
    scores = score_responses(normed, cohort, group_columns=["site"], ignore_columns=ignore).scores
    t = scores["fault_finding_t"].astype(float)
    percentile = scores["fault_finding_percentile"].astype(float)
    assert t.notna().mean() > 0.9
    assert percentile.dropna().between(0, 100).all()
    # a respondent of a published site is normed by that site's entry
    published = sorted(cells - {"all"})
    entry = next(
        e
        for e in normed.norms.entries
        if e.scale == "fault_finding" and e.group.get("site") == published[0]
    )
    row = scores[(scores["site"] == published[0]) & scores["fault_finding"].notna()].iloc[0]
    assert row["fault_finding_t"] == pytest.approx(
        50 + 10 * (row["fault_finding"] - entry.mean) / entry.sd
    )


def test_report_cli_help_mentions_suppression() -> None:
    text = _run("cohort", "report", "--help").output
    assert "--min-cell" in text and "--allow-instrument-mismatch" in text and "--group" in text
    assert isinstance(io.StringIO(text).read(), str)


def test_cosmin_evidence_table(report_dir: Path, api: dict[str, Any]) -> None:
    table = _csv(report_dir, "cosmin")
    properties = list(table["property"])
    assert properties[:2] == ["structural validity", "internal consistency"]
    assert "measurement invariance (site)" in properties
    assert "differential item functioning (arm)" in properties
    assert properties[-1] == "test–retest reliability, measurement error"
    assert set(table["rating"]) <= {"+", "−", "?"}
    # the structural row quotes the ordinal CFA of the same respondents
    fitted = analysis.cfa(PPAI, api["responses"], ordered=True)
    row = table[table["property"] == "structural validity"].iloc[0]
    assert f"SRMR {float(fitted.fit['srmr']):.3f}" in row["value"]
    # site's group d (5 respondents) is below the minimum cell: left out of invariance and DIF
    site = table[table["property"] == "measurement invariance (site)"].iloc[0]
    assert "5 respondents of groups below the minimum cell left out" in site["basis"]
    retest = table[table["property"].str.startswith("test–retest")].iloc[0]
    assert retest["rating"] == "?" and retest["value"] == "not assessable"


def test_cfa_tables_and_cosmin_share_the_keyed_items_of_the_api(
    report_dir: Path, api: dict[str, Any]
) -> None:
    """The report keys the items once for omega, the EFA, the CFA and the COSMIN section: its
    CFA tables are analysis.cfa's numbers, and the COSMIN table is the same whether it keys the
    items itself or is given the shared ones."""
    from analysis.report.cosmin import cosmin_table
    from analysis.report.sections import TableBuilder

    fitted = api["cfa"]
    loadings = _csv(report_dir, "cfa_loadings").set_index(["factor", "item"])
    expected = fitted.loadings.loc[loadings.index]
    for column in ("estimate", "std_all"):
        np.testing.assert_allclose(
            _num(loadings[column]), expected[column].to_numpy(float), rtol=1e-9
        )
    correlations = _csv(report_dir, "cfa_factor_correlations").set_index("factor")
    np.testing.assert_allclose(
        np.vstack([_num(correlations[c]) for c in fitted.factor_correlations.columns]).T,
        fitted.factor_correlations.loc[correlations.index].to_numpy(float),
        rtol=1e-9,
    )
    shared, own = TableBuilder(MIN_CELL), TableBuilder(MIN_CELL)
    responses = api["responses"]
    cosmin_table(
        shared, PPAI, responses, api["rel"], ["arm"], min_cell=MIN_CELL, keyed=api["keyed"]
    )
    cosmin_table(own, PPAI, responses, api["rel"], ["arm"], min_cell=MIN_CELL)
    pd.testing.assert_frame_equal(shared.tables[0].frame, own.tables[0].frame)
    published = _csv(report_dir, "cosmin")
    structure = shared.tables[0].frame.iloc[0]
    assert structure["value"] == published.iloc[0]["value"]
