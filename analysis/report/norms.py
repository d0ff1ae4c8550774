"""Norms from a cohort file (``surveytool cohort norms``): the report's cohort checks, then
:func:`analysis.build_norms`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from analysis.cohort.ledger import Cohort
from analysis.errors import AnalysisError, Param, Phrase
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN
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
    people = coh.frame[PSEUDONYM_COLUMN].nunique() if PSEUDONYM_COLUMN in coh.frame else 0
    if people and people < len(coh.frame):
        return f"cohort {coh.path.name}: {len(coh.frame)} rows of {people} respondents{when}"
    return f"cohort {coh.path.name}: {len(coh.frame)} respondents{when}"


def one_wave(
    coh: Cohort, wave: Mapping[str, str] | None, *, pool_waves: bool
) -> tuple[pd.DataFrame, str]:
    """The rows norms are built from: one declared wave, or every row when no one repeats.

    Norms describe people, so repeated measures of the same people are not pooled unless
    ``pool_waves``; returns the rows and the words that say which wave they are.
    """
    frame = coh.frame
    columns = list(coh.metadata.wave_columns)
    if wave:
        unknown = [c for c in wave if c not in columns]
        if unknown:
            raise AnalysisError(
                Phrase(
                    f"{', '.join(map(repr, unknown))} (",
                    Param("wave"),
                    ") is not a wave column "
                    f"of the cohort; its wave columns: {', '.join(columns) or 'none'}",
                )
            )
        keep = pd.Series(True, index=frame.index)
        for col, value in wave.items():
            text = frame[col].astype("string")
            if not (text == value).any():
                values = ", ".join(sorted(text.dropna().unique().tolist()))
                raise AnalysisError(
                    Phrase(
                        f"no row has {col} = {value!r} (", Param("wave"), f"); its values: {values}"
                    )
                )
            keep &= (text == value).fillna(False)
        chosen = frame.loc[keep].reset_index(drop=True)
        if chosen[PSEUDONYM_COLUMN].duplicated().any():
            raise AnalysisError(
                Phrase(
                    "people still repeat within that wave (",
                    Param("wave"),
                    f"); name a value for each wave column ({', '.join(columns)})",
                )
            )
        return chosen, "wave " + ", ".join(f"{c} = {v}" for c, v in wave.items())
    repeated = PSEUDONYM_COLUMN in frame and frame[PSEUDONYM_COLUMN].duplicated().any()
    if not repeated or pool_waves:
        return frame, "all waves pooled" if repeated else ""
    people = frame[PSEUDONYM_COLUMN].nunique()
    shown = "; ".join(
        f"{c}: " + ", ".join(sorted(frame[c].astype("string").dropna().unique().tolist())[:8])
        for c in columns
    )
    raise AnalysisError(
        Phrase(
            f"the cohort holds {len(frame)} rows of {people} people in several waves ({shown}): "
            "norms from every row would count people more than once; give the wave to norm (",
            Param("wave", f"{columns[0]}=VALUE" if columns else "COLUMN=VALUE"),
            "), or pool them knowingly (",
            Param("pool_waves", True),
            ")",
        )
    )


def cohort_norms(
    cohort: str | Path | Cohort,
    instrument: Instrument | str | Path,
    *,
    groups: Sequence[str] = (),
    min_cell: int = DEFAULT_MIN_CELL,
    sample: str | None = None,
    allow_instrument_mismatch: bool = False,
    wave: Mapping[str, str] | None = None,
    pool_waves: bool = False,
) -> NormsResult:
    """:func:`analysis.build_norms` on a cohort file (what ``surveytool cohort norms`` does).

    Returns the :class:`analysis.NormsResult`; :func:`analysis.norms_yaml` of its ``norms`` is
    the block for the instrument file. A cohort with waves in which people repeat is normed from
    one ``wave`` (wave column -> value), or pooled only with ``pool_waves``.
    """
    from analysis import build_norms

    coh = cohort if isinstance(cohort, Cohort) else read_cohort_file(cohort)
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    instrument_check(coh.metadata, inst, allow=allow_instrument_mismatch)
    chosen = check_groups(coh, groups, inst)
    if len(coh.frame) == 0:
        raise AnalysisError(
            f"{coh.path.name} holds no respondent rows (every row was set aside or suppressed "
            "at import); nothing can be normed"
        )
    by_wave = bool(coh.metadata.wave_columns) and set(coh.metadata.wave_columns) <= set(chosen)
    frame, which = one_wave(coh, wave, pool_waves=pool_waves or by_wave)
    if by_wave and not wave:
        which = "one cell per wave"
    ignore = [c for c in non_item_columns(frame, inst) if c not in chosen]
    described = default_sample(coh)
    if which:
        people = frame[PSEUDONYM_COLUMN].nunique()
        described = f"{described}; {which} ({len(frame)} rows of {people} respondents)"
    return build_norms(
        inst,
        frame,
        sample=sample or described,
        group_columns=chosen,
        min_cell=min_cell,
        ignore_columns=ignore,
    )
