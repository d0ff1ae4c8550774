"""surveytool's research layer: cohort import, anonymization and psychometrics.

``analysis`` depends on ``surveytool``; ``surveytool`` never imports ``analysis``.
"""

from __future__ import annotations

from analysis.anonymize import (
    Anonymized,
    DisclosureReport,
    PseudonymKey,
    QuasiIdentifier,
    anonymize,
)
from analysis.cohort_import import CohortImport, ImportReport, ImportWarning, import_cohort
from analysis.mapping import CohortMapping, load_mapping, mapping_template

__all__: list[str] = []
__all__ += ["Anonymized", "DisclosureReport", "PseudonymKey", "QuasiIdentifier", "anonymize"]
__all__ += ["CohortImport", "ImportReport", "ImportWarning", "import_cohort"]
__all__ += ["CohortMapping", "load_mapping", "mapping_template"]
