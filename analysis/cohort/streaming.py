"""Streaming cohort import on Dask: a Parquet source of any size, partition by partition.

:func:`import_cohort_dask` does what :func:`~analysis.cohort.import_cohort` does, with the same
stages (:mod:`analysis.cohort.stages`) run on each partition, so rows, pseudonyms, issues,
suppressions and counts equal the in-memory import's (tests/analysis/cohort/test_streaming.py
compares the two frame by frame after sorting by pseudonym). Memory is bounded by the partition:

1. **pieces**: a Parquet dataset folder (its ``*.parquet`` files, in name order) or one file,
   read by row groups; each piece is a partition, its rows numbered globally (the data-row
   numbers of the file, or of the files one after another).
2. **plan** (once, in the client): the mapping, the column roles and the identifier decisions
   (:func:`analysis.privacy.classify_columns`) on a **sample**, the first piece. A column found
   identifying on the sample is dropped everywhere; every later partition checks the columns
   that are kept (waves, groups, quasi-identifiers) again with
   :func:`~analysis.privacy.detect_identifiers` and a finding there is **reported** (warning
   ``identifier_in_partition``), never silently passed.
3. **per partition** (Dask tasks): recode, set aside, pseudonymize (keyed, as in memory),
   validate with :func:`surveytool.responses.read_responses` (global row numbers), generalize;
   the new rows are staged as one Parquet file per partition in the new generation's folder.
4. **repeated ids across partitions**: the first row of each key (id and waves) over all
   partitions, in the same buckets as step 5; a later row with the same key is quarantined as in memory
   (``duplicate_respondent_id``, "first at row N").
5. **deduplicate** against the ledger dataset: both sides' keys hash-partitioned by key into
   the same number of buckets on disk and matched bucket by bucket
   (:mod:`analysis.cohort.buckets`; no shuffle of the rows, no Python set of the keys).
6. **k-anonymity**: a first pass counts the rows of every equivalence class over the
   quasi-identifiers (additive over partitions; the class table is as small as the number of
   classes), the suppression (records or local, :func:`analysis.privacy.enforce_k` with
   ``weights``) is decided on the class table, and a second pass applies it to every row.
   Small categories (``generalize: merge``) are counted the same way first.
7. **write**: the rows and the ledger (old keys and the new ones) into a new generation of the
   cohort dataset (:class:`analysis.cohort.dataset.DatasetWriter`), committed atomically; the
   disclosure and quarantine reports beside it, as in memory.

Limits (refused with a message, or said here): the source must be Parquet (a file or a folder);
a cohort with waves *and* quasi-identifiers is refused (its classes count respondents across
rows, which the class table cannot); the ``off_by_one`` check uses every partition's minimum and
maximum (exact), the ``negative_item_rest`` check only the sample's rows; a date column is
written as ISO text per partition (a partition whose stamps all fall at midnight gives dates).
Issues come in partition order (the in-memory import lists them by kind first).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.cohort.buckets import (
    BUCKET_ROWS,
    Matched,
    kept_rows,
    match_keys,
    picked_rows,
    position_in_file,
)
from analysis.cohort.checks import (
    ItemRestSums,
    item_rest_from_sums,
    item_rest_sums,
    off_by_one,
)
from analysis.cohort.dataset import (
    DatasetWriter,
    OpenCohort,
    arrow_schema,
    open_cohort,
    write_keys_file,
    write_rows_file,
)
from analysis.cohort.importer import _instrument_file
from analysis.cohort.issues import issues_for_rows
from analysis.cohort.ledger import (
    BATCH_COLUMN,
    CohortMetadata,
    Layout,
    Ledger,
    check_layout,
    row_keys,
)
from analysis.cohort.paths import cohort_lock, refuse_path_collisions
from analysis.cohort.records import add_to_quarantine, ledger_entry
from analysis.cohort.result import ImportReport, ImportWarning, sidecar_paths
from analysis.cohort.stages import (
    ImportState,
    _missing_codes,
    classify,
    generalize,
    plan,
    pseudonymize,
    recode,
    set_aside,
    validate,
)
from analysis.errors import AnalysisError, CohortFileError, Param, Phrase, computation_warnings
from analysis.mapping import CohortMapping, LoadedMapping, load_mapping
from analysis.privacy.disclosure import DisclosureReport
from analysis.privacy.generalize import Generalized
from analysis.privacy.identifiers import describe_findings, detect_identifiers
from analysis.privacy.kanonymity import enforce_k
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN, PseudonymKey, default_key_path, load_key
from surveytool.engine.datasets import PARTITION_ROWS, Piece, dataset_files, pieces_of, read_piece
from surveytool.errors import InvalidResponsesError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.io.files import held_signals, write_text_atomic
from surveytool.io.sources import SourceTable, file_sha256, reshape_wide_waves
from surveytool.problems import concat_issues, issue_record
from surveytool.scoring.engine import provenance

KEY = "_key"
ROW = "_row"
#: the in-memory import, as the CLI (``--engine memory``) and Python name it
IN_MEMORY = Param("engine", "memory", python_text="analysis.import_cohort")

_NA = "\x02"  # never "\x00": numpy strips a trailing NUL from text
_SEP = "\x1f"


def source_pieces(source: Path, partition_rows: int = PARTITION_ROWS) -> list[Piece]:
    """The partitions of a Parquet source (:func:`surveytool.engine.datasets.pieces_of`)."""
    if not source.is_dir() and source.suffix.lower() not in (".parquet", ".pq"):
        raise AnalysisError(
            Phrase(
                f"{source}: the Dask engine reads Parquet (a .parquet file or a folder of them); "
                "convert the file to Parquet, or use the in-memory engine (",
                IN_MEMORY,
                ")",
            )
        )
    _, pieces = pieces_of(dataset_files(source), partition_rows)
    return [p for p in pieces if p.rows > 0]


def source_sha256(source: Path) -> str:
    """SHA-256 of the file's bytes; for a folder, of each file's name and SHA-256 in order."""
    if not source.is_dir():
        return file_sha256(source)
    digest = hashlib.sha256()
    for path in sorted(p for p in source.glob("*.parquet") if p.is_file()):
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


@dataclass
class PartitionPlan:
    """What every partition needs (picklable): the plan made once on the sample."""

    source: Path
    instrument: Instrument
    loaded: LoadedMapping
    secret: PseudonymKey
    k: int | None
    format: str
    variant: str
    detected: str
    sha256: str
    sample: ImportState


@dataclass
class PartitionResult:
    """What one partition reports back (its rows are staged in a file)."""

    rows_read: int
    rows_excluded: int
    rows_unanswered: int
    rows_invalid_id: int
    rows_new: int
    excluded_by_status: dict[str, int]
    issues: pd.DataFrame
    excluded_issues: pd.DataFrame
    warnings: list[ImportWarning]
    recoded: dict[str, str]
    notes: list[str]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    item_ids: tuple[str, ...] = ()
    item_rest: ItemRestSums | None = None


def _partition_state(p: PartitionPlan, frame: pd.DataFrame, first_row: int) -> ImportState:
    sample = p.sample
    n = len(frame)
    state = ImportState(
        source=p.source,
        instrument=p.instrument,
        loaded=p.loaded,
        output=None,
        key_file=None,
        key=p.secret,
        k=p.k,
        strict=False,
        format=p.format,
        sheet=None,
    )
    state.table = SourceTable(
        path=p.source,
        format=sample.table.format,
        variant=p.variant,
        detected=p.detected,
        frame=frame,
        source_rows=np.arange(first_row, first_row + n, dtype=np.int64),
        rows_read=n,
    )
    state.table.__dict__["sha256"] = p.sha256  # the whole source's (a cached property)
    state.plan = sample.plan
    state.existing = None
    state.secret = p.secret
    state.report = replace(
        sample.report,
        rows_read=n,
        rows_excluded=0,
        excluded_by_status={},
        warnings=[],
        notes=[],
        recoded={},
        issues=sample.report.issues.iloc[:0],
    )
    state.decisions = sample.decisions
    state.waves, state.groups, state.qis = sample.waves, sample.groups, sample.qis
    return state


def process_partition(
    p: PartitionPlan, piece: Piece, first_row: int, staged: str
) -> PartitionResult:
    """Recode, set aside, pseudonymize, validate and generalize one partition; stage its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = read_piece(piece)
    s = _partition_state(p, frame, first_row)
    spec = p.loaded.mapping
    if spec.wide_waves is not None:
        reshape_wide_waves(s.table, spec.wide_waves.pattern, spec.wide_waves.wave_column)
    _missing_codes(s)
    ranges: dict[str, tuple[float, float]] = {}
    with computation_warnings():
        recode(s)
        for item_id, values in s.item_values.items():
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            codes = list(p.instrument.scale_of(item_id).missing_codes)
            numbers = numbers[~np.isnan(numbers) & ~np.isin(numbers, codes)]
            if len(numbers):
                ranges[item_id] = (float(numbers.min()), float(numbers.max()))
        set_aside(s)
        pseudonymize(s)
        validate(s)
        generalize(s)
    for col in [*s.waves, *s.groups, *s.qis]:
        findings = detect_identifiers(col, s.frame[col])
        if findings:
            s.warn(
                "identifier_in_partition",
                col,
                f"{col}: rows {int(s.table.source_rows[0]) if len(s.table.source_rows) else 0}"
                f" onwards look like {describe_findings(findings)}, though the sample did not;"
                " check the column (declare it under identifiers: to drop it)",
            )
    new = s.new
    keys = row_keys(new[PSEUDONYM_COLUMN].tolist(), [new[w].tolist() for w in s.waves])
    table = pa.Table.from_pandas(new, preserve_index=False)
    table = table.append_column(KEY, pa.array(keys, pa.string()))
    rows = s.table.source_rows[s.responses.rows - 1]
    table = table.append_column(ROW, pa.array(rows, pa.int64()))
    pq.write_table(table, staged)
    warnings = [w for w in s.report.warnings if w.code not in ("off_by_one", "negative_item_rest")]
    return PartitionResult(
        rows_read=len(frame),
        rows_excluded=s.report.rows_excluded,
        rows_unanswered=s.report.rows_unanswered,
        rows_invalid_id=s.report.rows_invalid_id,
        rows_new=len(new),
        excluded_by_status=dict(s.report.excluded_by_status),
        issues=s.issues,
        excluded_issues=s.excluded_issues,
        warnings=warnings,
        recoded=dict(s.report.recoded),
        notes=list(s.report.notes),
        ranges=ranges,
        item_ids=tuple(s.responses.item_ids),
        item_rest=item_rest_sums(p.instrument, s.responses.item_ids, s.responses.values),
    )


