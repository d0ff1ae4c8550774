"""Incremental fit indices shared by the CFA fitters (ML, multi-group, FIML, ordinal)."""

from __future__ import annotations


def cfi_tli(chisq: float, df: float, base: float, base_df: float) -> tuple[float, float]:
    """CFI and TLI of a model (χ², df) against its baseline (χ²₀, df₀).

    CFI = 1 − max(χ² − df, 0)/max(χ² − df, χ²₀ − df₀, 0), and 1 (as lavaan) when neither the
    model nor the baseline misfits beyond its df; TLI = (χ²₀/df₀ − χ²/df)/(χ²₀/df₀ − 1), missing
    (NaN) when its denominator is 0, and 1 for a model without degrees of freedom.
    """
    worst = max(chisq - df, base - base_df, 0.0)
    cfi = 1.0 - max(chisq - df, 0.0) / worst if worst > 0 else 1.0
    if df <= 0:
        return float(cfi), 1.0
    spread = base / base_df - 1.0
    tli = (base / base_df - chisq / df) / spread if spread != 0 else float("nan")
    return float(cfi), float(tli)
