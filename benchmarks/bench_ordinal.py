"""Ordinal psychometrics on the bundled inventory (58 items, 14 subscales), 100,000 respondents.

Data: ``surveytool simulate`` of ppai 1.0.0 (seed 17, no missing answers, two sites with a 0.2
shift). Three figures, each with a baseline run here and lavaan's time on the same data:

1. the polychoric matrix (1,653 pairs), against a plain scipy implementation: each pair on its
   own, ``scipy.optimize.minimize_scalar`` (bounded) on the pair's bivariate-normal likelihood;
2. the ordinal CFA (WLSMV, 14 factors), against a plain scipy fit of the same model by
   unweighted least squares on the polychoric matrix (no asymptotic covariance, no robust
   statistics: what is left when the weight matrix and the standard errors are taken away);
3. the configural, metric and scalar ML invariance models across the two sites, against one
   single-group ML CFA fitted with the same optimizer (the cost of one model).

lavaan's times were measured once on this machine, on ppai 1.0.0 data (``/tmp/rbench/bench.R`` in the commit that
added this file: ``lavCor(x, ordered = items)``, ``cfa(model, x, ordered = items, estimator =
"WLSMV")`` and the three ``cfa(model, x, group = "site", group.equal = ...)``), R 4.2.2 and lavaan
0.6-14, while other jobs shared the machine; they are quoted, not re-run (CI has no R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.common import best_of, report

#: seconds lavaan took on the same data (see the module docstring); None: not measured
LAVAAN_SECONDS: dict[str, float | None] = {
    "polychoric": None,
    "cfa_wlsmv": None,
    "invariance3": None,
}


def _data(n: int) -> tuple[pd.DataFrame, dict[str, list[str]], str]:
    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.simulate import SimulationSpec, simulate

    inst = load_instrument("ppai")
    spec = SimulationSpec(
        n=n, seed=17, missing=0.0, group_column="site", groups=("a", "b"), group_shift=0.2
    )
    frame = simulate(inst, spec)
    factors = {s.id: list(s.items) for s in inst.subscales}
    return frame, factors, f"{inst.id} {inst.version}"


def _plain_polychoric(values: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize_scalar

    from analysis.stats.polychoric import bivariate_normal_cdf, thresholds_of

    p = values.shape[1]
    levels = [np.unique(values[:, j]) for j in range(p)]
    codes = [np.searchsorted(levels[j], values[:, j]) for j in range(p)]
    taus = [thresholds_of(np.bincount(c)) for c in codes]
    out = np.eye(p)
    for a in range(p):
        for b in range(a + 1, p):
            ka, kb = len(levels[a]), len(levels[b])
            table = np.bincount(codes[a] * kb + codes[b], minlength=ka * kb).reshape(ka, kb)
            ba = np.concatenate([[-np.inf], taus[a], [np.inf]])
            bb = np.concatenate([[-np.inf], taus[b], [np.inf]])
            h, k = np.meshgrid(ba, bb, indexing="ij")

            def negative(
                r: float, h: np.ndarray = h, k: np.ndarray = k, t: np.ndarray = table
            ) -> float:
                cdf = bivariate_normal_cdf(h, k, np.full(h.shape, r))
                pi = cdf[1:, 1:] - cdf[:-1, 1:] - cdf[1:, :-1] + cdf[:-1, :-1]
                return -float(np.sum(t * np.log(np.clip(pi, 1e-300, None))))

            fit = minimize_scalar(negative, bounds=(-0.999, 0.999), method="bounded",
                                  options={"xatol": 1e-10})  # fmt: skip
            out[a, b] = out[b, a] = float(fit.x)
    return out


def _uls_cfa(r: np.ndarray, factors: dict[str, list[str]], names: list[str]) -> None:
    from scipy.optimize import least_squares

    position = {n: j for j, n in enumerate(names)}
    m = len(factors)
    membership = np.zeros(len(names), dtype=int)
    for f, items in enumerate(factors.values()):
        for item in items:
            membership[position[item]] = f
    iu = np.triu_indices(len(names), 1)

    def residuals(x: np.ndarray) -> np.ndarray:
        lam = np.zeros((len(names), m))
        lam[np.arange(len(names)), membership] = x[: len(names)]
        low = np.zeros((m, m))
        low[np.tril_indices(m, -1)] = x[len(names) :]
        phi = np.eye(m) + low + low.T
        sigma = lam @ phi @ lam.T
        return np.asarray((r - sigma)[iu])

    x0 = np.concatenate([np.full(len(names), 0.6), np.full(m * (m - 1) // 2, 0.2)])
    least_squares(residuals, x0, method="trf", xtol=1e-10, ftol=1e-10)


def run(n: int = 100_000) -> list[str]:
    import analysis
    from analysis.stats.cfa import cfa_model
    from analysis.stats.invariance import invariance_model

    frame, factors, which = _data(n)
    names = [i for items in factors.values() for i in items]
    values = frame[names].to_numpy(dtype=np.float64)
    lines = [
        f"ordinal psychometrics ({which}): {n:,} respondents x {len(names)} items, "
        f"{len(factors)} factors"
    ]

    ours = best_of(lambda: analysis.polychoric_matrix(frame[names]), repeat=1)
    base = best_of(lambda: _plain_polychoric(values), repeat=1, warmup=False)
    lines.append("  " + report("polychoric matrix", ours, base, "per-pair scipy loop"))
    lines.append(_lavaan("polychoric", ours))

    ours_cfa = best_of(lambda: analysis.ordinal_cfa_model(frame[names], factors), repeat=1)
    rho = analysis.polychoric_matrix(frame[names]).rho.to_numpy()
    base_cfa = best_of(lambda: _uls_cfa(rho, factors, names), repeat=1)
    lines.append("  " + report("ordinal CFA (WLSMV)", ours_cfa, base_cfa, "scipy ULS on rho"))
    lines.append(_lavaan("cfa_wlsmv", ours_cfa))

    models = ("configural", "metric", "scalar")
    data = frame[[*names, "site"]]
    ours_inv = best_of(lambda: invariance_model(data, factors, "site", models=models), repeat=1)
    base_inv = best_of(lambda: cfa_model(frame[names], factors), repeat=1)
    lines.append(
        "  "
        + report("invariance, 3 models", ours_inv, base_inv, "one single-group ML CFA (semopy)")
    )
    lines.append(_lavaan("invariance3", ours_inv))
    return lines


def _lavaan(key: str, ours: float) -> str:
    seconds = LAVAAN_SECONDS.get(key)
    if seconds is None:
        return f"    lavaan: not measured for {key}"
    return f"    lavaan (measured once, quoted): {seconds:.1f} s; lavaan/ours {seconds / ours:.1f}"
