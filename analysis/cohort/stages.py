"""The stages of a cohort import, in order, each a small function over one :class:`ImportState`.

read -> plan -> classify -> recode -> set aside -> pseudonymize -> validate -> generalize -> deduplicate ->
k-anonymity -> write (:data:`STAGES`). Each stage reads what the earlier ones put on the state and
adds its own part (the fields of :class:`ImportState` are grouped by the stage that sets them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cells import as_text
from analysis.cohort.checks import item_rest_warnings, off_by_one
from analysis.cohort.dataset import is_dataset_path, write_dataset
from analysis.cohort.issues import issues_for_rows
from analysis.cohort.ledger import (
    BATCH_COLUMN,
    Cohort,
    CohortMetadata,
    ImportEntry,
    Layout,
    Ledger,
    check_layout,
    read_cohort,
    row_keys,
)
from analysis.cohort.records import (
    add_to_quarantine,
    columns_file_needed,
    ledger_entry,
    write_columns_file,
)
from analysis.cohort.result import ImportReport, ImportWarning, sidecar_paths
from analysis.cohort.values import (
    as_numbers,
    exact_numbers,
    labels_to_text,
    plain_number,
    spss_item,
)
from analysis.errors import AnalysisError, Param, Phrase
from analysis.mapping import (
    ColumnPlan,
    LoadedMapping,
    RecodeRule,
    apply_recode,
    plan_columns,
    spss_labels_are_scale,
)
from analysis.mapping.model import REDCAP_STATUS
from analysis.mapping.plan import fold, wanted_columns
from analysis.privacy.disclosure import COLUMNS_LISTED, DisclosureReport, shown_name
from analysis.privacy.generalize import (
    Generalized,
    QuasiIdentifier,
    generalize_column,
    merge_small_categories,
)
from analysis.privacy.identifiers import (
    UNMATCHED_DROPPED,
    ColumnDecision,
    ColumnDecisions,
    classify_columns,
    describe_findings,
    safe_file_name,
)
from analysis.privacy.kanonymity import KAnonymity, enforce_k
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN, PseudonymKey, default_key_path, load_key
from surveytool.errors import InvalidResponsesError
from surveytool.instrument.model import Instrument
from surveytool.io.files import held_signals, write_text_atomic
from surveytool.io.sources import SourceTable, read_source, refuse_unsplit, reshape_wide_waves
from surveytool.io.tables import write_table
from surveytool.privacy import redact_issues
from surveytool.problems import concat_issues, is_missing, issue_frame, issue_record
from surveytool.responses import Responses, id_text, read_responses
from surveytool.scoring.engine import provenance


@dataclass(eq=False, repr=False)
class ImportState:
    """One import: its inputs, then what each stage found (set by that stage)."""

    source: Path
    instrument: Instrument
    loaded: LoadedMapping
    output: Path | None
    key_file: Path | None
    key: PseudonymKey | bytes | None
    k: int | None
    strict: bool
    format: str
    sheet: str | int | None
    dictionary: Path | None = None
    qsf: Path | None = None
    # read
    table: SourceTable = field(init=False)
    # plan
    plan: ColumnPlan = field(init=False)
    existing: Cohort | None = field(init=False)
    secret: PseudonymKey = field(init=False)
    report: ImportReport = field(init=False)
    # classify
    decisions: ColumnDecisions = field(init=False)
    waves: list[str] = field(init=False)
    groups: list[str] = field(init=False)
    qis: dict[str, QuasiIdentifier] = field(init=False)
    # recode
    item_values: dict[str, pd.Series] = field(init=False)
    # set aside
    filtered_rows: tuple[tuple[int, str, str], ...] = field(init=False)
    unanswered_issues: pd.DataFrame = field(init=False)
    # pseudonymize
    wave_text: list[list[object]] = field(init=False)
    row_keys: list[str | None] = field(init=False)  # the id (and waves) each row is validated by
    pseudonym_of_row: list[str | None] = field(init=False)
    display: dict[str, str] = field(init=False)  # row key -> how issue reports show the respondent
    # validate
    responses: Responses = field(init=False)
    issues: pd.DataFrame = field(init=False)
    excluded_issues: pd.DataFrame = field(init=False)
    # generalize
    new: pd.DataFrame = field(init=False)
    generalized: dict[str, Generalized] = field(init=False)
    # deduplicate
    ledger: Ledger = field(init=False)
    first_time: bool = field(init=False)
    fresh: pd.DataFrame = field(init=False)
    fresh_keys: list[str] = field(init=False)
    fresh_rows: np.ndarray = field(init=False)
    # k-anonymity
    layout: Layout = field(init=False)
    final: pd.DataFrame = field(init=False)
    kanon: KAnonymity = field(init=False)
    suppressed_old: int = field(init=False)
    disclosure: DisclosureReport = field(init=False)

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.frame

    def warn(self, code: str, column: str | None, message: str) -> None:
        self.report.warnings.append(ImportWarning(code, column, message))


def _beside_mapping(s: ImportState, given: str | None) -> Path | None:
    """A file the mapping names, relative to the mapping file."""
    if given is None:
        return None
    path = Path(given)
    if not path.is_absolute() and s.loaded.file and Path(s.loaded.file).is_file():
        path = Path(s.loaded.file).parent / path
    return path


def read(s: ImportState) -> None:
    """Read the source (the format told or given, recorded); the call's format and sheet win."""
    spec = s.loaded.mapping
    s.table = read_source(
        s.source,
        format=s.format if s.format != "auto" else (spec.format or "auto"),
        sheet=s.sheet if s.sheet is not None else spec.sheet,
        keep_status=spec.qualtrics.keep_status,
        given_by="the format parameter" if s.format != "auto" else "the mapping's format key",
        dictionary=s.dictionary or _beside_mapping(s, spec.redcap.dictionary),
        qsf=s.qsf or _beside_mapping(s, spec.qualtrics.qsf),
        wanted=wanted_columns(s.instrument, spec),  # Parquet: the others only named
    )
    if spec.wide_waves is not None:
        reshape_wide_waves(s.table, spec.wide_waves.pattern, spec.wide_waves.wave_column)
    _missing_codes(s)


