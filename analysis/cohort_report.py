"""The cohort report: the tables a reviewer expects, as one HTML file and a CSV per table.

:func:`build_cohort_report` reads an anonymized cohort (``surveytool cohort import``), scores it
with surveytool's own engine and runs the analysis API on it: reliability per subscale and the
inventory's omega, item statistics and answer frequencies, careless responding, score
descriptives and intercorrelations, group comparisons, parallel analysis, EFA and CFA. Every
number comes from those functions; this module only chooses, suppresses, lays out and writes.
:func:`write_report` writes ``report.html`` (jinja2, autoescaped; figures as inline SVG from
matplotlib; nothing loaded from another host) and the CSVs beside it, atomically: everything goes
to a temporary folder that replaces the target only when complete.

Small-cell suppression (FORMULAS.md, "Disclosure control"; :mod:`analysis.suppression`), on by
default with ``min_cell`` = 10; a suppressed value reads ``suppressed`` in the HTML and the CSVs:

- **groups**: a group (a value of a ``--group`` column, or "not recorded") with 1 ≤ n < min_cell,
  overall or among the respondents with any one scale's score, is suppressed, and so is the next
  smallest group of every line whose total is published (the group sizes add up to the cohort's
  N; each scale's group n's add up to that scale's n) until no line has exactly one suppressed
  group, nor suppressed groups that together hold fewer than min_cell (:func:`hidden_columns`;
  the rule of :mod:`analysis.stats.norms`). A suppressed group shows no n, mean, sd or interval, and is left out of the tests (which
  compare the published groups only; with fewer than two, the test rows are suppressed);
- **answer frequencies**: per item, the answer counts and the missing count add up to N; a count
  with 1 ≤ n < min_cell is suppressed with the smallest other count of its item. An item with a
  suppressed count also has its n, missing count and rate, floor and ceiling shares, mean, sd,
  median, skew and kurtosis suppressed (n·mean and n·Σx² are weighted totals from which hidden
  counts could be solved), in the item and reliability tables alike;
- **careless responding**: per index, flagged + not flagged + not computed = N, suppressed alike;
  so is the distribution of the number of flags;
- the smallest k-anonymity class of the import is shown as "fewer than min_cell" when it is.

Not suppressed (stated in the report): sample sizes of statistics over all respondents (a scale's
n, a correlation's n, the CFA's complete cases), whose differences from N count respondents who
left too many items unanswered, and the import's own counts (rows read, quarantined, duplicates),
which describe rows that are not in the cohort.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError, CohortFileError
from analysis.ledger import Cohort, read_cohort
from analysis.suppression import DEFAULT_MIN_CELL, SUPPRESSED, apply_mask, suppression_mask
from surveytool.instrument import Instrument
from surveytool.registry import load_instrument

if TYPE_CHECKING:
    from analysis.stats.careless import CarelessResult
    from analysis.stats.efa import EFAResult, ParallelAnalysis
    from analysis.stats.items import ItemStatistics
    from analysis.stats.norms import NormsResult
    from analysis.stats.reliability import Reliability
    from analysis.stats.scores import ScoreCorrelations
    from surveytool.responses import Responses

REPORT_KIND = "surveytool.cohort_report"
REPORT_FILE = "report.html"
MANIFEST_FILE = "manifest.json"
NOT_RECORDED = "(not recorded)"

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
    "figures",
)

Progress = Callable[[str], None]

#: Item-level columns that are suppressed with an item's hidden answer counts.
ITEM_MOMENT_COLUMNS = (
    "n",
    "missing",
    "missing_rate",
    "mean",
    "sd",
    "median",
    "skew",
    "kurtosis",
    "floor",
    "ceiling",
)
P_COLUMNS = frozenset({"p", "p_holm", "pvalue", "bartlett_p", "median_mahalanobis_p"})
INT_COLUMNS = frozenset(
    {
        "n",
        "k",
        "n_rows",
        "missing",
        "df",
        "baseline_df",
        "n_obs",
        "n_parameters",
        "flagged",
        "not_flagged",
        "not_computed",
        "respondents",
        "number",
        "batch",
        "rows_read",
        "rows_imported",
        "rows_quarantined",
        "duplicates",
    }
)


@dataclass(frozen=True)
class ReportTable:
    """One published table: ``frame`` holds numbers, text, and ``suppressed`` where hidden."""

    name: str
    title: str
    section: str
    frame: pd.DataFrame
    note: str = ""

    @property
    def csv(self) -> str:
        return f"{self.name}.csv"


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str


SECTIONS = (
    Section(
        "cohort",
        "The cohort",
        "Where the data came from and how it was anonymized, from the cohort file's own metadata.",
    ),
    Section(
        "reliability",
        "Reliability",
        "Per subscale on the keyed items, pairwise-complete covariances (psych::alpha, "
        'use = "pairwise"): raw and standardized alpha, Guttman\'s λ6 (g6), the average and '
        "median inter-item correlation, signal-to-noise ratio s_n, the standard error ase "
        "(Duhachek & Iacobucci) and Feldt's 95% interval (N = rows); omega_total of a one-factor "
        "minres model of each subscale. For the whole inventory: Schmid–Leiman omega "
        "hierarchical and total (psych::omega, minres, one group factor per subscale).",
    ),
    Section(
        "items",
        "Items",
        "Raw answers (before reverse keying): n, missing, floor and ceiling shares of the "
        "answered, skew and kurtosis (type 3); answer frequencies. Item–total statistics: "
        "raw_r (with the subscale mean), std_r, r_cor, r_drop (item–rest) and alpha if the item "
        "is deleted.",
    ),
    Section(
        "careless",
        "Careless responding",
        "Long-string, intra-individual response variability (IRV), even–odd consistency and "
        "Mahalanobis distance (R's careless package definitions). Flags suggest a closer look, "
        "not an exclusion rule.",
    ),
    Section(
        "scores",
        "Scores",
        "Subscale and composite scores as surveytool scores them (mean of answered keyed "
        'items, psych::scoreItems with impute = "none"); descriptives (psych::describe, '
        "type 3); Pearson intercorrelations with Fisher-z 95% intervals and Holm-adjusted p "
        "(psych::corr.test); correlations disattenuated by raw alpha (r / √(r_xx r_yy)).",
    ),
    Section(
        "groups",
        "Group comparisons",
        "Two groups: Welch's t with Hedges' g (noncentral-t interval) and Mann–Whitney U with "
        "the rank-biserial r. Three or more: Welch's ANOVA, one-way ANOVA with η² and ω², "
        "Kruskal–Wallis with ε². p_holm: Holm's correction across the scales, per test. "
        "Suppressed groups are left out of the tests.",
    ),
    Section(
        "efa",
        "Exploratory factor analysis",
        "Parallel analysis (20 random data sets, 95th percentile) suggests the number of "
        "factors; minres extraction, oblimin rotation (Kaiser-normalised) on pairwise-complete "
        "correlations of the keyed items; KMO and Bartlett's test of sphericity.",
    ),
    Section(
        "cfa",
        "Confirmatory factor analysis",
        "The instrument's own structure: one factor per subscale, correlated factors, ML "
        "estimation on complete respondents; fit indices as lavaan computes them (χ² = N·F_ML) "
        "and standardized loadings (std.all).",
    ),
)


@dataclass(frozen=True)
class CohortReport:
    """Everything the report shows; :func:`render_html` and :func:`write_report` present it."""

    instrument: Instrument
    cohort_file: str
    metadata: dict[str, Any]
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


# ---------------------------------------------------------------------------------------------
# the cohort file and the instrument
# ---------------------------------------------------------------------------------------------
def read_cohort_file(path: str | Path) -> Cohort:
    """The cohort at ``path``; a missing file or one that is not a cohort is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise CohortFileError(
            f"{path}: no such cohort file (make one with surveytool cohort import)"
        )
    try:
        cohort = read_cohort(path)
    except CohortFileError as exc:
        raise CohortFileError(
            str(exc)
            .replace("; choose another output path", "")
            .replace(" (it is left untouched)", "")
        ) from None
    if cohort is None:  # pragma: no cover - is_file() above
        raise CohortFileError(f"{path}: no such cohort file")
    return cohort


