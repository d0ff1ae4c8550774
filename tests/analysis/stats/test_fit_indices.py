"""CFI and TLI at their edges: the shared formula of the ML, multi-group, FIML and ordinal CFA."""

from __future__ import annotations

import math

import pytest

from analysis.stats._fit import cfi_tli


def test_ordinary_values_follow_the_formulas() -> None:
    cfi, tli = cfi_tli(30.0, 10.0, 210.0, 15.0)
    assert cfi == pytest.approx(1.0 - 20.0 / 195.0)
    assert tli == pytest.approx((14.0 - 3.0) / 13.0)


def test_cfi_is_one_when_neither_model_nor_baseline_misfits() -> None:
    # uncorrelated answers: the baseline fits as well as the model (both within their df)
    cfi, tli = cfi_tli(4.0, 5.0, 9.0, 10.0)
    assert cfi == 1.0
    assert tli == pytest.approx((0.9 - 0.8) / (0.9 - 1.0))


def test_tli_is_missing_when_its_denominator_is_zero() -> None:
    cfi, tli = cfi_tli(5.0, 5.0, 10.0, 10.0)
    assert cfi == 1.0
    assert math.isnan(tli)


def test_a_model_without_degrees_of_freedom_has_tli_one() -> None:
    cfi, tli = cfi_tli(0.0, 0, 10.0, 10.0)
    assert cfi == 1.0
    assert tli == 1.0