def _missing_codes(s: ImportState) -> None:
    """The mapping's ``missing`` codes of group, wave and quasi-identifier columns as missing."""
    frame = s.table.frame
    for col, codes in s.loaded.mapping.missing.items():
        if col not in frame.columns:
            raise AnalysisError(
                f"the mapping's missing: names the column {col!r}, which is not in "
                f"{s.table.path.name}; use a column name as the header row spells it"
            )
        text = as_text(frame[col]).str.strip()
        wanted = {str(c).strip() for c in codes}
        numbers = pd.to_numeric(text, errors="coerce")
        numeric = [float(c) for c in codes if isinstance(c, int | float)]
        hit = np.array(text.isin(wanted).to_numpy(dtype=bool, na_value=False))
        if numeric:
            hit = hit | numbers.isin(numeric).to_numpy(dtype=bool, na_value=False)
        if hit.any():
            frame[col] = frame[col].astype(object).mask(hit, pd.NA)
            shown = ", ".join(map(str, codes))
            s.table.notes.append(
                f"{col}: {int(hit.sum())} cell(s) with a declared missing code ({shown}) read as "
                "missing"
            )


def plan(s: ImportState) -> None:
    """Settle each column's role from the mapping; open the cohort and the key; start the report."""
    table, inst = s.table, s.instrument
    s.plan = plan_columns(table, inst, s.loaded)
    if not s.plan.items:
        refuse_unsplit(table, inst.form_items(), inst.id)  # a separator we do not tell
        raise AnalysisError(
            f"no column of {table.path.name} matches an item of {inst.id} (by id, or under "
            "items: in the mapping); write a starting mapping with mapping_template() "
            "(the command: surveytool cohort map-template)"
        )
    s.existing = read_cohort(s.output) if s.output is not None else None
    if s.key is not None:
        s.secret = load_key(s.key)
    elif s.key_file is not None:
        s.secret = load_key(s.key_file)
    else:
        if s.output is None:
            raise AnalysisError(
                Phrase(
                    "give ", Param("key_file"), " (or key) when importing without an output file"
                )
            )
        s.secret = load_key(None, default_key_path(s.output))
    s.report = ImportReport(
        source=safe_file_name(table.path.name, s.secret),
        sha256=table.sha256,
        format=table.format,
        variant=table.variant,
        detected=table.detected,
        instrument_id=inst.id,
        instrument_version=inst.version,
        instrument_hash=inst.content_hash,
        rows_read=table.rows_read,
        rows_excluded=table.rows_excluded,
        excluded_by_status=dict(table.excluded),
        id_column=s.plan.id_column,
        id_note=s.plan.id_note,
        items=dict(s.plan.items),
        key_path=str(s.secret.path) if s.secret.path else None,
        key_created=s.secret.created,
    )
    s.report.notes += table.notes + list(s.plan.notes) + s.secret.notes


def _shadowing(column: str, items: dict[str, str]) -> str:
    """Why a column named like an item is dropped: the item is mapped from another column
    (``ds1`` beside ``DS1``: the exact id wins)."""
    item = next((i for i in items if fold(i) == fold(column)), None)
    if item is None:  # named like it only once its ODK/Kobo group is taken off
        return "named like an item that is mapped from another column"
    return f"named like item {item!r}, which is mapped from column {items[item]!r}"


