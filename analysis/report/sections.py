"""The sections of the cohort report and the tables (and figures) each one publishes.

Every number comes from the analysis API; this module chooses, suppresses and lays out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.cohort.ledger import Cohort
from analysis.errors import AnalysisError
from analysis.privacy.suppression import (
    SUPPRESSED,
    apply_mask,
    hidden_columns,
    line_mask,
    primary,
    suppression_mask,
)
from analysis.stats.items import ITEM_COLUMNS
from surveytool.instrument.model import Instrument

if TYPE_CHECKING:
    from analysis import (
        EFAResult,
        ItemStatistics,
        ParallelAnalysis,
        Reliability,
        ScoreCorrelations,
    )
    from analysis.report.reduce import CarelessSummary, ScoreSums
    from analysis.stats.moments import Moments
    from analysis.stats.retest import PairedCounts


NOT_RECORDED = "(not recorded)"

#: Item-level columns that are suppressed with an item's hidden answer counts: every column of
#: the item statistics but what the item is (subscale, reverse) and its range (min, max).
ITEM_MOMENT_COLUMNS = tuple(
    c for c in ITEM_COLUMNS if c not in ("subscale", "reverse", "min", "max")
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
    Section(
        "cosmin",
        "Validity evidence (COSMIN)",
        "Each measurement property with its criterion, this cohort's value and a rating: the "
        "structure as an ordinal CFA (WLSMV, lavaan's robust indices), internal consistency, "
        "measurement invariance and differential item functioning across each compared group, "
        "and whether test–retest evidence is assessable.",
    ),
)


def _mask_frame(frame: pd.DataFrame, mask: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    values = mask.to_numpy() if isinstance(mask, pd.DataFrame) else np.asarray(mask)
    return apply_mask(frame, values.astype(bool))


#: Why a cell is suppressed (the reasons of the ``suppressed_cells`` table).
COMPLEMENT = "complement: with the published total it would give back a suppressed cell"


class TableBuilder:
    def __init__(self, min_cell: int) -> None:
        self.min_cell = min_cell
        self.tables: list[ReportTable] = []
        self.notes: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.suppressed: list[dict[str, object]] = []

    @property
    def small(self) -> str:
        return f"fewer than {self.min_cell} respondents"

    def add(
        self,
        name: str,
        title: str,
        section: str,
        frame: pd.DataFrame,
        note: str = "",
        reasons: str | np.ndarray | None = None,
    ) -> None:
        """Add a table; every suppressed cell is listed with its reason (one for the table, or
        an array of the frame's shape, empty where the default applies)."""
        out = (
            frame.reset_index(drop=False)
            if _has_named_index(frame)
            else frame.reset_index(drop=True)
        )
        self.tables.append(ReportTable(name, title, section, out, note))
        offset = out.shape[1] - frame.shape[1]
        cells = out.to_numpy(dtype=object)
        for i, j in zip(*np.nonzero(cells == SUPPRESSED), strict=True):
            reason = f"small-cell suppression ({self.small}, or a complement)"
            if isinstance(reasons, str):
                reason = reasons
            elif reasons is not None and j >= offset and str(reasons[i, j - offset] or ""):
                reason = str(reasons[i, j - offset])
            self.suppressed.append(
                {
                    "table": f"{name}.csv",
                    "row": int(i) + 1,
                    "key": str(cells[i, 0]),
                    "column": str(out.columns[j]),
                    "reason": reason,
                }
            )

    def text(self, section: str, line: str) -> None:
        self.texts.setdefault(section, []).append(line)

    def add_suppression_table(self) -> None:
        """The suppressed cells of every table and why (the last table of the report)."""
        frame = pd.DataFrame(self.suppressed, columns=["table", "row", "key", "column", "reason"])
        self.add(
            "suppressed_cells",
            "Suppressed cells and why",
            "cohort",
            frame,
            "Every cell shown as 'suppressed' in the tables, with the rule that hid it: a cell of "
            f"{self.small}, a statistic computed from so few, or a complement that would let "
            "one be recovered from a published total.",
        )


def _why(primary_cells: np.ndarray, mask: np.ndarray, small: str) -> np.ndarray:
    """Reasons per cell of a line-suppressed table: small cells, and their complements."""
    out = np.full(mask.shape, "", dtype=object)
    out[mask & primary_cells] = small
    out[mask & ~primary_cells] = COMPLEMENT
    return out


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(n is not None for n in frame.index.names)


def _labels(inst: Instrument) -> dict[str, str]:
    return {s.id: s.label for s in inst.subscales} | {c.id: c.label for c in inst.composites}


def item_correlations(item_moments: Moments, items: Sequence[str]) -> pd.DataFrame:
    """The pairwise item correlations of ``items`` from the shared moments of the keyed items."""
    names = list(items)
    return pd.DataFrame(item_moments.select(names).correlation(), index=names, columns=names)


def omega_table(b: TableBuilder, inst: Instrument, item_moments: Moments) -> None:
    """Omega of the whole inventory from the shared item correlations (as :func:`analysis.omega`)."""
    from analysis.stats.reliability import omega_from_correlation

    known = set(item_moments.columns)
    items = list(dict.fromkeys(i for s in inst.subscales for i in s.items if i in known))
    try:
        om = omega_from_correlation(item_correlations(item_moments, items), len(inst.subscales))
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


def score_tables(
    b: TableBuilder,
    inst: Instrument,
    sums: ScoreSums,
    scale_ids: Sequence[str],
    rel: Reliability,
) -> ScoreCorrelations:
    """Score descriptives and intercorrelations from the counts and moments of the scores
    (:class:`analysis.report.reduce.ScoreSums`: the whole cohort's, on Dask merged over its
    partitions)."""
    from analysis.stats.scores import describe_counts, score_correlations_from_moments

    labels = _labels(inst)
    described = describe_counts({s: sums.counts.overall[s] for s in scale_ids})
    described.insert(0, "label", [labels.get(s, s) for s in described.index])
    # no descriptive from fewer than the minimum cell (n itself included: with the cohort's
    # size it tells how many have no score)
    few = (described["n"] < b.min_cell).to_numpy() & (described["n"] > 0).to_numpy()
    desc_mask = np.zeros(described.shape, dtype=bool)
    for j, col in enumerate(described.columns):
        if col != "label":
            desc_mask[:, j] = few
    b.add(
        "score_descriptives",
        "Score descriptives",
        "scores",
        _mask_frame(described, desc_mask),
        f"Scales scored for fewer than {b.min_cell} respondents are suppressed."
        if few.any()
        else "",
        reasons=f"scored for {b.small}",
    )
    correlations = score_correlations_from_moments(
        sums.moments.select(list(scale_ids)), reliabilities=rel
    )
    pairs = correlations.pairs
    pair_mask = np.zeros(pairs.shape, dtype=bool)
    few_pairs = (pairs["n"] < b.min_cell).to_numpy()
    for j, col in enumerate(pairs.columns):
        if col not in ("x", "y", "scale_x", "scale_y"):
            pair_mask[:, j] = few_pairs
    b.add(
        "score_correlations",
        "Score intercorrelations (pairs)",
        "scores",
        _mask_frame(pairs, pair_mask),
        "r: Pearson, pairwise; ci: Fisher z, 95%; p_holm: Holm across all pairs; "
        "disattenuated: r / √(alpha_x · alpha_y) (subscales only).",
        reasons=f"the pair has {b.small} with both scores",
    )
    matrix = correlations.matrix.rename_axis("scale")
    disattenuated = correlations.disattenuated.rename_axis("scale")
    if b.min_cell > 1:

        def small_pairs(frame: pd.DataFrame) -> np.ndarray:
            n = correlations.n.reindex(index=frame.index, columns=frame.columns)
            return np.asarray(n.to_numpy(dtype=np.float64, na_value=0.0) < b.min_cell)

        matrix = _mask_frame(matrix, small_pairs(matrix))
        disattenuated = _mask_frame(disattenuated, small_pairs(disattenuated))
    pair_reason = f"the pair has {b.small} with both scores"
    b.add(
        "score_correlation_matrix",
        "Score correlation matrix",
        "scores",
        matrix,
        reasons=pair_reason,
    )
    b.add(
        "disattenuated_correlations",
        "Disattenuated correlations (r / √(alpha_x alpha_y))",
        "scores",
        disattenuated,
        reasons=pair_reason,
    )
    return correlations


def efa_tables(
    b: TableBuilder,
    inst: Instrument,
    item_moments: Moments,
    n_rows: int,
    *,
    n_iter: int,
    seed: int,
) -> tuple[ParallelAnalysis | None, EFAResult | None]:
    """Parallel analysis, KMO, Bartlett and the EFA, all of the one shared correlation matrix.

    ``item_moments``: the moments of the keyed scored items (:func:`analysis.keyed_items`), so R
    is computed once (and is the merged R of a partitioned cohort); ``n_rows``: the N of the
    analyses (the rows, as :func:`analysis.efa` and the others use).
    """
    from analysis.stats.efa import (
        bartlett_from_correlation,
        efa_from_correlation,
        kmo_from_correlation,
        parallel_analysis_from_correlation,
    )

    r = item_correlations(item_moments, item_moments.columns)
    try:
        pa = parallel_analysis_from_correlation(r, n_rows, n_iter=n_iter, random_state=seed)
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
    n_factors = min(max(pa.n_factors, 1), max(r.shape[1] - 1, 1))
    try:
        fitted = efa_from_correlation(r, n_factors, n_obs=n_rows)
        adequacy = kmo_from_correlation(r, n_rows)
        bartlett = bartlett_from_correlation(r, n_rows)
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


def cfa_tables(
    b: TableBuilder, inst: Instrument, keyed: pd.DataFrame, complete: Moments | None
) -> tuple[str, bool]:
    """CFA tables; returns the model in lavaan syntax ("" when it could not be fitted) and
    whether it was fitted on ``keyed``'s rows rather than on ``complete``.

    ``complete``: the moments of the complete rows of the CFA's items
    (:func:`analysis.report.reduce.complete_moments`; on Dask merged over the partitions): ML
    needs only their covariance and N (:func:`analysis.stats.cfa.cfa_from_moments`). A model
    the covariance alone does not fit, or no moments, is fitted on ``keyed`` (the keyed scored
    items, :func:`analysis.keyed_items`; on Dask the sample's), as :func:`analysis.cfa`.
    """
    from analysis.stats.cfa import NeedsRows, cfa_from_moments, cfa_model, subscale_factors

    on_rows = complete is None
    try:
        if complete is not None:
            try:
                fitted = cfa_from_moments(complete, subscale_factors(inst))
            except NeedsRows:
                on_rows = True
        if on_rows:
            fitted = cfa_model(keyed, subscale_factors(inst))
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        b.text("cfa", f"The CFA could not be fitted: {exc}")
        return "", on_rows
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
    return fitted.model, on_rows


def draw_figures(
    inst: Instrument,
    sums: ScoreSums,
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
    from analysis.report import figures as fig
    from surveytool.instrument.model import score_ranges

    distributions = fig.score_distributions_from_counts(
        {s: sums.counts.overall[s] for s in scale_ids},
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


def cohort_tables(
    b: TableBuilder, coh: Cohort, inst: Instrument, n_rows: int, matches: bool
) -> None:
    from surveytool import __version__

    meta = coh.metadata
    disclosure = meta.disclosure
    kanon = disclosure.get("k_anonymity") or {}
    pseudonyms = disclosure.get("pseudonyms") or {}
    imports = meta.ledger.imports
    smallest = kanon.get("smallest_class")
    if isinstance(smallest, int) and 1 <= smallest < b.min_cell:
        smallest_text: object = f"fewer than {b.min_cell}"
    else:
        smallest_text = smallest
    rows: list[tuple[str, object]] = [
        ("instrument", f"{inst.id}: {inst.title}"),
        ("instrument version", inst.version),
        ("instrument content hash", inst.content_hash),
        ("cohort imported with", f"{meta.instrument_id} {meta.instrument_version}"),
        ("cohort instrument hash", meta.instrument_hash),
        ("hashes match", "yes" if matches else "no (allowed by allow_instrument_mismatch)"),
        ("cohort file", coh.path.name),
        ("respondent rows", n_rows),
        ("import batches", len(imports)),
        ("first import", imports[0].imported_at if imports else None),
        ("last import", imports[-1].imported_at if imports else None),
        ("group columns", ", ".join(meta.group_columns) or "none"),
        ("quasi-identifiers", ", ".join(meta.quasi_identifiers) or "none"),
        ("pseudonyms", pseudonyms.get("method")),
        (
            "pseudonym key fingerprint",
            pseudonyms.get("key_fingerprint") or meta.key_fingerprint,
        ),
        ("k requested", meta.k),
        (
            "smallest class over the quasi-identifiers",
            smallest_text if kanon.get("quasi_identifiers") else "no quasi-identifiers",
        ),
        (
            "columns dropped at import",  # a wide file's: some named, the rest counted
            disclosure.get("dropped_count", len(disclosure.get("dropped_columns") or [])),
        ),
        (
            "small-cell suppression",
            f"cells with fewer than {b.min_cell} respondents"
            if b.min_cell > 1
            else "off (smallest publishable cell: 1)",
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
    batches = pd.DataFrame(
        [{c: getattr(e, c) for c in columns} for e in imports], columns=list(columns)
    )
    b.add(
        "imports",
        "Imports (the cohort's ledger)",
        "cohort",
        batches,
        "rows read = imported + quarantined + duplicates (these counts describe rows set aside, "
        "not respondents in the cohort).",
    )
    dropped = pd.DataFrame(
        [(d.get("column"), d.get("reason")) for d in disclosure.get("dropped_columns") or []]
        + [
            (f"... and {r.get('count'):,} more", r.get("reason"))
            for r in disclosure.get("dropped_not_listed") or []
        ],
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


def reliability_and_item_tables(
    b: TableBuilder, inst: Instrument, rel: Reliability, stats: ItemStatistics
) -> pd.DataFrame:
    """Reliability and item tables; returns the hidden-cell mask of the frequency table."""
    frequencies: pd.DataFrame = stats.frequencies
    counts = frequencies.copy()
    counts["missing"] = stats.items["missing"]
    values = counts.to_numpy(dtype=np.float64, na_value=np.nan)
    # answer counts are the cells to protect; the missing count is derived (all respondents
    # minus the answered), hidden only as a complement (a small "missing" alone hides nothing)
    answers = np.array([c != "missing" for c in counts.columns])
    hidden = line_mask(values, b.min_cell, sensitive=answers)
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
        reasons=_why(
            primary(np.nan_to_num(values), b.min_cell) & answers[None, :], hidden, b.small
        ),
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
        reasons="an answer count of the item is suppressed (its moments would give it back)",
    )

    scales = rel.scales.copy()
    # the respondents that enter a subscale's statistics: at most its least answered item's n,
    # among the items anyone answered (its mean and sd come from those). A subscale nobody
    # answered has nothing to hide: it is not computable (said below), not suppressed.
    answered_n = rel.items["n"].where(rel.items["n"] > 0)
    entering = answered_n.groupby(level="subscale").min()
    small = [
        str(sub)
        for sub in scales.index
        if pd.notna(entering.get(sub)) and int(entering[sub]) < b.min_cell
    ]
    item_lists = []
    for sub in scales.index:
        definition = inst.subscale_by_id[str(sub)]
        item_lists.append(
            ", ".join(f"{i} (r)" if inst.item_by_id[i].reverse else i for i in definition.items)
        )
    scales.insert(0, "items", item_lists)
    scales.insert(0, "label", [inst.subscale_by_id[str(s)].label for s in scales.index])
    numbers = [c for c in scales.columns if c not in ("label", "items", "k")]
    scale_mask = np.zeros(scales.shape, dtype=bool)
    small_rows = scales.index.astype(str).isin(small)
    for j, col in enumerate(scales.columns):
        if col in numbers:
            scale_mask[:, j] = small_rows
    b.add(
        "reliability",
        "Reliability per subscale",
        "reliability",
        _mask_frame(scales, scale_mask),
        "(r): reverse keyed. mean, sd: of the respondents' mean keyed answer."
        + (
            f" Subscales with an item answered by fewer than {b.min_cell} respondents are "
            "suppressed."
            if small
            else ""
        ),
        reasons=f"an item of the subscale is answered by {b.small}",
    )
    for line in not_computable(inst, rel, stats):
        b.text("reliability", line)
    table = rel.items.copy()
    item_level = table.index.get_level_values("item")
    mask = np.zeros(table.shape, dtype=bool)
    hidden_by_item = item_hidden.reindex(item_level).fillna(False).to_numpy(dtype=bool)
    small_subscale = table.index.get_level_values("subscale").astype(str).isin(small)
    for j, col in enumerate(table.columns):
        if col in ("n", "mean", "sd"):
            mask[:, j] = hidden_by_item
        if col != "reverse":
            mask[:, j] |= small_subscale
    b.add(
        "reliability_items",
        "Item–total statistics per subscale",
        "reliability",
        _mask_frame(table, mask),
        "mean, sd: of the keyed item.",
        reasons=f"the item's answer counts are suppressed, or an item of the subscale is answered "
        f"by {b.small}",
    )
    return hidden_frame


def not_computable(inst: Instrument, rel: Reliability, stats: ItemStatistics) -> list[str]:
    """Why statistics of a degenerate cohort are empty: items without answers or variance."""
    items = stats.items
    answered = items["n"].to_numpy(dtype=np.int64)
    spread = items["sd"].to_numpy(dtype=np.float64, na_value=np.nan)
    names = [str(i) for i in items.index]
    unanswered = [name for name, n in zip(names, answered, strict=True) if n == 0]
    constant = [
        name for name, n, sd in zip(names, answered, spread, strict=True) if n > 0 and not sd > 0
    ]
    lines = []
    if unanswered:
        lines.append(
            "Not computable for items without any answer (" + ", ".join(unanswered) + "): "
            "their statistics are left empty."
        )
    if constant:
        lines.append(
            "Not computable for items whose answers do not vary (" + ", ".join(constant) + "): "
            "sd 0, so skew, kurtosis and correlations are left empty."
        )
    alphas = rel.scales["raw_alpha"].to_numpy(dtype=np.float64, na_value=np.nan)
    for sub, alpha in zip(rel.scales.index, alphas, strict=True):
        if not np.isnan(alpha):
            continue
        members = inst.subscale_by_id[str(sub)].items
        usable = [i for i in members if i not in unanswered and i not in constant]
        lines.append(
            f"Reliability of {sub} is not computable: "
            + (
                f"only {len(usable)} of its {len(members)} items have answers that vary."
                if len(usable) < 2
                else "its items have no pairs of answers that vary together."
            )
        )
    return lines


def careless_tables(b: TableBuilder, careless: CarelessSummary, n_rows: int) -> None:
    """The careless-responding tables from the counts of every respondent's indices and flags
    (:class:`analysis.report.reduce.CarelessSummary`: in memory of the cohort's table, on Dask
    reduced over its partitions)."""
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
    for k, (index, _flag, rule) in enumerate(specs):
        flagged = careless.flagged[k]
        evaluated = careless.computed[k]
        lines.append([flagged, evaluated - flagged, n_rows - evaluated])
        rows.append(
            {
                "index": index,
                "cut_off": rule,
                "median": careless.medians[k] if evaluated else np.nan,
                "flagged": flagged,
                "not_flagged": evaluated - flagged,
                "not_computed": n_rows - evaluated,
                "share_flagged": flagged / evaluated if evaluated else np.nan,
            }
        )
    frame = pd.DataFrame(rows)
    # flagged and not flagged describe respondents; "not computed" is derived (too few answers)
    # and hidden only as a complement, so an index with a few rows not computed hides nothing
    sensitive = np.array([True, True, False])
    count_mask = line_mask(np.array(lines), b.min_cell, sensitive=sensitive)
    count_why = _why(primary(np.array(lines), b.min_cell) & sensitive[None, :], count_mask, b.small)
    mask = np.zeros(frame.shape, dtype=bool)
    columns = list(frame.columns)
    for k, col in enumerate(("flagged", "not_flagged", "not_computed")):
        mask[:, columns.index(col)] = count_mask[:, k]
    mask[:, columns.index("share_flagged")] = count_mask[:, 0] | count_mask[:, 1]
    why = np.full(frame.shape, "", dtype=object)
    for k, col in enumerate(("flagged", "not_flagged", "not_computed")):
        why[:, columns.index(col)] = count_why[:, k]
    why[:, columns.index("share_flagged")] = "its counts are suppressed"
    b.add(
        "careless",
        "Careless responding: flags and cut-offs",
        "careless",
        _mask_frame(frame, mask),
        "flagged + not flagged + not computed = all respondents; share: of those computed.",
        reasons=why,
    )
    counts = pd.Series(careless.n_flags[: len(specs) + 1], index=range(len(specs) + 1))
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
        reasons=(
            "a flagged count of the table above is suppressed (the two tables are linked)"
            if count_mask[:, 0].any()
            else None
        ),
    )


def group_tables(
    b: TableBuilder,
    sums: ScoreSums,
    group: str,
    slug: str,
    scale_ids: Sequence[str],
    n_rows: int,
) -> pd.DataFrame:
    """Tables of one group column; returns the published descriptives for the figure.

    From the counts of each group's score values (:class:`analysis.report.reduce.ScoreSums`):
    sizes, descriptives and tests (:func:`analysis.stats.groups.compare_groups_from_counts`).
    """
    from scipy import stats as scipy_stats

    from analysis.stats.groups import compare_groups_from_counts
    from analysis.stats.scores import exact_moments
    from analysis.stats.tables import ValueCounts

    min_cell = b.min_cell
    rows_of = sums.rows.get(group, {})
    values = sorted(v for v in rows_of if v != NOT_RECORDED)
    cells = [*values, NOT_RECORDED]
    by_scale = {s: sums.by_group(s, group) for s in scale_ids}
    empty = ValueCounts(np.zeros(0), np.zeros(0, dtype=np.int64))
    lines = [[int(rows_of.get(c, 0)) for c in cells]]
    for s in scale_ids:
        scored = [by_scale[s].get(v, empty).n for v in values]
        lines.append([*scored, sums.counts.overall[s].n - sum(scored)])
    line_array = np.array(lines, dtype=np.int64)
    hidden = hidden_columns(line_array, min_cell)
    hidden_of = dict(zip(cells, hidden, strict=True))
    published = [v for v in values if not hidden_of[v]]

    sizes = pd.DataFrame({group: cells, "n": line_array[0]})
    keep = sizes["n"] > 0
    size_mask = np.zeros(sizes.shape, dtype=bool)
    size_mask[:, 1] = hidden
    small_groups = np.asarray(((line_array >= 1) & (line_array < min_cell)).any(axis=0))
    group_why = {c: (b.small if bool(small_groups[k]) else COMPLEMENT) for k, c in enumerate(cells)}
    sizes_published = _mask_frame(sizes, size_mask)[keep.to_numpy()]
    size_why = np.full(sizes_published.shape, "", dtype=object)
    size_why[:, 1] = [group_why[c] for c in sizes_published[group]]
    total = pd.DataFrame({group: ["all respondents"], "n": [n_rows]})
    b.add(
        f"groups_{slug}",
        f"Group sizes: {group}",
        "groups",
        pd.concat([sizes_published, total], ignore_index=True),
        "The groups add up to all respondents.",
        reasons=np.vstack([size_why, np.full((1, 2), "", dtype=object)]),
    )

    rows = []
    for s in scale_ids:
        for v in values:
            n, mean, sd, _, _ = exact_moments(by_scale[s].get(v, empty))
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
        reasons=np.repeat(
            np.array([group_why.get(str(g), "") for g in desc["group"]], dtype=object)[:, None],
            desc.shape[1],
            axis=1,
        ),
    )

    test_columns = ["scale", "test", "groups", "statistic", "df1", "df2", "p", "p_holm"]
    effect_columns = ["scale", "effect", "groups", "estimate", "ci_lower", "ci_upper"]
    if len(published) >= 2:
        comparison = compare_groups_from_counts(by_scale, group, published)
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


def wave_tables(
    b: TableBuilder,
    rows: dict[str, int],
    pairs: Mapping[tuple[str, str], PairedCounts],
    wave: str,
    slug: str,
) -> None:
    """Tables of a wave column whose people repeat: within-person comparisons and retest.

    Waves of the same people are no independent groups: consecutive waves are compared within
    person (:func:`analysis.stats.retest.compare_waves_from_counts` of the counted score pairs,
    :func:`analysis.report.reduce.wave_pairs`; ``rows``: the rows of each wave value). A wave
    pair with fewer than the minimum cell of people in both waves publishes nothing but its name.
    """
    from analysis.stats.retest import compare_waves_from_counts

    values = sorted(v for v in rows if v != NOT_RECORDED)
    cells = [*values, NOT_RECORDED]
    line = np.array([[int(rows.get(c, 0)) for c in cells]], dtype=np.int64)
    hidden = hidden_columns(line, b.min_cell)
    sizes = pd.DataFrame({wave: cells, "rows": line[0]})
    size_mask = np.zeros(sizes.shape, dtype=bool)
    size_mask[:, 1] = hidden
    keep = (sizes["rows"] > 0).to_numpy()
    b.add(
        f"waves_{slug}",
        f"Rows per wave: {wave}",
        "groups",
        _mask_frame(sizes, size_mask)[keep],
        "The same people answer in several waves: the waves are compared within person.",
        reasons=f"{b.small} in the wave, or a complement",
    )
    if len(values) < 2:
        return
    comparison = compare_waves_from_counts(pairs, wave, values)
    for name, title, frame, note in (
        (
            f"wave_tests_{slug}",
            f"Within-person comparisons: {wave}",
            comparison.tests.reset_index(),
            "Consecutive waves, people with a score in both: paired t and Wilcoxon signed-rank "
            "(normal approximation, continuity correction); p_holm: Holm across the scales.",
        ),
        (
            f"wave_effects_{slug}",
            f"Change between waves: {wave}",
            comparison.effects.reset_index(),
            "mean_diff: later − earlier with its 95% t interval; d_z = mean(d)/sd(d); "
            "d_av = mean(d)/mean of the two sds.",
        ),
        (
            f"retest_{slug}",
            f"Test–retest reliability: {wave}",
            comparison.retest.reset_index(),
            "ICC(A,1): two-way random, absolute agreement, single measure (psych::ICC ICC2); "
            "ICC(C,1): two-way mixed, consistency (ICC3); SEM = sd of the earlier wave × "
            "√(1 − ICC(A,1)).",
        ),
    ):
        mask = np.zeros(frame.shape, dtype=bool)
        small = (frame["n"] < b.min_cell).to_numpy()
        for j, col in enumerate(frame.columns):
            if col not in ("scale", "waves", "test"):
                mask[:, j] = small
        b.add(
            name,
            title,
            "groups",
            _mask_frame(frame, mask),
            note,
            reasons=f"{b.small} in both waves",
        )