@dataclass(frozen=True)
class StreamedImport:
    """The result of :func:`import_cohort_dask`: the reports and the cohort as written."""

    report: ImportReport
    disclosure: DisclosureReport
    cohort: OpenCohort | None

    @property
    def issues(self) -> pd.DataFrame:
        return self.report.issues


def _dask() -> Any:
    """``dask`` (untyped: its calls are made through ``Any``)."""
    import dask

    return dask


def _dd() -> Any:
    import dask.dataframe

    return dask.dataframe


def _staged_frame(files: Sequence[str], drops: Sequence[str], columns: list[str]) -> Any:
    """The staged rows kept (each file without the rows its drop folder names), lazily."""
    import dask

    meta = kept_rows(files[0], drops[0], columns).iloc[:0]
    with dask.config.set({"dataframe.convert-string": False}):
        return _dd().from_map(
            kept_rows, list(files), list(drops), columns=columns, meta=meta, enforce_metadata=False
        )


def _later_rows(files: Sequence[str], matched: Matched, columns: list[str]) -> pd.DataFrame:
    """The rows repeating an earlier row's key, read from their staged files."""
    index, inside = position_in_file(matched.later)
    tasks = [
        _dask().delayed(picked_rows)(
            files[int(f)], inside[index == f], matched.first[index == f], columns
        )
        for f in np.unique(index)
    ]
    frames = _dask().compute(*tasks)
    later: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return later


