"""Longitudinal measurement invariance: the same structure across waves answered by the same people.

Across groups, invariance compares independent samples (:mod:`analysis.stats.invariance`). Across
waves the respondents are the same, so the waves are not independent groups: the model is one
confirmatory factor analysis of the wide data (each item at each wave a variable), with

- a factor per subscale per wave, the first item its marker (loading 1) at every wave;
- the factors of all waves correlated (Φ free);
- each item's residuals correlated across waves (the same words read again: Θ free between the
  waves of one item, zero otherwise);
- means: intercepts ν, factor means α fixed at 0 unless the intercepts are held equal, then free
  from the second wave on (the first wave sets the origin).

The sequence holds more and more equal across waves (an equal label, as in lavaan's syntax):

=========== ================================== ================================================
model       equal across waves                  free per wave
=========== ================================== ================================================
configural  nothing                             loadings, intercepts, residual variances
metric      loadings                            intercepts, residual variances
scalar      loadings, intercepts                residual variances; factor means (0 at wave 1)
strict      loadings, intercepts, residual vars factor means (0 at wave 1)
=========== ================================== ================================================

Partial invariance: ``"factor =~ item"``, ``"item ~ 1"`` and ``"item ~~ item"`` stay free at every
wave. Estimation by maximum likelihood on the complete respondents (everyone who answered every
item at every wave; listwise, lavaan's default), with the fit, the baseline model and the
indices of :func:`analysis.stats.invariance.fit_layout` (one group); the comparisons (Δχ², ΔCFI,
ΔRMSEA, ΔSRMR, Chen 2007, Cheung & Rensvold 2002) as for groups.

In R: ``lavaan::cfa(model, data = wide, meanstructure = TRUE)`` with the model written out with
labels (``F1 =~ 1*y1_w1 + l2*y2_w1 + …``; ``y1_w1 ~~ y1_w2``; ``y1_w1 ~ i1*1``; ``F2 ~ 1``), and
``lavTestLRT(configural, metric, scalar, strict)``; semTools' ``measEq.syntax(…, longFacNames =
…)`` writes the same models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import keyed_matrix, one_blas_thread
from analysis.stats.invariance import (
    _EQUAL,
    MODELS,
    GroupFit,
    InvarianceResult,
    _Group,
    _Layout,
    blank_indices,
    check_model_inputs,
    check_partial,
    fit_layout,
    sequence_table,
)
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses


def _layout(
    names: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    waves: Sequence[str],
    equal: frozenset[str],
    partial: set[tuple[str, str, str]],
) -> _Layout:
    """One group: every item at every wave (wave-major), a factor per subscale per wave."""
    p, m, n_waves = len(names), len(factors), len(waves)
    size_p, size_m = p * n_waves, m * n_waves
    position = {n: j for j, n in enumerate(names)}
    factor_names = list(factors)
    lam, lam_fixed, phi, theta, nu, alpha = blank_indices(1, size_p, size_m)
    labels: list[tuple[str, str, str, str]] = []
    shared: dict[tuple[str, str, str], int] = {}

    def label(wave: str, key: tuple[str, str, str], same: bool) -> int:
        if same:
            if key not in shared:
                labels.append(("all", *key))
                shared[key] = len(labels) - 1
            return shared[key]
        labels.append((wave, *key))
        return len(labels) - 1

    for t, wave in enumerate(waves):
        for f, (factor, items) in enumerate(factors.items()):
            for i, item in enumerate(items):
                row, col = t * p + position[item], t * m + f
                if i == 0:
                    lam_fixed[row, col] = 1.0
                    continue
                key = (factor, "=~", item)
                lam[0, row, col] = label(wave, key, "loadings" in equal and key not in partial)
        for j, item in enumerate(names):
            key = (item, "~~", item)
            theta[0, t * p + j, t * p + j] = label(
                wave, key, "residuals" in equal and key not in partial
            )
            key = (item, "~", "1")
            nu[0, t * p + j] = label(wave, key, "intercepts" in equal and key not in partial)
        if "intercepts" in equal and t > 0:
            for f, factor in enumerate(factor_names):
                alpha[0, t * m + f] = label(wave, (factor, "~1", ""), False)
    for a in range(size_m):
        for b in range(a, size_m):
            key = (
                f"{factor_names[a % m]}@{waves[a // m]}",
                "~~",
                f"{factor_names[b % m]}@{waves[b // m]}",
            )
            phi[0, a, b] = phi[0, b, a] = label("all", key, False)
    for j, item in enumerate(names):
        for t in range(n_waves):
            for s in range(t + 1, n_waves):
                index = label(f"{waves[t]}~{waves[s]}", (item, "~~", item), False)
                theta[0, t * p + j, s * p + j] = theta[0, s * p + j, t * p + j] = index
    return _Layout(size_p, size_m, 1, lam, lam_fixed, phi, theta, nu, alpha, labels, len(labels))


@one_blas_thread
def longitudinal_invariance_model(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    wave: str,
    id_column: str,
    *,
    waves: Sequence[str] | None = None,
    partial: Sequence[str] = (),
    models: Sequence[str] = MODELS,
) -> InvarianceResult:
    """The longitudinal invariance sequence of ``factors`` (factor → items, the first its
    marker) across the waves of ``data[wave]`` (long form: one row per person and wave, the
    person in ``id_column``); ``waves`` gives their order (default: as first seen). Only people
    with every item at every wave enter (listwise). See the module docstring.

    In R: ``lavaan::cfa(model, data = wide, meanstructure = TRUE)``, the model with labels.
    """
    names = check_model_inputs(
        data, factors, {"wave": wave, "id": id_column}, models, needs="the models need"
    )
    parsed = check_partial(partial, names, factors)
    labels = data[wave].astype("string")
    ids = data[id_column].astype("string")
    seen = list(dict.fromkeys(labels.dropna()))
    order = [str(w) for w in (waves if waves is not None else seen)]
    absent = [w for w in order if w not in seen]
    if absent:
        raise AnalysisError(f"waves: no rows of wave {', '.join(absent)} in {wave!r}")
    if len(order) < 2:
        raise AnalysisError(f"{wave!r} has fewer than two waves")
    keys = pd.DataFrame({"id": ids, "wave": labels})
    repeated = keys.dropna().duplicated()
    if repeated.any():
        first = keys.dropna()[repeated].iloc[0]
        raise AnalysisError(
            f"person {first['id']!r} has two rows at wave {first['wave']!r}; give each person "
            "one row per wave"
        )
    values = data[names].apply(pd.to_numeric, errors="coerce")
    blocks = []
    for w in order:
        rows = (labels == w).fillna(False).to_numpy()
        block = values[rows].set_axis(ids[rows].to_numpy(), axis=0)
        blocks.append(block.add_suffix(f"@{w}"))
    wide = pd.concat(blocks, axis=1, join="inner").dropna()
    n = len(wide)
    if n <= wide.shape[1]:
        raise AnalysisError(
            f"{n} people answered every item at every wave, too few for {wide.shape[1]} variables"
        )
    matrix = wide.to_numpy(dtype=np.float64)
    cov = np.cov(matrix, rowvar=False, bias=True)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise AnalysisError("the items' covariance matrix across waves is singular")
    group = _Group(n=n, cov=cov, mean=matrix.mean(axis=0), logdet=float(logdet))
    expanded = {
        f"{factor}@{w}": [f"{item}@{w}" for item in items]
        for w in order
        for factor, items in factors.items()
    }
    fits: dict[str, GroupFit] = {}
    last: GroupFit | None = None
    for name in models:
        lay = _layout(names, factors, order, _EQUAL[name], parsed)
        last = fits[name] = fit_layout(name, lay, expanded, [group], last)
    return InvarianceResult(
        table=sequence_table(models, fits),
        models=fits,
        groups=tuple(order),
        n_per_group={w: n for w in order},
        partial=tuple(partial),
    )


def longitudinal_invariance(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    wave_column: str,
    person_column: str,
    *,
    waves: Sequence[str] | None = None,
    partial: Sequence[str] = (),
    models: Sequence[str] = MODELS,
    **read: Unpack[ReadOptions],
) -> InvarianceResult:
    """Longitudinal invariance of the instrument's subscale structure (keyed items) across the
    waves of ``wave_column``, each person known by ``person_column`` (both group columns of the
    responses: a person has one row per wave, so the person is not the responses' id column).
    See :func:`longitudinal_invariance_model`.
    """
    import dataclasses

    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.plan import ScoringPlan

    options: ReadOptions = {**read}
    groups = list(options.get("group_columns", ()))
    options["group_columns"] = [
        *groups,
        *(c for c in (wave_column, person_column) if c not in groups),
    ]
    plan, answers, problems = validated(instrument, responses, **options)
    for column in (wave_column, person_column):
        if column not in answers.groups.columns:
            raise AnalysisError(f"no column {column!r} in the responses")
    inst = load_instrument(instrument)
    full = ScoringPlan.build(inst, read.get("form"))
    factors = {sub.id: [full.item_ids[j] for j in sub.columns] for sub in full.subscales}
    frame = pd.DataFrame(keyed_matrix(plan, answers.values), columns=list(plan.item_ids))
    frame["__wave"] = answers.groups[wave_column].to_numpy()
    frame["__person"] = answers.groups[person_column].to_numpy()
    result = longitudinal_invariance_model(
        frame, factors, "__wave", "__person", waves=waves, partial=partial, models=models
    )
    return dataclasses.replace(result, problems=problems)
