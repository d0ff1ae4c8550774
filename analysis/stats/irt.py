"""Item response theory: Samejima's graded response model (GRM) for Likert items.

Model. For item j with categories 0..K_j−1 (its observed answers, in order), slope a_j and
intercepts d_j1 > … > d_j,K−1, the probability of answering in category k or above is
P*_jk(θ) = 1/(1 + exp(−(a_jθ + d_jk))) (logistic, the default) or Φ(a_jθ + d_jk) (``link="probit"``),
with P*_j0 = 1 and P*_jK = 0; the category probability is P_jk = P*_jk − P*_j,k+1. The
slope–threshold form has b_jk = −d_jk/a_j, so P*_jk = F(a_j(θ − b_jk)). θ ~ N(0, 1).

Calibration by marginal maximum likelihood: the marginal log-likelihood
ℓ = Σ_i log Σ_q w_q Π_j P_{j,x_ij}(θ_q) over a rectangular quadrature of ``n_quadrature`` points on
[−6, 6] with normal weights, a missing answer contributing 1, is maximized by EM (Bock & Aitkin
1981): the E-step gives each respondent's posterior over the nodes, the M-step maximizes each item's
expected complete-data log-likelihood by Newton steps; then a few quasi-Newton iterations on ℓ
itself (its gradient by Fisher's identity) finish the fit. Standard errors: the inverse of the
observed information, the Hessian of ℓ by central differences of its exact gradient.

Person scores: EAP θ̂ = E(θ | x) and its posterior SD; MAP θ̂ (the posterior mode, Newton on the
log posterior) with SE = 1/√(−∂² log posterior/∂θ²); both use the answered items only. T = 50 + 10θ.
Item information (GRM): I_j(θ) = a_j² Σ_k (Q*_jk − Q*_j,k+1)² / P_jk with Q* = P*(1 − P*) for
the logistic link (φ(a_jθ + d)·… for the probit); test information Σ_j I_j(θ) (+1 from the prior
for the posterior).

Scoring from published parameters (the layout PROMIS publishes: ``a``, ``cb1``…``cbK``, the
slope and thresholds of the logistic slope–threshold form): :func:`score_with_parameters`.

References: Samejima (1969); Bock & Aitkin (1981). In R (reference, not used here):
``mirt::mirt(x, 1, itemtype = "graded")``, ``coef(fit, IRTpars = TRUE)``, ``fscores(fit,
method = "EAP")``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import keyed_matrix, one_blas_thread
from analysis.stats._options import check_option
from analysis.stats._result import Result
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses

Link = Literal["logistic", "probit"]
ScoreMethod = Literal["EAP", "MAP"]

_THETA_RANGE = 6.0


@dataclass(frozen=True, repr=False)
class GRMResult(Result):
    """A calibrated graded response model.

    ``items``: one row per item: ``a`` and ``d1``..``d{K−1}`` (slope–intercept) with standard
    errors ``a_se``, ``d1_se``…; ``thresholds``: ``a`` and ``b1``..``b{K−1}`` (slope–threshold).
    ``categories``: each item's categories (answers, in order). ``loglik`` at the optimum,
    ``n_obs``, ``converged``, ``link``, ``n_quadrature``.
    """

    items: pd.DataFrame
    thresholds: pd.DataFrame
    categories: dict[str, tuple[float, ...]]
    loglik: float
    n_obs: int
    converged: bool
    link: str
    n_quadrature: int

    def summary(self) -> pd.DataFrame:
        return self.thresholds

    def information(self, theta: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Item information at each θ (rows θ, columns items) and ``test`` (their sum)."""
        grid = np.asarray(theta, dtype=np.float64)
        params = _params_from_table(self.items, self.categories)
        info = np.column_stack([_item_information(a, d, grid, self.link) for a, d in params])
        table = pd.DataFrame(
            info, index=pd.Index(grid, name="theta"), columns=list(self.categories)
        )
        table["test"] = info.sum(axis=1)
        return table

    def scores(
        self, answers: pd.DataFrame, *, method: ScoreMethod = "EAP", n_quadrature: int = 61
    ) -> pd.DataFrame:
        """Person scores of ``answers`` (columns = items, answers as in calibration, NaN missing):
        ``theta``, ``se``, ``t`` (50 + 10θ), ``t_se``, ``n_answered``."""
        check_option("method", method, ScoreMethod)
        params = _params_from_table(self.items, self.categories)
        codes = _codes(answers[list(self.categories)].to_numpy(dtype=np.float64), self.categories)
        return _person_scores(params, codes, self.link, method, n_quadrature, answers.index)


