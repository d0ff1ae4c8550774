"""Norms from a cohort file (``surveytool cohort norms``): the report's cohort checks, then
:func:`analysis.build_norms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.cohort.ledger import Cohort
from analysis.privacy.suppression import (
    DEFAULT_MIN_CELL,
)
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument

if TYPE_CHECKING:
    from analysis import (
        NormsResult,
    )
from analysis.report.build import check_groups, instrument_check, non_item_columns, read_cohort_file


def default_sample(coh: Cohort) -> str:
    """A description of the normative sample from the cohort's ledger (edit it in the file)."""
    dates = [e.imported_at[:10] for e in coh.ledger.imports if e.imported_at]
    when = (
        f", imported {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        if dates
        else ""
    )
    return f"cohort {coh.path.name}: {len(coh.frame)} respondents{when}"


def cohort_norms(
    cohort: str | Path | Cohort,
    instrument: Instrument | str | Path,
    *,
    groups: Sequence[str] = (),
    min_cell: int = DEFAULT_MIN_CELL,
    sample: str | None = None,
    allow_instrument_mismatch: bool = False,
) -> NormsResult:
    """:func:`analysis.build_norms` on a cohort file (what ``surveytool cohort norms`` does).

    Returns the :class:`analysis.NormsResult`; :func:`analysis.norms_yaml` of its ``norms`` is
    the block for the instrument file.
    """
    from analysis import build_norms

    coh = cohort if isinstance(cohort, Cohort) else read_cohort_file(cohort)
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    instrument_check(coh.metadata, inst, allow=allow_instrument_mismatch)
    chosen = check_groups(coh, groups, inst)
    ignore = [c for c in non_item_columns(coh.frame, inst) if c not in chosen]
    return build_norms(
        inst,
        coh.frame,
        sample=sample or default_sample(coh),
        group_columns=chosen,
        min_cell=min_cell,
        ignore_columns=ignore,
    )
