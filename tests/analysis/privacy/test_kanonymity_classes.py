"""k-anonymity decided on the class table (one row per class and its count, the Dask import's first
pass) equals k-anonymity decided on the rows (the in-memory import's one pass)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.privacy.kanonymity import enforce_k

COLUMNS = ["age", "site", "sex"]


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.choice(["20-29", "30-39", "40-49", "90+"], n, p=[0.4, 0.3, 0.25, 0.05]),
            "site": rng.choice(["north", "south", "tiny"], n, p=[0.5, 0.47, 0.03]),
            "sex": rng.choice(["f", "m", "x"], n, p=[0.5, 0.45, 0.05]),
        },
        dtype=object,
    )
    frame.loc[rng.random(n) < 0.05, "sex"] = None  # missing is a value of its own
    frame["pseudonym"] = [f"p{i}" for i in range(n)]
    return frame


@pytest.mark.parametrize("method", ["local", "records"])
@pytest.mark.parametrize(("n", "k", "seed"), [(400, 5, 1), (400, 12, 2), (150, 3, 3), (60, 1, 4)])
def test_the_class_table_decides_as_the_rows_do(n: int, k: int, seed: int, method: str) -> None:
    rows = _rows(n, seed)
    one_out, one_keep, one_sizes, one = enforce_k(rows, COLUMNS, k, "pseudonym", method=method)  # type: ignore[arg-type]
    # the first pass: each class and its count, as the partitions' counts add up to
    classes = rows[COLUMNS].astype(object).where(rows[COLUMNS].notna(), "\x02")
    table = classes.value_counts(sort=False).reset_index()
    weights = table.pop("count").to_numpy(dtype=np.int64)
    table = pd.DataFrame(
        {c: [None if v == "\x02" else str(v) for v in table[c]] for c in COLUMNS}, dtype=object
    )
    out, keep, sizes, two = enforce_k(table, COLUMNS, k, None, method=method, weights=weights)  # type: ignore[arg-type]
    assert two == one
    # the second pass: every row takes its class's decision
    lookup = {tuple(r): i for i, r in enumerate(table.itertuples(index=False))}
    position = [
        lookup[tuple(r)]
        for r in rows[COLUMNS]
        .astype(object)
        .where(rows[COLUMNS].notna(), None)
        .itertuples(index=False)
    ]
    assert (keep[position] == one_keep).all()
    assert (sizes[position] == one_sizes).all()
    expected = one_out.loc[one_keep, COLUMNS].reset_index(drop=True)
    got = out.iloc[position].loc[keep[position], COLUMNS].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.astype(object), expected.astype(object))
    if k >= 5:
        assert one.suppressed or one.blanked  # the cases exercise suppression


def test_weights_count_rows_not_respondents() -> None:
    table = pd.DataFrame({"age": ["20-29"]}, dtype=object)
    table["pseudonym"] = ["p"]
    with pytest.raises(ValueError, match="no respondent column"):
        enforce_k(table, ["age"], 2, "pseudonym", weights=np.array([3]))