def instrument_check(
    metadata: Mapping[str, Any], instrument: Instrument, *, allow: bool
) -> str | None:
    """None when the cohort was imported with this instrument (same content hash).

    Otherwise raises :class:`CohortFileError`, or with ``allow`` returns the warning to show.
    """
    stored_id = metadata.get("instrument_id")
    stored_version = metadata.get("instrument_version")
    stored_hash = str(metadata.get("instrument_hash") or "")
    if stored_hash == instrument.content_hash and stored_id == instrument.id:
        return None
    message = (
        f"the cohort was imported with {stored_id} {stored_version} (content hash "
        f"{stored_hash[:12] or 'unknown'}), but the instrument given is {instrument.id} "
        f"{instrument.version} (content hash {instrument.content_hash[:12]})"
    )
    if not allow:
        raise CohortFileError(
            f"{message}. Give the instrument the cohort was imported with; if you know the "
            "difference does not change scoring (for example norms were added), add "
            "--allow-instrument-mismatch"
        )
    return f"Instrument mismatch allowed: {message}."


def _check_groups(cohort: Cohort, groups: Sequence[str], instrument: Instrument) -> list[str]:
    meta = cohort.metadata
    allowed = [
        *meta.get("group_columns", []),
        *meta.get("quasi_identifiers", {}),
        *meta.get("wave_columns", []),
    ]
    chosen = list(dict.fromkeys(groups))
    for g in chosen:
        if g not in cohort.frame.columns or g in instrument.item_by_id or g not in allowed:
            known = ", ".join(allowed) or "none (import with groups: in the mapping)"
            raise AnalysisError(
                f"--group {g!r} is not a group column of the cohort; its group columns: {known}"
            )
    return chosen


def _non_item_columns(frame: pd.DataFrame, instrument: Instrument) -> list[str]:
    return [str(c) for c in frame.columns if str(c) not in instrument.item_by_id]


# ---------------------------------------------------------------------------------------------
# suppression
# ---------------------------------------------------------------------------------------------
def hidden_columns(lines: np.ndarray, threshold: int = DEFAULT_MIN_CELL) -> np.ndarray:
    """Columns (groups) to suppress in every line of a table whose lines each publish a total.

    A column is hidden as a whole when any line has it as a small cell, or when
    :func:`analysis.suppression.suppression_mask` picks it as the complement in a line where it
    would otherwise leave a single hidden cell; and, as :mod:`analysis.stats.norms` does, while the
    hidden cells of a line hold fewer than ``threshold`` respondents together (their sum is the
    line's total minus the published cells), the smallest published cell of that line joins them.
    Repeats until every line is safe.
    """
    counts = np.atleast_2d(np.asarray(lines, dtype=np.float64))
    hidden = np.zeros(counts.shape[1], dtype=bool)
    if threshold <= 1:
        return hidden
    while True:
        # a column already hidden counts as a small cell wherever it has respondents
        forced = np.where(hidden[None, :] & (counts > 0), np.minimum(counts, 1.0), counts)
        mask = suppression_mask(forced, threshold, row_totals=True, column_totals=False)
        grown = hidden | mask.any(axis=0)
        for line in counts:
            together = float(line[grown & (line > 0)].sum())
            shown = np.flatnonzero(~grown & (line > 0))
            if 0 < together < threshold and len(shown):
                grown[shown[np.argmin(line[shown])]] = True
        if (grown == hidden).all():
            return hidden
        hidden = grown


