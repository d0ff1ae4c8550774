"""What an import leaves about itself: its ledger entry and the cohort's quarantine report.

One home for both engines (:mod:`analysis.cohort.stages` in memory, :mod:`analysis.cohort.
streaming` on Dask).

The quarantine report (``NAME.quarantine.csv`` beside the cohort, 0600) keeps the rows and cells
set aside by **every** import of the cohort, one import after another in the ledger's order:
each line has the import's ``import_batch`` (its batch in the ledger) and ``source`` (the file's
name as the report gives it) before the issue's own columns, so the lines of batch N are exactly
what import N set aside, and each batch's ``row_*`` lines match its ledger entry's counts. An
import that is refused (``strict``, or nothing in the file is a respondent) adds its lines with
an empty ``import_batch``: it is in no batch, nothing of it was imported. An import of a file
the ledger holds already that changes nothing adds no lines (they are the earlier batch's).
The first import of a cohort starts the report afresh (a report left by a removed cohort
described other data); a report written before the ``import_batch`` column existed held the
last import only, and its lines are given that import's batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from analysis.cohort.ledger import ImportEntry
from analysis.cohort.result import ImportReport, sidecar_paths
from analysis.privacy.disclosure import DisclosureReport
from analysis.privacy.identifiers import ColumnDecisions, describe_findings
from surveytool.io.files import unescape_formula
from surveytool.io.tables import write_table
from surveytool.problems import ISSUE_COLUMNS

#: The columns the quarantine report puts before the issue columns.
IMPORT_COLUMNS: Final = ("import_batch", "source")


def ledger_entry(
    report: ImportReport,
    *,
    mapping_sha256: str | None,
    suppressed_from_existing: int,
    k: int | None,
) -> ImportEntry:
    """The ledger's line for this import (its file, its counts, now)."""
    return ImportEntry(
        batch=report.batch,
        source=report.source,
        sha256=report.sha256,
        format=report.format,
        format_variant=report.variant,
        format_detected=report.detected,
        mapping_sha256=mapping_sha256,
        imported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        rows_read=report.rows_read,
        rows_imported=report.rows_imported,
        rows_quarantined=report.rows_quarantined,
        duplicates=report.duplicates,
        rows_excluded=report.rows_excluded,
        rows_unanswered=report.rows_unanswered,
        rows_invalid_id=report.rows_invalid_id,
        rows_suppressed=report.rows_suppressed,
        suppressed_from_existing=suppressed_from_existing,
        k=k,
    )


def columns_file_needed(disclosure: DisclosureReport) -> bool:
    """The disclosure report names only some of the dropped columns (:data:`COLUMNS_LISTED` of
    each role and reason): the columns file names them all."""
    return bool(disclosure.listed()[1])


def write_columns_file(path: Path, decisions: ColumnDecisions, needed: bool) -> Path | None:
    """Every source column and what became of it (``column, role, kept, reason, detected``),
    when ``needed`` (:func:`columns_file_needed`: a file of 10**6 columns); one row a column,
    formulas escaped (:func:`~surveytool.io.tables.write_table`), 0600 like the cohort.
    Otherwise no such file: one left by an earlier import is removed (it described that one).
    Returns the path when written."""
    if not needed:
        path.unlink(missing_ok=True)
        return None
    detected = np.full(len(decisions), "", dtype=object)
    for at, findings in decisions.findings.items():
        detected[at] = describe_findings(findings)
    frame = pd.DataFrame(
        {
            "column": pd.array(decisions.columns, dtype="str"),
            "role": pd.array(decisions.roles, dtype="str"),
            "kept": pd.array(np.where(decisions.kept, "yes", "no"), dtype="str"),
            "reason": pd.array(decisions.reasons, dtype="str"),
            "detected": pd.array(detected, dtype="str"),
        }
    )
    write_table(frame, path, secret=True)
    return path


def read_quarantine(path: Path) -> pd.DataFrame:
    """A quarantine report as written (text cells, the formula escaping undone)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.map(unescape_formula)


def add_to_quarantine(
    output: Path,
    report: ImportReport,
    *,
    batch: int | None,
    earlier: Sequence[ImportEntry],
) -> Path | None:
    """Add this import's issues to the cohort's quarantine report (see the module docstring).

    ``batch`` is the import's batch in the ledger (None: refused, in no batch); ``earlier`` the
    ledger's imports before this one (none: the cohort's first import). Returns the report's
    path when it exists afterwards.
    """
    path = sidecar_paths(output)["quarantine"]
    old = None
    if earlier and path.is_file():
        old = read_quarantine(path)
        if "import_batch" not in old.columns:  # written before: the last import's lines
            last = earlier[-1]
            old.insert(0, "source", last.source)
            old.insert(0, "import_batch", str(last.batch))
    issues = report.issues
    if not len(issues):
        if not earlier and path.exists():
            path.unlink()  # left by a removed cohort: it described other data
        return path if path.exists() else None
    new = issues.astype(object).where(issues.notna(), "").astype(str)
    new.insert(0, "source", report.source)
    new.insert(0, "import_batch", "" if batch is None else str(batch))
    columns = [*IMPORT_COLUMNS, *ISSUE_COLUMNS]
    extra = [c for c in new.columns if c not in columns]
    parts = [new] if old is None else [old, new]
    merged = pd.concat(parts, ignore_index=True)
    merged = merged[[c for c in [*columns, *extra] if c in merged.columns]].fillna("")
    write_table(merged, path)
    return path