def classify(s: ImportState) -> None:
    """Decide which columns may reach the output; warn about declared columns that cannot."""
    table, p = s.table, s.plan
    decisions = classify_columns(
        s.frame,
        items=p.items.values(),
        id_column=p.id_column,
        waves=p.waves,
        groups=p.groups,
        quasi_identifiers=p.quasi_identifiers,
        identifiers=[*p.identifiers, *table.identifier_columns],
        drop=p.drop,
        metadata=table.metadata_columns,
        metadata_source=f"the {table.format} export",
        categorical=table.categorical_columns,
        drop_unmatched=p.drop_unmatched,
        unread=table.unread_columns,
    )
    reasons = {
        c: _shadowing(c, p.items)
        for c in p.shadowed
        if (d := decisions.get(c)) is not None and d.role == "unmatched"
    }
    repeats = table.repeated_columns
    for c, first in repeats.items():  # a copy of a column: said so, not "matches no item"
        if (d := decisions.get(c)) is not None and _undeclared(d):
            reasons[c] = f"repeats column {first!r}; the first is used"
    s.decisions = decisions.with_reasons(reasons) if reasons else decisions
    by_column = {c: s.decisions.get(c) for c in [*p.waves, *p.groups, *p.quasi_identifiers]}
    s.waves = [c for c in p.waves if _kept(by_column[c])]
    s.groups = [c for c in p.groups if _kept(by_column[c])]
    s.qis = {c: q for c, q in p.quasi_identifiers.items() if _kept(by_column[c])}
    roles = s.decisions.roles
    declared = np.isin(roles, ["wave", "group", "quasi_identifier"]) & ~s.decisions.kept
    warned: list[tuple[int, ImportWarning]] = []
    for at in np.flatnonzero(declared).tolist():
        d = s.decisions[at]
        warned.append(
            (
                at,
                ImportWarning(
                    "declared_column_dropped", d.column, f"{d.column}: {d.reason}; it was dropped"
                ),
            )
        )
    unmatched = roles == "unmatched"
    for copy, name in repeats.items():
        where = s.decisions.position(copy)
        if (
            where is None
            or s.decisions.reasons[where] != f"repeats column {name!r}; the first is used"
        ):
            continue
        unmatched[where] = False
        warned.append(
            (
                where,
                ImportWarning(
                    "duplicate_column",
                    name,
                    f"column {name!r} appears twice (the copy is read as {copy!r}); the first "
                    "is used and the copy was dropped (rename or remove one of them)",
                ),
            )
        )
    positions = np.flatnonzero(unmatched)
    for at in positions[:COLUMNS_LISTED].tolist():
        column = str(s.decisions.columns[at])
        warned.append(
            (
                at,
                ImportWarning(
                    "unmatched_column",
                    shown_name(column),
                    f"column {shown_name(column)!r} matches no item of {s.instrument.id} and is "
                    "not declared; it was dropped (list it under drop: in the mapping to say so)",
                ),
            )
        )
    s.report.warnings += [w for _, w in sorted(warned, key=lambda pair: pair[0])]
    s.report.columns_read = len(s.decisions)
    s.report.columns_unmatched = len(positions)
    if p.drop_unmatched:
        undeclared = int((s.decisions.reasons == UNMATCHED_DROPPED).sum())
        s.report.columns_unmatched = undeclared
        if undeclared:
            s.report.notes.append(
                f"{undeclared:,} column(s) that match no item of {s.instrument.id} were dropped "
                "(the mapping's unmatched: drop)"
            )
    if len(positions) > COLUMNS_LISTED:  # 10**6 of them: named up to a limit, the rest counted
        s.warn(
            "unmatched_column",
            None,
            f"{len(positions) - COLUMNS_LISTED:,} more column(s) match no item of "
            f"{s.instrument.id} and are not declared; they were dropped (the columns file "
            "beside the cohort names each)",
        )
    id_decision = s.decisions.get(p.id_column) if p.id_column else None
    if id_decision is not None and id_decision.findings:
        s.report.notes.append(
            "the respondent ids look like "
            + describe_findings(id_decision.findings)
            + ": they are replaced by pseudonyms and never written"
        )


def _undeclared(decision: ColumnDecision) -> bool:
    """A column nobody declared and no check fired on (``unmatched: drop`` or not)."""
    return decision.role == "unmatched" or decision.reason == UNMATCHED_DROPPED


def _kept(decision: ColumnDecision | None) -> bool:
    return decision is not None and decision.kept


def _item_values(s: ImportState, item_id: str, col: str) -> pd.Series:
    """One item's column as codes: its SPSS value labels, then its recode rule."""
    values = s.frame[col]
    scale = s.instrument.scale_of(item_id)
    rule = s.plan.rules.get(item_id)
    recoded = s.report.recoded
    labels = s.table.value_labels.get(col)
    if labels is not None:
        if rule is not None and spss_labels_are_scale(labels, scale):
            # the labels place the codes: only the rule's missing values still apply
            if rule.missing:
                values, _ = apply_recode(values, RecodeRule(items=(item_id,), missing=rule.missing))
            if rule.offset or rule.map:
                s.warn(
                    "recode_ignored",
                    item_id,
                    f"{item_id}: its SPSS value labels are the scale's labels and place "
                    "the codes; the recode rule's offset and map are not applied",
                )
            rule = None
        values, how = spss_item(values, labels, scale, rule)
        if how:
            recoded[item_id] = how
    if rule is not None:
        values, changed = apply_recode(values, rule)
        what = f"{rule.describe()} ({changed} cell(s) changed)"
        recoded[item_id] = f"{recoded[item_id]}; {what}" if item_id in recoded else what
    return values