def _mask_frame(frame: pd.DataFrame, mask: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    values = mask.to_numpy() if isinstance(mask, pd.DataFrame) else np.asarray(mask)
    return apply_mask(frame, values.astype(bool))


# ---------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, min_cell: int) -> None:
        self.min_cell = min_cell
        self.tables: list[ReportTable] = []
        self.notes: list[str] = []
        self.texts: dict[str, list[str]] = {}

    def add(self, name: str, title: str, section: str, frame: pd.DataFrame, note: str = "") -> None:
        out = (
            frame.reset_index(drop=False)
            if _has_named_index(frame)
            else frame.reset_index(drop=True)
        )
        self.tables.append(ReportTable(name, title, section, out, note))

    def text(self, section: str, line: str) -> None:
        self.texts.setdefault(section, []).append(line)


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(n is not None for n in frame.index.names)


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "group"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}_{k}", k + 1
    taken.add(slug)
    return slug


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
        Parallel analysis: random data sets and their seed.
    """
    from analysis.stats.careless import careless_responding
    from analysis.stats.items import item_statistics
    from analysis.stats.reliability import reliability, sufficient_statistics
    from surveytool import __version__
    from surveytool.scoring import score_responses

    step = progress or (lambda _name: None)
    if min_cell < 1:
        raise AnalysisError("min_cell must be at least 1")
    step(STEPS[0])
    coh = cohort if isinstance(cohort, Cohort) else read_cohort_file(cohort)
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    mismatch = instrument_check(coh.metadata, inst, allow=allow_instrument_mismatch)
    chosen = _check_groups(coh, groups, inst)
    b = _Builder(min_cell)
    if mismatch:
        b.notes.append(mismatch)
    frame = coh.frame
    n_rows = len(frame)
    if n_rows < max(min_cell, 3):
        raise AnalysisError(
            f"{coh.path.name} holds {n_rows} respondent row(s); a report needs at least "
            f"{max(min_cell, 3)} (the smallest publishable cell is {min_cell})"
        )
    if coh.metadata.get("wave_columns"):
        b.notes.append(
            "The cohort has waves ("
            + ", ".join(coh.metadata["wave_columns"])
            + "): every row is analysed as its own respondent, so people seen in several waves "
            "count more than once."
        )
    _cohort_tables(b, coh, inst, n_rows, mismatch is None)

    step(STEPS[1])
    ignore = [c for c in _non_item_columns(frame, inst) if c not in chosen]
    scored = score_responses(inst, frame, group_columns=chosen, ignore_columns=ignore)
    responses, scores = scored.responses, scored.scores
    scale_ids = [s for s in inst.scored_ids() if s in scores.columns]
    if len(scored.issues):
        kinds = scored.issues["kind"].value_counts().to_dict()
        b.notes.append(
            "Scoring reported "
            + ", ".join(f"{v} {k} issue(s)" for k, v in sorted(kinds.items()))
            + " (for example items the cohort has no column for); those answers count as missing."
        )

    step(STEPS[2])
    sums = sufficient_statistics(inst, responses)
    rel = reliability(inst, sums)
    stats = item_statistics(inst, sums)
    hidden_answers = _reliability_and_item_tables(b, inst, rel, stats)
    _omega_table(b, inst, responses)

    step(STEPS[3])
    _careless_tables(b, careless_responding(inst, responses), n_rows)

    step(STEPS[4])
    correlations = _score_tables(b, inst, scores, scale_ids, rel)

    step(STEPS[5])
    shown_groups: list[tuple[str, str, pd.DataFrame]] = []
    taken: set[str] = set()
    for g in chosen:
        slug = _slug(g, taken)
        shown = _group_tables(b, scores, g, slug, scale_ids, n_rows)
        if len(shown):
            shown_groups.append((g, slug, shown))

    step(STEPS[6])
    parallel, fitted_efa = _efa_tables(b, inst, responses, n_iter=n_iter, seed=seed)

    step(STEPS[7])
    model = _cfa_tables(b, inst, responses)

    step(STEPS[8])
    svgs: dict[str, list[tuple[str, str]]] = {}
    if figures:
        svgs = _figures(
            inst, scores, scale_ids, correlations, stats, hidden_answers, n_rows, shown_groups,
            parallel, fitted_efa, min_cell,
        )  # fmt: skip

    return CohortReport(
        instrument=inst,
        cohort_file=coh.path.name,
        metadata=coh.metadata,
        respondents=n_rows,
        min_cell=min_cell,
        groups=tuple(chosen),
        tables=tuple(b.tables),
        figures=svgs,
        notes=tuple(b.notes),
        facts={
            "respondents": n_rows,
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


def _labels(inst: Instrument) -> dict[str, str]:
    return {s.id: s.label for s in inst.subscales} | {c.id: c.label for c in inst.composites}


def _omega_table(b: _Builder, inst: Instrument, responses: Responses) -> None:
    from analysis.stats.reliability import omega

    try:
        om = omega(inst, responses)
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        b.text("reliability", f"Omega of the whole inventory could not be computed: {exc}")
        return
    row = {
        "omega_h": om.omega_h,
        "omega_total": om.omega_total,
        "alpha": om.alpha,
        "group_factors": om.n_factors,
        "items_flipped": ", ".join(om.flipped),
    }
    b.add(
        "omega",
        "Omega of the whole inventory (Schmid–Leiman)",
        "reliability",
        pd.DataFrame([row]),
        'psych::omega(keyed, nfactors = subscales, fm = "minres"); alpha is the standardized '
        "alpha of all scored items.",
    )


def _score_tables(
    b: _Builder,
    inst: Instrument,
    scores: pd.DataFrame,
    scale_ids: Sequence[str],
    rel: Reliability,
) -> ScoreCorrelations:
    from analysis.stats.scores import describe_scores, score_correlations

    labels = _labels(inst)
    described = describe_scores(scores, list(scale_ids))
    described.insert(0, "label", [labels.get(s, s) for s in described.index])
    b.add("score_descriptives", "Score descriptives", "scores", described)
    correlations = score_correlations(scores, list(scale_ids), reliabilities=rel)
    b.add(
        "score_correlations",
        "Score intercorrelations (pairs)",
        "scores",
        correlations.pairs,
        "r: Pearson, pairwise; ci: Fisher z, 95%; p_holm: Holm across all pairs; "
        "disattenuated: r / √(alpha_x · alpha_y) (subscales only).",
    )
    matrix = correlations.matrix.rename_axis("scale")
    b.add("score_correlation_matrix", "Score correlation matrix", "scores", matrix)
    b.add(
        "disattenuated_correlations",
        "Disattenuated correlations (r / √(alpha_x alpha_y))",
        "scores",
        correlations.disattenuated.rename_axis("scale"),
    )
    return correlations


def _efa_tables(
    b: _Builder, inst: Instrument, responses: Responses, *, n_iter: int, seed: int
) -> tuple[ParallelAnalysis | None, EFAResult | None]:
    from analysis.stats.efa import bartlett_sphericity, efa, kmo, parallel_analysis
    from analysis.stats.items import keyed_items

    keyed = keyed_items(inst, responses)
    try:
        pa = parallel_analysis(keyed, n_iter=n_iter, random_state=seed)
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        b.text("efa", f"Parallel analysis could not be run: {exc}")
        return None, None
    b.add(
        "parallel_analysis",
        "Parallel analysis (eigenvalues)",
        "efa",
        pa.eigenvalues,
        f"pc/fa: observed eigenvalues of R and of R with one-factor communalities; sim_*: "
        f"{pa.n_iter} random normal data sets of the same size (seed {pa.random_state}). "
        f"Suggested: {pa.n_factors} factor(s), {pa.n_components} component(s).",
    )
    n_factors = min(max(pa.n_factors, 1), max(keyed.shape[1] - 1, 1))
    try:
        fitted = efa(keyed, n_factors)
        adequacy = kmo(keyed)
        bartlett = bartlett_sphericity(keyed)
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        b.text("efa", f"The factor analysis could not be run: {exc}")
        return pa, None
    summary = {
        "kmo": adequacy.overall,
        "bartlett_chisq": bartlett.statistic,
        "bartlett_df": bartlett.df,
        "bartlett_p": bartlett.pvalue,
        "factors": n_factors,
        "method": fitted.method,
        "rotation": fitted.rotation,
        "converged": fitted.converged,
    }
    b.add("efa_adequacy", "Sampling adequacy and the EFA", "efa", pd.DataFrame([summary]))
    first_subscale = {i: s.id for s in reversed(inst.subscales) for i in s.items}
    loadings = fitted.loadings.copy()
    loadings.insert(0, "subscale", [first_subscale.get(str(i), "") for i in loadings.index])
    loadings["communality"] = fitted.communalities["communality"]
    loadings["uniqueness"] = fitted.communalities["uniqueness"]
    loadings["msa"] = adequacy.items.reindex(loadings.index)
    b.add("efa_loadings", "EFA pattern loadings", "efa", loadings, "msa: KMO per item.")
    b.add("efa_factor_correlations", "EFA factor correlations (Φ)", "efa", fitted.phi)
    b.add("efa_variance", "EFA variance accounted for", "efa", fitted.variance)
    return pa, fitted


def _cfa_tables(b: _Builder, inst: Instrument, responses: Responses) -> str:
    """CFA tables; returns the model in lavaan syntax ("" when it could not be fitted)."""
    from analysis.stats.cfa import cfa

    try:
        fitted = cfa(inst, responses)
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        b.text("cfa", f"The CFA could not be fitted: {exc}")
        return ""
    skipped = (
        f" Left out (fewer than two items): {', '.join(fitted.skipped)}." if fitted.skipped else ""
    )
    b.add(
        "cfa_fit",
        "CFA fit (lavaan's ML indices)",
        "cfa",
        fitted.fit.to_frame().T.assign(converged=fitted.converged),
        "rmsea_ci: 90%; n_obs: complete respondents (listwise)." + skipped,
    )
    b.add("cfa_loadings", "CFA loadings", "cfa", fitted.loadings, "std_all: lavaan's std.all.")
    corr = fitted.factor_correlations.rename_axis("factor")
    b.add("cfa_factor_correlations", "CFA factor correlations", "cfa", corr)
    return fitted.model


def _figures(
    inst: Instrument,
    scores: pd.DataFrame,
    scale_ids: Sequence[str],
    correlations: ScoreCorrelations,
    stats: ItemStatistics,
    hidden_answers: pd.DataFrame,
    n_rows: int,
    shown_groups: Sequence[tuple[str, str, pd.DataFrame]],
    parallel: ParallelAnalysis | None,
    fitted_efa: EFAResult | None,
    min_cell: int,
) -> dict[str, list[tuple[str, str]]]:
    """Every figure, by section; drawn from published numbers only."""
    from analysis import figures as fig
    from surveytool.instrument import score_ranges

    distributions = fig.score_distributions(
        {s: scores[s].to_numpy(dtype=np.float64) for s in scale_ids},
        _labels(inst),
        score_ranges(inst),
        steps=_score_steps(inst),
        min_cell=min_cell,
    )
    heat = fig.heatmap(correlations.matrix, "score-correlations", "Score intercorrelations (r)")
    svgs: dict[str, list[tuple[str, str]]] = {
        "scores": [("Score distributions", distributions), ("Correlation heat map", heat)],
        "items": [
            (
                "Item responses",
                fig.item_response_bars(
                    stats.frequencies, stats.items["missing"], hidden_answers, n_rows
                ),
            )
        ],
        "groups": [
            (
                f"Group means: {g}",
                fig.group_means(data, f"groups-{slug}", f"{g}: mean and 95% interval"),
            )
            for g, slug, data in shown_groups
        ],
    }
    if parallel is not None:
        scree = fig.scree_plot(parallel.eigenvalues, parallel.n_factors, parallel.quantile)
        svgs["efa"] = [("Scree and parallel analysis", scree)]
        if fitted_efa is not None:
            loadings = fig.heatmap(
                fitted_efa.loadings,
                "efa-loadings",
                "EFA pattern loadings (|λ| ≥ .30 written)",
                annotate_above=0.30,
            )
            svgs["efa"].append(("Factor loadings", loadings))
    return svgs


def _score_steps(inst: Instrument) -> dict[str, float]:
    """Spacing of a subscale's possible scores when every item is answered (unit weights)."""
    steps: dict[str, float] = {}
    for sub in inst.subscales:
        if any(inst.item_by_id[i].weight != 1 for i in sub.items):
            continue
        if sub.method.value == "mean":
            steps[sub.id] = 1.0 / len(sub.items)
        else:  # sum, prorated_sum: whole numbers when every item is answered
            steps[sub.id] = 1.0
    return steps


