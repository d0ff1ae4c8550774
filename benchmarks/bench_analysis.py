"""Reliability and item statistics, 1,000,000 respondents x 40 items, 8 subscales (target ≤ 1 s).

Data: the graded response model of ``surveytool.simulate`` (2% missing, reverse keys) on the
benchmark instrument. Two figures, each against a straightforward pandas baseline run in the same
process, which computes the same things per subscale with pandas' pairwise ``.cov()`` / ``.corr()``
(alpha family, item–total and item–rest correlations) and per item ``.isna()``, ``.value_counts()``,
``.skew()`` and ``.kurt()``:

1. the public path from the DataFrame: validation of every cell, the one-pass sums,
   ``reliability`` and ``item_statistics`` (the ≤ 1 s figure);
2. the same from the validated matrix (the statistics alone).

The baseline's raw alpha is checked against ours, so the comparison is of equal work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import analysis
from benchmarks.common import bench_instrument, best_of, report
from surveytool.instrument.model import Instrument
from surveytool.responses import read_responses
from surveytool.scoring.simulate import SimulationSpec, simulate


def pandas_baseline(inst: Instrument, frame: pd.DataFrame) -> dict[str, float]:
    """Per subscale with pandas: reverse, cov/corr (pairwise), alpha family, item statistics."""
    alphas: dict[str, float] = {}
    for sub in inst.subscales:
        block = frame[list(sub.items)].astype("float64")
        for item_id in sub.items:
            item = inst.item_by_id[item_id]
            if item.reverse:
                scale = inst.response_scales[item.scale]
                block[item_id] = scale.min + scale.max - block[item_id]
        k = len(sub.items)
        cov = block.cov()
        corr = block.corr()
        c, r = cov.to_numpy(), corr.to_numpy()
        alphas[sub.id] = k / (k - 1) * (1 - np.trace(c) / c.sum())
        _std_alpha = k / (k - 1) * (1 - k / r.sum())
        _smc = 1 - 1 / np.diag(np.linalg.inv(r))
        total = block.mean(axis=1)
        _raw_r = block.corrwith(total)
        for item_id in sub.items:
            rest = block.drop(columns=item_id).mean(axis=1)
            _r_drop = block[item_id].corr(rest)
        _means, _sds = block.mean(), block.std()
    raw = frame.astype("float64")
    _missing = raw.isna().mean()
    _frequencies = {c: raw[c].value_counts() for c in raw.columns}
    _skew, _kurt = raw.skew(), raw.kurt()
    return alphas


def run(n: int = 1_000_000) -> list[str]:
    inst = bench_instrument()
    frame = simulate(inst, SimulationSpec(n=n, seed=1, missing=0.02))
    items = frame[[i.id for i in inst.items]]
    lines = [
        f"reliability + item statistics: {n:,} respondents x {len(inst.items)} items, "
        f"{len(inst.subscales)} subscales (pairwise, reverse keys, 2% missing; target <= 1 s)"
    ]

    def public_path() -> tuple[analysis.Reliability, analysis.ItemStatistics]:
        sums = analysis.sufficient_statistics(inst, items)
        return analysis.reliability(inst, sums), analysis.item_statistics(inst, sums)

    validated = read_responses(inst, items)

    def statistics_only() -> tuple[analysis.Reliability, analysis.ItemStatistics]:
        sums = analysis.sufficient_statistics(inst, validated)
        return analysis.reliability(inst, sums), analysis.item_statistics(inst, sums)

    ours = best_of(public_path)
    ours_stats = best_of(statistics_only)
    base = best_of(lambda: pandas_baseline(inst, items), repeat=1)
    lines.append(
        "  "
        + report("from the DataFrame (validate + sums + tables)", ours, base, "pandas baseline")
    )
    lines.append(
        "  " + report("from validated answers (sums + tables)", ours_stats, base, "pandas baseline")
    )
    rel, _ = public_path()
    expected = pandas_baseline(inst, items)
    worst = max(
        abs(float(rel.scales["raw_alpha"].astype(float)[s]) - a) for s, a in expected.items()
    )
    lines.append(f"  max |raw_alpha - pandas baseline| = {worst:.3g}")
    return lines


if __name__ == "__main__":
    import sys

    for line in run(100_000 if "--quick" in sys.argv else 1_000_000):
        print(line)
