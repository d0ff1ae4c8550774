"""Building the cohort report: the cohort checks, then each section's tables in order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

import numpy as np
import pandas as pd

from analysis.cohort.dataset import open_cohort
from analysis.cohort.ledger import Cohort, CohortMetadata, load_cohort
from analysis.errors import AnalysisError, CohortFileError, Param, Phrase, computation_warnings
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN
from analysis.privacy.suppression import (
    DEFAULT_MIN_CELL,
)
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument

if TYPE_CHECKING:
    pass
from analysis.report import sections
from analysis.report.reduce import (
    REDUCED_SECTIONS,
    SAMPLE_ROWS,
    SAMPLED_SECTIONS,
    careless_summary,
    complete_moments,
    reduce_careless,
    reduce_cohort,
    reduce_waves,
    repeats_over,
    sample_frame,
    score_sums,
    wave_pairs,
)
from analysis.report.sections import (
    ReportTable,
    TableBuilder,
)
from analysis.stats._matrix import one_blas_thread

#: The long steps, in order; ``progress`` is called with each as it starts.
STEPS = (
    "reading the cohort",
    "scoring",
    "reliability and item statistics",
    "careless responding",
    "score statistics",
    "group comparisons",
    "parallel analysis and EFA",
    "CFA",
    "validity evidence (COSMIN)",
    "figures",
)

Progress = Callable[[str], None]
_P = ParamSpec("_P")


@dataclass(frozen=True)
class CohortReport:
    """Everything the report shows; :func:`render_html` and :func:`write_report` present it."""

    instrument: Instrument
    cohort_file: str
    metadata: CohortMetadata
    respondents: int
    min_cell: int
    groups: tuple[str, ...]
    tables: tuple[ReportTable, ...]
    figures: dict[str, list[tuple[str, str]]]
    notes: tuple[str, ...]
    facts: dict[str, Any]
    created: str
    hash_matches: bool
    model: str = ""
    texts: dict[str, list[str]] = field(default_factory=dict)

    def table(self, name: str) -> ReportTable:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def in_section(self, section: str) -> list[ReportTable]:
        return [t for t in self.tables if t.section == section]


def read_cohort_file(path: str | Path) -> Cohort:
    """The cohort at ``path``; a missing file or one that is not a cohort is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise CohortFileError(
            f"{path}: no such cohort file (make one with surveytool cohort import)"
        )
    return load_cohort(path)


def read_cohort(cohort: str | Path | Cohort) -> Cohort:
    """A cohort in memory: as given, a cohort dataset folder read whole, or a cohort file."""
    if isinstance(cohort, Cohort):
        return cohort
    if Path(cohort).is_dir():
        return open_cohort(cohort).load()
    return read_cohort_file(cohort)


def instrument_check(
    metadata: CohortMetadata, instrument: Instrument, *, allow: bool
) -> str | None:
    """None when the cohort was imported with this instrument (same content hash).

    Otherwise raises :class:`CohortFileError`, or with ``allow`` returns the warning to show.
    """
    stored_id = metadata.instrument_id
    stored_version = metadata.instrument_version
    stored_hash = metadata.instrument_hash
    if stored_hash == instrument.content_hash and stored_id == instrument.id:
        return None
    message = (
        f"the cohort was imported with {stored_id} {stored_version} (content hash "
        f"{stored_hash[:12] or 'unknown'}), but the instrument given is {instrument.id} "
        f"{instrument.version} (content hash {instrument.content_hash[:12]})"
    )
    if not allow:
        raise CohortFileError(
            Phrase(
                f"{message}. Give the instrument the cohort was imported with; if you know the "
                "difference does not change scoring (for example norms were added), add ",
                Param("allow_instrument_mismatch", True),
            )
        )
    return f"Instrument mismatch allowed: {message}."