def recode(s: ImportState) -> None:
    """Item values as codes (SPSS labels, recoding); warn about off-by-one codings, missing items."""
    s.item_values = {}
    for item_id, col in s.plan.items.items():
        values = _item_values(s, item_id, col)
        exact = exact_numbers(values)  # all numbers: the scoring engine's fast numeric path
        scale = s.instrument.scale_of(item_id)
        warning = off_by_one(item_id, exact if exact is not None else as_numbers(values), scale)
        if warning:
            s.report.warnings.append(warning)
        s.item_values[item_id] = (
            pd.Series(exact) if exact is not None else values.reset_index(drop=True)
        )
    for item_id in s.instrument.item_by_id:
        if item_id not in s.plan.items:
            s.warn(
                "missing_item",
                item_id,
                f"item {item_id} has no column in the source; its answers are missing",
            )


def _status_column(s: ImportState) -> str | None:
    """The ``<form>_complete`` column of the items' form (REDCap), or None when not told."""
    table, columns = s.table, [str(c) for c in s.frame.columns]
    forms = {table.field_forms[c] for c in s.plan.items.values() if c in table.field_forms}
    if len(forms) == 1:
        name = f"{forms.pop()}_complete"
        if name in columns:
            return name
    # without a dictionary: REDCap writes each form's status right after the form's fields
    after = max(columns.index(c) for c in s.plan.items.values())
    for col in columns[after + 1 :]:
        if col.endswith("_complete") or col.split(".")[0] == "Complete?":
            return col
    return None


def _redcap_status(values: pd.Series) -> np.ndarray:
    """REDCap form status codes (0, 1, 2) from raw codes or labels; NaN when blank."""
    by_label = {v.casefold(): float(k) for k, v in REDCAP_STATUS.items()}
    text = as_text(values).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    labelled = text.str.casefold().map(by_label).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(numbers), labelled, numbers)


def _qualtrics_filters(s: ImportState) -> list[tuple[np.ndarray, str, list[str]]]:
    """Rows left out by the mapping's ``qualtrics`` filters: (mask, column, reason per row)."""
    options, frame = s.loaded.mapping.qualtrics, s.frame
    found: list[tuple[np.ndarray, str, list[str]]] = []
    checks: list[tuple[str, object, str]] = []
    if options.finished:
        checks.append(("Finished", None, "not finished"))
    if options.min_progress is not None:
        checks.append(("Progress", options.min_progress, "progress below {limit:g}%"))
    if options.min_duration is not None:
        checks.append(("Duration (in seconds)", options.min_duration, "took under {limit:g} s"))
    for col, limit, why in checks:
        if col not in frame.columns:
            raise AnalysisError(
                f"{s.table.path.name} has no {col!r} column, which the mapping's qualtrics "
                "filters need; remove the filter or export the survey with its metadata"
            )
        text = as_text(frame[col]).str.strip()
        if limit is None:
            finished = text.str.casefold().isin(["1", "true"]).to_numpy(dtype=bool, na_value=False)
            mask = ~finished
        else:
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)
            mask = ~(numbers >= float(limit))  # type: ignore[arg-type]
        shown = why.format(limit=limit) if limit is not None else why
        reasons = [f"Qualtrics {col} {v if isinstance(v, str) else 'blank'}: {shown}" for v in text]
        found.append((mask, col, reasons))
    return found


def set_aside(s: ImportState) -> None:
    """Leave out rows that are not respondents, each counted with its reason.

    Rows the mapping's filters leave out (Qualtrics ``finished``, ``min_progress``,
    ``min_duration``; REDCap ``complete``) are *excluded*; rows with no item answered are not
    respondents either (a REDCap event or repeat row where the instrument is not collected, an
    empty line of a spreadsheet): they are counted as *unanswered*.
    """
    frame, n = s.frame, len(s.frame)
    excluded = np.zeros(n, dtype=bool)
    records: list[tuple[int, str, str]] = []
    rows = s.table.source_rows
    reasons: dict[str, int] = {}
    filters = _qualtrics_filters(s) if s.table.format == "qualtrics" else []
    kept = s.loaded.mapping.redcap.kept_codes()
    if kept:
        status_col = _status_column(s)
        if status_col is None:
            raise AnalysisError(
                f"{s.table.path.name}: the mapping's redcap complete filter needs the form "
                "status column (<form>_complete) of the items; export it with the records, "
                "or give the data dictionary"
            )
        status = _redcap_status(frame[status_col])
        mask = ~np.isin(status, sorted(kept))
        shown = [REDCAP_STATUS.get(int(v), str(v)) if not np.isnan(v) else "blank" for v in status]
        wanted = ", ".join(REDCAP_STATUS[c] for c in sorted(kept))
        filters.append(
            (mask, status_col, [f"REDCap {status_col} {v}: not {wanted}" for v in shown])
        )
    answered = np.zeros(n, dtype=bool)
    for values in s.item_values.values():
        answered |= values.notna().to_numpy(dtype=bool)
    unanswered = ~answered
    for mask, col, why in filters:
        for p in np.flatnonzero(mask & ~excluded & answered):
            records.append((int(rows[p]), col, f"{why[p]}; row excluded"))
            key = why[p].split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        excluded |= mask & answered
    s.unanswered_issues = issues_for_rows(
        "row_unanswered",
        [
            (int(rows[p]), None, None, None, _unanswered_reason(s, int(p)))
            for p in np.flatnonzero(unanswered)
        ],
    )
    s.filtered_rows = tuple(records)
    s.report.rows_excluded += int(excluded.sum())
    for key, count in reasons.items():
        s.report.excluded_by_status[key] = s.report.excluded_by_status.get(key, 0) + count
    s.report.rows_unanswered = int(unanswered.sum())
    keep = ~(excluded | unanswered)
    if keep.all():
        return
    if s.report.rows_unanswered:
        s.report.notes.append(
            f"{s.report.rows_unanswered} row(s) with no item answered are not respondents "
            "(REDCap: events or repeat rows where the instrument is not collected); "
            "they are listed in the quarantine report"
        )
    s.table.frame = frame.loc[keep].reset_index(drop=True)
    s.table.source_rows = rows[keep]
    s.item_values = {k: v[keep].reset_index(drop=True) for k, v in s.item_values.items()}


