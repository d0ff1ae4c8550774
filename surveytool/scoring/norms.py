"""Norm look-up, T-scores and percentiles (FORMULAS.md, "T-score" and "Percentile").

Stratified norms: a respondent gets the entry whose group matches every group column exactly, else
the instrument's fallback entry (no group), else none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from surveytool.instrument.model import Instrument, NormEntry


def entry_for(instrument: Instrument, scale_id: str, group: dict[str, str]) -> NormEntry | None:
    """The norm entry for one scale and one respondent's group values (or the fallback)."""
    norms = instrument.norms
    if norms is None:
        return None
    fallback = None
    for entry in norms.entries:
        if entry.scale != scale_id:
            continue
        if not entry.group:
            fallback = entry
        elif group and all(str(group.get(k)) == v for k, v in entry.group.items()):
            return entry
    return fallback


def norm_columns(
    instrument: Instrument, scale_id: str, scores: np.ndarray, groups: pd.DataFrame
) -> dict[str, np.ndarray]:
    """T-score, percentile, percentile source and norm group for one scale, vectorised.

    T = 50 + 10·(raw − mean)/sd. Percentile: linear interpolation in the entry's percentile table
    (held at the table's ends, within [0, 100]); without a table, Φ(z)·100, marked ``normal``.
    """
    n = len(scores)
    t = np.full(n, np.nan)
    pct = np.full(n, np.nan)
    source = np.full(n, None, dtype=object)
    label = np.full(n, None, dtype=object)
    norms = instrument.norms
    assert norms is not None
    columns = [c for c in norms.group_columns if c in groups.columns]
    if columns:
        keys = groups[columns].astype("string").fillna("")
        codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
        combos = [dict(zip(columns, (str(v) for v in u), strict=True)) for u in uniques]
    else:
        codes, combos = np.zeros(n, dtype=np.int64), [{}]
    for code, group in enumerate(combos):
        entry = entry_for(instrument, scale_id, group)
        if entry is None:
            continue
        rows = codes == code
        raw = scores[rows]
        t[rows] = 50.0 + 10.0 * (raw - entry.mean) / entry.sd
        if entry.percentiles:
            xs = np.array([p.score for p in entry.percentiles])
            ps = np.array([p.percentile for p in entry.percentiles])
            pct[rows] = np.clip(np.interp(raw, xs, ps), 0.0, 100.0)
            source[rows] = "table"
        else:
            pct[rows] = ndtr((raw - entry.mean) / entry.sd) * 100.0
            source[rows] = "normal"
        label[rows] = ",".join(f"{k}={v}" for k, v in sorted(entry.group.items())) or "all"
    missing = np.isnan(scores)
    pct[missing] = np.nan
    source[missing] = None
    return {"t": t, "percentile": pct, "percentile_source": source, "norm_group": label}
