"""Multiple-comparison adjustment shared by the tests of the analysis API."""

from __future__ import annotations

import numpy as np


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (R's ``p.adjust(p, "holm")``), NaN left as NaN and out of m:
    p̃_(i) = max_{j ≤ i} min(1, (m − j + 1)·p_(j)) over the m p values in increasing order.

    The numbers of statsmodels' ``multipletests(p, method="holm")[1]`` (tied p values get the
    same adjusted value in either order), without its ``gc.collect()`` on every call, which
    cost the report a tenth of a second each time.
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = order.size
        scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
        out[order] = np.maximum.accumulate(scaled)
    return out
