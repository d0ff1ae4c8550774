"""surveytool's research layer: cohort import, anonymization and psychometrics.

``analysis`` depends on ``surveytool``; ``surveytool`` never imports ``analysis``.
"""

from __future__ import annotations

from analysis.cohort import (
    CohortImport,
    ImportReport,
    ImportWarning,
    OpenCohort,
    import_cohort,
    open_cohort,
)
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
__all__ += ["OpenCohort", "open_cohort"]
__all__ += ["CohortMapping", "load_mapping", "mapping_template"]

# psychometrics, user level (appended after the cohort names; kernels and the statistics of
# summary matrices stay in analysis.stats; scipy and statsmodels load inside the functions)
from analysis.errors import ResponseProblemsWarning  # noqa: E402
from analysis.stats import (  # noqa: E402
    KMO,
    Bartlett,
    CarelessResult,
    CFAResult,
    DIFResult,
    EFAResult,
    FIMLResult,
    GRMResult,
    GroupComparison,
    InvarianceResult,
    IRTDIFResult,
    ItemStatistics,
    NormsResult,
    Omega,
    OrdinalCFAResult,
    OrdinalReliability,
    ParallelAnalysis,
    Polychoric,
    Problems,
    Reliability,
    Result,
    ScoreCorrelations,
    WaveComparison,
    bartlett_sphericity,
    build_norms,
    careless_responding,
    cfa,
    cfa_model,
    compare_groups,
    compare_waves,
    correlation_matrix,
    describe_scores,
    dif,
    dif_model,
    efa,
    fiml_cfa_model,
    grm,
    grm_model,
    invariance_model,
    irt_dif,
    irt_dif_model,
    item_statistics,
    keyed_items,
    kmo,
    longitudinal_invariance,
    longitudinal_invariance_model,
    match_factors,
    measurement_invariance,
    norms_from_scores,
    norms_yaml,
    omega,
    ordinal_cfa_model,
    ordinal_invariance_model,
    ordinal_omega,
    ordinal_reliability,
    parallel_analysis,
    polychoric,
    polychoric_matrix,
    reliability,
    scale_reliability,
    score_correlations,
    score_with_parameters,
    sufficient_statistics,
)

__all__ += ["Problems", "ResponseProblemsWarning", "Result"]
__all__ += ["Omega", "Reliability", "omega", "reliability", "scale_reliability"]
__all__ += ["ItemStatistics", "item_statistics", "keyed_items", "sufficient_statistics"]
__all__ += ["CarelessResult", "careless_responding"]
__all__ += ["EFAResult", "correlation_matrix", "efa", "match_factors"]
__all__ += [
    "KMO",
    "Bartlett",
    "ParallelAnalysis",
    "bartlett_sphericity",
    "kmo",
    "parallel_analysis",
]
__all__ += ["CFAResult", "cfa", "cfa_model"]
__all__ += ["ScoreCorrelations", "describe_scores", "score_correlations"]
__all__ += ["GroupComparison", "compare_groups"]
__all__ += ["WaveComparison", "compare_waves"]
__all__ += ["NormsResult", "build_norms", "norms_from_scores", "norms_yaml"]
__all__ += ["FIMLResult", "fiml_cfa_model"]
__all__ += ["DIFResult", "dif", "dif_model"]
__all__ += ["GRMResult", "grm", "grm_model", "score_with_parameters"]
__all__ += ["IRTDIFResult", "irt_dif", "irt_dif_model"]
__all__ += [
    "InvarianceResult",
    "invariance_model",
    "longitudinal_invariance",
    "longitudinal_invariance_model",
    "measurement_invariance",
    "ordinal_invariance_model",
]
__all__ += [
    "OrdinalCFAResult",
    "OrdinalReliability",
    "Polychoric",
    "ordinal_cfa_model",
    "ordinal_omega",
    "ordinal_reliability",
    "polychoric",
    "polychoric_matrix",
]
