"""Norms from a cohort: mean, sd, n and a percentile table per scale, overall and by group.

The result is a :class:`surveytool.instrument.Norms` model that the instrument file accepts, so

    normed = instrument.model_copy(update={"norms": built.norms})

scores T = 50 + 10·(raw − mean)/sd and table percentiles from then on (FORMULAS.md), and
:func:`norms_yaml` writes the same block for the instrument file.

Conventions:

- ``sd`` has divisor n − 1; every respondent with the score counts (``n``); mean and sd are
  computed exactly from the counts of the distinct scores (rational sums, one rounding), so they
  are the same however the rows are ordered or partitioned (:class:`ScoreCounts`, the Dask path);
- percentile table: the mid-rank percentile of each distinct observed score,
  PR(s) = 100·(#{x < s} + ½·#{x = s})/n (a respondent at s is placed in the middle of those tied
  there); with more than ``max_points`` distinct scores, the points are the scores at evenly
  spaced quantiles (the lowest and highest included). surveytool interpolates linearly between
  points and holds the ends;
- ``reliability`` of each subscale's entries: its raw alpha in the whole cohort (pairwise,
  :func:`analysis.reliability`), for reliable change; composites get none;
- small cells: a group with n < ``min_cell`` (default 10) gets no entry; and when the
  overall entry would let a suppressed group be recovered by subtraction (the respondents in no
  published group, suppressed cells and respondents without group values together, are fewer than
  ``min_cell``, or are exactly one suppressed cell), the next smallest groups are suppressed as
  well (FORMULAS.md, "Disclosure control"). Every suppression is reported with its reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import yaml

if TYPE_CHECKING:
    import dask.dataframe as dd

from analysis.errors import AnalysisError, Param, Phrase
from analysis.privacy.suppression import DEFAULT_MIN_CELL, hidden_columns
from analysis.stats._input import warn_problems
from analysis.stats._matrix import ItemSums
from analysis.stats._result import Problems, Result
from analysis.stats.reliability import reliability, sufficient_statistics
from analysis.stats.tables import ValueCounts, value_counts
from surveytool.instrument.model import Instrument, NormEntry, Norms, PercentilePoint
from surveytool.instrument.model import score_ranges as instrument_score_ranges
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses
from surveytool.scoring.engine import is_dask, score_responses, score_validated

REASON_SMALL = "n below min_cell"
REASON_COMPLEMENT = "would let a suppressed group be recovered from the total"
REASON_NO_SPREAD = "sd is 0 (every score equal)"


@dataclass(frozen=True, repr=False)
class NormsResult(Result):
    """Built norms.

    ``norms``: the :class:`Norms` model; ``table``: one row per scale and cell (``all`` or the
    group values) with ``n``, ``mean``, ``sd``, ``reliability``, ``published`` and ``reason``
    (why a cell is not published; its n, mean and sd are left out); ``suppressed``: the
    unpublished rows of ``table``; ``problems``: what validating the answers found.
    """

    norms: Norms
    table: pd.DataFrame

    @property
    def suppressed(self) -> pd.DataFrame:
        return self.table[~self.table["published"]]

    def summary(self) -> pd.DataFrame:
        """``table``: one row per scale and cell."""
        return self.table


def percentile_points(
    scores: np.ndarray, max_points: int = 101, min_cell: int = DEFAULT_MIN_CELL
) -> list[tuple[float, float]]:
    """(score, mid-rank percentile) points of a sample, scores strictly increasing.

    In R: ``sapply(u, function(s) 100 * (mean(x < s) + 0.5 * mean(x == s)))`` with
    ``u <- sort(unique(x))``, then only the points with at least ``min_cell`` respondents
    strictly below and strictly above them: a published table never shows the score of the
    lowest or highest few respondents (small-cell rule), and scoring interpolates between the
    points it keeps (held at the ends).
    """
    return percentile_points_from_counts(value_counts(scores), max_points, min_cell)


def percentile_points_from_counts(
    counted: ValueCounts, max_points: int = 101, min_cell: int = DEFAULT_MIN_CELL
) -> list[tuple[float, float]]:
    """:func:`percentile_points` from the exact counts of the scores (:mod:`.tables`).

    Counts of the partitions of a cohort add up, so its percentile table is this function of
    the merged counts, equal to that of the whole column.
    """
    n = counted.n
    if n == 0:
        return []
    points = counted.values
    if len(points) > max_points:
        picked = counted.quantile(np.linspace(0.0, 1.0, max_points))
        points = np.unique(np.concatenate([points[:1], picked, points[-1:]]))
    through_all = np.cumsum(counted.counts)
    at = np.searchsorted(counted.values, points)
    through = through_all[at]
    below = through - counted.counts[at]
    percent = 100.0 * (below + 0.5 * (through - below)) / n
    safe = (below >= min_cell) & (n - through >= min_cell)
    return [(float(s), float(p)) for s, p, ok in zip(points, percent, safe, strict=True) if ok]


def _anchored(
    points: list[tuple[float, float]], score_range: tuple[float, float] | None
) -> list[tuple[float, float]]:
    """Close a thinned table at the ends of the scale's score range: (lowest, 0), (highest, 100).

    The small-cell rule leaves out the extreme points; without anchors, scoring would hold every
    score beyond the table at the end point's percentile. With them, it interpolates towards 0
    and 100, within FORMULAS.md's clamp to [0, 100].
    """
    if not points or score_range is None:
        return points
    low, high = score_range
    out = list(points)
    if out[0][0] > low:
        out.insert(0, (float(low), 0.0))
    if out[-1][0] < high:
        out.append((float(high), 100.0))
    return out


def _cell_keys(groups: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One label per row, ``col=value,...``; NA where a group value is missing."""
    if not columns:
        return pd.Series(pd.NA, index=groups.index, dtype="string")
    text = [groups[c].astype("string") for c in columns]
    label = text[0].str.cat(pd.concat(text[1:], axis=1), sep="|") if len(text) > 1 else text[0]
    return label.astype("string")  # NA where any value is (str.cat's na_rep=None)