def _unanswered_reason(s: ImportState, position: int) -> str:
    waves = [w for w in s.table.wave_columns if w in s.frame.columns]
    where = ", ".join(
        f"{w} {s.frame[w].iat[position]}" for w in waves if not is_missing(s.frame[w].iat[position])
    )
    return f"no item answered{f' ({where})' if where else ''}: not a respondent; row left out"


def pseudonymize(s: ImportState) -> None:
    """Keyed pseudonyms of every row (of its id, else of file and row) and each row's key."""
    frame, id_column = s.frame, s.plan.id_column
    s.wave_text = [
        as_text(frame[w]).astype(object).where(frame[w].notna(), None).tolist() for w in s.waves
    ]
    if id_column:
        ids = id_text(frame[id_column]).reset_index(drop=True)
        present = ids.notna().to_numpy(dtype=bool)
        id_values: list[str | None] = [
            str(v) if p else None for v, p in zip(ids.tolist(), present, strict=True)
        ]
        if s.wave_text:
            s.row_keys = [
                None
                if v is None
                else "\x1f".join([v, *("" if w[i] is None else str(w[i]) for w in s.wave_text)])
                for i, v in enumerate(id_values)
            ]
        else:
            s.row_keys = list(id_values)
        s.pseudonym_of_row = s.secret.pseudonyms(id_values)
    else:
        rows = (f"{s.table.sha256}:row:{r}" for r in s.table.source_rows)
        s.pseudonym_of_row = s.secret.pseudonyms(rows)
        s.row_keys = [str(p) for p in s.pseudonym_of_row]
    s.display = {}
    if not s.waves:
        s.display = {
            key_text: pseudonym
            for key_text, pseudonym in zip(s.row_keys, s.pseudonym_of_row, strict=True)
            if key_text is not None and pseudonym is not None
        }
        return
    for i, key_text in enumerate(s.row_keys):
        pseudonym = s.pseudonym_of_row[i]
        if key_text is None or pseudonym is None:
            continue
        suffix = "/".join("" if w[i] is None else str(w[i]) for w in s.wave_text)
        s.display[key_text] = f"{pseudonym}@{suffix}" if s.waves else str(pseudonym)


def _shown(s: ImportState, value: object) -> object:
    """A row key in an issue report: the respondent's pseudonym, never the id."""
    return None if is_missing(value) else s.display.get(str(value), "<pseudonymized>")


def _reported(s: ImportState, issues: pd.DataFrame) -> pd.DataFrame:
    """Issues (numbered by the source's data rows) with pseudonyms for ids, identifying values
    redacted."""
    issues = issues.copy()
    if not len(issues):
        return issues
    issues["respondent_id"] = issues["respondent_id"].map(lambda v: _shown(s, v))
    row_kind = issues["kind"] == "row"
    issues.loc[row_kind, "value"] = issues.loc[row_kind, "value"].map(lambda v: _shown(s, v))
    cell_kind = issues["kind"] == "cell"
    issues.loc[cell_kind, "value"] = issues.loc[cell_kind, "value"].map(plain_number)
    column_kind = issues["kind"] == "column"  # a header that is an address: redacted
    issues.loc[column_kind, "column"] = issues.loc[column_kind, "column"].map(
        lambda c: c if is_missing(c) else shown_name(str(c))
    )
    issues = redact_issues(issues)
    if not s.plan.id_column:
        issues["respondent_id"] = None
    return issues


def _formula_cells(s: ImportState) -> dict[str, tuple[tuple[int, str], ...]]:
    """The source's formula cells without a value, under the names validation reads them by."""
    cells = s.table.formula_cells
    named = {item_id: cells[col] for item_id, col in s.plan.items.items() if col in cells}
    for col in [*s.waves, *s.groups, *s.qis, *([s.plan.id_column] if s.plan.id_column else [])]:
        if col in cells:
            named[col] = cells[col]
    return named


