"""Norms from a cohort file or folder (``surveytool cohort norms``): the report's cohort checks,
then :func:`analysis.build_norms` in memory, or the same norms from sums reduced on Dask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from analysis.cohort.dataset import OpenCohort, open_cohort
from analysis.cohort.ledger import Cohort, ImportEntry
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
from analysis.report.build import check_groups, instrument_check, non_item_columns, read_cohort
from analysis.report.reduce import reduce_norms, wave_rows


def default_sample(coh: Cohort) -> str:
    """A description of the normative sample from the cohort's ledger (edit it in the file)."""
    people = coh.frame[PSEUDONYM_COLUMN].nunique() if PSEUDONYM_COLUMN in coh.frame else 0
    return _sample_words(coh.path, coh.ledger.imports, len(coh.frame), people)


def _sample_words(path: Path, imports: Sequence[ImportEntry], rows: int, people: int) -> str:
    dates = [e.imported_at[:10] for e in imports if e.imported_at]
    when = (
        f", imported {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        if dates
        else ""
    )
    if people and people < rows:
        return f"cohort {path.name}: {rows} rows of {people} respondents{when}"
    return f"cohort {path.name}: {rows} respondents{when}"


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
        _check_wave(wave, columns, {c: frame[c] for c in wave if c in columns})
        chosen = wave_rows(frame, wave)
        if chosen[PSEUDONYM_COLUMN].duplicated().any():
            raise _repeat_within(columns)
        return chosen, _wave_words(wave)
    repeated = PSEUDONYM_COLUMN in frame and frame[PSEUDONYM_COLUMN].duplicated().any()
    if not repeated or pool_waves:
        return frame, "all waves pooled" if repeated else ""
    raise _repeated_people(
        len(frame), frame[PSEUDONYM_COLUMN].nunique(), columns, {c: frame[c] for c in columns}
    )


def _wave_words(wave: Mapping[str, str]) -> str:
    return "wave " + ", ".join(f"{c} = {v}" for c, v in wave.items())


def _check_wave(
    wave: Mapping[str, str], columns: Sequence[str], values: Mapping[str, pd.Series]
) -> None:
    """Refuse a wave column that is not one, or a value no row has (``values``: the column's
    values, every distinct one at least once)."""
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
    for col, value in wave.items():
        text = values[col].astype("string")
        if not (text == value).any():
            shown = ", ".join(sorted(text.dropna().unique().tolist()))
            raise AnalysisError(
                Phrase(f"no row has {col} = {value!r} (", Param("wave"), f"); its values: {shown}")
            )


def _repeat_within(columns: Sequence[str]) -> AnalysisError:
    return AnalysisError(
        Phrase(
            "people still repeat within that wave (",
            Param("wave"),
            f"); name a value for each wave column ({', '.join(columns)})",
        )
    )


