"""What an import returns: its report (counts, warnings, notes, issues) and the cohort."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.privacy.disclosure import DisclosureReport
from surveytool.problems import ISSUE_COLUMNS


@dataclass(frozen=True)
class ImportWarning:
    """Something a careful analyst would want to look at before trusting the data."""

    code: str
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "column": self.column, "message": self.message}


@dataclass
class ImportReport:
    """What one import read, assumed, set aside and added."""

    source: str
    sha256: str
    format: str
    variant: str
    detected: str
    instrument_id: str
    instrument_version: str
    instrument_hash: str
    rows_read: int = 0
    rows_imported: int = 0
    rows_quarantined: int = 0
    duplicates: int = 0
    rows_excluded: int = 0
    rows_unanswered: int = 0
    rows_invalid_id: int = 0
    rows_suppressed: int = 0
    excluded_by_status: dict[str, int] = field(default_factory=dict)
    already_imported: bool = False
    id_column: str | None = None
    id_note: str = ""
    items: dict[str, str] = field(default_factory=dict)
    recoded: dict[str, str] = field(default_factory=dict)
    warnings: list[ImportWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    columns_read: int = 0
    columns_unmatched: int = 0
    batch: int = 0
    cohort_rows: int = 0
    cohort_changed: bool = False
    key_path: str | None = None
    key_created: bool = False
    written: list[str] = field(default_factory=list)

    def settle_counts(self) -> None:
        """``rows_quarantined`` from its parts, then the check that every row read is imported,
        quarantined or a duplicate (a RuntimeError otherwise: a bug, not the input)."""
        self.rows_quarantined = (
            self.rows_excluded + self.rows_unanswered + self.rows_invalid_id + self.rows_suppressed
        )
        if self.rows_read != self.rows_imported + self.rows_quarantined + self.duplicates:
            raise RuntimeError(f"row counts do not add up: {self.counts_line()}")

    def counts_line(self) -> str:
        """``rows read N = rows imported + rows quarantined (breakdown) + duplicates``."""
        parts = []
        if self.rows_excluded:
            parts.append(f"{self.rows_excluded} not ordinary responses or filtered out")
        if self.rows_unanswered:
            parts.append(f"{self.rows_unanswered} with no item answered")
        if self.rows_invalid_id:
            parts.append(f"{self.rows_invalid_id} empty or repeated id")
        if self.rows_suppressed:
            parts.append(f"{self.rows_suppressed} suppressed for k-anonymity")
        detail = f" ({', '.join(parts)})" if parts else ""
        return (
            f"rows read {self.rows_read} = rows imported {self.rows_imported} + rows quarantined "
            f"{self.rows_quarantined}{detail} + duplicates {self.duplicates}"
        )

    @property
    def format_line(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.format}{variant}: {self.detected}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the issue table itself goes to the quarantine file)."""
        counts = self.issues["kind"].value_counts().to_dict() if len(self.issues) else {}
        return {
            "source": self.source,
            "sha256": self.sha256,
            "format": self.format,
            "format_variant": self.variant,
            "format_detected": self.detected,
            "instrument": {
                "id": self.instrument_id,
                "version": self.instrument_version,
                "hash": self.instrument_hash,
            },
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_quarantined": self.rows_quarantined,
            "duplicates": self.duplicates,
            "quarantined": {
                "not_ordinary_responses": self.rows_excluded,
                "no_item_answered": self.rows_unanswered,
                "empty_or_repeated_id": self.rows_invalid_id,
                "suppressed_k_anonymity": self.rows_suppressed,
            },
            "excluded_by_status": dict(self.excluded_by_status),
            "already_imported": self.already_imported,
            "id_column": self.id_column,
            "id_column_note": self.id_note,
            "columns": {"read": self.columns_read, "unmatched": self.columns_unmatched},
            "items": dict(self.items),
            "recoded": dict(self.recoded),
            "warnings": [w.as_dict() for w in self.warnings],
            "notes": list(self.notes),
            "issues": {str(k): int(v) for k, v in counts.items()},
            "batch": self.batch,
            "cohort_rows": self.cohort_rows,
        }


@dataclass(frozen=True)
class CohortImport:
    """The result of :func:`import_cohort`: the whole cohort table and the reports."""

    frame: pd.DataFrame
    report: ImportReport
    disclosure: DisclosureReport

    @property
    def issues(self) -> pd.DataFrame:
        return self.report.issues


def sidecar_paths(output: Path) -> dict[str, Path]:
    """Files written beside a cohort: disclosure report (JSON, text), quarantine report, and the
    columns file (every source column, when the reports name only some)."""
    return {
        "disclosure_json": output.with_name(f"{output.stem}.disclosure.json"),
        "disclosure_text": output.with_name(f"{output.stem}.disclosure.txt"),
        "quarantine": output.with_name(f"{output.stem}.quarantine.csv"),
        "columns": output.with_name(f"{output.stem}.columns.csv"),
    }
