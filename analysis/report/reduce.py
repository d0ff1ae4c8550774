"""The cohort report on Dask: additive statistics reduced over partitions, a sample for the rest.

A cohort read as a Dask DataFrame (:meth:`analysis.cohort.dataset.OpenCohort.dask`) is never
held whole. Each partition is scored with surveytool's own engine (the same kernel as in memory)
and summed into :class:`Reduced`:

- the reliability and item sums (:func:`analysis.sufficient_statistics`, additive with ``+``),
  from which the reliability, item statistics and answer frequencies tables come;
- the moments of the keyed scored items (:mod:`analysis.stats.moments`, merged with the
  Chan/Pébay update), whose pairwise correlation matrix gives omega, parallel analysis, KMO,
  Bartlett's test and the EFA;
- the rows and the scoring issues per kind.

The partitions' results merge pairwise in a balanced tree of Dask tasks (:func:`reduce_cohort`),
so memory is bounded by a partition, not the cohort.

``surveytool cohort norms`` on Dask reduces :class:`NormsSums` instead (:func:`reduce_norms`):
the exact counts of every score value per cell and the reliability sums, from which the norms
equal the in-memory norms number for number (nothing of the norms is sampled).

Every other section needs row-level data that does not reduce to these sums (careless
responding per person, score descriptives and medians, group tests on ranks, the ML and ordinal
CFA, the COSMIN analyses with DIF and invariance, the figures). They run on a seeded random
sample of at most ``sample_rows`` respondents (:func:`sample_frame`, the same rows whatever the
partitioning), and the report says so in a note when the sample is smaller than the cohort.
A cohort no larger than the sample is read whole for them, so its report equals the in-memory
report table by table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.stats._matrix import ItemSums
from analysis.stats._reduce import tree_reduce
from analysis.stats._result import Problems
from analysis.stats.moments import Moments, merge
from analysis.stats.norms import ScoreCounts
from surveytool.instrument.model import Instrument

#: Most respondents the row-level sections read on Dask (a seeded random sample beyond).
SAMPLE_ROWS = 200_000

#: Sections that run on the sample (named in the report's note when it is one).
SAMPLED_SECTIONS = (
    "careless responding",
    "score statistics and figures",
    "group comparisons",
    "CFA",
    "validity evidence (COSMIN)",
)


@dataclass(frozen=True)
class Reduced:
    """What the partitions add up to (see the module docstring)."""

    n_rows: int
    sums: ItemSums
    item_moments: Moments
    issues: dict[str, int] = field(default_factory=dict)


def partition_statistics(
    frame: pd.DataFrame, instrument: Instrument, groups: Sequence[str], ignore: Sequence[str]
) -> Reduced:
    """:class:`Reduced` of one partition: scored as in memory, then summed."""
    from analysis.stats.items import keyed_items
    from analysis.stats.moments import moments
    from analysis.stats.reliability import sufficient_statistics
    from surveytool.scoring.engine import score_responses

    scored = score_responses(
        instrument, frame, group_columns=list(groups), ignore_columns=list(ignore)
    )
    responses = scored.responses
    keyed = keyed_items(instrument, responses)
    values = keyed.to_numpy(dtype=np.float64, na_value=np.nan)
    issues = (
        {str(k): int(v) for k, v in scored.issues["kind"].value_counts().items()}
        if len(scored.issues)
        else {}
    )
    return Reduced(
        n_rows=len(frame),
        sums=sufficient_statistics(instrument, responses),
        item_moments=moments(values, [str(c) for c in keyed.columns]),
        issues=issues,
    )


def merge_reduced(a: Reduced, b: Reduced) -> Reduced:
    """The statistics of both parts' rows."""
    issues = dict(a.issues)
    for kind, count in b.issues.items():
        issues[kind] = issues.get(kind, 0) + count
    return Reduced(
        a.n_rows + b.n_rows, a.sums + b.sums, merge(a.item_moments, b.item_moments), issues
    )