#: Most distinct values one scale may take in one cell for norms from counts (the Dask path):
#: beyond it :func:`norms_from_counts` refuses rather than hold an unbounded table.
MAX_DISTINCT = 1_000_000


@dataclass(frozen=True)
class ScoreCounts:
    """Exact counts of each scale's score values, overall and per cell; add with ``+``.

    ``overall[scale]``: the :class:`~analysis.stats.tables.ValueCounts` of every respondent's
    score; ``cells[scale][cell]``: those of the respondents of one cell (the ``col=value|...``
    label of :func:`_cell_keys`: the group values joined by ``|``). Counts of parts of a cohort
    (Dask partitions) add up to the counts of the whole, so the norms of the merged counts are the
    norms of the whole cohort (:func:`norms_from_counts`).

    Why exact counts rather than a quantile sketch: a Likert subscale score is a mean or sum of
    k answers on a bounded range, S/c with c answered items and S an integer sum, so it takes at
    most Σ_c (c·(high − low) + 1) distinct values (4 items on 1..5: 45; 10 items on 1..7: 340);
    prorated sums (the mean times k) take as many; weighted scores and composites are bounded
    by the answered patterns and in practice by far fewer values than respondents. The counts
    are then small, additive and exact: n, mean, sd and the mid-rank percentiles from them equal
    those of the whole column, which a mergeable sketch (t-digest, KLL) would only approximate.
    A scale with more than ``MAX_DISTINCT`` values in a cell is refused (use the in-memory engine).
    """

    overall: dict[str, ValueCounts]
    cells: dict[str, dict[str, ValueCounts]]

    def __add__(self, other: ScoreCounts) -> ScoreCounts:
        if list(self.overall) != list(other.overall):
            raise AnalysisError("only counts of the same scales can be added")
        empty = value_counts(np.zeros(0))
        overall = {s: self.overall[s] + other.overall[s] for s in self.overall}
        cells: dict[str, dict[str, ValueCounts]] = {}
        for scale in self.overall:
            mine, theirs = self.cells.get(scale, {}), other.cells.get(scale, {})
            merged = {
                c: mine.get(c, empty) + theirs.get(c, empty) for c in sorted({*mine, *theirs})
            }
            for cell, counted in [("all", overall[scale]), *merged.items()]:
                _check_distinct(scale, cell, counted)
            cells[scale] = merged
        return ScoreCounts(overall, cells)