def validate(s: ImportState) -> None:
    """Validate with the scoring engine's own reader, so issues read as ``surveytool score``'s."""
    n = len(s.frame)
    validation: dict[str, object] = dict(s.item_values)
    carried = [*s.waves, *s.groups, *s.qis]
    for col in carried:
        values = s.frame[col]
        if col in s.table.value_labels:
            values = labels_to_text(values, s.table.value_labels[col])
        validation[col] = values.reset_index(drop=True)
    if s.plan.id_column:
        validation[s.plan.id_column] = pd.Series(s.row_keys, dtype=object)
    skipped = {*validation, *s.plan.shadowed, *s.table.repeated_columns}  # repeats: warned
    positions = np.flatnonzero(s.decisions.roles == "unmatched")  # as duplicate_column instead
    unmatched: list[str] = []
    more = 0
    for at, column in enumerate(s.decisions.columns[positions].tolist()):
        if column in skipped:
            continue
        if len(unmatched) == COLUMNS_LISTED:  # the rest counted in one line, not one each
            more = sum(c not in skipped for c in s.decisions.columns[positions[at:]].tolist())
            break
        unmatched.append(column)
    frame = pd.DataFrame(validation, index=pd.RangeIndex(n))
    if unmatched:  # their names only: one block of empty cells, not a column each
        empty = np.full((n, len(unmatched)), None, dtype=object)
        names = pd.DataFrame(empty, index=frame.index, columns=pd.Index(unmatched, dtype=object))
        frame = pd.concat([frame, names], axis=1)
    s.responses = read_responses(
        s.instrument,
        frame,
        id_column=s.plan.id_column,
        group_columns=carried,
        ignore_columns=(),
        formula_cells=_formula_cells(s),
        row_numbers=s.table.source_rows,
    )
    s.issues = _reported(s, s.responses.issues)
    if more:
        s.issues = concat_issues([s.issues, _more_unmatched(s, more)])
    s.excluded_issues = concat_issues(
        [
            issues_for_rows(
                "row_excluded",
                [
                    (row, col, None, None, why)
                    for row, col, why in (*s.table.excluded_rows, *s.filtered_rows)
                ],
            ),
            s.unanswered_issues,
        ]
    )
    s.report.rows_invalid_id = s.responses.rows_quarantined
    if s.strict and len(s.issues):
        _refuse(s)


def _more_unmatched(s: ImportState, more: int) -> pd.DataFrame:
    """One quarantine line for the unmatched columns past the first :data:`COLUMNS_LISTED`
    (each has its line up to there): how many, and where every one is named."""
    where = (
        f"; the columns file {sidecar_paths(s.output)['columns'].name} names each"
        if s.output is not None
        else ""
    )
    return issue_frame(
        [
            issue_record(
                "unmatched_column",
                f"and {more:,} more column(s) that match no item of {s.instrument.id}; "
                f"ignored{where}",
                value=str(more),
            )
        ]
    )


def _refuse(s: ImportState) -> None:
    """``strict``: write the quarantine report and raise, importing nothing."""
    report = s.report
    report.issues = concat_issues([s.issues, s.excluded_issues])
    if s.output is not None:
        earlier = s.existing.ledger.imports if s.existing is not None else []
        quarantine = add_to_quarantine(s.output, report, batch=None, earlier=earlier)
        if quarantine is not None:
            report.written.append(str(quarantine))
    where = f"; the report is in {report.written[-1]}" if report.written else ""
    message = Phrase(
        f"{len(s.issues)} problem(s) in {s.table.path.name} (",
        Param("strict", True),
        f"); nothing was imported{where}",
    )
    raise InvalidResponsesError(message, report.issues)


def generalize(s: ImportState) -> None:
    """The new rows: pseudonym, waves, groups, generalized quasi-identifiers, item codes."""
    responses = s.responses
    pseudonyms = [s.pseudonym_of_row[p] for p in responses.rows - 1]
    new = pd.DataFrame({PSEUDONYM_COLUMN: pd.Series(pseudonyms, dtype=object)})
    for col in [*s.waves, *s.groups]:
        text = as_text(responses.groups[col])
        new[col] = text.astype(object).where(text.notna(), None).to_numpy()
    s.generalized = {}
    for col, qspec in s.qis.items():
        values, unreadable = generalize_column(
            responses.groups[col], qspec, respondents=[p or "" for p in pseudonyms], key=s.secret
        )
        new[col] = values.astype(object).where(values.notna(), None).to_numpy()
        s.generalized[col] = Generalized(col, qspec.generalize, qspec.describe(), unreadable)
        if unreadable:
            s.warn(
                "unreadable_quasi_identifier",
                col,
                f"{col}: {unreadable} value(s) could not be read for {qspec.generalize} and are missing",
            )
    items = pd.DataFrame(responses.values, columns=list(responses.item_ids), copy=False)
    new = pd.concat([new, items], axis=1)
    s.report.warnings += item_rest_warnings(s.instrument, responses.item_ids, responses.values)
    s.new = new