def _cohort_tables(b: _Builder, coh: Cohort, inst: Instrument, n_rows: int, matches: bool) -> None:
    from surveytool import __version__

    meta = coh.metadata
    disclosure = meta.get("disclosure") or {}
    kanon = disclosure.get("k_anonymity") or {}
    pseudonyms = disclosure.get("pseudonyms") or {}
    imports = (meta.get("ledger") or {}).get("imports") or []
    smallest = kanon.get("smallest_class")
    if isinstance(smallest, int) and 1 <= smallest < b.min_cell:
        smallest_text: object = f"fewer than {b.min_cell}"
    else:
        smallest_text = smallest
    rows: list[tuple[str, object]] = [
        ("instrument", f"{inst.id}: {inst.title}"),
        ("instrument version", inst.version),
        ("instrument content hash", inst.content_hash),
        ("cohort imported with", f"{meta.get('instrument_id')} {meta.get('instrument_version')}"),
        ("cohort instrument hash", meta.get("instrument_hash")),
        ("hashes match", "yes" if matches else "no (allowed by --allow-instrument-mismatch)"),
        ("cohort file", coh.path.name),
        ("respondent rows", n_rows),
        ("import batches", len(imports)),
        ("first import", imports[0].get("imported_at") if imports else None),
        ("last import", imports[-1].get("imported_at") if imports else None),
        ("group columns", ", ".join(meta.get("group_columns", [])) or "none"),
        ("quasi-identifiers", ", ".join(meta.get("quasi_identifiers", {})) or "none"),
        ("pseudonyms", pseudonyms.get("method")),
        (
            "pseudonym key fingerprint",
            pseudonyms.get("key_fingerprint") or meta.get("key_fingerprint"),
        ),
        ("k requested", meta.get("k")),
        (
            "smallest class over the quasi-identifiers",
            smallest_text if kanon.get("quasi_identifiers") else "no quasi-identifiers",
        ),
        ("columns dropped at import", len(disclosure.get("dropped_columns") or [])),
        (
            "small-cell suppression",
            f"cells with fewer than {b.min_cell} respondents"
            if b.min_cell > 1
            else "off (--min-cell 1)",
        ),
        ("surveytool version", __version__),
    ]
    b.add(
        "overview",
        "Instrument and cohort",
        "cohort",
        pd.DataFrame(
            [(k, "none" if v is None else str(v)) for k, v in rows], columns=["field", "value"]
        ),
    )
    columns = (
        "batch",
        "source",
        "sha256",
        "format",
        "imported_at",
        "rows_read",
        "rows_imported",
        "rows_quarantined",
        "duplicates",
    )
    batches = pd.DataFrame([{c: e.get(c) for c in columns} for e in imports], columns=list(columns))
    b.add(
        "imports",
        "Imports (the cohort's ledger)",
        "cohort",
        batches,
        "rows read = imported + quarantined + duplicates (these counts describe rows set aside, "
        "not respondents in the cohort).",
    )
    dropped = pd.DataFrame(
        [(d.get("column"), d.get("reason")) for d in disclosure.get("dropped_columns") or []],
        columns=["column", "reason"],
    )
    b.add("disclosure_dropped", "Columns dropped at import", "cohort", dropped)
    generalized = pd.DataFrame(
        [(g.get("column"), g.get("description")) for g in disclosure.get("generalized") or []],
        columns=["column", "generalization"],
    )
    if len(generalized):
        b.add(
            "disclosure_generalized",
            "Quasi-identifiers generalized at import",
            "cohort",
            generalized,
        )
    for note in disclosure.get("notes") or []:
        b.text("cohort", str(note))