def check_groups(cohort: Cohort, groups: Sequence[str], instrument: Instrument) -> list[str]:
    meta = cohort.metadata
    allowed = [*meta.group_columns, *meta.quasi_identifiers, *meta.wave_columns]
    chosen = list(dict.fromkeys(groups))
    for g in chosen:
        if g not in cohort.frame.columns or g in instrument.item_by_id or g not in allowed:
            known = ", ".join(allowed) or "none (import with groups: in the mapping)"
            raise AnalysisError(
                Phrase(
                    f"{g!r} (",
                    Param("groups"),
                    f") is not a group column of the cohort; its group columns: {known}",
                )
            )
    return chosen


def non_item_columns(frame: pd.DataFrame, instrument: Instrument) -> list[str]:
    return [str(c) for c in frame.columns if str(c) not in instrument.item_by_id]


def _repeats_over(frame: pd.DataFrame, column: str, waves: Sequence[str]) -> bool:
    """Whether ``column`` is a wave column over which the same people repeat."""
    if column not in waves or PSEUDONYM_COLUMN not in frame:
        return False
    seen = frame[[PSEUDONYM_COLUMN, column]].dropna()
    return bool(seen.groupby(PSEUDONYM_COLUMN)[column].nunique().gt(1).any())


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "group"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}_{k}", k + 1
    taken.add(slug)
    return slug


def _computation_notes(
    build: Callable[_P, CohortReport],
) -> Callable[_P, CohortReport]:
    """Numeric warnings of the analysis as notes of the report (not on the console)."""

    @functools.wraps(build)
    def collected(*args: _P.args, **kwargs: _P.kwargs) -> CohortReport:
        with computation_warnings() as numeric:
            report = build(*args, **kwargs)
        if not numeric:
            return report
        extra = tuple(
            f"Computation warning (numpy or pandas, for the analyst): {t}." for t in numeric
        )
        return dataclasses.replace(report, notes=report.notes + extra)

    return collected


