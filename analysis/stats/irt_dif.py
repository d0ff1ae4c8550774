"""Differential item functioning by IRT likelihood ratios: multi-group graded response models.

The IRT view of DIF (Thissen, Steinberg & Wainer 1993), beside the ordinal-regression view of
:mod:`analysis.stats.dif`. A multi-group GRM (:mod:`analysis.stats.irt`: slopes a_j, intercepts
d_jk, logistic or probit) with θ ~ N(0, 1) in the first group (the reference, which fixes the
scale) and θ ~ N(μ_g, σ_g²) in every other group, μ_g and σ_g free:

- the **compact** model: every item's parameters equal across groups (all items anchor);
- for each studied item j, the **augmented** model: item j's slope and intercepts free in every
  group, the anchors equal, and the **uniform** model between them: item j's intercepts free, its
  slope equal. The anchors: every other item at first ("all other items as anchors"); then, by
  iterative purification, the items not flagged, until the flagged set is stable (DIF items in
  the anchor would bias the groups' latent means and flag clean items); or the items given.
  Items that are neither anchor nor studied are free in every group in all three models.

G² = 2(ℓ_augmented − ℓ_compact) on (G − 1)·K_j df tests any DIF in item j (K_j − 1 intercepts and a
slope); its split: G²_slope = 2(ℓ_augmented − ℓ_uniform) on G − 1 df (non-uniform DIF) and
G²_intercepts = 2(ℓ_uniform − ℓ_compact) on (G − 1)(K_j − 1) df (uniform DIF). Holm's adjustment
over the studied items; an item is flagged when its adjusted p is below ``alpha``.

Estimation: marginal maximum likelihood over the fixed quadrature of :mod:`analysis.stats.irt`
(each group's weights the normal density at the nodes with its μ_g and σ_g, normalized): EM cycles
(items by Fisher scoring on their expected counts, summed over the groups that share them; μ_g, σ_g
from the posterior moments), then quasi-Newton iterations on ℓ with its exact gradient (Fisher's
identity), so that each ℓ is at its maximum to far below the size of a G² that matters.
Each augmented fit starts from the compact one.

In R (reference, not used here): ``mirt::multipleGroup(x, 1, group, itemtype = "graded",
invariance = c(items, "free_means", "free_var"))`` and ``mirt::DIF(fit, c("a1", "d1", ...),
scheme = "drop")``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._input import ReadOptions
from analysis.stats._matrix import one_blas_thread
from analysis.stats._options import check_option
from analysis.stats._result import Result
from analysis.stats.dif import _holm, scale_items
from analysis.stats.irt import (
    Link,
    _Answers,
    _categories,
    _codes,
    _expected_counts,
    _fit_item,
    _item_gradient,
    _log_probabilities,
    _quadrature,
)
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses


@dataclass(frozen=True, repr=False)
class IRTDIFResult(Result):
    """IRT likelihood-ratio DIF: ``items`` (one row per studied item: ``g2``, ``df``, ``p``,
    ``p_holm``, ``g2_slope``, ``df_slope``, ``p_slope``, ``g2_intercepts``, ``df_intercepts``,
    ``p_intercepts``, ``flagged``), ``groups``, the ``anchors`` of the last round and the
    number of ``rounds`` of purification, the anchor model's ``loglik`` (anchors equal, the other
    items free) and each group's latent ``means`` and ``sds`` on the anchors' scale (the
    reference group 0 and 1), its item ``parameters`` (per group and item: ``a``, ``d1``…),
    ``alpha``, ``n_obs``."""

    items: pd.DataFrame
    groups: tuple[str, ...]
    loglik: float
    means: dict[str, float]
    sds: dict[str, float]
    anchors: tuple[str, ...]
    parameters: pd.DataFrame
    rounds: int
    alpha: float
    n_obs: int

    def summary(self) -> pd.DataFrame:
        return self.items


@dataclass
class _Spec:
    """Which items' parameters are free per group: slope and intercepts separately."""

    free_slope: frozenset[int]
    free_intercepts: frozenset[int]