def _logistic(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def _cumulative(
    a: float, d: np.ndarray, theta: np.ndarray, link: str
) -> tuple[np.ndarray, np.ndarray]:
    """P*_k (k = 0..K, with P*_0 = 1, P*_K = 0) and its derivative in the linear predictor."""
    from scipy.special import ndtr

    z = a * theta[:, None] + d[None, :]
    if link == "probit":
        upper = ndtr(z)
        dens = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    else:
        upper = _logistic(z)
        dens = upper * (1.0 - upper)
    ones = np.ones((theta.shape[0], 1))
    zeros = np.zeros((theta.shape[0], 1))
    return np.hstack([ones, upper, zeros]), np.hstack([zeros, dens, zeros])


def _category_probabilities(a: float, d: np.ndarray, theta: np.ndarray, link: str) -> np.ndarray:
    star, _ = _cumulative(a, d, theta, link)
    return np.asarray(np.clip(star[:, :-1] - star[:, 1:], 1e-300, None), dtype=np.float64)


def _item_information(a: float, d: np.ndarray, theta: np.ndarray, link: str) -> np.ndarray:
    star, dens = _cumulative(a, d, theta, link)
    prob = np.clip(star[:, :-1] - star[:, 1:], 1e-300, None)
    slope = a * (dens[:, :-1] - dens[:, 1:])
    return np.asarray(np.sum(slope * slope / prob, axis=1), dtype=np.float64)


def _quadrature(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes = np.linspace(-_THETA_RANGE, _THETA_RANGE, n)
    weights = np.exp(-0.5 * nodes * nodes)
    return nodes, weights / weights.sum()


def _categories(values: np.ndarray, names: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Each item's observed answers, in order: its categories (two at least)."""
    categories: dict[str, tuple[float, ...]] = {}
    for j, name in enumerate(names):
        levels = np.unique(values[~np.isnan(values[:, j]), j])
        if len(levels) < 2:
            raise AnalysisError(f"item {name} has fewer than two different answers")
        categories[name] = tuple(float(v) for v in levels)
    return categories


def _codes(values: np.ndarray, categories: Mapping[str, tuple[float, ...]]) -> np.ndarray:
    codes = np.full(values.shape, -1, dtype=np.int64)
    for j, levels in enumerate(categories.values()):
        column = values[:, j]
        seen = ~np.isnan(column)
        position = np.searchsorted(np.asarray(levels), column[seen])
        known = np.isin(column[seen], np.asarray(levels))
        if not known.all():
            bad = column[seen][~known][0]
            raise AnalysisError(f"item {list(categories)[j]}: answer {bad:g} was not calibrated")
        codes[seen, j] = position
    return codes


@dataclass
class _Answers:
    """Answers as one-hot columns (all items side by side; a missing answer is a row of zeros), so
    that every respondent's likelihood at every node, and the expected counts of every item, are
    one matrix product each."""

    onehot: np.ndarray  # n x sum(K)
    offsets: np.ndarray  # item j's columns: offsets[j]:offsets[j + 1]
    codes: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, sizes: Sequence[int]) -> _Answers:
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        onehot = np.zeros((codes.shape[0], int(offsets[-1])))
        rows, cols = np.nonzero(codes >= 0)
        onehot[rows, offsets[cols] + codes[rows, cols]] = 1.0
        return cls(onehot=onehot, offsets=offsets, codes=codes)


def _log_probabilities(
    params: Sequence[tuple[float, np.ndarray]], nodes: np.ndarray, link: str
) -> np.ndarray:
    """log P_jk(θ_q) of every item and category (rows, in one-hot column order) at every node."""
    return np.vstack([np.log(_category_probabilities(a, d, nodes, link)).T for a, d in params])


def _marginal(
    params: Sequence[tuple[float, np.ndarray]],
    answers: _Answers,
    nodes: np.ndarray,
    weights: np.ndarray,
    link: str,
) -> tuple[float, np.ndarray]:
    """The marginal log-likelihood and each respondent's posterior over the nodes."""
    log_l = answers.onehot @ _log_probabilities(params, nodes, link) + np.log(weights)[None, :]
    top = log_l.max(axis=1, keepdims=True)
    joint = np.exp(log_l - top)
    total = joint.sum(axis=1, keepdims=True)
    loglik = float(np.sum(np.log(total[:, 0]) + top[:, 0]))
    return loglik, joint / total


def _expected_counts(posterior: np.ndarray, answers: _Answers) -> list[np.ndarray]:
    """r_qk per item: the expected number of respondents at node q answering category k."""
    counts = posterior.T @ answers.onehot
    return [
        np.asarray(counts[:, answers.offsets[j] : answers.offsets[j + 1]], dtype=np.float64)
        for j in range(len(answers.offsets) - 1)
    ]


def _item_gradient(
    a: float, d: np.ndarray, counts: np.ndarray, nodes: np.ndarray, link: str
) -> tuple[float, np.ndarray, np.ndarray]:
    """Expected complete-data log-likelihood of one item, its gradient in (a, d) and Hessian
    (Fisher scoring: the expected information at the nodes)."""
    star, dens = _cumulative(a, d, nodes, link)
    prob = np.clip(star[:, :-1] - star[:, 1:], 1e-300, None)  # Q x K
    value = float(np.sum(counts * np.log(prob)))
    k = prob.shape[1]
    # dP_k/d eta_m for m = 1..K-1 (P*_m, "category m or above"): P_m = P*_m - P*_{m+1} gains
    # +dens_m, P_{m-1} = P*_{m-1} - P*_m loses it
    dp_deta = np.zeros((nodes.shape[0], k, k - 1))
    for m in range(1, k):
        dp_deta[:, m, m - 1] += dens[:, m]
        dp_deta[:, m - 1, m - 1] -= dens[:, m]
    # eta_m = a*theta + d_m: d/da = theta * d/d eta, d/d d_m = d/d eta_m
    dp = np.concatenate(
        [(dp_deta.sum(axis=2) * nodes[:, None])[:, :, None], dp_deta], axis=2
    )  # Q x K x (1 + K-1)
    n_q = counts.sum(axis=1)  # respondents (expected) at each node
    score = np.einsum("qk,qkp->p", counts / prob, dp)
    info = np.einsum("q,qkp,qkr->pr", n_q, dp / prob[:, :, None], dp)
    return value, score, info


def _fit_item(
    a: float, d: np.ndarray, counts: np.ndarray, nodes: np.ndarray, link: str
) -> tuple[float, np.ndarray]:
    x = np.concatenate([[a], d])
    value, _, _ = _item_gradient(a, d, counts, nodes, link)
    for _ in range(25):
        _, score, info = _item_gradient(x[0], x[1:], counts, nodes, link)
        try:
            step = np.linalg.solve(info + 1e-10 * np.eye(len(x)), score)
        except np.linalg.LinAlgError:
            break
        for _half in range(30):
            trial = x + step
            if np.all(np.isfinite(trial)) and np.all(np.diff(trial[1:]) < 0):
                new, _, _ = _item_gradient(trial[0], trial[1:], counts, nodes, link)
                if new >= value - 1e-12:
                    break
            step = step / 2.0
        else:
            break
        moved = float(np.max(np.abs(trial - x)))
        x, value = trial, new
        if moved < 1e-10:
            break
    return float(x[0]), x[1:]


def _pack(params: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    return np.concatenate([np.concatenate([[a], d]) for a, d in params])


def _unpack(x: np.ndarray, sizes: Sequence[int]) -> list[tuple[float, np.ndarray]]:
    out = []
    at = 0
    for k in sizes:
        out.append((float(x[at]), np.asarray(x[at + 1 : at + k])))
        at += k
    return out


def _gradient(
    x: np.ndarray,
    sizes: Sequence[int],
    answers: _Answers,
    nodes: np.ndarray,
    weights: np.ndarray,
    link: str,
) -> tuple[float, np.ndarray]:
    """ℓ and its exact gradient (Fisher's identity: the expected complete-data score)."""
    params = _unpack(x, sizes)
    loglik, posterior = _marginal(params, answers, nodes, weights, link)
    grads = []
    for (a, d), counts in zip(params, _expected_counts(posterior, answers), strict=True):
        _, score, _ = _item_gradient(a, d, counts, nodes, link)
        grads.append(score)
    return loglik, np.concatenate(grads)


@one_blas_thread
def grm_model(
    data: pd.DataFrame,
    *,
    link: Link = "logistic",
    n_quadrature: int = 61,
    max_cycles: int = 500,
    tolerance: float = 1e-4,
) -> GRMResult:
    """Calibrate the graded response model on ``data`` (one column per item, ordered answers,
    NaN missing; each item's observed answers are its categories). See the module docstring.
    """
    from scipy.optimize import minimize

    check_option("link", link, Link)
    if n_quadrature < 15:
        raise AnalysisError("n_quadrature must be at least 15")
    names = [str(c) for c in data.columns]
    values = data.to_numpy(dtype=np.float64, na_value=np.nan)
    answered = ~np.isnan(values)
    values = values[answered.any(axis=1)]
    n_obs, p = values.shape
    if n_obs < 10 or p < 2:
        raise AnalysisError("the GRM needs at least 2 items and 10 respondents with an answer")
    categories = _categories(values, names)
    codes = _codes(values, categories)
    answers = _Answers.of(codes, [len(c) for c in categories.values()])
    nodes, weights = _quadrature(n_quadrature)

    # start: intercepts from the margins (logits of cumulative proportions), slopes 1
    params: list[tuple[float, np.ndarray]] = []
    for j in range(p):
        column = codes[codes[:, j] >= 0, j]
        k = len(categories[names[j]])
        cum = np.array([(column >= m).mean() for m in range(1, k)])
        cum = np.clip(cum, 1e-3, 1 - 1e-3)
        d = np.log(cum / (1.0 - cum)) * (1.7 if link == "logistic" else 1.0) / 1.7
        params.append((1.0, np.sort(d)[::-1].copy()))

    previous = -np.inf
    converged = False
    for _ in range(max_cycles):
        loglik, posterior = _marginal(params, answers, nodes, weights, link)
        params = [
            _fit_item(a, d, counts, nodes, link)
            for (a, d), counts in zip(params, _expected_counts(posterior, answers), strict=True)
        ]
        if abs(loglik - previous) < tolerance:
            converged = True
            break
        previous = loglik
    sizes = [1 + len(d) for _, d in params]

    def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
        if not np.all(np.isfinite(x)) or any(np.any(np.diff(d) >= 0) for _, d in _unpack(x, sizes)):
            return np.inf, np.zeros_like(x)
        value, grad = _gradient(x, sizes, answers, nodes, weights, link)
        return -value, -grad

    polished = minimize(
        negative, _pack(params), jac=True, method="BFGS", options={"gtol": 1e-7, "maxiter": 500}
    )
    x = np.asarray(polished.x, dtype=np.float64)
    loglik, grad = _gradient(x, sizes, answers, nodes, weights, link)
    converged = converged or bool(np.max(np.abs(grad)) < 1e-3)

    # observed information: central differences of the exact gradient
    n_par = x.shape[0]
    hessian = np.zeros((n_par, n_par))
    for i in range(n_par):
        h = 1e-5 * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        hessian[:, i] = (
            _gradient(up, sizes, answers, nodes, weights, link)[1]
            - _gradient(down, sizes, answers, nodes, weights, link)[1]
        ) / (2 * h)
    hessian = 0.5 * (hessian + hessian.T)
    try:
        cov = np.linalg.inv(-hessian)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        cov = np.full((n_par, n_par), np.nan)
        se = np.full(n_par, np.nan)
    params = _unpack(x, sizes)
    k_max = max(sizes) - 1
    rows = []
    th_rows = []
    at = 0
    for (a, d), size in zip(params, sizes, strict=True):
        row: dict[str, float] = {"a": a, "a_se": float(se[at])}
        th: dict[str, float] = {"a": a, "a_se": float(se[at])}
        block = cov[at : at + size, at : at + size]
        for m in range(k_max):
            if m < len(d):
                row[f"d{m + 1}"] = float(d[m])
                row[f"d{m + 1}_se"] = float(se[at + 1 + m])
                b = -float(d[m]) / a
                # delta method: b = -d/a, grad = (d/a², -1/a)
                g = np.array([float(d[m]) / (a * a), -1.0 / a])
                sub = block[np.ix_([0, 1 + m], [0, 1 + m])]
                th[f"b{m + 1}"] = b
                th[f"b{m + 1}_se"] = float(np.sqrt(max(g @ sub @ g, 0.0)))
            else:
                row[f"d{m + 1}"] = row[f"d{m + 1}_se"] = np.nan
                th[f"b{m + 1}"] = th[f"b{m + 1}_se"] = np.nan
        rows.append(row)
        th_rows.append(th)
        at += size
    index = pd.Index(names, name="item")
    return GRMResult(
        items=pd.DataFrame(rows, index=index),
        thresholds=pd.DataFrame(th_rows, index=index),
        categories=categories,
        loglik=loglik,
        n_obs=n_obs,
        converged=converged,
        link=link,
        n_quadrature=n_quadrature,
    )


def _params_from_table(
    items: pd.DataFrame, categories: Mapping[str, tuple[float, ...]]
) -> list[tuple[float, np.ndarray]]:
    out = []
    for name, levels in categories.items():
        d = items.loc[name, [f"d{m + 1}" for m in range(len(levels) - 1)]].to_numpy(dtype=float)
        slope = items.loc[[name], "a"].to_numpy(dtype=float)[0]
        out.append((float(slope), d))
    return out


def _person_scores(
    params: Sequence[tuple[float, np.ndarray]],
    codes: np.ndarray,
    link: str,
    method: str,
    n_quadrature: int,
    index: pd.Index,
) -> pd.DataFrame:
    nodes, weights = _quadrature(n_quadrature)
    answers = _Answers.of(codes, [len(d) + 1 for _, d in params])
    log_l = answers.onehot @ _log_probabilities(params, nodes, link) + np.log(weights)[None, :]
    top = log_l.max(axis=1, keepdims=True)
    post = np.exp(log_l - top)
    post /= post.sum(axis=1, keepdims=True)
    eap = post @ nodes
    psd = np.sqrt(np.clip(post @ (nodes * nodes) - eap * eap, 0.0, None))
    n_answered = (codes >= 0).sum(axis=1)
    if method == "EAP":
        theta, se = eap, psd
    else:
        theta = eap.copy()
        curvature = np.ones_like(theta)
        for _ in range(50):
            grad = -theta.copy()  # the N(0, 1) prior
            hess = -np.ones_like(theta)
            for j, (a, d) in enumerate(params):
                seen = codes[:, j] >= 0
                if not seen.any():
                    continue
                g, h = _person_derivatives(a, d, theta[seen], codes[seen, j], link)
                grad[seen] += g
                hess[seen] += h
            step = -grad / hess
            theta = np.clip(theta + step, -_THETA_RANGE, _THETA_RANGE)
            curvature = -hess
            if float(np.max(np.abs(step))) < 1e-10:
                break
        se = 1.0 / np.sqrt(curvature)
    return pd.DataFrame(
        {
            "theta": theta,
            "se": se,
            "t": 50.0 + 10.0 * theta,
            "t_se": 10.0 * se,
            "n_answered": n_answered,
        },
        index=index,
    )


def _person_derivatives(
    a: float, d: np.ndarray, theta: np.ndarray, codes: np.ndarray, link: str
) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative in θ of log P_{x}(θ) per respondent (numerically stable by
    central differences of the analytic first derivative)."""

    def first(t: np.ndarray) -> np.ndarray:
        star, dens = _cumulative(a, d, t, link)
        rows = np.arange(t.shape[0])
        p = np.clip(star[rows, codes] - star[rows, codes + 1], 1e-300, None)
        dp = a * (dens[rows, codes] - dens[rows, codes + 1])
        return np.asarray(dp / p, dtype=np.float64)

    h = 1e-5
    return first(theta), (first(theta + h) - first(theta - h)) / (2 * h)


def score_with_parameters(
    parameters: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    categories: Mapping[str, Sequence[float]] | None = None,
    method: ScoreMethod = "EAP",
    n_quadrature: int = 61,
) -> pd.DataFrame:
    """Score ``answers`` with published GRM item parameters (logistic slope–threshold form).

    ``parameters``: one row per item (index = item id), columns ``a`` and ``cb1``..``cbK`` (the
    PROMIS layout; ``b1``.. also accepted). ``categories``: each item's answers in order (default:
    1, 2, …, K+1, the PROMIS coding). Missing answers are skipped. Returns ``theta``, ``se``,
    ``t`` = 50 + 10θ, ``t_se`` and ``n_answered`` per respondent.
    """
    check_option("method", method, ScoreMethod)
    params = []
    cats: dict[str, tuple[float, ...]] = {}
    for item, row in parameters.iterrows():
        name = str(item)
        columns = [c for c in parameters.columns if str(c).lower().startswith(("cb", "b"))]
        b = np.array([float(row[c]) for c in columns if not pd.isna(row[c])])
        if b.size == 0 or "a" not in parameters.columns:
            raise AnalysisError(f"parameters of {name}: give a and cb1..cbK (or b1..bK)")
        if np.any(np.diff(b) <= 0):
            raise AnalysisError(f"parameters of {name}: the thresholds must increase")
        a = float(row["a"])
        params.append((a, -a * b))
        given = None if categories is None else categories.get(name)
        cats[name] = tuple(float(v) for v in (given if given is not None else range(1, b.size + 2)))
        if len(cats[name]) != b.size + 1:
            raise AnalysisError(f"{name}: {len(cats[name])} categories for {b.size} thresholds")
    missing = [n for n in cats if n not in answers.columns]
    if missing:
        raise AnalysisError(f"no answers column for {', '.join(missing)}")
    codes = _codes(answers[list(cats)].to_numpy(dtype=np.float64), cats)
    return _person_scores(params, codes, "logistic", method, n_quadrature, answers.index)


def grm(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    scale: str | None = None,
    link: Link = "logistic",
    **read: Unpack[ReadOptions],
) -> GRMResult:
    """Calibrate the GRM on an instrument's keyed items: one subscale (``scale``) or, when it has
    a single subscale, the whole instrument.
    """
    from surveytool.scoring.plan import ScoringPlan

    plan, answers, problems = validated(instrument, responses, **read)
    keyed = keyed_matrix(plan, answers.values)
    full: ScoringPlan = plan
    subscales = {sub.id: [int(j) for j in sub.columns] for sub in full.subscales}
    if scale is None:
        if len(subscales) != 1:
            raise AnalysisError(f"choose a scale: one of {', '.join(subscales)}")
        scale = next(iter(subscales))
    if scale not in subscales:
        raise AnalysisError(f"no subscale {scale!r}; choose one of {', '.join(subscales)}")
    columns = subscales[scale]
    frame = pd.DataFrame(keyed[:, columns], columns=[plan.item_ids[j] for j in columns])
    import dataclasses

    return dataclasses.replace(grm_model(frame, link=link), problems=problems)