def _check_distinct(scale: str, cell: str, counted: ValueCounts) -> None:
    if len(counted.values) > MAX_DISTINCT:
        raise AnalysisError(
            Phrase(
                f"the scale {scale!r} takes more than {MAX_DISTINCT} distinct values "
                f"({'overall' if cell == 'all' else 'in the cell ' + cell}): its scores cannot "
                "be counted exactly partition by partition (the norms, and the score sections "
                "of the cohort report on Dask, need those counts); use the in-memory engine (",
                IN_MEMORY,
                ")",
            )
        )


#: The in-memory engine: the CLI's ``--engine memory``, a pandas DataFrame in Python.
IN_MEMORY = Param("engine", "memory", python_text="a pandas DataFrame: frame.compute()")


def score_counts(
    scores: pd.DataFrame, scales: Sequence[str], group_columns: Sequence[str] = ()
) -> ScoreCounts:
    """:class:`ScoreCounts` of a scores table (one row per respondent, the scales and groups)."""
    columns = list(group_columns)
    missing = [c for c in [*scales, *columns] if c not in scores.columns]
    if missing:
        raise AnalysisError(f"the scores table lacks the columns {', '.join(missing)}")
    keys = _cell_keys(scores, columns)
    codes, labels = pd.factorize(keys, sort=True, use_na_sentinel=True)
    overall: dict[str, ValueCounts] = {}
    cells: dict[str, dict[str, ValueCounts]] = {}
    for scale in scales:
        values = pd.to_numeric(scores[scale], errors="coerce").to_numpy(dtype=np.float64)
        overall[scale] = value_counts(values)
        by_cell: dict[str, ValueCounts] = {}
        if columns:
            has = ~np.isnan(values)
            for code, label in enumerate(labels):
                by_cell[str(label)] = value_counts(values[has & (codes == code)])
        cells[scale] = by_cell
    return ScoreCounts(overall, cells)


def _moments(counted: ValueCounts) -> tuple[float, float]:
    """(mean, sd with divisor n − 1) of counted values, exactly rounded (rational arithmetic).

    The same numbers whatever the order or partitioning of the rows: the sums are exact.
    """
    n = counted.n
    if n == 0:
        return float("nan"), float("nan")
    weights = [int(c) for c in counted.counts]
    exact = [Fraction(float(v)) for v in counted.values]
    total = sum((c * v for c, v in zip(weights, exact, strict=True)), Fraction(0))
    mean = float(total / n)
    if n < 2:
        return mean, float("nan")
    squares = sum((c * v * v for c, v in zip(weights, exact, strict=True)), Fraction(0))
    variance = (n * squares - total * total) / (n * (n - 1))
    return mean, math.sqrt(float(variance))