def _class_key(frame: pd.DataFrame, qis: Sequence[str]) -> pd.Series:
    """One text per row naming its class over ``qis`` (missing a value of its own)."""
    if not qis:
        return pd.Series("", index=frame.index, dtype=object)
    parts = [
        frame[c].astype(object).map(lambda v: _NA if v is None or v is pd.NA else f"\x01{v}")
        for c in qis
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out + _SEP + part
    return out.astype(object)


def _same(part: pd.DataFrame) -> pd.DataFrame:
    return part


def _merge_values(part: pd.DataFrame, col: str, small: list[str], other: str) -> pd.DataFrame:
    part = part.copy()
    part[col] = part[col].mask(part[col].isin(small), other)
    return part


def _with_class(part: pd.DataFrame, qis: list[str]) -> pd.DataFrame:
    return part.assign(_class=_class_key(part, qis))


def _from_class_key(key: str) -> list[str | None]:
    return [None if part == _NA else part[1:] for part in key.split(_SEP)]


def import_cohort_dask(
    source: str | Path,
    instrument: Instrument | str | Path,
    *,
    output: str | Path,
    mapping: str | Path | Mapping[str, Any] | CohortMapping | LoadedMapping | None = None,
    key_file: str | Path | None = None,
    key: PseudonymKey | bytes | None = None,
    k: int | None = None,
    strict: bool = False,
    partition_rows: int = PARTITION_ROWS,
    bucket_rows: int = BUCKET_ROWS,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> StreamedImport:
    """Import a Parquet source (a file by row groups, or a folder) into a cohort dataset on Dask.

    The parameters are :func:`~analysis.cohort.import_cohort`'s (the source is Parquet; the
    output a cohort dataset folder). The tasks run on the current Dask scheduler (a
    ``distributed`` client when one is active; see :mod:`surveytool.engine`). A partition holds
    at most ``partition_rows`` rows (whole row groups); the keys are matched in buckets of about
    ``bucket_rows`` keys (:mod:`analysis.cohort.buckets`). The cohort's lock
    (:func:`analysis.cohort.paths.cohort_lock`, ``lock_timeout`` and ``on_wait``) is held from
    reading its ledger to the commit, as in memory.
    """

    source = Path(source)
    out = Path(output)
    if out.suffix.lower() in (".parquet", ".pq") and not out.is_dir():
        raise CohortFileError(
            f"{out}: the Dask engine writes a cohort dataset (a folder); give an output path "
            "without .parquet (surveytool cohort migrate converts an existing cohort file)"
        )
    if k is not None and k < 2:
        raise AnalysisError(f"k must be at least 2 (got {k}); k = 1 suppresses nothing")
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    refuse_path_collisions(
        source=source,
        output=out,
        key_file=Path(key_file) if key_file is not None else None,
        mapping=Path(mapping) if isinstance(mapping, str | Path) else None,
        dictionary=None,
        qsf=None,
        instrument=_instrument_file(instrument),
    )
    with cohort_lock(out, timeout=lock_timeout, on_wait=on_wait):
        return _import(
            source, inst, out, mapping, key_file, key, k, strict, partition_rows, bucket_rows
        )


def _import(
    source: Path,
    inst: Instrument,
    out: Path,
    mapping: str | Path | Mapping[str, Any] | CohortMapping | LoadedMapping | None,
    key_file: str | Path | None,
    key: PseudonymKey | bytes | None,
    k: int | None,
    strict: bool,
    partition_rows: int,
    bucket_rows: int,
) -> StreamedImport:

    loaded = load_mapping(mapping)
    pieces = source_pieces(source, partition_rows)
    if not pieces:
        raise AnalysisError(f"{source}: the file has a header but no data rows")
    secret = load_key(key) if key is not None else load_key(key_file, default_key_path(out))
    if key is None and key_file is not None:
        secret = load_key(Path(key_file))
    sha = source_sha256(source)

    # the plan, once, on the sample
    sample = ImportState(
        source=source,
        instrument=inst,
        loaded=loaded,
        output=None,
        key_file=None,
        key=secret,
        k=k,
        strict=strict,
        format="parquet",
        sheet=None,
    )
    first = read_piece(pieces[0])
    sample.table = SourceTable(
        path=source,
        format="parquet",
        variant="",
        detected="Parquet (the Dask engine reads Parquet files and folders of them)",
        frame=first,
        source_rows=np.arange(1, len(first) + 1, dtype=np.int64),
        rows_read=len(first),
    )
    sample.table.__dict__["sha256"] = sha
    plan(sample)
    classify(sample)
    existing = open_cohort(out) if (out / "cohort.json").exists() else None
    waves, qis = sample.waves, list(sample.qis)
    if waves and qis:
        raise AnalysisError(
            Phrase(
                "the Dask engine cannot yet count k-anonymity classes by respondent across waves "
                "(this mapping has waves and quasi-identifiers); use the in-memory engine (",
                IN_MEMORY,
                ")",
            )
        )
    # the partitions get the plan without the sample's rows (the plan is sent to every worker)
    light = replace(sample.table, frame=first.iloc[:0], source_rows=sample.table.source_rows[:0])
    light.__dict__["sha256"] = sha
    sample.table = light
    p = PartitionPlan(
        source=source,
        instrument=inst,
        loaded=loaded,
        secret=secret,
        k=k,
        format="parquet",
        variant=sample.table.variant,
        detected=sample.table.detected,
        sha256=sha,
        sample=sample,
    )
    report = sample.report
    report.rows_read = sum(piece.rows for piece in pieces)
    with DatasetWriter(out) as writer:
        stage = writer.tmp / "stage"
        stage.mkdir(mode=0o700)
        offsets = np.cumsum([0] + [piece.rows for piece in pieces])[:-1] + 1
        staged = [str(stage / f"part-{i:05d}.parquet") for i in range(len(pieces))]
        shared = _dask().delayed(p, traverse=False)  # one node of the graph, not one per task
        tasks = [
            _dask().delayed(process_partition)(shared, piece, int(offsets[i]), staged[i])
            for i, piece in enumerate(pieces)
        ]
        results: list[PartitionResult] = list(_dask().compute(*tasks))
        _gather(report, results, inst, first, sample)
        with computation_warnings() as numeric:
            outcome = _finish(p, report, results, staged, existing, writer, out, bucket_rows)
        report.notes += [f"computation warning: {text}" for text in numeric]
    return outcome


def _gather(
    report: ImportReport,
    results: list[PartitionResult],
    inst: Instrument,
    first: pd.DataFrame,
    sample: ImportState,
) -> None:
    """The partitions' counts, warnings and notes into the report (each warning once)."""
    report.rows_excluded = sum(r.rows_excluded for r in results)
    report.rows_unanswered = sum(r.rows_unanswered for r in results)
    report.rows_invalid_id = sum(r.rows_invalid_id for r in results)
    for r in results:
        for why, n in r.excluded_by_status.items():
            report.excluded_by_status[why] = report.excluded_by_status.get(why, 0) + n
    seen = {(w.code, w.column) for w in report.warnings}
    for r in results:
        for w in r.warnings:
            if (w.code, w.column) not in seen:
                seen.add((w.code, w.column))
                report.warnings.append(w)
        for item, how in r.recoded.items():
            report.recoded.setdefault(item, how)
        for note in r.notes:
            if note not in report.notes:
                report.notes.append(note)
    for item_id in inst.item_by_id:
        spans = [r.ranges[item_id] for r in results if item_id in r.ranges]
        if spans:
            lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
            warning = off_by_one(item_id, np.array([lo, hi]), inst.scale_of(item_id))
            if warning is not None:
                report.warnings.append(warning)


def _issues(results: list[PartitionResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The partitions' issues; a column issue (no row) once."""
    parts, excluded = [], []
    seen: set[tuple[object, object]] = set()
    for r in results:
        issues = r.issues
        if len(issues):
            no_row = issues["row"].isna().to_numpy(dtype=bool)
            once = [
                (code, col) not in seen
                for code, col in zip(issues["code"], issues["column"], strict=True)
            ]
            keep = ~no_row | np.array(once, dtype=bool)
            seen |= {
                (c, col)
                for c, col, nr in zip(issues["code"], issues["column"], no_row, strict=True)
                if nr
            }
            parts.append(issues.loc[keep])
        excluded.append(r.excluded_issues)
    return concat_issues(parts), concat_issues(excluded)


def _finish(
    p: PartitionPlan,
    report: ImportReport,
    results: list[PartitionResult],
    staged: list[str],
    existing: OpenCohort | None,
    writer: DatasetWriter,
    out: Path,
    bucket_rows: int,
) -> StreamedImport:
    import dask

    sample, inst = p.sample, p.instrument
    waves, qis = sample.waves, dict(sample.qis)
    issues, excluded_issues = _issues(results)
    if p.k is None and existing is not None and isinstance(existing.metadata.k, int):
        p.k = existing.metadata.k
        report.notes.append(f"k = {p.k} from the cohort file (it was made with k = {p.k})")
    k = p.k
    layout = Layout(
        instrument_id=inst.id,
        instrument_version=inst.version,
        instrument_hash=inst.content_hash,
        key_fingerprint=p.secret.fingerprint,
        item_columns=results[0].item_ids,
        wave_columns=tuple(waves),
        group_columns=tuple(sample.groups),
        quasi_identifiers={c: q.model_dump(mode="json") for c, q in qis.items()},
    )
    columns = layout.columns()
    if existing is not None:
        from analysis.cohort.ledger import Cohort

        check_layout(Cohort(existing.path, pd.DataFrame(), existing.metadata), layout)
    ledger_imports = list(existing.ledger.imports) if existing is not None else []
    if sample.strict and len(issues):
        report.issues = concat_issues([issues, excluded_issues])
        quarantine = add_to_quarantine(out, report, batch=None, earlier=ledger_imports)
        report.written.append(str(quarantine))
        raise InvalidResponsesError(
            f"{len(issues)} problem(s) in {p.source.name} (strict); nothing was imported; "
            f"the report is in {quarantine}",
            report.issues,
        )
    earlier = next((e for e in ledger_imports if e.sha256 == p.sha256), None)
    if earlier is not None:
        report.already_imported = True
        report.notes.append(
            f"this file (sha256 {p.sha256[:12]}...) was imported before as batch "
            f"{earlier.batch} on {earlier.imported_at}; rows already in the cohort "
            "are not added again"
        )
    report.batch = 1 + max((e.batch for e in ledger_imports), default=0)

    non_empty = [f for f, r in zip(staged, results, strict=True) if r.rows_new]
    fresh_columns = [c for c in columns if c != BATCH_COLUMN] + [KEY, ROW]
    repeat_issues = concat_issues([])
    taken_out: ItemRestSums | None = None
    duplicates = 0
    fresh = None
    if non_empty:
        # repeated keys (the first row of each is kept, as in memory) and the keys the ledger
        # holds already, bucket by bucket (analysis.cohort.buckets): memory bounded by a bucket
        matched = match_keys(
            writer.tmp / "stage" / "keys",
            non_empty,
            existing.ledger._files() if existing is not None else [],  # the output is a dataset
            new_rows=sum(r.rows_new for r in results),
            old_keys=existing.ledger.respondents if existing is not None else 0,
            repeats=bool(sample.plan.id_column),
            bucket_rows=bucket_rows,
        )
        duplicates = matched.duplicates
        if len(matched.later):
            later_rows = _later_rows(
                non_empty,
                matched,
                [PSEUDONYM_COLUMN, *dict.fromkeys([*waves, KEY, ROW, *layout.item_columns])],
            )
            taken_out = item_rest_sums(
                inst, layout.item_columns, later_rows[list(layout.item_columns)].to_numpy()
            )
            repeat_issues = concat_issues(
                [
                    _repeat_issues(later_rows, waves, sample.plan.id_column),
                    _critical_issues(inst, later_rows, layout.item_columns),
                ]
            )
            report.rows_invalid_id += len(later_rows)
        fresh = _staged_frame(
            non_empty,
            [str(matched.drop_folder(i)) for i in range(len(non_empty))],
            fresh_columns,
        )
    sums = [r.item_rest for r in results if r.item_rest is not None]
    if sums:
        total = sums[0]
        for more in sums[1:]:
            total = total + more
        if taken_out is not None:
            total = total - taken_out
        report.warnings += item_rest_from_sums(inst, layout.item_columns, total)
    report.duplicates = duplicates
    combined_parts = []
    if existing is not None and existing.rows:
        old = existing.dask(columns)
        old = old.assign(**{ROW: -1})
        old[KEY] = ""
        combined_parts.append(old)
    if fresh is not None:
        fresh = fresh.assign(**{BATCH_COLUMN: report.batch})
        combined_parts.append(fresh)
    dd = _dd()
    if combined_parts:
        with dask.config.set({"dataframe.convert-string": False}):
            joined_parts = dd.concat(
                [c[[*columns, KEY, ROW]] for c in combined_parts], ignore_unknown_divisions=True
            )
            # a barrier: dask's optimizer must not push column projections into the concat
            combined = joined_parts.map_partitions(_same, meta=joined_parts._meta)
    else:
        combined = None

    # small categories (generalize: merge), counted over the whole cohort
    generalized = {c: Generalized(c, q.generalize, q.describe(), 0) for c, q in qis.items()}
    if combined is not None:
        for col, qspec in qis.items():
            if qspec.generalize != "merge":
                continue
            counts = combined[col].value_counts(dropna=True).compute()
            small = [c for c, n in counts.items() if n < qspec.min_count and c != qspec.other]
            if small:
                mask = combined[col].isin(small)
                merged_rows = int(mask.sum().compute())
                combined = combined.map_partitions(
                    _merge_values, col, small, qspec.other, meta=combined._meta
                )
                generalized[col] = Generalized(
                    col, qspec.generalize, qspec.describe(), 0, len(small), merged_rows
                )

    # k-anonymity: class counts (first pass), the decision on the class table, then the rows
    if combined is not None:
        meta = combined._meta.assign(_class=pd.Series([], dtype=object))
        combined = combined.map_partitions(_with_class, list(qis), meta=meta)
        weights = combined["_class"].value_counts().compute()
    else:
        weights = pd.Series([], dtype=np.int64)
    table = pd.DataFrame(
        [_from_class_key(c) for c in weights.index] if len(qis) else [[] for _ in weights.index],
        columns=list(qis),
        dtype=object,
    )
    w = weights.to_numpy(dtype=np.int64)
    out_table, keep, sizes, kanon = enforce_k(
        table, list(qis), k, None, method=p.loaded.mapping.k_suppression, weights=w
    )
    decided = pd.DataFrame(
        {"_class": weights.index.to_numpy(dtype=object), "_keep": keep, "_size": sizes},
    )
    for col in qis:
        decided[f"_new_{col}"] = out_table[col].to_numpy(dtype=object)
    n_final = int(w[keep].sum())
    suppressed_old = 0
    suppressed_rows = pd.DataFrame(columns=[PSEUDONYM_COLUMN, ROW, "_size"])
    if combined is not None and not keep.all():
        lookup = decided.set_index("_class")
        small_classes = list(lookup.index[~lookup["_keep"].to_numpy(dtype=bool)])
        gone = combined[combined["_class"].isin(small_classes)]
        gone_rows = gone[[PSEUDONYM_COLUMN, ROW, "_class"]].compute()
        gone_rows["_size"] = lookup.loc[gone_rows["_class"], "_size"].to_numpy()
        suppressed_old = int((gone_rows[ROW] < 0).sum())
        suppressed_rows = gone_rows[gone_rows[ROW] >= 0]
    report.rows_suppressed = len(suppressed_rows)
    new_total = (
        sum(r.rows_new for r in results)
        - (report.rows_invalid_id - sum(r.rows_invalid_id for r in results))
        - duplicates
    )
    report.rows_imported = new_total - report.rows_suppressed
    report.settle_counts()
    suppressed_issues = issues_for_rows(
        "row_suppressed",
        [
            (
                int(r[ROW]),
                ", ".join(qis),
                str(r[PSEUDONYM_COLUMN]),
                None,
                f"suppressed for k-anonymity: its class over the quasi-identifiers has "
                f"{int(r['_size'])} respondent(s), fewer than k = {k}",
            )
            for _, r in suppressed_rows.sort_values(ROW).iterrows()
        ],
    )
    report.issues = concat_issues([issues, repeat_issues, excluded_issues, suppressed_issues])
    report.cohort_rows = n_final
    for col, n in kanon.blanked.items():
        report.warnings.append(
            ImportWarning(
                "local_suppression",
                col,
                f"{col}: {n} value(s) blanked for k-anonymity (local suppression), so those "
                "respondents are kept",
            )
        )
    for col, categories in kanon.lost_categories.items():
        report.warnings.append(
            ImportWarning(
                "category_lost",
                col,
                f"{col}: the categor{'y' if len(categories) == 1 else 'ies'} "
                f"{', '.join(map(repr, categories))} no longer appear in the cohort "
                "(k-anonymity); analyses by this column cannot show them; merge small "
                "categories (generalize: merge) to keep their respondents under a wider category",
            )
        )
    if qis and kanon.smallest is not None and k is None and kanon.smallest < 5:
        report.warnings.append(
            ImportWarning(
                "small_class",
                None,
                f"the smallest class over the quasi-identifiers ({', '.join(qis)}) has "
                f"{kanon.smallest} record(s): those respondents may be recognizable; "
                "consider k = 5",
            )
        )
    if sample.report.warnings and not any(w.code == "negative_item_rest" for w in report.warnings):
        pass
    disclosure = DisclosureReport(
        dropped=sample.decisions.dropped,
        kept=sample.decisions.kept_columns,
        id_column=sample.plan.id_column,
        key_fingerprint=p.secret.fingerprint,
        generalized=[generalized[c] for c in qis],
        k_anonymity=kanon,
        suppressed_existing=suppressed_old,
        rows=n_final,
        notes=list(p.secret.notes),
    )
    if not sample.plan.id_column:
        disclosure.notes.append("no respondent id column: pseudonyms are made from file and row")
    if report.rows_imported + report.rows_suppressed == 0 and report.duplicates == 0:
        where = ""
        if len(report.issues):
            quarantine = add_to_quarantine(out, report, batch=None, earlier=ledger_imports)
            where = f"; each row and its reason is in {quarantine}"
        raise AnalysisError(
            f"nothing to import from {p.source.name}: none of its {report.rows_read} row(s) is "
            f"a respondent{where}; check the file is the survey's responses, or relax the "
            "mapping's filters"
        )
    if report.rows_imported == 0 and report.rows_suppressed:
        report.warnings.append(
            ImportWarning(
                "small_class",
                None,
                f"every new row ({report.rows_suppressed}) was suppressed for k-anonymity: "
                "nothing was added; generalize the quasi-identifiers further",
            )
        )
    report.cohort_changed = report.rows_imported > 0 or suppressed_old > 0
    paths = sidecar_paths(out)
    entry = ledger_entry(
        report, mapping_sha256=p.loaded.sha256, suppressed_from_existing=suppressed_old, k=k
    )
    if report.cohort_changed or earlier is None or existing is None:
        metadata = CohortMetadata.model_validate(
            {
                **provenance(inst).as_metadata(),
                **layout.model_dump(),
                "k": k,
                "ledger": Ledger(imports=[*ledger_imports, entry]),
                "disclosure": disclosure.as_dict(),
                "last_import": report.as_dict(),
            }
        )
        _write_generation(writer, metadata, combined, decided, list(qis), existing, fresh)
        shutil.rmtree(writer.tmp / "stage")  # the staged partitions are not part of the cohort
        # the commit and the reports together: a signal meanwhile waits for all (as in memory)
        with held_signals(done="the import was written"):
            writer.commit(metadata)
            report.written.append(str(out))
            # beside the cohort: owner only, like it (as the in-memory import writes them)
            write_text_atomic(
                paths["disclosure_json"],
                json.dumps(disclosure.as_dict(), indent=2) + "\n",
                secret=True,
            )
            write_text_atomic(paths["disclosure_text"], disclosure.format_text(), secret=True)
            report.written += [str(paths["disclosure_json"]), str(paths["disclosure_text"])]
            quarantine = add_to_quarantine(out, report, batch=report.batch, earlier=ledger_imports)
            if quarantine is not None and len(report.issues):
                report.written.append(str(quarantine))
    else:
        report.notes.append(f"nothing new: {out} is unchanged")
    return StreamedImport(report, disclosure, open_cohort(out) if out.exists() else None)


def _critical_issues(
    inst: Instrument, later: pd.DataFrame, item_columns: Sequence[str]
) -> pd.DataFrame:
    """Rows set aside as repeated ids across partitions are not scored, but a check met at
    level alert in one must not go unseen (``critical_in_quarantine``, as
    :func:`surveytool.responses.read_responses` reports it in one table)."""
    from surveytool.instrument.model import Level
    from surveytool.safety.checks import LEVEL_CATEGORIES, evaluate_matrix

    items = tuple(item_columns)
    values = later[list(items)].to_numpy(dtype=np.float64, na_value=np.nan)
    no_codes = {item: np.full(len(later), np.nan) for item in items}
    levels = evaluate_matrix(inst, items, values, no_codes)
    alert = LEVEL_CATEGORIES.index(Level.alert.value)
    rows = later[ROW].to_numpy()
    records = []
    for check in inst.checks:
        if check.item not in items:
            continue
        for k in np.flatnonzero(levels[check.id] == alert):
            value = values[k, items.index(check.item)]
            records.append(
                issue_record(
                    "critical_in_quarantine",
                    f"check {check.id!r} met (level {Level.alert.value}) in a quarantined row: "
                    "review this respondent",
                    row=int(rows[k]),
                    column=check.item,
                    respondent_id=str(later[PSEUDONYM_COLUMN].iloc[k]),
                    value=f"{value:g}",
                )
            )
    return pd.DataFrame.from_records(records) if records else concat_issues([])


def _repeat_issues(
    later: pd.DataFrame, waves: Sequence[str], id_column: str | None
) -> pd.DataFrame:
    records = []
    for _, r in later.sort_values(ROW).iterrows():
        suffix = "/".join("" if r[w] is None else str(r[w]) for w in waves)
        shown = f"{r[PSEUDONYM_COLUMN]}@{suffix}" if waves else str(r[PSEUDONYM_COLUMN])
        records.append(
            issue_record(
                "duplicate_respondent_id",
                f"duplicate respondent id (first at row {int(r['_first'])}); row quarantined",
                row=int(r[ROW]),
                column=id_column,
                respondent_id=shown,
                value=shown,
            )
        )
    frame = pd.DataFrame.from_records(records) if records else concat_issues([])
    return concat_issues([frame])


def _apply_decision(
    part: pd.DataFrame, decided: pd.DataFrame, qis: list[str], columns: list[str]
) -> pd.DataFrame:
    if not qis:
        same: pd.DataFrame = part[columns]
        return same
    lookup = decided.set_index("_class")
    keep = lookup.loc[part["_class"], "_keep"].to_numpy(dtype=bool)
    out = part.loc[keep].copy()
    for col in qis:
        values = lookup.loc[out["_class"], f"_new_{col}"].to_numpy(dtype=object)
        out[col] = pd.Series(values, index=out.index, dtype=object).where(pd.notna(values), None)
    result: pd.DataFrame = out[columns]
    return result


def _write_generation(
    writer: DatasetWriter,
    metadata: CohortMetadata,
    combined: Any,
    decided: pd.DataFrame,
    qis: list[str],
    existing: OpenCohort | None,
    fresh: Any,
) -> None:
    """The second pass: every partition's rows after suppression, and the ledger's keys."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = metadata.columns()
    if combined is not None:
        parts = combined.to_delayed()
        tasks = [
            _dask().delayed(_write_part)(
                part, decided, qis, columns, metadata, str(writer.rows_path(i))
            )
            for i, part in enumerate(parts)
        ]
        _dask().compute(*tasks)
    else:
        write_rows_file(
            pd.DataFrame(
                {
                    c: pd.Series([], dtype=t.to_pandas_dtype())
                    for c, t in zip(
                        arrow_schema(metadata).names, arrow_schema(metadata).types, strict=True
                    )
                }
            ),
            metadata,
            writer.rows_path(0),
        )
    # the ledger: the old keys as they were, then the new ones
    n = 0
    if existing is not None:
        for path in existing.ledger._files():
            write_keys_file(pq.read_table(path).column("key"), writer.keys_path(n))
            n += 1
        if existing.form == "file" and existing.ledger.respondents:
            write_keys_file(existing.ledger.keys_arrow(), writer.keys_path(n))
            n += 1
    if fresh is not None:
        keys = fresh[[KEY, ROW]].to_delayed()
        tasks = [
            _dask().delayed(_write_keys)(part, str(writer.keys_path(n + i)))
            for i, part in enumerate(keys)
        ]
        _dask().compute(*tasks)
    del pa


def _write_part(
    part: pd.DataFrame,
    decided: pd.DataFrame,
    qis: list[str],
    columns: list[str],
    metadata: CohortMetadata,
    path: str,
) -> int:
    rows = _apply_decision(part, decided, qis, columns)
    write_rows_file(rows, metadata, Path(path))
    return len(rows)


def _write_keys(part: pd.DataFrame, path: str) -> int:
    import pyarrow as pa

    ordered = part.sort_values(ROW)
    write_keys_file(pa.array(ordered[KEY].tolist(), pa.string()), Path(path))
    return len(ordered)