def deduplicate(s: ImportState) -> None:
    """Set aside rows the cohort's ledger already holds; the rest become the next batch."""
    report, table = s.report, s.table
    s.ledger = s.existing.ledger if s.existing is not None else Ledger()
    earlier = s.ledger.file_entry(table.sha256)
    s.first_time = earlier is None
    if earlier is not None:
        report.already_imported = True
        report.notes.append(
            f"this file (sha256 {table.sha256[:12]}...) was imported before as batch "
            f"{earlier.batch} on {earlier.imported_at}; rows already in the cohort "
            "are not added again"
        )
    new_keys = row_keys(s.new[PSEUDONYM_COLUMN].tolist(), [s.new[w].tolist() for w in s.waves])
    duplicate = s.ledger.known(new_keys)
    report.duplicates = int(duplicate.sum())
    report.batch = s.ledger.next_batch
    s.new[BATCH_COLUMN] = report.batch
    s.fresh = s.new.loc[~duplicate].reset_index(drop=True)
    s.fresh_keys = [kk for kk, dup in zip(new_keys, duplicate, strict=True) if not dup]
    s.fresh_rows = s.table.source_rows[s.responses.rows - 1][~duplicate]


def _combined(s: ImportState) -> tuple[pd.DataFrame, int]:
    """The cohort so far and the fresh rows in one table; how many rows were there before."""
    columns = s.layout.columns()
    if s.existing is None:
        return s.fresh[columns].reset_index(drop=True), 0
    check_layout(s.existing, s.layout)
    stored_k = s.existing.metadata.k
    if s.k is None and isinstance(stored_k, int):
        s.k = stored_k  # a cohort made k-anonymous stays so
        s.report.notes.append(
            Phrase(f"k = {s.k} from the cohort file (it was made with ", Param("k", s.k), ")")
        )
    old = s.existing.frame[columns].reset_index(drop=True)
    return pd.concat([old, s.fresh[columns]], ignore_index=True), len(old)


def _merge_small(s: ImportState, combined: pd.DataFrame) -> None:
    """Categories too small over the whole cohort become ``other`` (generalize: merge)."""
    for col, qspec in s.qis.items():
        if qspec.generalize == "merge":
            merged, categories, merged_rows = merge_small_categories(combined[col], qspec)
            combined[col] = merged
            before = s.generalized[col]
            s.generalized[col] = Generalized(
                col, before.method, before.description, before.unreadable, categories, merged_rows
            )


def k_anonymity(s: ImportState) -> None:
    """Combine with the cohort, merge small categories, suppress classes smaller than k."""
    report, qis = s.report, s.qis
    inst = s.instrument
    s.layout = Layout(
        instrument_id=inst.id,
        instrument_version=inst.version,
        instrument_hash=inst.content_hash,
        key_fingerprint=s.secret.fingerprint,
        item_columns=tuple(s.responses.item_ids),
        wave_columns=tuple(s.waves),
        group_columns=tuple(s.groups),
        quasi_identifiers={c: q.model_dump(mode="json") for c, q in qis.items()},
    )
    combined, n_old = _combined(s)
    _merge_small(s, combined)
    combined, keep, sizes, s.kanon = enforce_k(
        combined, list(qis), s.k, PSEUDONYM_COLUMN, method=s.loaded.mapping.k_suppression
    )
    for col, n in s.kanon.blanked.items():
        s.warn(
            "local_suppression",
            col,
            f"{col}: {n} value(s) blanked for k-anonymity (local suppression), so those "
            "respondents are kept",
        )
    for col, categories in s.kanon.lost_categories.items():
        s.warn(
            "category_lost",
            col,
            f"{col}: the categor{'y' if len(categories) == 1 else 'ies'} "
            f"{', '.join(map(repr, categories))} no longer appear in the cohort (k-anonymity); "
            "analyses by this column cannot show them; merge small categories "
            "(generalize: merge) to keep their respondents under a wider category",
        )
    s.suppressed_old = int((~keep[:n_old]).sum())
    suppressed_new = ~keep[n_old:]
    report.rows_suppressed = int(suppressed_new.sum())
    suppressed_issues = issues_for_rows(
        "row_suppressed",
        [
            (
                int(s.fresh_rows[i]),
                ", ".join(qis),
                str(s.fresh[PSEUDONYM_COLUMN].iat[int(i)]),
                None,
                f"suppressed for k-anonymity: its class over the quasi-identifiers has "
                f"{int(sizes[n_old + i])} respondent(s), fewer than k = {s.k}",
            )
            for i in np.flatnonzero(suppressed_new)
        ],
    )
    s.final = combined.loc[keep].reset_index(drop=True)
    report.rows_imported = len(s.fresh) - report.rows_suppressed
    report.settle_counts()
    report.issues = concat_issues([s.issues, s.excluded_issues, suppressed_issues])
    report.cohort_rows = len(s.final)
    if qis and s.kanon.smallest is not None and s.k is None and s.kanon.smallest < 5:
        report.warnings.append(
            ImportWarning(
                "small_class",
                None,
                Phrase(
                    f"the smallest class over the quasi-identifiers ({', '.join(qis)}) has "
                    f"{s.kanon.smallest} record(s): those respondents may be recognizable; "
                    "consider ",
                    Param("k", 5),
                ),
            )
        )
    s.disclosure = DisclosureReport(
        dropped=s.decisions.dropped,
        kept=s.decisions.kept_columns,
        id_column=s.plan.id_column,
        key_fingerprint=s.secret.fingerprint,
        generalized=[s.generalized[c] for c in qis],
        k_anonymity=s.kanon,
        suppressed_existing=s.suppressed_old,
        rows=len(s.final),
        notes=list(s.secret.notes),
    )
    if not s.plan.id_column:
        s.disclosure.notes.append("no respondent id column: pseudonyms are made from file and row")


