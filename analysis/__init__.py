"""surveytool's research layer: cohort import, anonymization and psychometrics.

``analysis`` depends on ``surveytool``; ``surveytool`` never imports ``analysis``.
"""

from __future__ import annotations

from analysis.cohort import CohortImport, ImportReport, ImportWarning, import_cohort
from analysis.mapping import CohortMapping, load_mapping, mapping_template
from analysis.privacy import (
    Anonymized,
    DisclosureReport,
    PseudonymKey,
    QuasiIdentifier,
    anonymize,
)

__all__: list[str] = []
__all__ += ["Anonymized", "DisclosureReport", "PseudonymKey", "QuasiIdentifier", "anonymize"]
__all__ += ["CohortImport", "ImportReport", "ImportWarning", "import_cohort"]
__all__ += ["CohortMapping", "load_mapping", "mapping_template"]

# psychometrics (appended after the cohort names; scipy and statsmodels load inside the functions
# that need them, so importing analysis stays fast)
from analysis._matrix import ItemSums  # noqa: E402
from analysis.careless import CarelessResult, careless_responding  # noqa: E402
from analysis.cfa import CFAResult, cfa, cfa_model, fit_indices  # noqa: E402
from analysis.efa import (  # noqa: E402
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
from analysis.groups import GroupComparison, compare_groups, hedges_g  # noqa: E402
from analysis.items import ItemStatistics, item_statistics, keyed_items  # noqa: E402
from analysis.norms import NormsResult, build_norms, norms_from_scores, norms_yaml  # noqa: E402
from analysis.reliability import (  # noqa: E402
    Omega,
    Reliability,
    alpha_from_covariance,
    omega,
    omega_from_correlation,
    reliability,
    scale_reliability,
    sufficient_statistics,
)
from analysis.scores import ScoreCorrelations, describe_scores, disattenuate, score_correlations  # noqa: E402

__all__ += ["CarelessResult", "careless_responding"]
__all__ += ["CFAResult", "cfa", "cfa_model", "fit_indices"]
__all__ += ["KMO", "Bartlett", "EFAResult", "ParallelAnalysis", "bartlett_sphericity"]
__all__ += ["correlation_matrix", "efa", "efa_from_correlation", "kmo", "match_factors"]
__all__ += ["parallel_analysis"]
__all__ += ["GroupComparison", "compare_groups", "hedges_g"]
__all__ += ["ItemStatistics", "item_statistics", "keyed_items"]
__all__ += ["NormsResult", "build_norms", "norms_from_scores", "norms_yaml"]
__all__ += ["Omega", "Reliability", "alpha_from_covariance", "omega", "omega_from_correlation"]
__all__ += ["ItemSums", "reliability", "scale_reliability", "sufficient_statistics"]
__all__ += ["ScoreCorrelations", "describe_scores", "disattenuate", "score_correlations"]
