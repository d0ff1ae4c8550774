"""surveytool's ``mean`` scores against R's psych::scoreItems, on the real bfi data set.

The expected numbers were made once by ``Rscript tests/golden/make_golden.R`` (R and the psych
version are in tests/golden/README.md) and committed; this test only reads the CSV files, so CI
needs no R. Each expected number is the R call

    # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6, totals = FALSE)$scores

with ``keys`` = psychTools::bfi.keys. psych reverses a negatively keyed item as ``max + min - x`` with
the ``min``/``max`` given (1, 6); surveytool reverses on the declared scale range 1..6 of
tests/golden/bfi.yaml, so the two agree. With ``impute = "none"`` a scale is
``rowMeans(..., na.rm = TRUE)``: NaN when every item of the scale is missing, which surveytool
reports as NaN with status ``insufficient`` (``min_answered: 1``).

The scores are compared to the last bit: every sum of at most five integer answers is exact in
float64 and divided once, and R's long-double ``rowMeans`` rounds those quotients the same way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import surveytool
from surveytool.io.tables import read_metadata

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
INSTRUMENT = GOLDEN / "bfi.yaml"
SCALES = ("agree", "conscientious", "extraversion", "neuroticism", "openness")
ITEMS = tuple(f"{f}{i}" for f in "ACENO" for i in range(1, 6))
NON_ITEM_COLUMNS = ("gender", "age")

# items file -> the file of scoreItems scores made from it by make_golden.R
DATASETS = {
    "bfi": ("bfi_items.csv", "bfi_scoreitems_mean.csv"),
    "bfi_planted": ("bfi_planted_items.csv", "bfi_planted_scoreitems_mean.csv"),
}


def _items(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / DATASETS[name][0])


def _expected(name: str) -> pd.DataFrame:
    # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6, totals = FALSE)$scores
    # written with sprintf("%.17g"), NA (R's NaN from rowMeans of nothing) as "NA"
    frame = pd.read_csv(GOLDEN / DATASETS[name][1], dtype={"id": str})
    assert tuple(frame.columns) == ("id", *SCALES)
    return frame


def _assert_matches_r(got: pd.DataFrame, expected: pd.DataFrame) -> float:
    """Every score equal to R's (NaN where R has NA); returns the max absolute difference."""
    assert got["id"].astype(str).tolist() == expected["id"].tolist()
    worst = 0.0
    for scale in SCALES:
        ours = got[scale].to_numpy(dtype=np.float64)
        theirs = expected[scale].to_numpy(dtype=np.float64)
        # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6)$scores[, scale]
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=scale)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9, err_msg=scale)
        # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6)$scores[, scale]
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{scale}: not bit-identical to R")
        both = ~np.isnan(theirs)
        if both.any():
            worst = max(worst, float(np.max(np.abs(ours[both] - theirs[both]))))
    return worst