def _entry(s: ImportState) -> ImportEntry:
    return ledger_entry(
        s.report, mapping_sha256=s.loaded.sha256, suppressed_from_existing=s.suppressed_old, k=s.k
    )


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text, secret=True)  # beside the cohort: owner only, like it


def _nothing_imported(s: ImportState) -> None:
    """Fail loudly when no row of the file is a respondent (the quarantine report says why)."""
    report = s.report
    where = ""
    if s.output is not None and len(report.issues):
        quarantine = add_to_quarantine(s.output, report, batch=None, earlier=list(s.ledger.imports))
        report.written.append(str(quarantine))
        where = f"; each row and its reason is in {quarantine}"
    reasons = dict(report.excluded_by_status)
    if report.rows_unanswered:
        reasons["no item answered"] = report.rows_unanswered
    if report.rows_invalid_id:
        reasons["empty or repeated id"] = report.rows_invalid_id
    why = ", ".join(f"{n} {k}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    raise AnalysisError(
        f"nothing to import from {s.table.path.name}: none of its {report.rows_read} row(s) is a "
        f"respondent ({why or 'no rows'}){where}; check the file is the survey's responses, "
        "or relax the mapping's filters (qualtrics.keep_status, finished, min_progress, "
        "min_duration; redcap.complete)"
    )


def write(s: ImportState) -> None:
    """Add to the ledger; write the cohort, its disclosure report and the quarantine report."""
    report = s.report
    if report.rows_imported + report.rows_suppressed == 0 and report.duplicates == 0:
        _nothing_imported(s)
    if report.rows_imported == 0 and report.rows_suppressed:
        s.warn(
            "small_class",
            None,
            f"every new row ({report.rows_suppressed}) was suppressed for k-anonymity: "
            "nothing was added; generalize the quasi-identifiers further",
        )
    s.ledger.add_respondents(s.fresh_keys)
    entry = _entry(s)
    report.cohort_changed = report.rows_imported > 0 or s.suppressed_old > 0
    if s.output is None:
        return
    paths = sidecar_paths(s.output)
    earlier = list(s.ledger.imports)
    recorded = report.cohort_changed or s.first_time or s.existing is None
    if recorded:
        s.ledger.imports.append(entry)
        needed = columns_file_needed(s.disclosure)
        s.disclosure.columns_file = paths["columns"].name if needed else None
        metadata = CohortMetadata.model_validate(
            {
                **provenance(s.instrument).as_metadata(),
                **s.layout.model_dump(),
                "k": s.k,
                "ledger": s.ledger,
                "disclosure": s.disclosure.as_dict(),
                "last_import": report.as_dict(),
            }
        )
        # the cohort and its reports are written together: a signal meanwhile waits for all
        # (else the cohort could hold an import its disclosure and quarantine reports lack)
        with held_signals(done="the import was written"):
            if is_dataset_path(s.output):
                written = write_dataset(s.output, s.final, metadata)
            else:
                written = write_table(s.final, s.output, metadata=metadata.as_metadata())
            report.written += [str(p) for p in written]
            disclosure = s.disclosure
            columns = write_columns_file(
                paths["columns"], s.decisions, disclosure.columns_file is not None
            )
            if columns is not None:
                report.written.append(str(columns))
            disclosure_json = json.dumps(disclosure.as_dict(), indent=2) + "\n"
            _write_text(paths["disclosure_json"], disclosure_json)
            _write_text(paths["disclosure_text"], disclosure.format_text())
            report.written += [str(paths["disclosure_json"]), str(paths["disclosure_text"])]
            quarantine = add_to_quarantine(s.output, report, batch=report.batch, earlier=earlier)
            if quarantine is not None and len(report.issues):
                report.written.append(str(quarantine))
    else:
        report.notes.append(f"nothing new: {s.output} is unchanged")


Stage = Callable[[ImportState], None]

#: The stages of an import, in the order they run.
STAGES: tuple[Stage, ...] = (
    read,
    plan,
    classify,
    recode,
    set_aside,
    pseudonymize,
    validate,
    generalize,
    deduplicate,
    k_anonymity,
    write,
)