def norms_from_scores(
    scores: pd.DataFrame,
    scales: Sequence[str],
    *,
    sample: str,
    group_columns: Sequence[str] = (),
    min_cell: int = 10,
    reliabilities: Mapping[str, float] | None = None,
    max_points: int = 101,
    overall: bool = True,
    score_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> NormsResult:
    """Norms from a scores table (see the module docstring for every convention).

    Parameters
    ----------
    scores
        One row per respondent, one column per scale, and the ``group_columns``.
    scales
        The score columns to norm (subscale and composite ids).
    sample
        A description of the normative sample (who, where, when), required by the format.
    group_columns
        Columns that stratify the norms (for example ``("gender", "age_band")``).
    min_cell
        Smallest group that gets an entry.
    reliabilities
        Reliability per scale, written into every entry of that scale (values in (0, 1) only).
    max_points
        Most points in a percentile table.
    overall
        Also write an entry without group (the fallback for everyone), default ``True``.

    Notes
    -----
    In R: ``psych::describeBy(scores, group = interaction(site, sex))`` gives the same n, mean and
    sd per cell; percentiles as :func:`percentile_points`. The numbers are those of the exact
    value counts (:func:`score_counts`, :func:`norms_from_counts`), as on Dask.
    """
    return norms_from_counts(
        score_counts(scores, scales, group_columns),
        scales,
        sample=sample,
        group_columns=group_columns,
        min_cell=min_cell,
        reliabilities=reliabilities,
        max_points=max_points,
        overall=overall,
        score_ranges=score_ranges,
    )


def norms_from_counts(
    counts: ScoreCounts,
    scales: Sequence[str],
    *,
    sample: str,
    group_columns: Sequence[str] = (),
    min_cell: int = 10,
    reliabilities: Mapping[str, float] | None = None,
    max_points: int = 101,
    overall: bool = True,
    score_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> NormsResult:
    """:func:`norms_from_scores` from the exact counts of the scores (:class:`ScoreCounts`).

    The counts of a cohort's partitions merged with ``+`` give the norms of the whole cohort.
    """
    columns = list(group_columns)
    cells = sorted({c for s in scales for c in counts.cells.get(s, {})}) if columns else []
    empty = value_counts(np.zeros(0))
    records: list[dict[str, Any]] = []
    entries: list[NormEntry] = []
    for scale in scales:
        if scale not in counts.overall:
            raise AnalysisError(f"the counts lack the scale {scale!r}")
        rel = (reliabilities or {}).get(scale)
        rel_ok = rel if rel is not None and 0.0 < rel < 1.0 else None
        stats: dict[str, dict[str, Any]] = {}
        for cell in (["all"] if overall or not cells else []) + cells:
            counted = (
                counts.overall[scale] if cell == "all" else counts.cells[scale].get(cell, empty)
            )
            _check_distinct(scale, cell, counted)
            n = counted.n
            mean, sd = _moments(counted)
            reason = None
            if n < min_cell:
                reason = REASON_SMALL
            elif not sd > 0:
                reason = REASON_NO_SPREAD
            stats[cell] = {"n": n, "mean": mean, "sd": sd, "x": counted, "reason": reason}
        # complementary suppression against the overall total (the one rule of group tables)
        if "all" in stats and cells:
            outside = stats["all"]["n"] - sum(stats[c]["n"] for c in cells)
            line = np.array([[*(stats[c]["n"] for c in cells), outside]], dtype=np.float64)
            unpublished = np.array([stats[c]["reason"] is not None for c in cells] + [True])
            hidden = hidden_columns(line, min_cell, forced=unpublished)
            for c, hide in zip(cells, hidden[:-1], strict=True):
                if hide and stats[c]["reason"] is None:
                    stats[c]["reason"] = REASON_COMPLEMENT
        for cell, info in stats.items():
            group = {} if cell == "all" else dict(zip(columns, str(cell).split("|"), strict=True))
            published = info["reason"] is None
            records.append(
                {
                    "scale": scale,
                    "cell": cell,
                    **{c: group.get(c, pd.NA) for c in columns},
                    "n": info["n"],
                    "mean": info["mean"] if published else np.nan,
                    "sd": info["sd"] if published else np.nan,
                    "reliability": rel_ok,
                    "published": published,
                    "reason": info["reason"],
                }
            )
            if published:
                entries.append(
                    NormEntry(
                        scale=scale,
                        group=group,
                        mean=info["mean"],
                        sd=info["sd"],
                        n=info["n"],
                        reliability=rel_ok,
                        percentiles=tuple(
                            PercentilePoint(score=s, percentile=p)
                            for s, p in _anchored(
                                percentile_points_from_counts(info["x"], max_points, min_cell),
                                (score_ranges or {}).get(scale),
                            )
                        ),
                    )
                )
    if not entries:
        why = sorted({str(r["reason"]) for r in records if r["reason"]})
        raise AnalysisError(
            f"nothing can be normed: no cell has {min_cell} or more respondents with a score "
            f"and an sd above 0 ({'; '.join(why) or 'no scores'})"
        )
    table = pd.DataFrame(records)
    # the n of an unpublished cell is itself disclosive: keep it out of the report
    table["n"] = table["n"].astype("Int64").where(table["published"].astype(bool))
    return NormsResult(
        norms=Norms(sample=sample, group_columns=tuple(columns), entries=tuple(entries)),
        table=table,
    )


def build_norms(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses | dd.DataFrame,
    *,
    sample: str,
    group_columns: Sequence[str] = (),
    min_cell: int = 10,
    id_column: str | None = None,
    ignore_columns: Sequence[str] = (),
    scales: Sequence[str] | None = None,
    max_points: int = 101,
) -> NormsResult:
    """Score a cohort with surveytool and build norms for every subscale and composite.

    Parameters
    ----------
    instrument
        The instrument to norm.
    responses
        The validated answers (:func:`surveytool.responses.read_responses`, read with the
        ``group_columns``), or the cohort's raw answers with the ``group_columns`` (as
        :func:`surveytool.score_responses` reads them). Their problems are kept in the result's
        ``problems``; for a raw table a :class:`~analysis.errors.ResponseProblemsWarning` says
        how many. Or a Dask DataFrame of the raw answers: reduced partition by partition to
        the exact counts of the scores and the reliability sums (the same norms, number for
        number, never the rows gathered).
    sample
        Who the normative sample is (written into the norms block).
    group_columns, min_cell, max_points
        See :func:`norms_from_scores`.
    id_column, ignore_columns
        As for :func:`surveytool.score_responses`.
    scales
        Scales to norm; default every subscale and composite.

    Returns
    -------
    NormsResult
        ``.norms`` goes into ``instrument.model_copy(update={"norms": ...})`` or, through
        :func:`norms_yaml`, into the instrument file.

    Notes
    -----
    Scores are ``surveytool.score_responses`` (= ``psych::scoreItems(impute = "none")`` for
    ``mean``); reliabilities ``psych::alpha(x)$total$raw_alpha`` per subscale.
    """
    inst = load_instrument(instrument)
    if not isinstance(responses, pd.DataFrame | Responses) and is_dask(responses):
        return _dask_norms(
            inst,
            responses,
            sample=sample,
            group_columns=group_columns,
            min_cell=min_cell,
            id_column=id_column,
            ignore_columns=ignore_columns,
            scales=scales,
            max_points=max_points,
        )
    if isinstance(responses, Responses):
        absent = [g for g in group_columns if g not in responses.groups.columns]
        if absent:
            raise AnalysisError(
                f"the validated responses have no group column {', '.join(map(repr, absent))}; "
                "read them with read_responses(..., group_columns=[...])"
            )
        result = score_validated(inst, responses)
        problems = Problems.of(result.issues)
    else:
        result = score_responses(
            inst,
            cast("pd.DataFrame", responses),  # not Dask: taken above
            id_column=id_column,
            group_columns=group_columns,
            ignore_columns=ignore_columns,
        )
        problems = Problems.of(result.issues)
        warn_problems(problems)
    chosen = normed_scales(inst, result.scores.columns, scales)
    built = norms_from_sums(
        inst,
        score_counts(result.scores, chosen, group_columns),
        sufficient_statistics(inst, result.responses),
        sample=sample,
        group_columns=group_columns,
        min_cell=min_cell,
        scales=chosen,
        max_points=max_points,
    )
    return dataclasses.replace(built, problems=problems)


Sums = tuple[ScoreCounts, ItemSums, Problems]


def _partition_sums(
    instrument: Instrument, part: Responses, scales: Sequence[str] | None, groups: Sequence[str]
) -> Sums:
    """One partition's validated answers scored (as :func:`build_norms` scores them), as the
    exact counts of its scores, its reliability sums and its problems (a task)."""
    result = score_validated(instrument, part)
    chosen = normed_scales(instrument, result.scores.columns, scales)
    return (
        score_counts(result.scores, chosen, groups),
        sufficient_statistics(instrument, result.responses),
        Problems.of(result.issues),
    )


def _add_sums(a: Sums, b: Sums) -> Sums:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _dask_norms(
    instrument: Instrument,
    data: Any,
    *,
    sample: str,
    group_columns: Sequence[str],
    min_cell: int,
    id_column: str | None,
    ignore_columns: Sequence[str],
    scales: Sequence[str] | None,
    max_points: int,
) -> NormsResult:
    """:func:`build_norms` of a Dask DataFrame: each partition validated
    (:func:`surveytool.engine.scoring.read_responses_dask`: rows numbered in the whole frame, an
    id repeated across partitions quarantined as in memory), scored and reduced to the exact
    counts of every score value per cell and the reliability sums, merged in a tree; the norms
    from them are the in-memory norms number for number."""
    import importlib

    from analysis.stats._reduce import tree_reduce
    from surveytool.engine.scoring import read_responses_dask

    dask = importlib.import_module("dask")
    parts = read_responses_dask(
        instrument,
        data,
        id_column=id_column,
        group_columns=group_columns,
        ignore_columns=ignore_columns,
    )
    counts, sums, problems = tree_reduce(
        [
            dask.delayed(_partition_sums)(instrument, part, scales, tuple(group_columns))
            for part in parts
        ],
        _add_sums,
    )
    warn_problems(problems)
    built = norms_from_sums(
        instrument,
        counts,
        sums,
        sample=sample,
        group_columns=group_columns,
        min_cell=min_cell,
        scales=normed_scales(instrument, counts.overall, scales),
        max_points=max_points,
    )
    return dataclasses.replace(built, problems=problems)


def normed_scales(
    instrument: Instrument, columns: Iterable[object], scales: Sequence[str] | None = None
) -> list[str]:
    """The scales :func:`build_norms` norms: ``scales`` (default every subscale and composite)
    that the scores table has."""
    chosen = list(scales) if scales is not None else instrument.scored_ids()
    have = {str(c) for c in columns}
    return [s for s in chosen if s in have]


def norms_from_sums(
    instrument: Instrument,
    counts: ScoreCounts,
    sums: ItemSums,
    *,
    sample: str,
    group_columns: Sequence[str] = (),
    min_cell: int = 10,
    scales: Sequence[str] | None = None,
    max_points: int = 101,
) -> NormsResult:
    """:func:`build_norms` from additive statistics: the exact counts of the scores
    (:class:`ScoreCounts`) and the reliability sums (:func:`analysis.sufficient_statistics`),
    both merged over the parts of a cohort (what the Dask path reduces)."""
    rel = reliability(instrument, sums)
    return norms_from_counts(
        counts,
        list(scales) if scales is not None else list(counts.overall),
        sample=sample,
        group_columns=group_columns,
        min_cell=min_cell,
        reliabilities={str(k): float(v) for k, v in rel.scales["raw_alpha"].items()},
        max_points=max_points,
        score_ranges=instrument_score_ranges(instrument),
    )


class _NoAliasDumper(yaml.SafeDumper):
    """Instrument files refuse YAML anchors and aliases; never write any."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def norms_yaml(norms: Norms) -> str:
    """The ``norms:`` block of an instrument file, as YAML text (numbers round-trip exactly).

    Append it to an instrument file that has no ``norms`` yet; the loader validates it.
    """
    data = norms.model_dump(mode="json", exclude_defaults=True)
    for entry in data.get("entries", []):
        entry.setdefault("group", {})
        if not entry["group"]:
            del entry["group"]
    return yaml.dump(
        {"norms": data},
        Dumper=_NoAliasDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None,
        width=100,
    )
