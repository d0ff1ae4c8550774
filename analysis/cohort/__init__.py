"""Cohorts: import a source into an anonymized Parquet cohort, and the cohort's ledger.

:func:`import_cohort` (:mod:`.importer`) runs the stages of :mod:`.stages` over one state; the
metadata and ledger are pydantic models (:mod:`.ledger`); :mod:`.result` holds what an import
returns. A cohort is a single Parquet file (small cohorts) or a dataset folder (any size);
:func:`open_cohort` (:mod:`.dataset`) reads both::

    cohort = open_cohort(path)
    cohort.form, cohort.metadata, cohort.ledger, cohort.rows
    cohort.frame()   # pandas
    cohort.dask()    # Dask DataFrame, bounded partitions
"""

from __future__ import annotations

from analysis.cohort.dataset import CohortLedger, OpenCohort, migrate_cohort, open_cohort
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
    "CohortLedger",
    "CohortMetadata",
    "ImportEntry",
    "ImportReport",
    "ImportWarning",
    "Layout",
    "Ledger",
    "OpenCohort",
    "import_cohort",
    "load_cohort",
    "migrate_cohort",
    "open_cohort",
    "read_cohort",
    "sidecar_paths",
]