def _reliability_and_item_tables(
    b: _Builder, inst: Instrument, rel: Reliability, stats: ItemStatistics
) -> pd.DataFrame:
    """Reliability and item tables; returns the hidden-cell mask of the frequency table."""
    frequencies: pd.DataFrame = stats.frequencies
    counts = frequencies.copy()
    counts["missing"] = stats.items["missing"]
    values = counts.to_numpy(dtype=np.float64, na_value=np.nan)
    hidden = (
        suppression_mask(
            np.nan_to_num(values, nan=0.0), b.min_cell, row_totals=True, column_totals=False
        )
        if b.min_cell > 1
        else np.zeros(values.shape, dtype=bool)
    )
    hidden_frame = pd.DataFrame(hidden, index=counts.index, columns=counts.columns)
    item_hidden = hidden_frame.any(axis=1)

    published_counts = counts.astype(object).where(~np.isnan(values), None)
    published_counts = _mask_frame(published_counts, hidden)
    published_counts.columns = [str(c) for c in published_counts.columns]
    published_counts.index.name = "item"
    b.add(
        "item_frequencies",
        "Answer frequencies",
        "items",
        published_counts,
        "Raw answers per scale point and missing; each row adds up to all respondents.",
    )

    items = stats.items.copy()
    moment_mask = np.zeros(items.shape, dtype=bool)
    for j, col in enumerate(items.columns):
        if col in ITEM_MOMENT_COLUMNS:
            moment_mask[:, j] = item_hidden.to_numpy()
    b.add(
        "item_statistics",
        "Item statistics",
        "items",
        _mask_frame(items, moment_mask),
        "floor/ceiling: shares of the answered at the scale's lowest/highest point. An item with "
        "a suppressed answer count has its moments suppressed too.",
    )

    scales = rel.scales.copy()
    item_lists = []
    for sub in scales.index:
        definition = inst.subscale_by_id[str(sub)]
        item_lists.append(
            ", ".join(f"{i} (r)" if inst.item_by_id[i].reverse else i for i in definition.items)
        )
    scales.insert(0, "items", item_lists)
    scales.insert(0, "label", [inst.subscale_by_id[str(s)].label for s in scales.index])
    b.add(
        "reliability",
        "Reliability per subscale",
        "reliability",
        scales,
        "(r): reverse keyed. mean, sd: of the respondents' mean keyed answer.",
    )
    table = rel.items.copy()
    item_level = table.index.get_level_values("item")
    mask = np.zeros(table.shape, dtype=bool)
    hidden_by_item = item_hidden.reindex(item_level).fillna(False).to_numpy(dtype=bool)
    for j, col in enumerate(table.columns):
        if col in ("n", "mean", "sd"):
            mask[:, j] = hidden_by_item
    b.add(
        "reliability_items",
        "Item–total statistics per subscale",
        "reliability",
        _mask_frame(table, mask),
        "mean, sd: of the keyed item.",
    )
    return hidden_frame


