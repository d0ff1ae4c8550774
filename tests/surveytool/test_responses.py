"""The vectorised validation of :func:`surveytool.responses.read_responses` against a per-cell
reference written here, on random frames (hypothesis).

The reference states the rules of the module docstring one cell at a time, in plain Python:
numbers must be whole numbers on the scale or a declared missing code, text is stripped and read
as an exact decimal or as a label (any case, runs of white space as one), ``NA_STRINGS`` are
missing, booleans are never answers. Every issue (code, row, column, respondent id, value, reason),
every answer and every declared missing code must agree.
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from surveytool.instrument.model import Instrument
from surveytool.io.sources import NA_STRINGS
from surveytool.responses import read_responses

SCALES: dict[str, dict[str, Any]] = {
    "agree": {
        "min": 1,
        "max": 5,
        "labels": {1: "Never", 3: "Some  times", 5: "Always"},
        "missing_codes": {9: "Prefer not to say", -1: "Not asked"},
    },
    "freq": {"min": 0, "max": 3, "labels": {0: "None", 3: "All"}},
}
ITEMS = {"A1": "agree", "A2": "agree", "F1": "freq", "F2": "freq"}
INSTRUMENT = Instrument.model_validate(
    {
        "id": "cells",
        "version": "1.0.0",
        "title": "Cell rules",
        "response_scales": SCALES,
        "items": [{"id": i, "text": f"Item {i}", "scale": s} for i, s in ITEMS.items()],
        "subscales": [
            {"id": "all", "label": "All", "items": list(ITEMS), "method": "mean"},
        ],
        "checks": [{"id": "c1", "item": "A1", "rule": {"at_or_above": 5}, "level": "support"}],
    }
)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def reference_cell(cell: object, scale_name: str) -> tuple[float, str | None, float]:
    """(answer or NaN, problem code or None, declared missing code or NaN) of one cell."""
    scale = SCALES[scale_name]
    lo, hi, codes = scale["min"], scale["max"], scale.get("missing_codes", {})
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return math.nan, None, math.nan
    if isinstance(cell, bool | np.bool_):
        return math.nan, "not_an_answer", math.nan
    inexact = False
    if isinstance(cell, int | float | np.integer | np.floating):
        number = float(cell)
    else:
        text = str(cell).strip()
        if text in NA_STRINGS:
            return math.nan, None, math.nan
        if _NUMBER.fullmatch(text):
            exact = decimal.Decimal(text)
            number = float(exact)
            inexact = exact != exact.to_integral_value() and number == round(number)
        else:
            labels = {fold(t): float(c) for c, t in scale.get("labels", {}).items()}
            labels |= {fold(t): float(c) for c, t in codes.items()}
            if fold(text) not in labels:
                return math.nan, "not_an_answer", math.nan
            number = labels[fold(text)]
    if number in codes and not inexact:
        return math.nan, None, number
    if math.isinf(number) or number < lo or number > hi:
        return math.nan, "off_scale", math.nan
    if number != round(number) or inexact:
        return math.nan, "not_whole_number", math.nan
    return number, None, math.nan


REASONS = {
    "off_scale": "off the scale {lo}..{hi}",
    "not_whole_number": "not a whole number",
    "not_an_answer": "not a number and not a label of scale {name!r}",
}

numbers = st.sampled_from(
    [1.0, 2.0, 3.0, 5.0, 0.0, -0.0, 4.0, 6.0, 7.0, 9.0, -1.0, 2.5, 0.1, 1e16, -math.inf, math.inf]
) | st.floats(allow_nan=True, allow_infinity=True)
texts = st.sampled_from(
    [
        "1",
        " 2 ",
        "3.0",
        "2.50",
        "1e0",
        "-1",
        "9",
        "9.0",
        "2.9999999999999999",
        "9.00000000000000001",
        "7",
        "0",
        "-0.0",
        "never",
        "  ALWAYS ",
        "some times",
        "Some\ttimes",
        "prefer not  to say",
        "not asked",
        "None",
        "all",
        "maybe",
        "NA",
        "N/A",
        "",
        "   ",
        "nan",
        "NULL",
        "x1",
    ]
)
cells = st.one_of(
    numbers,
    texts,
    st.none(),
    st.integers(-3, 12),
    st.booleans(),
    st.text(alphabet="0123456789. eE+-abN/", max_size=6),
)


@st.composite
def columns(draw: st.DrawFn, n: int) -> pd.Series:
    kind = draw(st.sampled_from(["float", "int", "Int64", "object", "string", "category", "bool"]))
    if kind == "float":
        return pd.Series(draw(st.lists(numbers, min_size=n, max_size=n)), dtype="float64")
    if kind == "int":
        return pd.Series(draw(st.lists(st.integers(-3, 12), min_size=n, max_size=n)), dtype="int64")
    if kind == "Int64":
        values = draw(st.lists(st.none() | st.integers(-3, 12), min_size=n, max_size=n))
        return pd.Series(values, dtype="Int64")
    if kind == "bool":
        return pd.Series(
            draw(st.lists(st.none() | st.booleans(), min_size=n, max_size=n)), dtype="boolean"
        )
    if kind == "object":
        return pd.Series(draw(st.lists(cells, min_size=n, max_size=n)), dtype=object)
    values = draw(st.lists(st.one_of(st.none(), texts), min_size=n, max_size=n))
    return pd.Series(values, dtype="string" if kind == "string" else "category")


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, bool]:
    n = draw(st.integers(1, 25))
    data = {item: draw(columns(n)) for item in ITEMS if draw(st.integers(0, 9)) > 0}
    with_ids = draw(st.booleans())
    if with_ids:
        ids = st.none() | st.sampled_from(["a", "b", " a ", "c", "", "d", "e"])
        data["pid"] = pd.Series(draw(st.lists(ids, min_size=n, max_size=n)), dtype=object)
    return pd.DataFrame(data, index=range(n)), with_ids


def reference(frame: pd.DataFrame, with_ids: bool) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """The issues (as tuples) and the answer matrix, cell by cell."""
    n = len(frame)
    issues: list[tuple[Any, ...]] = [
        (
            "missing_item",
            None,
            item,
            None,
            None,
            "item column is missing; every answer counts as missing"
            + (
                ", and check 'c1' cannot be made (its column is left empty, not 'none')"
                if item == "A1"  # the item of INSTRUMENT's check c1
                else ""
            ),
        )
        for item in ITEMS
        if item not in frame.columns
    ]
    ids: list[str | None] = [None] * n
    keep = [True] * n
    if with_ids:
        first: dict[str, int] = {}
        raw_ids = [None if v is None else str(v).strip() or None for v in frame["pid"]]
        for r, rid in enumerate(raw_ids):
            if rid is None:
                keep[r] = False
                issues.append(
                    (
                        "empty_respondent_id",
                        r + 1,
                        "pid",
                        None,
                        None,
                        "empty respondent id; row quarantined",
                    )
                )
        for r, rid in enumerate(raw_ids):
            if rid is not None and rid in first:
                keep[r] = False
                issues.append(
                    (
                        "duplicate_respondent_id",
                        r + 1,
                        "pid",
                        rid,
                        rid,
                        f"duplicate respondent id (first at row {first[rid]}); row quarantined",
                    )
                )
            elif rid is not None:
                first[rid] = r + 1
        ids = raw_ids
    answers = np.full((n, len(ITEMS)), np.nan)
    for j, (item, scale_name) in enumerate(ITEMS.items()):
        if item not in frame.columns:
            continue
        for r, cell in enumerate(frame[item].astype(object)):
            answer, code, _ = reference_cell(cell, scale_name)
            answers[r, j] = answer
            if code is not None:
                scale = SCALES[scale_name]
                reason = REASONS[code].format(lo=scale["min"], hi=scale["max"], name=scale_name)
                issues.append((code, r + 1, item, ids[r], str(cell), reason))
    return issues, answers[np.array(keep, dtype=bool)]


def flat(issues: pd.DataFrame) -> list[tuple[Any, ...]]:
    def plain(v: object) -> object:
        return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v

    return [
        (r.code, plain(r.row), plain(r.column), plain(r.respondent_id), plain(r.value), r.reason)
        for r in issues.itertuples(index=False)
    ]


@settings(max_examples=300, deadline=None)
@given(frames())
def test_vectorised_validation_equals_the_per_cell_reference(case: tuple[pd.DataFrame, bool]):
    frame, with_ids = case
    got = read_responses(INSTRUMENT, frame, id_column="pid" if with_ids else None)
    expected_issues, expected_answers = reference(frame, with_ids)
    assert flat(got.issues) == expected_issues
    assert got.issues["row"].dtype == "Int64"
    np.testing.assert_array_equal(got.values, expected_answers)
    if "A1" in frame.columns:  # the checked item keeps each row's declared missing code
        codes = [reference_cell(c, "agree")[2] for c in frame["A1"].astype(object)]
        kept = np.asarray(codes)[got.rows - 1]
        np.testing.assert_array_equal(got.coded_missing["A1"], kept)


def test_blocks_past_the_first_are_checked_exactly() -> None:
    """A bad cell deep in a long numeric column (past the fast check's first blocks) is found,
    with its row and raw value, and only it."""
    n = 200_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "A1": rng.integers(1, 6, n).astype("float64"),
            "A2": rng.integers(1, 6, n),
            "F1": rng.integers(0, 4, n).astype("float64"),
            "F2": pd.array(rng.integers(0, 4, n), dtype="Int64"),
        }
    )
    frame.loc[150_001, "A1"] = 2.5
    frame.loc[199_999, "A2"] = 9  # a declared missing code, not an issue
    frame.loc[70_000, "F1"] = -0.0  # 0 is on the scale 0..3
    frame.loc[120_000, "F1"] = np.inf
    frame.loc[3, "F2"] = pd.NA
    frame.loc[180_000, "F2"] = 4
    got = read_responses(INSTRUMENT, frame)
    assert flat(got.issues) == [
        ("not_whole_number", 150_002, "A1", None, "2.5", "not a whole number"),
        ("off_scale", 120_001, "F1", None, "inf", "off the scale 0..3"),
        ("off_scale", 180_001, "F2", None, "4", "off the scale 0..3"),
    ]
    assert np.isnan(got.values[[150_001, 199_999, 120_000, 3, 180_000], [0, 1, 2, 3, 3]]).all()
    assert got.values[70_000, 2] == 0.0
    assert int(np.isnan(got.values).sum()) == 5
    assert got.coded_missing["A1"].shape == (n,) and np.isnan(got.coded_missing["A1"]).all()