class _Model:
    """A multi-group GRM: the parameter vector's layout, ℓ and its gradient."""

    def __init__(
        self,
        answers: Sequence[_Answers],
        sizes: Sequence[int],
        spec: _Spec,
        link: str,
        nodes: np.ndarray,
    ) -> None:
        self.answers, self.sizes, self.spec, self.link, self.nodes = (
            answers,
            list(sizes),
            spec,
            link,
            nodes,
        )
        n_groups = len(answers)
        self.n_groups = n_groups
        # index of each group's slope and intercepts per item
        self.slope = np.zeros((n_groups, len(sizes)), dtype=np.int64)
        self.intercepts: list[list[np.ndarray]] = [[] for _ in range(n_groups)]
        at = 0
        for j, k in enumerate(sizes):
            n_d = k - 1
            if j in spec.free_slope:
                self.slope[:, j] = at + np.arange(n_groups)
                at += n_groups
            else:
                self.slope[:, j] = at
                at += 1
            if j in spec.free_intercepts:
                for g in range(n_groups):
                    self.intercepts[g].append(at + np.arange(n_d))
                    at += n_d
            else:
                for g in range(n_groups):
                    self.intercepts[g].append(at + np.arange(n_d))
                at += n_d
        self.n_items_params = at
        self.size = at + 2 * (n_groups - 1)  # μ_g and log σ_g of groups 2..G

    def params(self, x: np.ndarray, g: int) -> list[tuple[float, np.ndarray]]:
        return [
            (float(x[self.slope[g, j]]), x[self.intercepts[g][j]]) for j in range(len(self.sizes))
        ]

    def distribution(self, x: np.ndarray, g: int) -> tuple[float, float]:
        if g == 0:
            return 0.0, 1.0
        at = self.n_items_params + 2 * (g - 1)
        return float(x[at]), float(np.exp(x[at + 1]))

    def weights(self, x: np.ndarray, g: int) -> np.ndarray:
        mean, sd = self.distribution(x, g)
        z = (self.nodes - mean) / sd
        w = np.exp(-0.5 * z * z)
        return np.asarray(w / w.sum())

    def valid(self, x: np.ndarray) -> bool:
        return all(
            np.all(np.diff(x[index]) < 0) for group in self.intercepts for index in group
        ) and bool(np.all(np.abs(x[self.n_items_params :]) < 10))

    def posterior(self, x: np.ndarray, g: int) -> tuple[float, np.ndarray]:
        log_p = _log_probabilities(self.params(x, g), self.nodes, self.link)
        log_l = self.answers[g].onehot @ log_p + np.log(self.weights(x, g))[None, :]
        top = log_l.max(axis=1, keepdims=True)
        joint = np.exp(log_l - top)
        total = joint.sum(axis=1, keepdims=True)
        return float(np.sum(np.log(total[:, 0]) + top[:, 0])), joint / total

    def loglik_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """ℓ and its exact gradient by Fisher's identity (expected complete-data scores)."""
        total = 0.0
        grad = np.zeros(self.size)
        for g in range(self.n_groups):
            loglik, post = self.posterior(x, g)
            total += loglik
            counts = _expected_counts(post, self.answers[g])
            for j, (a, d) in enumerate(self.params(x, g)):
                _, score, _ = _item_gradient(a, d, counts[j], self.nodes, self.link)
                grad[self.slope[g, j]] += score[0]
                grad[self.intercepts[g][j]] += score[1:]
            if g > 0:
                n_q = post.sum(axis=0)
                mean, sd = self.distribution(x, g)
                w = self.weights(x, g)
                z = (self.nodes - mean) / sd
                at = self.n_items_params + 2 * (g - 1)
                grad[at] = float(n_q @ (z - w @ z)) / sd
                grad[at + 1] = float(n_q @ (z * z - w @ (z * z)))
        return total, grad

    def em_cycle(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """One EM cycle: items by Fisher scoring on their pooled expected counts, μ_g and σ_g
        from the posterior moments."""
        total = 0.0
        counts_by_group = []
        posts = []
        for g in range(self.n_groups):
            loglik, post = self.posterior(x, g)
            total += loglik
            posts.append(post)
            counts_by_group.append(_expected_counts(post, self.answers[g]))
        new = x.copy()
        for j in range(len(self.sizes)):
            shared_a = j not in self.spec.free_slope
            shared_d = j not in self.spec.free_intercepts
            if shared_a and shared_d:
                pooled = sum(c[j] for c in counts_by_group)
                a, d = _fit_item(
                    float(x[self.slope[0, j]]),
                    x[self.intercepts[0][j]],
                    np.asarray(pooled),
                    self.nodes,
                    self.link,
                )
                new[self.slope[0, j]] = a
                new[self.intercepts[0][j]] = d
            else:
                # partly free: each group's own fit, the shared part averaged by group size
                slopes, ds, ns = [], [], []
                for g in range(self.n_groups):
                    a, d = _fit_item(
                        float(x[self.slope[g, j]]),
                        x[self.intercepts[g][j]],
                        counts_by_group[g][j],
                        self.nodes,
                        self.link,
                    )
                    slopes.append(a)
                    ds.append(d)
                    ns.append(float(counts_by_group[g][j].sum()))
                weights = np.asarray(ns) / sum(ns)
                for g in range(self.n_groups):
                    new[self.slope[g, j]] = (
                        float(weights @ np.asarray(slopes)) if shared_a else slopes[g]
                    )
                    new[self.intercepts[g][j]] = (
                        np.average(np.asarray(ds), axis=0, weights=weights) if shared_d else ds[g]
                    )
        for g in range(1, self.n_groups):
            n_q = posts[g].sum(axis=0)
            mean = float(n_q @ self.nodes / n_q.sum())
            var = float(n_q @ (self.nodes - mean) ** 2 / n_q.sum())
            at = self.n_items_params + 2 * (g - 1)
            new[at], new[at + 1] = mean, 0.5 * np.log(max(var, 1e-4))
        return total, new


def _fit(
    model: _Model, start: np.ndarray, max_cycles: int, tolerance: float
) -> tuple[float, np.ndarray]:
    from scipy.optimize import minimize

    x = start.copy()
    previous = -np.inf
    for _ in range(max_cycles):
        loglik, trial = model.em_cycle(x)
        if not model.valid(trial):
            break
        x = trial
        if abs(loglik - previous) < tolerance:
            break
        previous = loglik

    def negative(v: np.ndarray) -> tuple[float, np.ndarray]:
        if not model.valid(v):
            return np.inf, np.zeros_like(v)
        value, grad = model.loglik_gradient(v)
        return -value, -grad

    polished = minimize(
        negative, x, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 1000}
    )
    best = np.asarray(polished.x, dtype=np.float64)
    loglik, _ = model.loglik_gradient(best)
    return loglik, best