def _careless_tables(b: _Builder, careless: CarelessResult, n_rows: int) -> None:
    table: pd.DataFrame = careless.table
    cut = careless.cutoffs
    specs = (
        ("longstring", "flag_longstring", f"long-string ≥ {cut['longstring_at_least']:g}"),
        (
            "irv",
            "flag_irv",
            f"IRV beyond {cut['irv_robust_z_beyond']:g} robust SDs of the median "
            f"({cut['irv_median']:.3f})",
        ),
        ("even_odd", "flag_even_odd", f"even–odd consistency < {cut['even_odd_below']:g}"),
        (
            "mahalanobis",
            "flag_mahalanobis",
            f"Mahalanobis D² with χ²({cut['mahalanobis_df']:g}) p < {cut['mahalanobis_p_below']:g}",
        ),
    )
    rows = []
    lines = []
    for index, flag, rule in specs:
        computed = table[index].notna()
        flagged = int((table[flag] & computed).sum())
        evaluated = int(computed.sum())
        lines.append([flagged, evaluated - flagged, n_rows - evaluated])
        rows.append(
            {
                "index": index,
                "cut_off": rule,
                "median": float(table[index].median()) if evaluated else np.nan,
                "flagged": flagged,
                "not_flagged": evaluated - flagged,
                "not_computed": n_rows - evaluated,
                "share_flagged": flagged / evaluated if evaluated else np.nan,
            }
        )
    frame = pd.DataFrame(rows)
    count_mask = (
        suppression_mask(np.array(lines), b.min_cell, row_totals=True, column_totals=False)
        if b.min_cell > 1
        else np.zeros((len(lines), 3), dtype=bool)
    )
    mask = np.zeros(frame.shape, dtype=bool)
    columns = list(frame.columns)
    for k, col in enumerate(("flagged", "not_flagged", "not_computed")):
        mask[:, columns.index(col)] = count_mask[:, k]
    mask[:, columns.index("share_flagged")] = count_mask[:, 0] | count_mask[:, 1]
    b.add(
        "careless",
        "Careless responding: flags and cut-offs",
        "careless",
        _mask_frame(frame, mask),
        "flagged + not flagged + not computed = all respondents; share: of those computed.",
    )
    counts = table["n_flags"].value_counts().reindex(range(len(specs) + 1), fill_value=0)
    dist = pd.DataFrame({"flags": counts.index, "respondents": counts.to_numpy()})
    dist_mask = np.zeros(dist.shape, dtype=bool)
    if b.min_cell > 1:
        dist_mask[:, 1] = suppression_mask(
            counts.to_numpy()[None, :], b.min_cell, column_totals=False
        )[0]
        if count_mask[:, 0].any():
            # the two tables are linked (Σ flagged over indices = Σ k · respondents with k
            # flags): with any flagged count hidden, the distribution would give it back
            dist_mask[:, 1] = True
    b.add(
        "careless_flags",
        "Respondents by number of flags",
        "careless",
        _mask_frame(dist, dist_mask),
    )