def reduce_cohort(
    data: Any, instrument: Instrument, groups: Sequence[str], ignore: Sequence[str]
) -> Reduced:
    """:class:`Reduced` of a Dask DataFrame: one task per partition, merged in a balanced tree.

    Runs on Dask's current scheduler (a :func:`surveytool.engine.cluster`, or synchronous).
    """
    dask = _dask()
    reduced = tree_reduce(
        [
            dask.delayed(partition_statistics)(part, instrument, tuple(groups), tuple(ignore))
            for part in data.to_delayed()
        ],
        merge_reduced,
    )
    if not isinstance(reduced, Reduced):  # pragma: no cover - dask returns what the task did
        raise TypeError(type(reduced))
    return reduced


@dataclass(frozen=True)
class NormsSums:
    """What the norms of a cohort on Dask add up to: the rows normed, the exact counts of every
    scale's score values overall and per cell (:class:`analysis.stats.norms.ScoreCounts`), the
    reliability sums, and the problems scoring found (their rows numbered within a partition)."""

    n_rows: int
    counts: ScoreCounts
    sums: ItemSums
    problems: Problems

    def __add__(self, other: NormsSums) -> NormsSums:
        return NormsSums(
            self.n_rows + other.n_rows,
            self.counts + other.counts,
            self.sums + other.sums,
            self.problems + other.problems,
        )


def _add(a: Any, b: Any) -> Any:
    return a + b


def partition_norms(
    frame: pd.DataFrame,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    wave: Mapping[str, str] | None,
) -> NormsSums:
    """:class:`NormsSums` of one partition: its rows of the ``wave``, scored as in memory."""
    from analysis.stats._result import Problems
    from analysis.stats.norms import normed_scales, score_counts
    from analysis.stats.reliability import sufficient_statistics
    from surveytool.scoring.engine import score_responses

    rows = wave_rows(frame, wave)
    scored = score_responses(
        instrument, rows, group_columns=list(groups), ignore_columns=list(ignore)
    )
    scales = normed_scales(instrument, scored.scores.columns)
    return NormsSums(
        len(rows),
        score_counts(scored.scores, scales, groups),
        sufficient_statistics(instrument, scored.responses),
        Problems.of(scored.issues),
    )


def reduce_norms(
    data: Any,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    wave: Mapping[str, str] | None = None,
) -> NormsSums:
    """:class:`NormsSums` of a Dask DataFrame (the rows of ``wave``, or all), merged in a tree."""
    dask = _dask()
    reduced = tree_reduce(
        [
            dask.delayed(partition_norms)(
                part, instrument, tuple(groups), tuple(ignore), dict(wave or {})
            )
            for part in data.to_delayed()
        ],
        _add,
    )
    if not isinstance(reduced, NormsSums):  # pragma: no cover - dask returns what the task did
        raise TypeError(type(reduced))
    return reduced


def wave_rows(frame: pd.DataFrame, wave: Mapping[str, str] | None) -> pd.DataFrame:
    """The rows of one wave (wave column -> value, compared as text), or all rows."""
    if not wave:
        return frame
    keep = pd.Series(True, index=frame.index)
    for col, value in wave.items():
        keep &= (frame[col].astype("string") == value).fillna(False)
    return frame.loc[keep].reset_index(drop=True)


def _dask() -> Any:
    """The ``dask`` package (untyped: its calls are made through ``Any``)."""
    import importlib

    return importlib.import_module("dask")


def _rows_of(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame.iloc[positions]


def sample_frame(data: Any, n_rows: int, limit: int, seed: int) -> pd.DataFrame:
    """A seeded random sample of at most ``limit`` rows, in cohort order (all rows if fewer).

    The rows are drawn by global position (``numpy.random.default_rng(seed)``), so the sample
    does not depend on how the cohort is partitioned.
    """
    dask = _dask()
    if n_rows <= limit:
        whole: pd.DataFrame = data.compute()
        return whole.reset_index(drop=True)
    lengths = np.asarray(data.map_partitions(len).compute(), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    chosen = np.sort(np.random.default_rng(seed).choice(n_rows, limit, replace=False))
    parts = []
    for i, part in enumerate(data.to_delayed()):
        inside = chosen[(chosen >= offsets[i]) & (chosen < offsets[i + 1])] - offsets[i]
        if len(inside):
            parts.append(dask.delayed(_rows_of)(part, inside))
    frames = dask.compute(*parts)
    sampled: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return sampled
