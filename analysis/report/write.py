"""Writing the report folder atomically: ``report.html``, one CSV per table, ``manifest.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.errors import AnalysisError
from surveytool.instrument.model import Instrument

if TYPE_CHECKING:
    pass
from analysis.report.build import CohortReport, build_cohort_report
from analysis.report.render import render_html

REPORT_KIND = "surveytool.cohort_report"
REPORT_FILE = "report.html"
MANIFEST_FILE = "manifest.json"


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
