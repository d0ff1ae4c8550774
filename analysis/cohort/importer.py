"""Importing a cohort: source file -> mapped, validated, anonymized Parquet cohort with reports.

One function, :func:`import_cohort`, does what ``surveytool cohort import`` does, as the stages of
:mod:`analysis.cohort.stages` over one :class:`~analysis.cohort.stages.ImportState`:

1. **read** the source (:mod:`surveytool.io.sources`; the format is detected where it can be and
   recorded);
2. **plan**: settle every column's role from the mapping (:mod:`analysis.mapping`); open the
   cohort file and the pseudonym key;
3. **classify**: decide which columns may reach the output (:func:`analysis.privacy.classify_columns`);
4. **recode** item values (SPSS value labels, the mapping's rules; off-by-one codings warned);
   then **set aside** rows that are not respondents (the mapping's Qualtrics and REDCap filters;
   rows with no item answered, such as REDCap events where the instrument is not collected);
5. **pseudonymize**: keyed pseudonyms of every row's id (:mod:`analysis.privacy.pseudonyms`);
6. **validate** the answers with the scoring engine's own :func:`surveytool.responses.read_responses`,
   so every invalid cell is reported exactly as ``surveytool score`` reports it (row, column, value,
   reason), with rows renumbered to the source's data rows, ids replaced by pseudonyms and values
   that look identifying redacted;
7. **generalize** the quasi-identifiers of the new rows (:mod:`analysis.privacy.generalize`);
8. **deduplicate**: set aside rows already in the cohort (its :class:`~analysis.cohort.Ledger`);
9. **k-anonymity** over the whole cohort (:mod:`analysis.privacy.kanonymity`);
10. **write** the cohort (atomically), its disclosure report (JSON and text), and this import's
    lines added to the cohort's quarantine report (every import's, :mod:`analysis.cohort.records`).

The counts always satisfy ``rows read = rows imported + rows quarantined + duplicates``, where
quarantined rows are those set aside: not ordinary responses (Qualtrics previews, rows the
mapping's filters leave out), no item answered, an empty or repeated respondent id, or suppressed
for k-anonymity. When nothing at all would be imported (and nothing was imported before), the
import fails with the reasons, after writing the quarantine report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from analysis.cohort.paths import cohort_lock, refuse_path_collisions
from analysis.cohort.result import CohortImport
from analysis.cohort.stages import STAGES, ImportState
from analysis.errors import AnalysisError, CohortFileError, computation_warnings
from analysis.mapping import CohortMapping, LoadedMapping, load_mapping
from analysis.privacy.pseudonyms import PseudonymKey
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument


def import_cohort(
    source: str | Path,
    instrument: Instrument | str | Path,
    *,
    output: str | Path | None = None,
    mapping: str | Path | Mapping[str, Any] | CohortMapping | LoadedMapping | None = None,
    key_file: str | Path | None = None,
    key: PseudonymKey | bytes | None = None,
    k: int | None = None,
    strict: bool = False,
    format: str = "auto",
    sheet: str | int | None = None,
    dictionary: str | Path | None = None,
    qsf: str | Path | None = None,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> CohortImport:
    """Import a source file into an anonymized cohort (what ``surveytool cohort import`` does).

    Parameters
    ----------
    source
        CSV/TSV, XLSX, SPSS .sav, Parquet, a Qualtrics CSV/TSV export or a REDCap record export.
    instrument
        A bundled instrument id, a YAML path, or an :class:`~surveytool.instrument.Instrument`.
    output
        The cohort: a path ending in ``.parquet`` is a cohort file (one Parquet file, the ledger
        in its metadata; for small cohorts), a path without an extension (or an existing
        folder) a cohort dataset (a folder of Parquet files with the ledger as its own dataset:
        :mod:`analysis.cohort.dataset`; any size). When it exists, new respondents are appended
        (atomically) and rows already in its ledger are counted as duplicates. None: nothing
        is written.
    mapping
        A mapping file, dict or model (see :mod:`analysis.mapping`); None matches items by name.
    key_file, key
        The pseudonym key: a key file (created, mode 0600, when missing) or a key object/bytes.
        Neither: a key file named after the cohort in the user's data folder
        (:func:`analysis.privacy.pseudonyms.default_key_path`).
    k
        Suppress records until every equivalence class over the quasi-identifiers has ``k`` rows.
    strict
        Raise :class:`~surveytool.errors.InvalidResponsesError` (the issue table attached, and
        written to the quarantine file) when any cell, row or column is invalid; write no cohort.
    format
        ``auto`` or a format name (see :data:`surveytool.io.sources.FORMATS`); overrides the mapping's.
    sheet
        Workbook sheet name or 0-based number; overrides the mapping's.
    dictionary
        A REDCap data dictionary (CSV); overrides the mapping's ``redcap.dictionary``.
    qsf
        A Qualtrics survey definition (.qsf); overrides the mapping's ``qualtrics.qsf``.
    lock_timeout, on_wait
        Another import writing the same cohort holds its lock: ``on_wait`` is told (once),
        then the import waits until it is free (``lock_timeout`` None) or at most
        ``lock_timeout`` seconds (then :class:`~analysis.cohort.paths.CohortLockedError`).

    Returns
    -------
    CohortImport
        ``frame`` (the whole cohort after this import), ``report`` (:class:`ImportReport`, with
        the issue table) and ``disclosure`` (:class:`~analysis.privacy.DisclosureReport`).
    """
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    out_path = Path(output) if output is not None else None
    if (
        out_path is not None
        and not out_path.is_dir()
        and out_path.suffix.lower()
        not in (
            ".parquet",
            ".pq",
            "",
        )
    ):
        raise CohortFileError(
            f"{out_path}: a cohort is a Parquet file (an output path ending in .parquet) or a "
            "cohort dataset (a folder: an output path without an extension)"
        )
    if k is not None and k < 2:
        raise AnalysisError(f"k must be at least 2 (got {k}); k = 1 suppresses nothing")
    refuse_path_collisions(
        source=Path(source),
        output=out_path,
        key_file=Path(key_file) if key_file is not None else None,
        mapping=Path(mapping) if isinstance(mapping, str | Path) else None,
        dictionary=Path(dictionary) if dictionary is not None else None,
        qsf=Path(qsf) if qsf is not None else None,
        instrument=_instrument_file(instrument),
    )
    state = ImportState(
        source=Path(source),
        instrument=inst,
        loaded=load_mapping(mapping),
        output=out_path,
        key_file=Path(key_file) if key_file is not None else None,
        key=key,
        k=k,
        strict=strict,
        format=format,
        sheet=sheet,
        dictionary=Path(dictionary) if dictionary is not None else None,
        qsf=Path(qsf) if qsf is not None else None,
    )
    with (
        cohort_lock(out_path, timeout=lock_timeout, on_wait=on_wait),  # ledger read .. write
        computation_warnings() as numeric,
    ):
        for stage in STAGES:
            stage(state)
    state.report.notes += [f"computation warning: {text}" for text in numeric]
    return CohortImport(frame=state.final, report=state.report, disclosure=state.disclosure)


def _instrument_file(instrument: Instrument | str | Path) -> Path | None:
    """The instrument's file when it was given as one (not a bundled id, not an object)."""
    if isinstance(instrument, str | Path) and Path(instrument).is_file():
        return Path(instrument)
    return None
