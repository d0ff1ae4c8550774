"""The cohort report on Dask: statistics reduced over partitions, a sample for COSMIN only.

A cohort read as a Dask DataFrame (:meth:`analysis.cohort.dataset.OpenCohort.dask`) is never
held whole. Each partition is scored with surveytool's own engine (the same kernel as in memory)
and summed into :class:`Reduced`:

- the reliability and item sums (:func:`analysis.sufficient_statistics`, additive with ``+``),
  from which the reliability, item statistics and answer frequencies tables come;
- the moments of the keyed scored items (:mod:`analysis.stats.moments`, merged with the
  Chan/Pébay update), whose pairwise correlation matrix gives omega, parallel analysis, KMO,
  Bartlett's test and the EFA;
- :class:`ScoreSums`: the exact counts of every score value, overall and per value of each
  compared group column (:class:`analysis.stats.norms.ScoreCounts`, as ``cohort norms``), the
  rows per group value and the pairwise moments of the scores. Scores are means of Likert items
  and take few distinct values, so the counts give the score descriptives (n, min, max, median
  exactly; mean, sd, skew and kurtosis from rational sums, exactly rounded), the histograms of
  the score figure (binned counts), the group sizes and descriptives, and every group test:
  t tests and ANOVAs from the groups' moments, Mann–Whitney and Kruskal–Wallis from the midranks
  with ties of the pooled counts (:func:`analysis.stats.groups.compare_groups_from_counts`);
  the score correlations come from the moments;
- the moments of the complete rows of the CFA's items (:func:`complete_moments`): the ML CFA
  needs only their covariance (divisor N) and N (:func:`analysis.stats.cfa.cfa_from_moments`);
- :class:`~analysis.stats.careless.CarelessSums`: the moments of the complete rows of the scored
  keyed items and the exact counts of the IRV values, from which the cohort's Mahalanobis
  centre and covariance and its IRV median and robust spread come
  (:class:`~analysis.stats.careless.CarelessCentre`);
- the rows and the scoring issues per kind.

Careless responding then takes two more passes (:func:`reduce_careless`): each partition's
indices and flags are :func:`analysis.careless_responding` of its rows against the cohort's
centre (so each respondent's flags are those of the in-memory report), counted; the median of
each index is exact, from the counts of its values per bucket (the leading 16 bits of the float)
and then the values of the bucket(s) holding the middle rank(s).

A wave column whose people repeat (decided on the whole cohort, :func:`repeats_over`) is compared
within person from the exact counts of each scale's (earlier, later) score pairs
(:func:`reduce_waves`: the rows are numbered in cohort order and shuffled so that a person's
rows share a partition; :func:`analysis.stats.retest.compare_waves_from_counts` gives the
paired t, the Wilcoxon signed-rank test with ties, the effects and the ICCs from them).

The partitions' results merge pairwise in a balanced tree of Dask tasks (:func:`reduce_cohort`),
so memory is bounded by a partition (and a median bucket), not the cohort. In memory the report
uses the same functions on the whole cohort as one partition, so the two engines' tables are the
same numbers (within rounding: merged moments are not bit for bit the one-pass ones; the
counted sums are exact).

``surveytool cohort norms`` on Dask reduces :class:`NormsSums` instead (:func:`reduce_norms`):
the exact counts of every score value per cell and the reliability sums, from which the norms
equal the in-memory norms number for number (nothing of the norms is sampled).

What still needs row-level data (:data:`SAMPLED_SECTIONS`) runs on a seeded random sample of at
most ``sample_rows`` respondents (:func:`sample_frame`, the same rows whatever the partitioning):
the COSMIN section (the ordinal CFA on polychoric correlations with robust statistics, DIF and
measurement invariance: their estimators need per-row contributions this module does not reduce
yet), and the CFA when the covariance alone does not fit it (an item in two factors, or no
convergence: semopy on the rows). The report's note names exactly those, when the sample is
smaller than the cohort. A cohort no larger than the sample is read whole for them, so its
report equals the in-memory report table by table.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._matrix import ItemSums
from analysis.stats._reduce import tree_reduce
from analysis.stats._result import Problems
from analysis.stats.moments import Moments, merge
from analysis.stats.norms import ScoreCounts
from analysis.stats.tables import ValueCounts
from surveytool.instrument.model import Instrument

if TYPE_CHECKING:
    from analysis.stats.careless import CarelessCentre, CarelessResult, CarelessSums
    from analysis.stats.retest import PairedCounts

#: Most respondents the row-level sections read on Dask (a seeded random sample beyond).
SAMPLE_ROWS = 200_000

#: Sections that rest on the whole cohort on Dask (sums and counts reduced over partitions);
#: the CFA too when its covariance alone fits it (:func:`analysis.stats.cfa.cfa_from_moments`),
#: and the within-person comparisons of each wave column whose people repeat.
REDUCED_SECTIONS = (
    "the cohort overview",
    "reliability",
    "item statistics",
    "answer frequencies",
    "omega",
    "parallel analysis",
    "the EFA",
    "careless responding",
    "score statistics and figures",
    "group comparisons",
)

#: Sections that run on the sample (named in the report's note when it is one); besides these,
#: the CFA when it needs the rows.
SAMPLED_SECTIONS = ("validity evidence (COSMIN)",)


@dataclass(frozen=True)
class ScoreSums:
    """What the score sections add up to (see the module docstring); add with ``+``.

    ``counts``: the exact counts of each scale's score values, overall and per value of each
    compared group column (``counts.cells[scale]["group=value"]``, :class:`ScoreCounts`);
    ``rows``: per group column, the rows of each value (:data:`~.sections.NOT_RECORDED` for a
    missing one), scored or not; ``moments``: the pairwise moments of the score columns.
    """

    counts: ScoreCounts
    rows: dict[str, dict[str, int]]
    moments: Moments

    def by_group(self, scale: str, group: str) -> dict[str, ValueCounts]:
        """The counts of ``scale`` per value of the group column ``group``."""
        prefix = f"{group}="
        return {
            cell.removeprefix(prefix): counted
            for cell, counted in self.counts.cells.get(scale, {}).items()
            if cell.startswith(prefix)
        }

    def __add__(self, other: ScoreSums) -> ScoreSums:
        rows = {
            g: {
                v: self.rows.get(g, {}).get(v, 0) + other.rows.get(g, {}).get(v, 0)
                for v in sorted({*self.rows.get(g, {}), *other.rows.get(g, {})})
            }
            for g in dict.fromkeys([*self.rows, *other.rows])
        }
        return ScoreSums(self.counts + other.counts, rows, merge(self.moments, other.moments))


def score_sums(scores: pd.DataFrame, scales: Sequence[str], groups: Sequence[str]) -> ScoreSums:
    """:class:`ScoreSums` of a scores table (a partition's, or the whole cohort's in memory)."""
    from analysis.report.sections import NOT_RECORDED
    from analysis.stats.moments import moments
    from analysis.stats.norms import score_counts

    names = list(scales)
    overall = score_counts(scores, names)
    cells: dict[str, dict[str, ValueCounts]] = {s: {} for s in names}
    rows: dict[str, dict[str, int]] = {}
    for g in groups:
        text = scores[g].astype("string")
        per = score_counts(scores.assign(**{g: text}), names, [g])
        for scale in names:
            cells[scale].update({f"{g}={v}": c for v, c in per.cells[scale].items()})
        seen = text.fillna(NOT_RECORDED).value_counts(sort=False)
        rows[g] = {str(v): int(n) for v, n in sorted(seen.items())}
    values = scores[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return ScoreSums(ScoreCounts(overall.overall, cells), rows, moments(values, names))


@dataclass(frozen=True)
class Reduced:
    """What the partitions add up to (see the module docstring)."""

    n_rows: int
    sums: ItemSums
    item_moments: Moments
    issues: dict[str, int] = field(default_factory=dict)
    scores: ScoreSums | None = None
    complete: Moments | None = None
    careless: CarelessSums | None = None


def partition_statistics(
    frame: pd.DataFrame, instrument: Instrument, groups: Sequence[str], ignore: Sequence[str]
) -> Reduced:
    """:class:`Reduced` of one partition: scored as in memory, then summed."""
    from analysis.stats.careless import careless_sums
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
    scale_ids = [s for s in instrument.scored_ids() if s in scored.scores.columns]
    return Reduced(
        n_rows=len(frame),
        sums=sufficient_statistics(instrument, responses),
        item_moments=moments(values, [str(c) for c in keyed.columns]),
        issues=issues,
        scores=score_sums(scored.scores, scale_ids, groups),
        complete=complete_moments(instrument, keyed),
        careless=careless_sums(instrument, responses),
    )


def complete_moments(instrument: Instrument, keyed: pd.DataFrame) -> Moments | None:
    """The moments of the rows that answer every item of the CFA (listwise), or None when the
    instrument has no factor of two or more items or the items lack a column."""
    from analysis.stats.cfa import cfa_observed, subscale_factors
    from analysis.stats.moments import moments

    try:
        observed = cfa_observed(subscale_factors(instrument))
    except AnalysisError:
        return None
    if any(c not in keyed.columns for c in observed):
        return None
    values = keyed[observed].to_numpy(dtype=np.float64, na_value=np.nan)
    return moments(values[~np.isnan(values).any(axis=1)], observed)


def _merge_optional(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def merge_reduced(a: Reduced, b: Reduced) -> Reduced:
    """The statistics of both parts' rows."""
    issues = dict(a.issues)
    for kind, count in b.issues.items():
        issues[kind] = issues.get(kind, 0) + count
    return Reduced(
        a.n_rows + b.n_rows,
        a.sums + b.sums,
        merge(a.item_moments, b.item_moments),
        issues,
        _merge_optional(a.scores, b.scores),
        _merge_optional(a.complete, b.complete),
        _merge_optional(a.careless, b.careless),
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


# ---- careless responding: the flags of each partition against the cohort's centre -------------

#: The careless-responding indices, in the order of the report's table.
CARELESS_INDICES = ("longstring", "irv", "even_odd", "mahalanobis")

#: Buckets of the exact medians: the leading 16 bits of a float's order-preserving key.
_BUCKET_BITS = 16


@dataclass(frozen=True)
class CarelessSummary:
    """What the careless-responding tables show: per index of :data:`CARELESS_INDICES` the
    respondents with a value (``computed``), those flagged and the median value; the
    respondents by number of flags (``n_flags[k]``: with k flags); the cut-offs."""

    computed: tuple[int, ...]
    flagged: tuple[int, ...]
    medians: tuple[float, ...]
    n_flags: tuple[int, ...]
    cutoffs: dict[str, float]


def careless_summary(result: CarelessResult) -> CarelessSummary:
    """The :class:`CarelessSummary` of the indices of every respondent (in memory)."""
    table = result.table
    computed = [table[i].notna() for i in CARELESS_INDICES]
    flags = table["n_flags"].value_counts().reindex(range(len(CARELESS_INDICES) + 1), fill_value=0)
    return CarelessSummary(
        tuple(int(c.sum()) for c in computed),
        tuple(
            int((table[f"flag_{i}"] & c).sum())
            for i, c in zip(CARELESS_INDICES, computed, strict=True)
        ),
        tuple(
            float(table[i].median()) if c.any() else np.nan
            for i, c in zip(CARELESS_INDICES, computed, strict=True)
        ),
        tuple(int(v) for v in flags.to_numpy()),
        dict(result.cutoffs),
    )


def _bucket(x: np.ndarray) -> np.ndarray:
    """The bucket of each (non-NaN) float: increasing with the value (sign, exponent and the
    leading mantissa bits of its order-preserving key)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    key = np.where(bits < 0, ~bits, bits ^ np.int64(-(2**63))).view(np.uint64)
    out: np.ndarray = (key >> np.uint64(64 - _BUCKET_BITS)).astype(np.intp)
    return out


@dataclass(frozen=True)
class CarelessCounts:
    """The careless-responding counts of some rows (add with ``+``): per index, the values
    computed and flagged and how many fall in each bucket (:func:`_bucket`); the respondents
    by number of flags; the cut-offs (the same in every partition: the cohort's centre)."""

    computed: np.ndarray
    flagged: np.ndarray
    buckets: np.ndarray
    n_flags: np.ndarray
    cutoffs: dict[str, float]

    def __add__(self, other: CarelessCounts) -> CarelessCounts:
        return CarelessCounts(
            self.computed + other.computed,
            self.flagged + other.flagged,
            self.buckets + other.buckets,
            self.n_flags + other.n_flags,
            self.cutoffs,
        )


def _careless_of(
    frame: pd.DataFrame,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    centre: CarelessCentre,
) -> CarelessResult:
    """The careless-responding indices of a partition's rows, against the cohort's centre."""
    from analysis.stats.careless import careless_responding
    from surveytool.scoring.engine import score_responses

    scored = score_responses(
        instrument, frame, group_columns=list(groups), ignore_columns=list(ignore)
    )
    return careless_responding(instrument, scored.responses, centre=centre)


def partition_careless(
    frame: pd.DataFrame,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    centre: CarelessCentre,
) -> CarelessCounts:
    """:class:`CarelessCounts` of one partition (the in-memory function, the cohort's centre)."""
    result = _careless_of(frame, instrument, groups, ignore, centre)
    table = result.table
    computed, flagged = [], []
    buckets = np.zeros((len(CARELESS_INDICES), 2**_BUCKET_BITS), dtype=np.int64)
    for k, index in enumerate(CARELESS_INDICES):
        values = table[index].to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        computed.append(int(present.sum()))
        flagged.append(int((table[f"flag_{index}"].to_numpy(dtype=bool) & present).sum()))
        buckets[k] = np.bincount(_bucket(values[present]), minlength=2**_BUCKET_BITS)
    n_flags = np.bincount(
        table["n_flags"].to_numpy(dtype=np.int64), minlength=len(CARELESS_INDICES) + 1
    )
    return CarelessCounts(
        np.array(computed, dtype=np.int64),
        np.array(flagged, dtype=np.int64),
        buckets,
        n_flags.astype(np.int64),
        dict(result.cutoffs),
    )


def partition_middles(
    frame: pd.DataFrame,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    centre: CarelessCentre,
    wanted: tuple[tuple[int, int], ...],
) -> tuple[ValueCounts, ...]:
    """The counts of each index's values in its median buckets ``wanted[k]`` (first, last)."""
    from analysis.stats.tables import value_counts

    table = _careless_of(frame, instrument, groups, ignore, centre).table
    out = []
    for index, (first, last) in zip(CARELESS_INDICES, wanted, strict=True):
        values = table[index].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        where = _bucket(values)
        out.append(value_counts(values[(where >= first) & (where <= last)]))
    return tuple(out)


def _add_each(a: tuple[ValueCounts, ...], b: tuple[ValueCounts, ...]) -> tuple[ValueCounts, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def reduce_careless(
    data: Any,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    centre: CarelessCentre,
) -> CarelessSummary:
    """The :class:`CarelessSummary` of a Dask DataFrame, exactly as of the whole cohort in memory.

    Each partition's indices and flags are computed by :func:`analysis.careless_responding`
    against the cohort's :class:`~analysis.stats.careless.CarelessCentre` (its means,
    covariance and IRV median and spread, from the first reduction), and counted; a second pass
    collects the values of each index in the buckets that hold its middle rank(s), from which
    the median is exact (memory: the values of one bucket, a sixteenth of a binade).
    """
    dask = _dask()
    parts = list(data.to_delayed())
    args = (instrument, tuple(groups), tuple(ignore), centre)
    counts = tree_reduce([dask.delayed(partition_careless)(p, *args) for p in parts], _add)
    if not isinstance(counts, CarelessCounts):  # pragma: no cover - dask returns what it did
        raise TypeError(type(counts))
    wanted = []
    for k in range(len(CARELESS_INDICES)):
        through = np.cumsum(counts.buckets[k])
        n = int(counts.computed[k])
        ranks = [(n - 1) // 2, n // 2] if n else [0, 0]
        first, last = (int(np.searchsorted(through, r, side="right")) for r in ranks)
        wanted.append((first, last))
    middles = tree_reduce(
        [dask.delayed(partition_middles)(p, *args, tuple(wanted)) for p in parts], _add_each
    )
    medians = []
    for k, counted in enumerate(middles):
        n = int(counts.computed[k])
        if n == 0:
            medians.append(np.nan)
            continue
        first = wanted[k][0]
        before = int(counts.buckets[k][:first].sum())
        inside = np.cumsum(counted.counts)
        lo, hi = (
            counted.values[np.searchsorted(inside, r - before, side="right")]
            for r in ((n - 1) // 2, n // 2)
        )
        medians.append(float(lo) if n % 2 else float((lo + hi) / 2.0))
    return CarelessSummary(
        tuple(int(v) for v in counts.computed),
        tuple(int(v) for v in counts.flagged),
        tuple(medians),
        tuple(int(v) for v in counts.n_flags),
        counts.cutoffs,
    )


# ---- waves of the same people ---------------------------------------------------------------


def _repeats_in(part: pd.DataFrame, column: str) -> pd.DataFrame:
    from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN

    seen = part.dropna()
    repeats = (
        bool(seen.groupby(PSEUDONYM_COLUMN)[column].nunique().gt(1).any()) if len(seen) else False
    )
    return pd.DataFrame({"repeats": [repeats]})


def repeats_over(data: Any, column: str) -> bool:
    """Whether some person (pseudonym) of a Dask cohort has rows in two values of ``column``,
    decided exactly on the whole cohort: the pseudonyms are shuffled so that equal ones share a
    partition (memory bounded by a partition)."""
    from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN

    if PSEUDONYM_COLUMN not in data.columns:
        return False
    pairs = data[[PSEUDONYM_COLUMN, column]]
    if pairs.npartitions > 1:
        pairs = pairs.shuffle(on=PSEUDONYM_COLUMN)
    meta = pd.DataFrame({"repeats": pd.Series(dtype=bool)})
    flags = pairs.map_partitions(_repeats_in, column, meta=meta).compute()
    return bool(flags["repeats"].any())


def wave_pairs(
    scores: pd.DataFrame, person: str, wave: str, levels: Sequence[str], scales: Sequence[str]
) -> dict[tuple[str, str], PairedCounts]:
    """The counted (earlier, later) score pairs of each scale and consecutive wave pair
    (:func:`analysis.stats.retest.paired_scores`, each person's first row of a wave)."""
    import itertools

    from analysis.stats.retest import PairedCounts, paired_scores

    text = scores[wave].astype("string")
    out: dict[tuple[str, str], PairedCounts] = {}
    for first, second in itertools.pairwise(levels):
        for scale in scales:
            x, y = paired_scores(scores, person, text, first, second, scale)
            out[(scale, f"{first} -> {second}")] = PairedCounts.of(x, y)
    return out


def _numbered(part: pd.DataFrame, offset: int) -> pd.DataFrame:
    return part.assign(**{_ROW: np.arange(offset, offset + len(part), dtype=np.int64)})


_ROW = "__surveytool_row__"


def partition_waves(
    part: pd.DataFrame,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    wave: str,
    levels: tuple[str, ...],
    scales: tuple[str, ...],
) -> dict[tuple[str, str], PairedCounts]:
    """:func:`wave_pairs` of a partition holding every row of its people, in cohort order."""
    from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN
    from surveytool.scoring.engine import score_responses

    rows = part.sort_values(_ROW, kind="stable").drop(columns=[_ROW]).reset_index(drop=True)
    scored = score_responses(
        instrument, rows, group_columns=list(groups), ignore_columns=list(ignore)
    )
    people = rows[PSEUDONYM_COLUMN].to_numpy()
    scores = scored.scores.assign(**{PSEUDONYM_COLUMN: people})
    return wave_pairs(scores, PSEUDONYM_COLUMN, wave, levels, scales)


def _add_pairs(
    a: dict[tuple[str, str], PairedCounts], b: dict[tuple[str, str], PairedCounts]
) -> dict[tuple[str, str], PairedCounts]:
    return {key: a[key] + b[key] for key in a}


def reduce_waves(
    data: Any,
    instrument: Instrument,
    groups: Sequence[str],
    ignore: Sequence[str],
    wave: str,
    levels: Sequence[str],
    scales: Sequence[str],
) -> dict[tuple[str, str], PairedCounts]:
    """:func:`wave_pairs` of a Dask cohort, exactly as of the whole cohort in memory: the rows
    are numbered in cohort order and shuffled so that each person's rows share a partition,
    each partition's pairs are counted, and the counts add up (memory: a partition)."""
    from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN

    dask = _dask()
    lengths = np.asarray(data.map_partitions(len).compute(), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    dd = importlib.import_module("dask.dataframe")
    meta = data._meta.assign(**{_ROW: np.zeros(0, dtype=np.int64)})
    numbered = dd.from_delayed(
        [
            dask.delayed(_numbered)(part, int(offset))
            for part, offset in zip(data.to_delayed(), offsets, strict=True)
        ],
        meta=meta,
        verify_meta=False,
    )
    if numbered.npartitions > 1:
        numbered = numbered.shuffle(on=PSEUDONYM_COLUMN)
    args = (instrument, tuple(groups), tuple(ignore), wave, tuple(levels), tuple(scales))
    counted = tree_reduce(
        [dask.delayed(partition_waves)(part, *args) for part in numbered.to_delayed()],
        _add_pairs,
    )
    if not isinstance(counted, dict):  # pragma: no cover - dask returns what the task did
        raise TypeError(type(counted))
    return counted
