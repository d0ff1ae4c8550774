"""Golden data of the statistics tests (tests/golden; made by tests/golden/make_golden_analysis.R).

``bfi``: psych's bfi items with the bfi instrument (2,800 rows, id, gender, age);
``sim``: the simulated 7-point inventory (900 rows, id, site, sex). Both as
``(instrument, raw table, read keywords)``, with a table of its own for every test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import analysis
import surveytool
from surveytool.instrument import Instrument
from surveytool.loader import load_path

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
ANALYSIS = GOLDEN / "analysis"

Dataset = tuple[Instrument, pd.DataFrame, dict[str, Any]]


@pytest.fixture(scope="session")
def golden_bfi() -> Dataset:
    """bfi, read once: share it only with code that does not change it (else use ``bfi``)."""
    return (
        load_path(GOLDEN / "bfi.yaml"),
        pd.read_csv(GOLDEN / "bfi_items.csv"),
        {"id_column": "id", "group_columns": ["gender", "age"]},
    )


@pytest.fixture(scope="session")
def golden_sim() -> Dataset:
    """sim, read once: share it only with code that does not change it (else use ``sim``)."""
    return (
        load_path(ANALYSIS / "sim.yaml"),
        pd.read_csv(ANALYSIS / "sim_items.csv"),
        {"id_column": "id", "group_columns": ["site", "sex"]},
    )


@pytest.fixture
def bfi(golden_bfi: Dataset) -> Dataset:
    """bfi with a table of its own for the test."""
    inst, table, kw = golden_bfi
    return inst, table.copy(), copy.deepcopy(kw)


@pytest.fixture
def sim(golden_sim: Dataset) -> Dataset:
    """sim with a table of its own for the test."""
    inst, table, kw = golden_sim
    return inst, table.copy(), copy.deepcopy(kw)


@pytest.fixture(scope="module")
def bfi_keyed(golden_bfi: Dataset) -> pd.DataFrame:
    """The bfi answers reverse keyed on the declared range (the input of the factor analyses)."""
    inst, table, kw = golden_bfi
    return analysis.keyed_items(inst, table, **kw)


@pytest.fixture(scope="module")
def sim_scored(golden_sim: Dataset) -> surveytool.ScoreResult:
    """The simulated inventory scored by surveytool (mean scores, = psych::scoreItems)."""
    inst, table, kw = golden_sim
    return surveytool.score_responses(inst, table, **kw)