def _run_cli(items_csv: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "surveytool",
            "score",
            "--instrument",
            str(INSTRUMENT),
            str(items_csv),
            "--id-column",
            "id",
            "-o",
            str(output),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


# ---- the golden files are what the README says ------------------------------------------------


def test_golden_items_are_the_bfi_data_set() -> None:
    real = _items("bfi")
    planted = _items("bfi_planted")
    assert tuple(real.columns) == ("id", *ITEMS, *NON_ITEM_COLUMNS)
    assert tuple(planted.columns) == tuple(real.columns)
    assert len(real) == len(planted) == 2800
    assert real["id"].is_unique
    assert real["id"].tolist() == planted["id"].tolist()
    # psychTools::bfi: sum(is.na(bfi[1:25])) == 508; first row 61617
    assert int(real[list(ITEMS)].isna().sum().sum()) == 508
    assert real["id"].iloc[0] == 61617
    values = real[list(ITEMS)].to_numpy(dtype=np.float64)
    assert set(np.unique(values[~np.isnan(values)])) == {1, 2, 3, 4, 5, 6}
    # planting only removes answers (or restores a missing one in the one-item-per-scale rows)
    before = real[list(ITEMS)].to_numpy(dtype=np.float64)
    after = planted[list(ITEMS)].to_numpy(dtype=np.float64)
    answered_both = ~np.isnan(before) & ~np.isnan(after)
    np.testing.assert_array_equal(before[answered_both], after[answered_both])
    assert planted[list(ITEMS)].isna().to_numpy().mean() > 0.15


def test_planted_golden_has_whole_scales_missing() -> None:
    planted = _items("bfi_planted")
    expected = _expected("bfi_planted")
    for f, scale in zip("ACENO", SCALES, strict=True):
        block = planted[[f"{f}{i}" for i in range(1, 6)]]
        all_missing = block.isna().all(axis=1).to_numpy()
        assert all_missing.sum() >= 15  # 10 planted for the scale + 5 empty respondents
        # R: psych::scoreItems(keys, planted, impute = "none", min = 1, max = 6)$scores: NaN exactly
        # where rowMeans(..., na.rm = TRUE) has no item
        np.testing.assert_array_equal(expected[scale].isna().to_numpy(), all_missing)
    assert planted[list(ITEMS)].isna().all(axis=1).sum() == 5


# ---- the Python API -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_python_scores_equal_r_scoreitems(name: str) -> None:
    frame = _items(name)
    scores = surveytool.score(str(INSTRUMENT), frame, id_column="id")
    expected = _expected(name)
    assert len(scores) == len(frame)
    # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6, totals = FALSE)$scores
    worst = _assert_matches_r(scores, expected)
    assert worst == 0.0
    for f, scale in zip("ACENO", SCALES, strict=True):
        answered = frame[[f"{f}{i}" for i in range(1, 6)]].notna().sum(axis=1).to_numpy()
        np.testing.assert_array_equal(scores[f"{scale}_n"].to_numpy(), answered)
        status = scores[f"{scale}_status"].astype(str).to_numpy()
        np.testing.assert_array_equal(status == "insufficient", answered == 0)
    # the only issues: the two non-item columns, reported (not silently dropped)
    issues = scores.attrs["issues"]
    assert sorted(issues["column"]) == sorted(NON_ITEM_COLUMNS)
    assert set(issues["kind"]) == {"column"}
    provenance = scores.attrs["provenance"]
    assert provenance["instrument_id"] == "bfi"
    assert provenance["instrument_version"] == "1.0.0"


def test_python_scores_spot_values() -> None:
    """A few literal numbers from R, so a reader can check them without the golden files."""
    real = surveytool.score(str(INSTRUMENT), _items("bfi"), id_column="id").set_index("id")
    # R: psych::scoreItems(bfi.keys, bfi[1:25], impute = "none", min = 1, max = 6)$scores["61617", ]
    #    agree 4, conscientious 2.8, extraversion 3.8, neuroticism 2.8, openness 3
    # A1 = 2 reversed to 5: (5 + 4 + 3 + 4 + 4) / 5 = 4
    assert real.loc["61617", "agree"] == 4.0
    # C4 = 4 -> 3, C5 = 4 -> 3: (2 + 3 + 3 + 3 + 3) / 5 = 2.8
    assert real.loc["61617", "conscientious"] == 2.8
    assert real.loc["61617", "extraversion"] == 3.8
    assert real.loc["61617", "neuroticism"] == 2.8
    assert real.loc["61617", "openness"] == 3.0
    planted = surveytool.score(str(INSTRUMENT), _items("bfi_planted"), id_column="id")
    planted = planted.set_index("id")
    # R: psych::scoreItems(bfi.keys, planted, impute = "none", min = 1, max = 6)$scores["61617",
    #    "openness"] == 2.75 (O5 missing: (3 + 1 + 3 + 4) / 4)
    assert planted.loc["61617", "openness"] == 2.75
    expected = _expected("bfi_planted").set_index("id")
    empty = expected.index[expected[list(SCALES)].isna().all(axis=1)]
    assert len(empty) == 5
    for rid in empty:
        # R: psych::scoreItems(bfi.keys, planted, impute = "none", min = 1, max = 6)$scores[rid, ]
        #    is NaN for all five scales (no answered item)
        assert planted.loc[rid, list(SCALES)].isna().all()
        assert (planted.loc[rid, [f"{s}_status" for s in SCALES]] == "insufficient").all()


# ---- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_cli_csv_scores_equal_r_scoreitems(name: str, tmp_path: Path) -> None:
    output = tmp_path / "tmp" / "scores.csv"
    done = _run_cli(GOLDEN / DATASETS[name][0], output)
    assert done.returncode == 0, done.stderr
    assert "rows read 2800 = rows scored 2800 + rows quarantined 0" in done.stdout
    got = pd.read_csv(output, dtype={"id": str})
    # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6, totals = FALSE)$scores
    assert _assert_matches_r(got, _expected(name)) == 0.0
    # the CSV's metadata sidecar and the quarantine report of the two non-item columns
    meta = read_metadata(output)
    assert meta is not None and meta["instrument_id"] == "bfi"
    quarantine = pd.read_csv(output.with_name("scores.quarantine.csv"))
    assert sorted(quarantine["column"]) == sorted(NON_ITEM_COLUMNS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_cli_parquet_equals_python_path(name: str, tmp_path: Path) -> None:
    output = tmp_path / "scores.parquet"
    done = _run_cli(GOLDEN / DATASETS[name][0], output)
    assert done.returncode == 0, done.stderr
    from_cli = pd.read_parquet(output)
    in_process = surveytool.score(str(INSTRUMENT), _items(name), id_column="id")
    assert list(from_cli.columns) == list(in_process.columns)
    assert from_cli["id"].astype(str).tolist() == in_process["id"].astype(str).tolist()
    for scale in SCALES:
        np.testing.assert_array_equal(
            from_cli[scale].to_numpy(dtype=np.float64),
            in_process[scale].to_numpy(dtype=np.float64),
            err_msg=scale,
        )
        np.testing.assert_array_equal(
            from_cli[f"{scale}_n"].to_numpy(), in_process[f"{scale}_n"].to_numpy()
        )
        assert from_cli[f"{scale}_status"].astype(str).tolist() == (
            in_process[f"{scale}_status"].astype(str).tolist()
        )
    # R: psych::scoreItems(keys, items, impute = "none", min = 1, max = 6, totals = FALSE)$scores
    assert _assert_matches_r(from_cli, _expected(name)) == 0.0
    meta = read_metadata(output)
    assert meta is not None
    instrument = surveytool.load_instrument(str(INSTRUMENT))
    assert meta["instrument_id"] == "bfi" == instrument.id
    assert meta["instrument_version"] == "1.0.0" == instrument.version
    assert meta["instrument_hash"] == instrument.content_hash
    assert len(meta["instrument_hash"]) == 64
    assert meta == in_process.attrs["provenance"]
