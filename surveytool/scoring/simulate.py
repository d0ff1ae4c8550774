"""Synthetic respondents from a graded response model (Samejima 1969).

One latent trait per subscale, correlated (equicorrelation ρ); item i of subscale s answers with

    P(X_i ≥ min + j | θ_s) = 1 / (1 + exp(−a_i · (σ_i θ_s − b_ij))),   j = 1 .. max − min,

where a_i is the discrimination, b_i1 < ... < b_i,m the thresholds and σ_i = −1 for reverse-keyed
items (so that, once reverse-scored, every item rises with its trait). Answers are drawn by
inverting the cumulative probabilities with one uniform per answer. Options add missing answers
(completely at random), careless responders (straight-lining or uniform random answers) and a group
column whose groups differ in mean by a shift on every trait. The same seed gives the same table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from surveytool.errors import ScoringError
from surveytool.instrument.model import Instrument

CarelessKind = Literal["mixed", "straightline", "random"]

#: The most answers one call simulates (respondents x items): about 400 MB of float64 answers.
#: Larger samples are drawn as several runs with different seeds, refused before any allocation.
MAX_ANSWERS = 50_000_000


@dataclass(frozen=True)
class SimulationSpec:
    """Parameters of :func:`simulate`; see the module docstring for the model."""

    n: int
    seed: int = 0
    trait_correlation: float = 0.3
    missing: float = 0.0
    careless: float = 0.0
    careless_kind: CarelessKind = "mixed"
    group_column: str | None = None
    groups: tuple[str, ...] = ()
    group_shift: float = 0.0
    form: str | None = None
    labels: bool = False
    id_column: str = "respondent_id"
    mark_careless: bool = False


def _check(spec: SimulationSpec, n_traits: int, n_items: int) -> None:
    if spec.n < 1:
        raise ScoringError("n must be at least 1")
    if spec.n * max(n_items, 1) > MAX_ANSWERS:
        most = MAX_ANSWERS // max(n_items, 1)
        raise ScoringError(
            f"n = {spec.n} respondents x {n_items} items is more than the {MAX_ANSWERS:,} answers "
            f"one run simulates; give n at most {most:,} and combine runs with different seeds"
        )
    if not 0 <= spec.seed < 2**128:
        raise ScoringError(f"the seed must be a whole number from 0 (got {spec.seed})")
    if not math.isfinite(spec.trait_correlation):
        raise ScoringError("the trait correlation must be a number, e.g. 0.3")
    if not 0.0 <= spec.missing < 1.0:
        raise ScoringError("missing is a share from 0 to below 1, e.g. 0.02")
    if not 0.0 <= spec.careless <= 1.0:
        raise ScoringError("careless is a share from 0 to 1, e.g. 0.05")
    low = -1.0 / (n_traits - 1) if n_traits > 1 else -1.0
    if not low < spec.trait_correlation < 1.0:
        raise ScoringError(
            f"trait_correlation must lie in ({low:.3f}, 1) for {n_traits} traits "
            "so that the correlation matrix is positive definite"
        )
    if spec.group_column and len(spec.groups) < 2:
        raise ScoringError("a group_column needs at least two groups, e.g. groups=('a', 'b')")
    if not math.isfinite(spec.group_shift):
        raise ScoringError(
            f"the group shift must be a finite number of SDs (got {spec.group_shift})"
        )


def _check_names(spec: SimulationSpec, item_ids: Sequence[str]) -> None:
    """The group column must not share its name with another column of the table."""
    if not spec.group_column:
        return
    others = {spec.id_column: "the id column", **{i: "an item" for i in item_ids}}
    if spec.mark_careless:
        others["simulated_careless"] = "the careless-responder column"
    if spec.group_column in others:
        raise ScoringError(
            f"the group column {spec.group_column!r} has the name of {others[spec.group_column]} "
            "of the simulated table; give it another name"
        )


def simulate(instrument: Instrument, spec: SimulationSpec) -> pd.DataFrame:
    """Simulate ``spec.n`` respondents; one column per item (codes, or labels), plus id and group."""
    item_ids: Sequence[str] = instrument.form_items(spec.form)
    traits = [s.id for s in instrument.subscales]
    _check(spec, len(traits), len(item_ids))
    _check_names(spec, item_ids)
    rng = np.random.default_rng(spec.seed)
    n, k = spec.n, len(traits)

    corr = np.full((k, k), spec.trait_correlation)
    np.fill_diagonal(corr, 1.0)
    theta = rng.standard_normal((n, k)) @ np.linalg.cholesky(corr).T
    group_values = None
    if spec.group_column:
        g = rng.integers(0, len(spec.groups), size=n)
        theta += (g * spec.group_shift)[:, None]
        group_values = np.asarray(spec.groups, dtype=object)[g]

    trait_of: dict[str, int] = {}
    for s, sub in enumerate(instrument.subscales):
        for item_id in sub.items:
            trait_of.setdefault(item_id, s)

    columns: dict[str, object] = {spec.id_column: [f"R{i:07d}" for i in range(1, n + 1)]}
    if group_values is not None and spec.group_column:
        columns[spec.group_column] = group_values
    answers = np.empty((n, len(item_ids)), dtype=np.float64)
    for j, item_id in enumerate(item_ids):
        item = instrument.item_by_id[item_id]
        scale = instrument.response_scales[item.scale]
        steps = scale.max - scale.min
        a = rng.uniform(1.0, 2.5)
        b = np.sort(np.linspace(-2.0, 2.0, steps) + rng.normal(0.0, 0.4, steps))
        trait = trait_of.get(item_id)
        latent = theta[:, trait] if trait is not None else rng.standard_normal(n)  # in no subscale
        if item.reverse:
            latent = -latent
        cumulative = 1.0 / (1.0 + np.exp(-a * (latent[:, None] - b[None, :])))
        u = rng.random(n)
        answers[:, j] = scale.min + (u[:, None] < cumulative).sum(axis=1)

    careless = np.zeros(n, dtype=bool)
    if spec.careless > 0:
        careless = rng.random(n) < spec.careless
        rows = np.flatnonzero(careless)
        kinds = (
            rng.random(len(rows)) < 0.5
            if spec.careless_kind == "mixed"
            else np.full(len(rows), spec.careless_kind == "straightline")
        )
        lows = np.array([instrument.scale_of(i).min for i in item_ids])
        highs = np.array([instrument.scale_of(i).max for i in item_ids])
        for r, straight in zip(rows, kinds, strict=True):
            if straight:
                answers[r, :] = np.clip(rng.integers(lows.min(), highs.max() + 1), lows, highs)
            else:
                answers[r, :] = rng.integers(lows, highs + 1)
    if spec.missing > 0:
        answers[rng.random(answers.shape) < spec.missing] = np.nan

    for j, item_id in enumerate(item_ids):
        gaps = np.isnan(answers[:, j])
        col = pd.arrays.IntegerArray(np.where(gaps, 0, answers[:, j]).astype(np.int64), gaps)
        if spec.labels:
            labels = instrument.scale_of(item_id).labels
            columns[item_id] = pd.Series(col).map(
                lambda v, lab=labels: lab.get(int(v), str(v)) if v is not pd.NA else None
            )
        else:
            columns[item_id] = col
    if spec.mark_careless:
        columns["simulated_careless"] = careless
    return pd.DataFrame(columns)