def _repeated_people(
    rows: int, people: int, columns: Sequence[str], values: Mapping[str, pd.Series]
) -> AnalysisError:
    shown = "; ".join(
        f"{c}: " + ", ".join(sorted(values[c].astype("string").dropna().unique().tolist())[:8])
        for c in columns
    )
    return AnalysisError(
        Phrase(
            f"the cohort holds {rows} rows of {people} people in several waves ({shown}): "
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
    engine: Literal["memory", "dask"] = "memory",
) -> NormsResult:
    """:func:`analysis.build_norms` on a cohort file (what ``surveytool cohort norms`` does).

    Returns the :class:`analysis.NormsResult`; :func:`analysis.norms_yaml` of its ``norms`` is
    the block for the instrument file. A cohort with waves in which people repeat is normed from
    one ``wave`` (wave column -> value), or pooled only with ``pool_waves``.

    ``engine``: ``"memory"`` (default) reads the cohort whole; ``"dask"`` reads it (a file or a
    dataset folder) as a Dask DataFrame on Dask's current scheduler
    (:func:`surveytool.engine.cluster`) and never holds it whole: each partition is scored with
    the same kernel and reduced to the exact counts of every score value per cell and the
    reliability sums (:func:`analysis.report.reduce.reduce_norms`), from which the same norms
    follow (:func:`analysis.stats.norms.norms_from_sums`). The wave rules are the same; whether
    people repeat is decided exactly by a shuffle of the pseudonyms.
    """
    from analysis import build_norms

    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    if engine == "dask":
        opened = open_cohort(cohort.path if isinstance(cohort, Cohort) else cohort)
        return _dask_norms(
            opened,
            inst,
            groups=groups,
            min_cell=min_cell,
            sample=sample,
            allow_instrument_mismatch=allow_instrument_mismatch,
            wave=wave,
            pool_waves=pool_waves,
        )
    coh = read_cohort(cohort)
    instrument_check(coh.metadata, inst, allow=allow_instrument_mismatch)
    chosen = check_groups(coh, groups, inst)
    if len(coh.frame) == 0:
        raise _no_rows(coh.path)
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


def _no_rows(path: Path) -> AnalysisError:
    return AnalysisError(
        f"{path.name} holds no respondent rows (every row was set aside or suppressed "
        "at import); nothing can be normed"
    )


def _dask_norms(
    opened: OpenCohort,
    inst: Instrument,
    *,
    groups: Sequence[str],
    min_cell: int,
    sample: str | None,
    allow_instrument_mismatch: bool,
    wave: Mapping[str, str] | None,
    pool_waves: bool,
) -> NormsResult:
    """:func:`cohort_norms` on Dask (see there): the same checks, on reduced statistics."""
    import dataclasses

    from analysis.stats._input import warn_problems
    from analysis.stats.norms import normed_scales, norms_from_sums

    data = opened.dask()
    meta = Cohort(opened.path, data._meta, opened.metadata)
    instrument_check(opened.metadata, inst, allow=allow_instrument_mismatch)
    chosen = check_groups(meta, groups, inst)
    if opened.rows == 0:
        raise _no_rows(opened.path)
    columns = list(opened.metadata.wave_columns)
    by_wave = bool(columns) and set(columns) <= set(chosen)
    rows, people = _rows_and_people(data)
    which = ""
    if wave:
        known = [c for c in wave if c in columns]
        values = data[known].drop_duplicates().compute() if known else pd.DataFrame()
        _check_wave(wave, columns, {c: values[c] for c in known})
        wave_rows_, wave_people = _rows_and_people(
            data.map_partitions(wave_rows, dict(wave), meta=data._meta)
        )
        if wave_people < wave_rows_:
            raise _repeat_within(columns)
        which = f"{_wave_words(wave)} ({wave_rows_} rows of {wave_people} respondents)"
    else:
        if people < rows and not (pool_waves or by_wave):
            values = data[columns].drop_duplicates().compute() if columns else {}
            raise _repeated_people(rows, people, columns, {c: values[c] for c in columns})
        which = "one cell per wave" if by_wave else "all waves pooled" if people < rows else ""
        if which:
            which = f"{which} ({rows} rows of {people} respondents)"
    ignore = [c for c in non_item_columns(data._meta, inst) if c not in chosen]
    reduced = reduce_norms(data, inst, chosen, ignore, wave)
    warn_problems(reduced.problems)
    described = _sample_words(opened.path, opened.metadata.ledger.imports, rows, people)
    if which:
        described = f"{described}; {which}"
    built = norms_from_sums(
        inst,
        reduced.counts,
        reduced.sums,
        sample=sample or described,
        group_columns=chosen,
        min_cell=min_cell,
        scales=normed_scales(inst, list(reduced.counts.overall)),
    )
    return dataclasses.replace(built, problems=reduced.problems)


def _partition_people(part: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"rows": [len(part)], "people": [int(part[PSEUDONYM_COLUMN].nunique())]}, dtype="int64"
    )


def _rows_and_people(data: Any) -> tuple[int, int]:
    """(rows, distinct pseudonyms) of a Dask DataFrame, exactly: the pseudonyms are shuffled so
    that equal ones share a partition, whose distinct counts then add up."""
    if PSEUDONYM_COLUMN not in data.columns:
        rows = int(data.map_partitions(len).compute().sum())
        return rows, rows
    ids = data[[PSEUDONYM_COLUMN]]
    if ids.npartitions > 1:
        ids = ids.shuffle(on=PSEUDONYM_COLUMN)
    meta = pd.DataFrame({"rows": pd.Series(dtype="int64"), "people": pd.Series(dtype="int64")})
    counted = ids.map_partitions(_partition_people, meta=meta).compute()
    return int(counted["rows"].sum()), int(counted["people"].sum())