def _group_tables(
    b: _Builder,
    scores: pd.DataFrame,
    group: str,
    slug: str,
    scale_ids: Sequence[str],
    n_rows: int,
) -> pd.DataFrame:
    """Tables of one group column; returns the published descriptives for the figure."""
    from scipy import stats as scipy_stats

    from analysis.stats.groups import compare_groups

    min_cell = b.min_cell
    text = scores[group].astype("string")
    values = sorted(text.dropna().unique().tolist())
    cells = [*values, NOT_RECORDED]
    code = text.fillna(NOT_RECORDED)
    lines = [[int((code == c).sum()) for c in cells]]
    for s in scale_ids:
        has = scores[s].notna()
        lines.append([int(((code == c) & has).sum()) for c in cells])
    line_array = np.array(lines, dtype=np.int64)
    hidden = hidden_columns(line_array, min_cell)
    hidden_of = dict(zip(cells, hidden, strict=True))
    published = [v for v in values if not hidden_of[v]]

    sizes = pd.DataFrame({group: cells, "n": line_array[0]})
    keep = sizes["n"] > 0
    size_mask = np.zeros(sizes.shape, dtype=bool)
    size_mask[:, 1] = hidden
    sizes_published = _mask_frame(sizes, size_mask)[keep.to_numpy()]
    total = pd.DataFrame({group: ["all respondents"], "n": [n_rows]})
    b.add(
        f"groups_{slug}",
        f"Group sizes: {group}",
        "groups",
        pd.concat([sizes_published, total], ignore_index=True),
        "The groups add up to all respondents.",
    )

    rows = []
    for s in scale_ids:
        x = scores[s].to_numpy(dtype=np.float64)
        for v in values:
            sample = x[(code == v).to_numpy() & ~np.isnan(x)]
            n = len(sample)
            mean = float(sample.mean()) if n else np.nan
            sd = float(sample.std(ddof=1)) if n > 1 else np.nan
            half = float(scipy_stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else np.nan
            rows.append(
                {
                    "scale": s,
                    "group": v,
                    "n": n,
                    "mean": mean,
                    "sd": sd,
                    "ci_lower": mean - half,
                    "ci_upper": mean + half,
                }
            )
    desc = pd.DataFrame(rows, columns=["scale", "group", "n", "mean", "sd", "ci_lower", "ci_upper"])
    desc_mask = np.zeros(desc.shape, dtype=bool)
    row_hidden = desc["group"].map(hidden_of).to_numpy(dtype=bool)
    for j in range(2, desc.shape[1]):
        desc_mask[:, j] = row_hidden
    b.add(
        f"group_descriptives_{slug}",
        f"Scores by {group}",
        "groups",
        _mask_frame(desc, desc_mask),
        "ci: 95% t interval of the mean.",
    )

    test_columns = ["scale", "test", "groups", "statistic", "df1", "df2", "p", "p_holm"]
    effect_columns = ["scale", "effect", "groups", "estimate", "ci_lower", "ci_upper"]
    if len(published) >= 2:
        comparison = compare_groups(scores, group, list(scale_ids), levels=published)
        compared = " vs ".join(published)
        tests = comparison.tests.reset_index()
        tests.insert(2, "groups", compared)
        effects = comparison.effects.reset_index()
        effects.insert(2, "groups", compared)
        note = (
            "Suppressed groups are left out: compared " + ", ".join(published) + "."
            if any(hidden_of[v] for v in values)
            else ""
        )
    else:
        tests = pd.DataFrame(
            [{"scale": s, "test": "all", "groups": SUPPRESSED} for s in scale_ids],
            columns=test_columns,
        ).fillna(SUPPRESSED)
        effects = pd.DataFrame(
            [{"scale": s, "effect": "all", "groups": SUPPRESSED} for s in scale_ids],
            columns=effect_columns,
        ).fillna(SUPPRESSED)
        note = "Fewer than two groups can be published, so no comparison is shown."
    b.add(f"group_tests_{slug}", f"Group comparisons: {group}", "groups", tests[test_columns], note)
    b.add(
        f"group_effects_{slug}", f"Effect sizes: {group}", "groups", effects[effect_columns], note
    )
    published_rows: pd.DataFrame = desc[~row_hidden & desc["n"].gt(1).to_numpy()]
    return published_rows


# ---------------------------------------------------------------------------------------------
# norms
# ---------------------------------------------------------------------------------------------
def default_sample(coh: Cohort) -> str:
    """A description of the normative sample from the cohort's ledger (edit it in the file)."""
    imports = (coh.metadata.get("ledger") or {}).get("imports") or []
    dates = [str(e.get("imported_at", ""))[:10] for e in imports if e.get("imported_at")]
    when = (
        f", imported {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        if dates
        else ""
    )
    return f"cohort {coh.path.name}: {len(coh.frame)} respondents{when}"


def cohort_norms(
    cohort: str | Path | Cohort,
    instrument: Instrument | str | Path,
    *,
    groups: Sequence[str] = (),
    min_cell: int = DEFAULT_MIN_CELL,
    sample: str | None = None,
    allow_instrument_mismatch: bool = False,
) -> NormsResult:
    """:func:`analysis.build_norms` on a cohort file (what ``surveytool cohort norms`` does).

    Returns the :class:`analysis.NormsResult`; :func:`analysis.norms_yaml` of its ``norms`` is
    the block for the instrument file.
    """
    from analysis.stats.norms import build_norms

    coh = cohort if isinstance(cohort, Cohort) else read_cohort_file(cohort)
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    instrument_check(coh.metadata, inst, allow=allow_instrument_mismatch)
    chosen = _check_groups(coh, groups, inst)
    ignore = [c for c in _non_item_columns(coh.frame, inst) if c not in chosen]
    return build_norms(
        inst,
        coh.frame,
        sample=sample or default_sample(coh),
        group_columns=chosen,
        min_cell=min_cell,
        ignore_columns=ignore,
    )


# ---------------------------------------------------------------------------------------------
# rendering and writing
# ---------------------------------------------------------------------------------------------
def _format(column: str, value: object) -> tuple[str, str]:
    """(text, css class) of one cell."""
    if value is None or value is pd.NA:
        return "—", "na"
    if isinstance(value, str):
        return value, ("suppressed" if value == SUPPRESSED else "text")
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no"), "text"
    if isinstance(value, int | np.integer):
        return str(int(value)), "num"
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "—", "na"
        if column in P_COLUMNS:
            return ("<.001" if x < 0.001 else f"{x:.3f}"), "num"
        if column in INT_COLUMNS and x.is_integer():
            return str(int(x)), "num"
        if abs(x) >= 1000:
            return f"{x:,.1f}", "num"
        return f"{x:.3f}", "num"
    return str(value), "text"


def rendered(table: ReportTable) -> dict[str, Any]:
    """Header and formatted rows of a table for the template."""
    columns = [str(c) for c in table.frame.columns]
    rows = [
        [_format(col, value) for col, value in zip(columns, row, strict=True)]
        for row in table.frame.astype(object).itertuples(index=False, name=None)
    ]
    return {"table": table, "columns": columns, "rows": rows}


def environment() -> Any:
    """The jinja2 environment of the report (autoescape on, as surveytool.report's)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("analysis", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: CohortReport) -> str:
    """The report as one self-contained HTML page."""
    from markupsafe import Markup

    sections = []
    for section in SECTIONS:
        sections.append(
            {
                "section": section,
                "tables": [rendered(t) for t in report.in_section(section.id)],
                "figures": [
                    (title, Markup(svg))  # matplotlib's own escaped SVG, ids rewritten
                    for title, svg in report.figures.get(section.id, [])
                ],
                "texts": report.texts.get(section.id, []),
            }
        )
    template = environment().get_template("cohort_report.html")
    return str(
        template.render(
            report=report,
            inst=report.instrument,
            sections=sections,
            model=report.model,
            files=[t.csv for t in report.tables],
        )
    )


def _check_replaceable(target: Path) -> None:
    """An existing ``target`` must be an empty folder or an earlier report (it has our manifest)."""
    if target.exists():
        if not target.is_dir():
            raise AnalysisError(
                f"{target} exists and is not a folder; give a folder for the report"
            )
        manifest = target / MANIFEST_FILE
        if any(target.iterdir()) and not _is_report(manifest):
            raise AnalysisError(
                f"{target} is a folder with other files in it; give a new or empty folder "
                "(an earlier report there is replaced)"
            )


def _is_report(manifest: Path) -> bool:
    try:
        return bool(json.loads(manifest.read_text("utf-8")).get("kind") == REPORT_KIND)
    except (OSError, ValueError, AttributeError):
        return False


def write_report(report: CohortReport, output: str | Path) -> list[Path]:
    """Write ``report.html``, one CSV per table and ``manifest.json`` into the folder ``output``.

    Atomic (:func:`surveytool.io.files.atomic_folder`): written into a temporary folder that
    replaces ``output`` when complete. Returns the paths of the files as they are after the swap.
    """
    from surveytool.io.files import atomic_folder
    from surveytool.io.tables import write_table

    target = Path(output)
    _check_replaceable(target)
    html = render_html(report)
    names = [REPORT_FILE, *(t.csv for t in report.tables), MANIFEST_FILE]
    with atomic_folder(target) as tmp:
        (tmp / REPORT_FILE).write_text(html, "utf-8")
        for t in report.tables:
            write_table(t.frame, tmp / t.csv)
        manifest = {
            "kind": REPORT_KIND,
            "created": report.created,
            "instrument": {
                "id": report.instrument.id,
                "version": report.instrument.version,
                "hash": report.instrument.content_hash,
            },
            "cohort_file": report.cohort_file,
            "min_cell": report.min_cell,
            "groups": list(report.groups),
            "tables": {t.csv: t.title for t in report.tables},
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return [target / name for name in names]


def cohort_report(
    cohort: str | Path,
    instrument: Instrument | str | Path,
    output: str | Path,
    **options: Any,
) -> tuple[CohortReport, list[Path]]:
    """Build and write the report (what ``surveytool cohort report`` does)."""
    report = build_cohort_report(cohort, instrument, **options)
    return report, write_report(report, output)