def _start(
    model: _Model, source: _Model | None, x_source: np.ndarray | None, codes: np.ndarray, link: str
) -> np.ndarray:
    """From a fitted model (the compact one), or from the items' margins."""
    x = np.zeros(model.size)
    for g in range(model.n_groups):
        for j, k in enumerate(model.sizes):
            if source is not None and x_source is not None:
                a, d = source.params(x_source, g)[j]
            else:
                column = codes[codes[:, j] >= 0, j]
                cum = np.clip(np.array([(column >= m).mean() for m in range(1, k)]), 1e-3, 1 - 1e-3)
                a, d = 1.0, np.sort(np.log(cum / (1.0 - cum)))[::-1].copy()
            x[model.slope[g, j]] = a
            x[model.intercepts[g][j]] = d
    if source is not None and x_source is not None:
        x[model.n_items_params :] = x_source[source.n_items_params :]
    return x


@one_blas_thread
def irt_dif_model(
    items: pd.DataFrame,
    group: pd.Series | Sequence[object] | np.ndarray,
    *,
    studied: Sequence[str] | None = None,
    anchors: Sequence[str] | None = None,
    purify: bool = True,
    link: Link = "logistic",
    alpha: float = 0.01,
    n_quadrature: int = 61,
    max_cycles: int = 300,
    tolerance: float = 1e-2,
) -> IRTDIFResult:
    """IRT likelihood-ratio DIF of ``studied`` (default: every column of ``items``; ordered
    answers, NaN missing) across ``group`` (one label per row; the first label seen is the
    reference group). ``anchors``: the items held equal across groups in every test (the others
    free); by default every other item anchors, and with ``purify`` the tests are repeated with
    the items not flagged as anchors until the flagged set is stable (at most five rounds, as
    lordif's purification). See the module docstring.
    """
    from scipy import stats

    check_option("link", link, Link)
    if not 0 < alpha < 1:
        raise AnalysisError("alpha must be between 0 and 1")
    names = [str(c) for c in items.columns]
    labels = pd.Series(np.asarray(group, dtype=object), index=items.index)
    if len(labels) != len(items):
        raise AnalysisError(f"{len(labels)} group labels for {len(items)} rows")
    studied_names = list(names if studied is None else studied)
    unknown = [s for s in studied_names if s not in names]
    if unknown:
        raise AnalysisError(f"studied: no item {', '.join(map(str, unknown))} among the items")
    values = items.to_numpy(dtype=np.float64, na_value=np.nan)
    keep = ~np.isnan(values).all(axis=1) & labels.notna().to_numpy()
    values = values[keep]
    labels = labels[keep].astype(str)
    groups = tuple(dict.fromkeys(labels))
    if len(groups) < 2:
        raise AnalysisError("DIF needs at least two groups with answers")
    if len(names) < 3:
        raise AnalysisError("IRT DIF needs at least three items (the others anchor the scale)")
    categories = _categories(values, names)
    codes = _codes(values, categories)
    sizes = [len(c) for c in categories.values()]
    per_group = []
    for value in groups:
        mask = (labels == value).to_numpy()
        group_codes = codes[mask]
        for j, name in enumerate(names):
            seen = np.unique(group_codes[group_codes[:, j] >= 0, j])
            if len(seen) < sizes[j]:
                raise AnalysisError(
                    f"item {name}: group {value!r} uses {len(seen)} of its {sizes[j]} answers; "
                    "the groups' parameters can only be compared when each group uses every "
                    "answer (merge rare answers first)"
                )
        per_group.append(_Answers.of(group_codes, sizes))
    nodes, _ = _quadrature(n_quadrature)
    every = frozenset(range(len(names)))
    base = _Model(per_group, sizes, _Spec(frozenset(), frozenset()), link, nodes)
    ll_base, x_base = _fit(base, _start(base, None, None, codes, link), max_cycles, tolerance)
    fitted: dict[tuple[frozenset[int], frozenset[int]], float] = {
        (frozenset(), frozenset()): ll_base
    }

    def loglik(free_slope: frozenset[int], free_intercepts: frozenset[int]) -> float:
        key = (free_slope, free_intercepts)
        if key not in fitted:
            model = _Model(per_group, sizes, _Spec(free_slope, free_intercepts), link, nodes)
            start = _start(model, base, x_base, codes, link)
            fitted[key] = _fit(model, start, max_cycles, tolerance)[0]
        return fitted[key]

    def tests(anchor_set: frozenset[int]) -> pd.DataFrame:
        rows = []
        n_extra = len(groups) - 1
        for name in studied_names:
            j = names.index(name)
            free = every - (anchor_set - {j}) - {j}  # neither anchor nor studied: free
            with_j = free | {j}
            ll0 = loglik(free, free)
            ll_aug = loglik(with_j, with_j)
            ll_uni = loglik(free, with_j)
            g2 = max(2 * (ll_aug - ll0), 0.0)
            g2_slope = max(2 * (ll_aug - ll_uni), 0.0)
            g2_int = max(2 * (ll_uni - ll0), 0.0)
            df, df_slope, df_int = n_extra * sizes[j], n_extra, n_extra * (sizes[j] - 1)
            rows.append(
                {
                    "item": name,
                    "g2": g2,
                    "df": df,
                    "p": float(stats.chi2.sf(g2, df)),
                    "g2_slope": g2_slope,
                    "df_slope": df_slope,
                    "p_slope": float(stats.chi2.sf(g2_slope, df_slope)),
                    "g2_intercepts": g2_int,
                    "df_intercepts": df_int,
                    "p_intercepts": float(stats.chi2.sf(g2_int, df_int)),
                }
            )
        table = pd.DataFrame(rows).set_index("item")
        table["p_holm"] = _holm(table["p"].to_numpy(dtype=float))
        table["flagged"] = table["p_holm"] < alpha
        return table

    if anchors is not None:
        unknown_anchors = [a for a in anchors if a not in names]
        if unknown_anchors or not anchors:
            raise AnalysisError(
                "anchors: name one or more of the items"
                + (f" (no item {', '.join(map(str, unknown_anchors))})" if unknown_anchors else "")
            )
        anchor_set = frozenset(names.index(a) for a in anchors)
        table = tests(anchor_set)
        rounds = 1
    else:
        # iterative purification: all other items anchor first, then the items not flagged
        anchor_set = every
        table = tests(anchor_set)
        rounds = 1
        while purify and rounds < 5:
            flagged = {names.index(str(n)) for n in table.index[table["flagged"].to_numpy()]}
            candidate = every - frozenset(flagged)
            if candidate == anchor_set or len(candidate) < 1:
                break
            anchor_set = candidate
            table = tests(anchor_set)
            rounds += 1
    # the latent distributions on the anchors' scale: non-anchor items free in every group
    rest = every - anchor_set
    model = _Model(per_group, sizes, _Spec(rest, rest), link, nodes)
    ll_anchor, x_anchor = _fit(
        model, _start(model, base, x_base, codes, link), max_cycles, tolerance
    )
    means, sds = {}, {}
    parameter_rows = []
    for g, value in enumerate(groups):
        means[value], sds[value] = model.distribution(x_anchor, g)
        for name, (a, d) in zip(names, model.params(x_anchor, g), strict=True):
            row: dict[str, object] = {"group": value, "item": name, "a": a}
            row.update({f"d{k + 1}": float(v) for k, v in enumerate(d)})
            parameter_rows.append(row)
    return IRTDIFResult(
        items=table,
        groups=groups,
        loglik=ll_anchor,
        means=means,
        sds=sds,
        anchors=tuple(names[j] for j in sorted(anchor_set)),
        parameters=pd.DataFrame(parameter_rows).set_index(["group", "item"]),
        rounds=rounds,
        alpha=alpha,
        n_obs=int(values.shape[0]),
    )


def irt_dif(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    group_column: str,
    *,
    scale: str,
    anchors: Sequence[str] | None = None,
    alpha: float = 0.01,
    **read: Unpack[ReadOptions],
) -> IRTDIFResult:
    """IRT likelihood-ratio DIF of one subscale's keyed items across ``group_column`` (a group
    column of the responses); see :func:`irt_dif_model`."""
    frame, group, problems = scale_items(instrument, responses, group_column, scale, **read)
    result = irt_dif_model(frame, group, anchors=anchors, alpha=alpha)
    return dataclasses.replace(result, problems=problems)
