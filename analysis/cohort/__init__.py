"""Cohorts: import a source into an anonymized Parquet cohort, and the cohort file's ledger.

:func:`import_cohort` (:mod:`.importer`) runs the stages of :mod:`.stages` over one state; the
file, its metadata and its ledger are pydantic models (:mod:`.ledger`); :mod:`.result` holds what
an import returns.
"""

from __future__ import annotations

from analysis.cohort.importer import import_cohort
from analysis.cohort.ledger import (
    Cohort,
    CohortMetadata,
    ImportEntry,
    Layout,
    Ledger,
    load_cohort,
    read_cohort,
)
from analysis.cohort.result import CohortImport, ImportReport, ImportWarning, sidecar_paths

__all__ = [
    "Cohort",
    "CohortImport",
    "CohortMetadata",
    "ImportEntry",
    "ImportReport",
    "ImportWarning",
    "Layout",
    "Ledger",
    "import_cohort",
    "load_cohort",
    "read_cohort",
    "sidecar_paths",
]
