"""Fit measures shared by the CFA fitters (ML, multi-group, FIML, ordinal): the incremental
indices, RMSEA, SRMR for ordered data, and the measure sets of an ML and a WLSMV fit."""

from __future__ import annotations

import numpy as np


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


def rmsea(chisq: float, df: float, n: float, groups: int = 1) -> float:
    """RMSEA = √G · √max(χ²/(n·df) − 1/n, 0), and 0 for a model without degrees of freedom.

    ``n`` is the N lavaan divides by: N for ML, N − G for ordered data; G the number of groups.
    """
    if df <= 0:
        return 0.0
    return float(np.sqrt(groups) * np.sqrt(max(chisq / (n * df) - 1.0 / n, 0.0)))


def ml_fit(
    chisq: float,
    df: int,
    base_chisq: float,
    base_df: int,
    *,
    n_obs: int,
    srmr: float,
    npar: int,
    groups: int = 1,
) -> dict[str, float]:
    """An ML fit's measures: χ², df, p, CFI, TLI, RMSEA (over ``groups`` groups), SRMR, the
    number of parameters, the baseline's χ² and df, N (lavaan's ``fitMeasures``, in this order).
    """
    from scipy import stats

    cfi, tli = cfi_tli(chisq, df, base_chisq, base_df)
    return {
        "chisq": chisq,
        "df": float(df),
        "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan"),
        "cfi": cfi,
        "tli": tli,
        "rmsea": rmsea(chisq, df, n_obs, groups),
        "srmr": srmr,
        "npar": float(npar),
        "baseline_chisq": base_chisq,
        "baseline_df": float(base_df),
        "n_obs": float(n_obs),
    }


def scaled_fit(
    chisq: float,
    df: int,
    scaling: tuple[float, float],
    baseline: tuple[float, float, float],
    *,
    n: int,
    groups: int = 1,
) -> dict[str, float]:
    """A WLSMV fit's measures (lavaan's order): χ², df and p; the scaled-and-shifted
    χ²* = a·χ² + b (``scaling`` = (a, b)) and its p, 1/a and b; the baseline's χ², χ²* and df
    (``baseline``); CFI, TLI and RMSEA of χ², then of χ²* (1, 1 and 0 without degrees of
    freedom). ``n`` is the N of :func:`rmsea` (N − G for ordered data)."""
    from scipy import stats

    a, b = scaling
    base_chisq, base_ss, base_df = baseline
    chisq_ss = a * chisq + b

    def incremental(t: float, t0: float) -> tuple[float, float]:
        return (1.0, 1.0) if df <= 0 else cfi_tli(t, df, t0, base_df)

    cfi, tli = incremental(chisq, base_chisq)
    cfi_s, tli_s = incremental(chisq_ss, base_ss)
    return {
        "chisq": chisq,
        "df": float(df),
        "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan"),
        "chisq_scaled": chisq_ss,
        "pvalue_scaled": float(stats.chi2.sf(chisq_ss, df)) if df > 0 else float("nan"),
        "chisq_scaling_factor": 1.0 / a,
        "chisq_shift": b,
        "baseline_chisq": base_chisq,
        "baseline_chisq_scaled": base_ss,
        "baseline_df": float(base_df),
        "cfi": cfi,
        "tli": tli,
        "rmsea": rmsea(chisq, df, n, groups),
        "cfi_scaled": cfi_s,
        "tli_scaled": tli_s,
        "rmsea_scaled": rmsea(chisq_ss, df, n, groups),
    }


def ordered_srmr(residuals: np.ndarray, p: int) -> float:
    """lavaan's SRMR for ordered data: the correlation residuals over the p(p + 1)/2 elements,
    the (zero) diagonal included."""
    return float(np.sqrt(np.sum(residuals * residuals) / (p * (p + 1) / 2)))
