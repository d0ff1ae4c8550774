"""Identifier detection over a whole cell array (issue 12: 10**6 columns in seconds) finds
exactly what the checks of one column find, column by column."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from analysis.privacy.identifiers import (
    ColumnDecisions,
    classify_columns,
    name_findings,
    table_name_findings,
    table_value_findings,
    value_findings,
)

POOL: list[object] = [
    "1", "2", " 3 ", "jane.doe@example.com", "Maria Gonzalez", "Maria", "Peter", "John Smith",
    "2024-03-01", "1/3/2024", "192.168.0.1", "+44 20 7946 0958", "SW1A 1AA", "12 High Street",
    "this is a long free text answer with words", None, "", "  ", np.nan, 5, 5.0, True, False,
    "Gonzalez, Maria", "abc", "Anna", "10115", pd.NA,
]  # fmt: skip


def _column(rng: random.Random, rows: int) -> pd.Series:
    kind = rng.random()
    if kind < 0.2:
        return pd.Series([rng.choice([1.0, 2.0, np.nan, 3.5]) for _ in range(rows)], dtype=float)
    if kind < 0.3:
        return pd.Series([rng.choice([True, False]) for _ in range(rows)], dtype=bool)
    if kind < 0.4:
        return pd.Series([f"u{rng.randrange(10**6)}" for _ in range(rows)], dtype="str")
    if kind < 0.5:
        return pd.Series([rng.choice(["Maria", "Anna", None]) for _ in range(rows)], dtype="str")
    return pd.Series([rng.choice(POOL) for _ in range(rows)], dtype=object)


@pytest.mark.parametrize("seed", range(40))
def test_the_cell_array_checks_find_what_the_column_checks_find(seed: int) -> None:
    rng = random.Random(seed)
    rows = rng.choice([1, 2, 3, 5, 10, 12, 30])
    frame = pd.DataFrame({f"c{j}": _column(rng, rows) for j in range(rng.choice([1, 4, 12]))})
    expected = {
        p: found for p in range(frame.shape[1]) if (found := value_findings(frame.iloc[:, p]))
    }
    assert table_value_findings(frame) == expected


def test_the_name_checks_at_once_find_what_one_name_at_a_time_finds() -> None:
    names = [
        "email", "RecipientFirstName", "IPAddress", "zip", "DOB", "Q22_TEXT", "site", "age",
        "phoneNumber", "smartphone", "ResponseId", "FirstName", "home_phone", "lat", "e-mail",
        "HTTPServer", "ip_address", "birth_date", "Patient ID", "FamilyName", "Ünïcode Name",
        "名前", "user-name", "client_id", "x1", "headphones", "given_birth", "",
    ]  # fmt: skip
    found = table_name_findings(names)
    assert found == {i: name_findings(n) for i, n in enumerate(names) if name_findings(n)}
    assert found  # some fire


def test_decisions_are_arrays_that_read_as_a_sequence_of_decisions() -> None:
    frame = pd.DataFrame(
        {"pid": ["a", "b"], "M1": [1, 2], "email": ["a@x.org", "b@x.org"], "x0": [1, 1]}
    )
    decisions = classify_columns(frame, items=["M1"], id_column="pid")
    assert isinstance(decisions, ColumnDecisions) and len(decisions) == 4
    assert [d.role for d in decisions] == ["id", "item", "identifier", "unmatched"]
    assert decisions.get("email") == decisions[2] and decisions.get("nope") is None
    assert [d.column for d in decisions.dropped] == ["email", "x0"]
    assert [d.column for d in decisions.kept_columns] == ["pid", "M1"]
    assert decisions[2].findings and decisions.dropped[0].findings == decisions[2].findings
    assert ColumnDecisions.of(list(decisions))[2] == decisions[2]
    listed, left = decisions.dropped.listed(0)
    assert len(listed) == 0 and sum(r["count"] for r in left) == 2