@_computation_notes
@one_blas_thread  # small products throughout: BLAS threads only spin (see single_threaded_blas)
def build_cohort_report(
    cohort: str | Path | Cohort,
    instrument: Instrument | str | Path,
    *,
    groups: Sequence[str] = (),
    min_cell: int = DEFAULT_MIN_CELL,
    allow_instrument_mismatch: bool = False,
    figures: bool = True,
    progress: Progress | None = None,
    n_iter: int = 20,
    seed: int = 0,
    engine: Literal["memory", "dask"] = "memory",
    sample_rows: int = SAMPLE_ROWS,
) -> CohortReport:
    """Analyze a cohort for the report (see the module docstring).

    Parameters
    ----------
    cohort
        A cohort Parquet file (``surveytool cohort import``) or one read by
        :func:`read_cohort_file`.
    instrument
        The instrument it was imported with (bundled id, path or model); a different content hash
        is refused unless ``allow_instrument_mismatch``.
    groups
        Group columns of the cohort (groups, quasi-identifiers such as an age band, or waves) to
        compare; each is compared on its own.
    min_cell
        Smallest publishable cell (1 turns suppression off).
    figures
        Draw the figures (matplotlib); off, the report has the tables only.
    progress
        Called with each of :data:`STEPS` as it starts.
    n_iter, seed
        Parallel analysis: random data sets and their seed (also the seed of the Dask sample).
    engine
        ``"memory"`` (default): the cohort in one pandas frame. ``"dask"``: the cohort is read as
        a Dask DataFrame (:func:`analysis.cohort.dataset.open_cohort`, a file or a dataset
        folder) on Dask's current scheduler (:func:`surveytool.engine.cluster`); sums, counts
        and moments reduce over partitions, and what needs the rows (the COSMIN section, see
        :data:`analysis.report.reduce.SAMPLED_SECTIONS`) runs on a seeded sample of at most
        ``sample_rows`` respondents, which the report says (:mod:`analysis.report.reduce`).
    """
    from analysis import (
        careless_responding,
        item_statistics,
        keyed_items,
        reliability,
        sufficient_statistics,
    )
    from analysis.stats.careless import careless_centre
    from analysis.stats.moments import moments
    from surveytool import __version__
    from surveytool.scoring.engine import score_responses

    step = progress or (lambda _name: None)
    if min_cell < 1:
        raise AnalysisError("min_cell must be at least 1")
    step(STEPS[0])
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    data: Any = None
    if engine == "dask":
        opened = open_cohort(cohort.path if isinstance(cohort, Cohort) else cohort)
        data = opened.dask()
        total = opened.rows
        sample = sample_frame(data, total, sample_rows, seed)
        coh = Cohort(opened.path, sample, opened.metadata)
    else:
        coh = read_cohort(cohort)
        total = len(coh.frame)
    mismatch = instrument_check(coh.metadata, inst, allow=allow_instrument_mismatch)
    chosen = check_groups(coh, groups, inst)
    b = TableBuilder(min_cell)
    if mismatch:
        b.notes.append(mismatch)
    frame = coh.frame
    n_rows = len(frame)  # the rows of the row-level sections (a sample of a large Dask cohort)
    if total < max(min_cell, 3):
        raise AnalysisError(
            f"{coh.path.name} holds {total} respondent row(s); a report needs at least "
            f"{max(min_cell, 3)} (the smallest publishable cell is {min_cell})"
        )
    if coh.metadata.wave_columns:
        b.notes.append(
            "The cohort has waves ("
            + ", ".join(coh.metadata.wave_columns)
            + "): every row is analysed as its own respondent, so people seen in several waves "
            "count more than once."
        )
    sections.cohort_tables(b, coh, inst, total, mismatch is None)

    step(STEPS[1])
    ignore = [c for c in non_item_columns(frame, inst) if c not in chosen]
    scored = score_responses(inst, frame, group_columns=chosen, ignore_columns=ignore)
    responses, scores = scored.responses, scored.scores
    scale_ids = [s for s in inst.scored_ids() if s in scores.columns]
    reduced = reduce_cohort(data, inst, chosen, ignore) if data is not None else None
    note_at = len(b.notes)  # the note of a sample, once the sections know what they used
    sampled: list[str] = []
    within: list[str] = []
    kinds = (
        reduced.issues
        if reduced is not None
        else scored.issues["kind"].value_counts().to_dict()
        if len(scored.issues)
        else {}
    )
    if kinds:
        b.notes.append(
            "Scoring reported "
            + ", ".join(f"{v} {k} issue(s)" for k, v in sorted(kinds.items()))
            + " (for example items the cohort has no column for); those answers count as missing."
        )

    step(STEPS[2])
    sums = reduced.sums if reduced is not None else sufficient_statistics(inst, responses)
    rel = reliability(inst, sums)
    stats = item_statistics(inst, sums)
    hidden_answers = sections.reliability_and_item_tables(b, inst, rel, stats)
    # the keyed items, once: the CFA and the COSMIN section's ordinal CFA fit them, and their
    # moments (omega, parallel analysis, KMO, Bartlett and the EFA all use their pairwise
    # correlations) are computed once too
    keyed = keyed_items(inst, responses)
    if reduced is not None:
        item_moments, n_items_rows = reduced.item_moments, reduced.n_rows
    else:
        item_moments = moments(
            keyed.to_numpy(dtype=np.float64, na_value=np.nan), [str(c) for c in keyed.columns]
        )
        n_items_rows = len(keyed)
    sections.omega_table(b, inst, item_moments)

    step(STEPS[3])
    if reduced is not None and reduced.careless is not None:
        careless = reduce_careless(data, inst, chosen, ignore, careless_centre(reduced.careless))
    else:
        careless = careless_summary(careless_responding(inst, responses))
    sections.careless_tables(b, careless, total)

    step(STEPS[4])
    if reduced is not None and reduced.scores is not None:
        score_sums_ = reduced.scores
    else:
        score_sums_ = score_sums(scores, scale_ids, [g for g in chosen if g in scores.columns])
    correlations = sections.score_tables(b, inst, score_sums_, scale_ids, rel)

    step(STEPS[5])
    shown_groups: list[tuple[str, str, pd.DataFrame]] = []
    taken: set[str] = set()
    people = frame[PSEUDONYM_COLUMN].to_numpy() if PSEUDONYM_COLUMN in frame else None
    for g in chosen:
        slug = _slug(g, taken)
        if g not in coh.metadata.wave_columns or people is None:
            repeats = False
        elif data is not None:  # decided on the whole cohort, not the sample
            repeats = repeats_over(data, g)
        else:
            repeats = _repeats_over(frame, g, coh.metadata.wave_columns)
        if repeats and people is not None:
            # the same people in several waves: within person, never as independent groups
            rows_of = score_sums_.rows.get(g, {})
            levels = sorted(v for v in rows_of if v != sections.NOT_RECORDED)
            if data is not None:
                pairs = reduce_waves(data, inst, chosen, ignore, g, levels, scale_ids)
            else:
                with_people = scores.assign(**{PSEUDONYM_COLUMN: people})
                pairs = wave_pairs(with_people, PSEUDONYM_COLUMN, g, levels, scale_ids)
            sections.wave_tables(b, rows_of, pairs, g, slug)
            within.append(f"within-person comparisons over {g}")
            continue
        shown = sections.group_tables(b, score_sums_, g, slug, scale_ids, total)
        if len(shown):
            shown_groups.append((g, slug, shown))

    step(STEPS[6])
    parallel, fitted_efa = sections.efa_tables(
        b, inst, item_moments, n_items_rows, n_iter=n_iter, seed=seed
    )

    step(STEPS[7])
    complete = reduced.complete if reduced is not None else complete_moments(inst, keyed)
    model, cfa_on_rows = sections.cfa_tables(b, inst, keyed, complete)
    if cfa_on_rows:
        sampled.append("CFA")

    step(STEPS[8])
    from analysis.report.cosmin import cosmin_table

    waves = tuple(coh.metadata.wave_columns)
    cosmin_table(
        b,
        inst,
        responses,
        rel,
        chosen,
        waves=waves,
        people=people,
        min_cell=min_cell,
        seed=seed,
        keyed=keyed,
    )

    step(STEPS[9])
    svgs: dict[str, list[tuple[str, str]]] = {}
    if figures:
        svgs = sections.draw_figures(
            inst, score_sums_, scale_ids, correlations, stats, hidden_answers, total, shown_groups,
            parallel, fitted_efa, min_cell,
        )  # fmt: skip

    if reduced is not None and n_rows < reduced.n_rows:
        whole = [*REDUCED_SECTIONS, *within, *([] if cfa_on_rows else ["CFA"])]
        on_sample = [*sampled, *SAMPLED_SECTIONS]
        b.notes.insert(
            note_at,
            "Large cohort, computed on Dask: " + ", ".join(whole) + f" rest on all "
            f"{reduced.n_rows} respondents (sums and counts reduced over partitions); "
            + ", ".join(on_sample)
            + (" rests" if len(on_sample) == 1 else " rest")
            + f" on a seeded random sample of {n_rows} respondents (seed {seed}).",
        )

    b.add_suppression_table()
    return CohortReport(
        instrument=inst,
        cohort_file=coh.path.name,
        metadata=coh.metadata,
        respondents=total,
        min_cell=min_cell,
        groups=tuple(chosen),
        tables=tuple(b.tables),
        figures=svgs,
        notes=tuple(b.notes),
        facts={
            "respondents": total,
            "rows_scored": scored.rows_scored,
            "items": len(responses.item_ids),
            "subscales": len(inst.subscales),
            "composites": len(inst.composites),
            "surveytool_version": __version__,
        },
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        hash_matches=mismatch is None,
        model=model,
        texts=b.texts,
    )
