"""Psychometrics: one module per statistical concept, each golden-tested against R.

Validate the answers once with :func:`surveytool.responses.read_responses`, then compute any
statistic from the :class:`~surveytool.responses.Responses` (a raw table is accepted too; its
problems are then kept in the result's ``problems`` with a
:class:`~analysis.errors.ResponseProblemsWarning`). Every result derives from :class:`Result`.

This namespace also holds the statistics of summary data (a covariance or correlation matrix)
and the sums for partitioned cohorts; :mod:`analysis` re-exports the user-level names.
scipy and statsmodels load inside the functions that need them, so importing stays fast.
"""

from __future__ import annotations

from analysis.stats._input import ReadOptions
from analysis.stats._matrix import ItemSums
from analysis.stats._result import Problems, Result
from analysis.stats.careless import CarelessResult, careless_responding
from analysis.stats.cfa import CFAResult, cfa, cfa_model, fit_indices
from analysis.stats.dif import DIFResult, dif, dif_model
from analysis.stats.efa import (
    KMO,
    Bartlett,
    EFAResult,
    ParallelAnalysis,
    bartlett_sphericity,
    correlation_matrix,
    efa,
    efa_from_correlation,
    kmo,
    match_factors,
    parallel_analysis,
)
from analysis.stats.fiml import FIMLResult, fiml_cfa_model
from analysis.stats.groups import GroupComparison, compare_groups, hedges_g
from analysis.stats.invariance import InvarianceResult, invariance_model, measurement_invariance
from analysis.stats.irt import GRMResult, grm, grm_model, score_with_parameters
from analysis.stats.irt_dif import IRTDIFResult, irt_dif, irt_dif_model
from analysis.stats.items import ItemStatistics, item_statistics, keyed_items
from analysis.stats.longitudinal import longitudinal_invariance, longitudinal_invariance_model
from analysis.stats.moments import Moments, merge_tree, moments
from analysis.stats.norms import (
    NormsResult,
    build_norms,
    norms_from_scores,
    norms_yaml,
    percentile_points_from_counts,
)
from analysis.stats.ordinal_cfa import OrdinalCFAResult, ordinal_cfa_model
from analysis.stats.ordinal_invariance import ordinal_invariance_model
from analysis.stats.polychoric import (
    OrdinalReliability,
    Polychoric,
    ordinal_alpha,
    ordinal_omega,
    ordinal_reliability,
    polychoric,
    polychoric_from_tables,
    polychoric_matrix,
)
from analysis.stats.reliability import (
    Omega,
    Reliability,
    alpha_from_covariance,
    omega,
    omega_from_correlation,
    reliability,
    scale_reliability,
    sufficient_statistics,
)
from analysis.stats.retest import WaveComparison, compare_waves, icc
from analysis.stats.scores import (
    ScoreCorrelations,
    describe_scores,
    disattenuate,
    score_correlations,
)
from analysis.stats.tables import PairTables, ValueCounts, pair_tables, value_counts

__all__ = [
    "KMO",
    "Bartlett",
    "CFAResult",
    "CarelessResult",
    "DIFResult",
    "EFAResult",
    "FIMLResult",
    "GRMResult",
    "GroupComparison",
    "IRTDIFResult",
    "InvarianceResult",
    "ItemStatistics",
    "ItemSums",
    "Moments",
    "NormsResult",
    "Omega",
    "OrdinalCFAResult",
    "OrdinalReliability",
    "PairTables",
    "ParallelAnalysis",
    "Polychoric",
    "Problems",
    "ReadOptions",
    "Reliability",
    "Result",
    "ScoreCorrelations",
    "ValueCounts",
    "WaveComparison",
    "alpha_from_covariance",
    "bartlett_sphericity",
    "build_norms",
    "careless_responding",
    "cfa",
    "cfa_model",
    "compare_groups",
    "compare_waves",
    "correlation_matrix",
    "describe_scores",
    "dif",
    "dif_model",
    "disattenuate",
    "efa",
    "efa_from_correlation",
    "fiml_cfa_model",
    "fit_indices",
    "grm",
    "grm_model",
    "hedges_g",
    "icc",
    "invariance_model",
    "irt_dif",
    "irt_dif_model",
    "item_statistics",
    "keyed_items",
    "kmo",
    "longitudinal_invariance",
    "longitudinal_invariance_model",
    "match_factors",
    "measurement_invariance",
    "merge_tree",
    "moments",
    "norms_from_scores",
    "norms_yaml",
    "omega",
    "omega_from_correlation",
    "ordinal_alpha",
    "ordinal_cfa_model",
    "ordinal_invariance_model",
    "ordinal_omega",
    "ordinal_reliability",
    "pair_tables",
    "parallel_analysis",
    "percentile_points_from_counts",
    "polychoric",
    "polychoric_from_tables",
    "polychoric_matrix",
    "reliability",
    "scale_reliability",
    "score_correlations",
    "score_with_parameters",
    "sufficient_statistics",
    "value_counts",
]
