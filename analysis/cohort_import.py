"""Importing a cohort: source file -> mapped, validated, anonymized Parquet cohort with reports.

One function, :func:`import_cohort`, does what ``surveytool cohort import`` does:

1. read the source (:mod:`surveytool.io.sources`; the format is detected where it can be and recorded);
2. settle every column's role from the mapping (:mod:`analysis.mapping`), recode item values;
3. decide which columns may reach the output (:func:`analysis.anonymize.classify_columns`);
4. validate the answers with the scoring engine's own :func:`surveytool.responses.read_responses`,
   so every invalid cell is reported exactly as ``surveytool score`` reports it (row, column, value,
   reason), with rows renumbered to the source's data rows, ids replaced by pseudonyms and values
   that look identifying redacted;
5. pseudonymize, generalize, drop rows already in the cohort (the ledger), enforce k-anonymity;
6. write the cohort (atomically), its disclosure report (JSON and text) and the quarantine report.

The counts always satisfy ``rows read = rows imported + rows quarantined + duplicates``, where
quarantined rows are those set aside: not ordinary responses (Qualtrics previews), an empty or
repeated respondent id, or suppressed for k-anonymity.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.anonymize import (
    PSEUDONYM_COLUMN,
    ColumnDecision,
    DisclosureReport,
    Generalized,
    PseudonymKey,
    as_text,
    classify_columns,
    default_key_path,
    describe_findings,
    enforce_k,
    generalize_column,
    load_key,
    merge_small_categories,
    redact,
)
from analysis.errors import AnalysisError, CohortFileError
from analysis.ledger import (
    BATCH_COLUMN,
    COHORT_FORMAT_VERSION,
    COHORT_KIND,
    Cohort,
    Layout,
    Ledger,
    check_layout,
    read_cohort,
    row_keys,
)
from analysis.mapping import (
    CohortMapping,
    ColumnPlan,
    LoadedMapping,
    RecodeRule,
    apply_recode,
    load_mapping,
    plan_columns,
    spss_labels_are_scale,
)
from surveytool.errors import InvalidResponsesError
from surveytool.instrument import Instrument, ResponseScale
from surveytool.io.files import write_text_atomic
from surveytool.io.sources import SourceTable, read_source
from surveytool.io.tables import write_table
from surveytool.registry import load_instrument
from surveytool.responses import ISSUE_COLUMNS, read_responses
from surveytool.scoring import provenance

#: Fewest rows with answers before an item-rest correlation is worth a warning.
MIN_ROWS_FOR_CORRELATION = 10
#: One-sided 5% point of the standard normal: an item-rest correlation is reported as negative
#: when Fisher's z-test says it is below 0 beyond chance (small samples scatter around 0).
NEGATIVE_Z = 1.6448536269514722


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
    batch: int = 0
    cohort_rows: int = 0
    cohort_changed: bool = False
    key_path: str | None = None
    key_created: bool = False
    written: list[str] = field(default_factory=list)

    def counts_line(self) -> str:
        """``rows read N = rows imported + rows quarantined (breakdown) + duplicates``."""
        parts = []
        if self.rows_excluded:
            parts.append(f"{self.rows_excluded} not ordinary responses")
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
                "empty_or_repeated_id": self.rows_invalid_id,
                "suppressed_k_anonymity": self.rows_suppressed,
            },
            "excluded_by_status": dict(self.excluded_by_status),
            "already_imported": self.already_imported,
            "id_column": self.id_column,
            "id_column_note": self.id_note,
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
    """Files written beside a cohort: disclosure report (JSON, text) and quarantine report."""
    return {
        "disclosure_json": output.with_name(f"{output.stem}.disclosure.json"),
        "disclosure_text": output.with_name(f"{output.stem}.disclosure.txt"),
        "quarantine": output.with_name(f"{output.stem}.quarantine.csv"),
    }


# ---------------------------------------------------------------------------------------------
# steps
# ---------------------------------------------------------------------------------------------
def _exact_numbers(values: pd.Series) -> np.ndarray | None:
    """Cells as float64 when every present cell is a number (pyarrow's cast: fast); else None."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers: np.ndarray = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return numbers
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(values.astype(object).where(values.notna(), None), type=pa.string())
        cast: np.ndarray = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    return cast


def _numbers(values: pd.Series) -> np.ndarray:
    """Cells as float64 (NaN where not a number)."""
    exact = _exact_numbers(values)
    if exact is not None:
        return exact
    converted: np.ndarray = pd.to_numeric(as_text(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return converted


def _labels_to_text(values: pd.Series, labels: Mapping[float, str]) -> pd.Series:
    """SPSS codes that carry a value label replaced by the label text."""
    numbers = _numbers(values)
    out = values.to_numpy(dtype=object, na_value=None).copy()
    for code, label in labels.items():
        out[numbers == code] = label
    return pd.Series(out, index=values.index, dtype=object)


def _spss_item(
    values: pd.Series, labels: Mapping[float, str], scale: ResponseScale, plan_rule: Any
) -> tuple[pd.Series, str | None]:
    """Honour an item's SPSS value labels when they are the scale's labels (or the mapping's).

    With the scale's labels, each labelled code becomes the scale's code for that label (a 0-based
    0..4 coding labelled "Not at all like me".. reads as 1..5); a present code without a label
    cannot be placed and is passed on as ``"<code> (no value label)"``, which validation reports.
    """
    if spss_labels_are_scale(labels, scale):
        by_text = {t.strip().casefold(): float(c) for c, t in scale.labels.items()}
        by_text |= {t.strip().casefold(): np.nan for t in scale.missing_codes.values()}
        numbers = _numbers(values)
        out = np.full(len(numbers), np.nan)
        unlabelled = ~np.isnan(numbers)
        for code, label in labels.items():
            hit = numbers == code
            out[hit] = by_text[label.strip().casefold()]
            unlabelled &= ~hit
        if unlabelled.any():
            mixed = out.astype(object)
            mixed[unlabelled] = [f"{_code_text(x)} (no value label)" for x in numbers[unlabelled]]
            return pd.Series(
                mixed, index=values.index
            ), "SPSS value labels read as the scale's labels"
        return pd.Series(out, index=values.index), "SPSS value labels read as the scale's labels"
    label_texts = {t.strip().casefold() for t in labels.values()}
    if plan_rule is not None and plan_rule.map:
        keys = {str(k).strip().casefold() for k in plan_rule.map if isinstance(k, str)}
        if keys & label_texts:
            return _labels_to_text(values, labels), "SPSS value labels recoded by the mapping"
    return values, None


def _plain_number(value: object) -> object:
    """``"7.0"`` (a whole number read through a float column) as ``"7"``, as it was written."""
    if isinstance(value, str) and value.endswith(".0") and value[:-2].lstrip("-").isdigit():
        return value[:-2]
    return value


def _code_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _off_by_one(item_id: str, numbers: np.ndarray, scale: ResponseScale) -> ImportWarning | None:
    """A warning when an item's numbers sit one below (or above) its scale: 0..4 on 1..5."""
    numbers = numbers[~np.isnan(numbers) & ~np.isin(numbers, list(scale.missing_codes))]
    if not len(numbers):
        return None
    lo, hi = float(numbers.min()), float(numbers.max())
    if lo == scale.min - 1 and hi <= scale.max - 1:
        shift, how = 1, "one below"
    elif hi == scale.max + 1 and lo >= scale.min + 1:
        shift, how = -1, "one above"
    else:
        return None
    return ImportWarning(
        "off_by_one",
        item_id,
        f"{item_id}: observed {lo:g}..{hi:g} on a {scale.min}..{scale.max} scale: looks coded from "
        f"{how} the scale; add a recode rule with offset: {shift:+d} (values off the scale are "
        "reported as invalid and read as missing)",
    )


def _item_rest_warnings(
    instrument: Instrument, item_ids: Sequence[str], values: np.ndarray
) -> list[ImportWarning]:
    """Items whose corrected item-total (item-rest) correlation is negative, per subscale.

    r_drop(i) = (Σ_j C_ij − C_ii) / √(C_ii · ΣC[−i,−i]) on the keyed items (FORMULAS.md), C the
    pairwise-complete covariance matrix (pandas ``DataFrame.cov``). In R:
    ``psych::alpha(x, check.keys = FALSE)$item.stats$r.drop``. Only correlations below zero beyond
    chance are reported (Fisher z-test, one-sided 5%), so small samples do not raise false alarms.
    """
    position = {item: j for j, item in enumerate(item_ids)}
    keyed = values.copy()
    for item, j in position.items():
        definition = instrument.item_by_id[item]
        if definition.reverse:
            scale = instrument.scale_of(item)
            keyed[:, j] = scale.min + scale.max - keyed[:, j]
    warnings: list[ImportWarning] = []
    for sub in instrument.subscales:
        members = [i for i in sub.items if i in position]
        if len(members) < 3:
            continue
        block = pd.DataFrame(keyed[:, [position[i] for i in members]], columns=members)
        if int(block.notna().any(axis=1).sum()) < MIN_ROWS_FOR_CORRELATION:
            continue
        cov = block.cov(min_periods=MIN_ROWS_FOR_CORRELATION).to_numpy()
        if np.isnan(cov).any():
            continue
        total = cov.sum()
        for i, item in enumerate(members):
            rest_var = total - 2 * cov[i].sum() + cov[i, i]
            denominator = cov[i, i] * rest_var
            if denominator <= 0:
                continue
            r_drop = (cov[i].sum() - cov[i, i]) / np.sqrt(denominator)
            n_item = int(block[item].notna().sum())
            if n_item < MIN_ROWS_FOR_CORRELATION or not -1 < r_drop < 0:
                continue
            # negative beyond chance: Fisher z = atanh(r)·√(n − 3) below the one-sided 5% point
            if np.arctanh(r_drop) * np.sqrt(n_item - 3) < -NEGATIVE_Z:
                reversed_ = instrument.item_by_id[item].reverse
                likely = (
                    "reversed twice (already reversed in the source?)"
                    if reversed_
                    else "not reversed (a reverse-keyed wording?)"
                )
                warnings.append(
                    ImportWarning(
                        "negative_item_rest",
                        item,
                        f"{item}: item-rest correlation {r_drop:.2f} in subscale {sub.id!r} is "
                        f"negative: probably {likely}; check its keying and the source's coding",
                    )
                )
    return warnings


def _issues_for_rows(
    rows: Sequence[tuple[int, str | None, str | None, str | None, str]],
) -> pd.DataFrame:
    records = [
        {"kind": "row", "row": r, "column": c, "respondent_id": who, "value": v, "reason": why}
        for r, c, who, v, why in rows
    ]
    frame = pd.DataFrame.from_records(records, columns=list(ISSUE_COLUMNS))
    frame = frame.astype({c: "object" for c in ISSUE_COLUMNS if c != "row"})
    frame["row"] = frame["row"].astype("Int64")
    return frame


def _concat_issues(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    kept = [p for p in parts if len(p)]
    if not kept:
        return parts[0].iloc[0:0].copy() if parts else _issues_for_rows([])
    out = pd.concat(kept, ignore_index=True)
    out["row"] = out["row"].astype("Int64")
    return out


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


# ---------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------
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
) -> CohortImport:
    """Import a source file into an anonymized cohort (what ``surveytool cohort import`` does).

    Parameters
    ----------
    source
        CSV/TSV, XLSX, SPSS .sav, Parquet, a Qualtrics CSV/TSV export or a REDCap record export.
    instrument
        A bundled instrument id, a YAML path, or an :class:`~surveytool.instrument.Instrument`.
    output
        The cohort Parquet file. When it exists, new respondents are appended (atomically) and
        rows already in its ledger are counted as duplicates. None: nothing is written.
    mapping
        A mapping file, dict or model (see :mod:`analysis.mapping`); None matches items by name.
    key_file, key
        The pseudonym key: a key file (created, mode 0600, when missing) or a key object/bytes.
        Neither: a key file named after the cohort in the user's data folder
        (:func:`analysis.anonymize.default_key_path`).
    k
        Suppress records until every equivalence class over the quasi-identifiers has ``k`` rows.
    strict
        Raise :class:`~surveytool.errors.InvalidResponsesError` (the issue table attached, and
        written to the quarantine file) when any cell, row or column is invalid; write no cohort.
    format
        ``auto`` or a format name (see :data:`surveytool.io.sources.FORMATS`); overrides the mapping's.
    sheet
        Workbook sheet name or 0-based number; overrides the mapping's.

    Returns
    -------
    CohortImport
        ``frame`` (the whole cohort after this import), ``report`` (:class:`ImportReport`, with
        the issue table) and ``disclosure`` (:class:`~analysis.anonymize.DisclosureReport`).
    """
    inst = load_instrument(instrument if not isinstance(instrument, Path) else str(instrument))
    out_path = Path(output) if output is not None else None
    if out_path is not None and out_path.suffix.lower() not in (".parquet", ".pq"):
        raise CohortFileError(
            f"{out_path}: a cohort is a Parquet file; give an output path ending in .parquet"
        )
    if k is not None and k < 2:
        raise AnalysisError(f"k must be at least 2 (got {k}); k = 1 suppresses nothing")
    loaded = load_mapping(mapping)
    spec = loaded.mapping
    table = read_source(
        source,
        format=format if format != "auto" else (spec.format or "auto"),
        sheet=sheet if sheet is not None else spec.sheet,
        keep_status=spec.qualtrics.keep_status,
        given_by="--format" if format != "auto" else "the mapping's format key",
    )
    plan = plan_columns(table, inst, loaded)
    if not plan.items:
        raise AnalysisError(
            f"no column of {table.path.name} matches an item of {inst.id} (by id, or under "
            "items: in the mapping); write a mapping with: surveytool cohort map-template "
            f"{table.path} --instrument {inst.id} -o mapping.yaml"
        )
    existing = read_cohort(out_path) if out_path is not None else None
    if key is not None:
        secret = load_key(key)
    elif key_file is not None:
        secret = load_key(Path(key_file))
    else:
        if out_path is None:
            raise AnalysisError("give key_file (or key) when importing without an output file")
        secret = load_key(None, default_key_path(out_path))
    return _run(table, inst, loaded, plan, secret, existing, out_path, k, strict)


def _run(
    table: SourceTable,
    inst: Instrument,
    loaded: LoadedMapping,
    plan: ColumnPlan,
    secret: PseudonymKey,
    existing: Cohort | None,
    out_path: Path | None,
    k: int | None,
    strict: bool,
) -> CohortImport:
    report = ImportReport(
        source=table.path.name,
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
        id_column=plan.id_column,
        id_note=plan.id_note,
        items=dict(plan.items),
        key_path=str(secret.path) if secret.path else None,
        key_created=secret.created,
    )
    report.notes += table.notes + list(plan.notes) + secret.notes
    frame = table.frame

    # --- which columns may reach the output ------------------------------------------------
    decisions = classify_columns(
        frame,
        items=plan.items.values(),
        id_column=plan.id_column,
        waves=plan.waves,
        groups=plan.groups,
        quasi_identifiers=plan.quasi_identifiers,
        identifiers=plan.identifiers,
        drop=plan.drop,
        metadata=table.metadata_columns,
        metadata_source=f"the {table.format} export",
        categorical=table.categorical_columns,
    )
    shadowed = set(plan.shadowed)
    decisions = [
        ColumnDecision(
            d.column,
            "unmatched",
            False,
            f"named like item {d.column!r}, which is mapped from {plan.items.get(d.column)!r}",
            d.findings,
        )
        if d.column in shadowed and d.role == "unmatched"
        else d
        for d in decisions
    ]
    by_column = {d.column: d for d in decisions}
    waves = [c for c in plan.waves if by_column[c].kept]
    groups = [c for c in plan.groups if by_column[c].kept]
    qis = {c: s for c, s in plan.quasi_identifiers.items() if by_column[c].kept}
    for d in decisions:
        if d.role in ("wave", "group", "quasi_identifier") and not d.kept:
            report.warnings.append(
                ImportWarning(
                    "declared_column_dropped", d.column, f"{d.column}: {d.reason}; it was dropped"
                )
            )
        elif d.role == "unmatched":
            report.warnings.append(
                ImportWarning(
                    "unmatched_column",
                    d.column,
                    f"column {d.column!r} matches no item of {inst.id} and is not declared; it "
                    "was dropped (list it under drop: in the mapping to say so)",
                )
            )
    if plan.id_column and by_column[plan.id_column].findings:
        report.notes.append(
            "the respondent ids look like "
            + describe_findings(by_column[plan.id_column].findings)
            + ": they are replaced by pseudonyms and never written"
        )

    # --- item values: SPSS labels, recoding, the off-by-one check ---------------------------
    item_values: dict[str, pd.Series] = {}
    for item_id, col in plan.items.items():
        values = frame[col]
        scale = inst.scale_of(item_id)
        rule = plan.rules.get(item_id)
        if col in table.value_labels:
            if rule is not None and spss_labels_are_scale(table.value_labels[col], scale):
                # the labels place the codes: only the rule's missing values still apply
                if rule.missing:
                    values, _ = apply_recode(
                        values, RecodeRule(items=(item_id,), missing=rule.missing)
                    )
                if rule.offset or rule.map:
                    report.warnings.append(
                        ImportWarning(
                            "recode_ignored",
                            item_id,
                            f"{item_id}: its SPSS value labels are the scale's labels and place "
                            "the codes; the recode rule's offset and map are not applied",
                        )
                    )
                rule = None
            values, how = _spss_item(values, table.value_labels[col], scale, rule)
            if how:
                report.recoded[item_id] = how
        if rule is not None:
            values, changed = apply_recode(values, rule)
            what = f"{rule.describe()} ({changed} cell(s) changed)"
            report.recoded[item_id] = (
                f"{report.recoded[item_id]}; {what}" if item_id in report.recoded else what
            )
        exact = _exact_numbers(values)  # all numbers: the scoring engine's fast numeric path
        warning = _off_by_one(item_id, exact if exact is not None else _numbers(values), scale)
        if warning:
            report.warnings.append(warning)
        item_values[item_id] = (
            pd.Series(exact) if exact is not None else values.reset_index(drop=True)
        )
    for item_id in inst.item_by_id:
        if item_id not in plan.items:
            report.warnings.append(
                ImportWarning(
                    "missing_item",
                    item_id,
                    f"item {item_id} has no column in the source; its answers are missing",
                )
            )

    # --- validation by the scoring engine --------------------------------------------------
    n = len(frame)
    validation: dict[str, Any] = dict(item_values)
    carried = [*waves, *groups, *qis]
    for col in carried:
        values = frame[col]
        if col in table.value_labels:
            values = _labels_to_text(values, table.value_labels[col])
        validation[col] = values.reset_index(drop=True)
    wave_text = [
        as_text(frame[w]).astype(object).where(frame[w].notna(), None).tolist() for w in waves
    ]
    if plan.id_column:
        ids = as_text(frame[plan.id_column]).reset_index(drop=True)
        id_values: list[str | None] = [None if pd.isna(v) else str(v) for v in ids]
        keys = [
            None
            if v is None
            else "\x1f".join([v, *("" if w[i] is None else str(w[i]) for w in wave_text)])
            for i, v in enumerate(id_values)
        ]
        validation[plan.id_column] = pd.Series(keys, dtype=object)
        pseudonym_of_row = secret.pseudonyms(id_values)
    else:
        pseudonym_of_row = secret.pseudonyms(f"{table.sha256}:row:{r}" for r in table.source_rows)
        keys = [str(p) for p in pseudonym_of_row]
    for d in decisions:
        if d.role == "unmatched" and d.column not in validation and d.column not in shadowed:
            validation[d.column] = pd.Series(
                [None] * n, dtype=object
            )  # its name only: values never pass
    vframe = pd.DataFrame(validation, index=pd.RangeIndex(n))
    responses = read_responses(
        inst,
        vframe,
        id_column=plan.id_column,
        group_columns=carried,
        ignore_columns=(),
    )
    display = {}
    for i, key_text in enumerate(keys):
        if key_text is None or pseudonym_of_row[i] is None:
            continue
        suffix = "/".join("" if w[i] is None else str(w[i]) for w in wave_text)
        display[key_text] = f"{pseudonym_of_row[i]}@{suffix}" if waves else str(pseudonym_of_row[i])
    issues = responses.issues.copy()
    if len(issues):
        present = issues["row"].notna()
        positions = issues.loc[present, "row"].astype(int).to_numpy() - 1
        issues.loc[present, "row"] = table.source_rows[positions]
        issues["respondent_id"] = issues["respondent_id"].map(
            lambda v: None if v is None or pd.isna(v) else display.get(str(v), "<pseudonymized>")
        )
        row_kind = issues["kind"] == "row"
        issues.loc[row_kind, "value"] = issues.loc[row_kind, "value"].map(
            lambda v: None if v is None or pd.isna(v) else display.get(str(v), "<pseudonymized>")
        )
        cell_kind = issues["kind"] == "cell"
        issues.loc[cell_kind, "value"] = issues.loc[cell_kind, "value"].map(_plain_number)
        issues["value"] = issues["value"].map(redact)
        if not plan.id_column:
            issues["respondent_id"] = None
    excluded_issues = _issues_for_rows(
        [
            (row, "Status", None, None, f"{why}: not an ordinary response; row excluded")
            for row, why in table.excluded_rows
        ]
    )
    report.rows_invalid_id = responses.rows_quarantined
    if strict and len(issues):
        report.issues = _concat_issues([issues, excluded_issues])
        if out_path is not None:
            quarantine = sidecar_paths(out_path)["quarantine"]
            write_table(report.issues, quarantine)
            report.written.append(str(quarantine))
        raise InvalidResponsesError(
            f"{len(issues)} problem(s) in {table.path.name} (--strict); nothing was imported"
            + (f"; the report is in {report.written[-1]}" if report.written else ""),
            report.issues,
        )

    # --- the new rows ----------------------------------------------------------------------
    kept_positions = responses.rows - 1
    pseudonyms = [pseudonym_of_row[p] for p in kept_positions]
    new = pd.DataFrame({PSEUDONYM_COLUMN: pd.Series(pseudonyms, dtype=object)})
    for col in [*waves, *groups]:
        text = as_text(responses.groups[col])
        new[col] = text.astype(object).where(text.notna(), None).to_numpy()
    generalized: dict[str, Generalized] = {}
    for col, qspec in qis.items():
        values, unreadable = generalize_column(
            responses.groups[col], qspec, respondents=[p or "" for p in pseudonyms], key=secret
        )
        new[col] = values.astype(object).where(values.notna(), None).to_numpy()
        generalized[col] = Generalized(col, qspec.generalize, qspec.describe(), unreadable)
        if unreadable:
            report.warnings.append(
                ImportWarning(
                    "unreadable_quasi_identifier",
                    col,
                    f"{col}: {unreadable} value(s) could not be read for {qspec.generalize} and are missing",
                )
            )
    for j, item_id in enumerate(responses.item_ids):
        new[item_id] = responses.values[:, j]
    report.warnings += _item_rest_warnings(inst, responses.item_ids, responses.values)
    new_keys = row_keys(pseudonyms, [new[w].tolist() for w in waves])

    # --- the ledger: rows already in the cohort --------------------------------------------
    ledger = existing.ledger if existing is not None else Ledger()
    earlier = ledger.file_entry(table.sha256)
    if earlier is not None:
        report.already_imported = True
        report.notes.append(
            f"this file (sha256 {table.sha256[:12]}...) was imported before as batch "
            f"{earlier.get('batch')} on {earlier.get('imported_at')}; rows already in the cohort "
            "are not added again"
        )
    duplicate = np.array([ledger.knows(kk) for kk in new_keys], dtype=bool)
    report.duplicates = int(duplicate.sum())
    batch = ledger.next_batch
    report.batch = batch
    new[BATCH_COLUMN] = batch
    fresh = new.loc[~duplicate].reset_index(drop=True)
    fresh_keys = [kk for kk, dup in zip(new_keys, duplicate, strict=True) if not dup]
    fresh_rows = table.source_rows[kept_positions][~duplicate]

    # --- combine, merge small categories, k-anonymity ---------------------------------------
    layout = Layout(
        instrument_id=inst.id,
        instrument_version=inst.version,
        instrument_hash=inst.content_hash,
        key_fingerprint=secret.fingerprint,
        item_columns=tuple(responses.item_ids),
        wave_columns=tuple(waves),
        group_columns=tuple(groups),
        quasi_identifiers={c: s.model_dump(mode="json") for c, s in qis.items()},
    )
    if existing is not None:
        check_layout(existing, layout)
        stored_k = existing.metadata.get("k")
        if k is None and isinstance(stored_k, int):
            k = stored_k  # a cohort made k-anonymous stays so
            report.notes.append(f"k = {k} from the cohort file (it was made with --k {k})")
        old = existing.frame[layout.columns()].reset_index(drop=True)
        combined = pd.concat([old, fresh[layout.columns()]], ignore_index=True)
        n_old = len(old)
    else:
        combined = fresh[layout.columns()].reset_index(drop=True)
        n_old = 0
    for col, qspec in qis.items():
        if qspec.generalize == "merge":
            merged, categories, merged_rows = merge_small_categories(combined[col], qspec)
            combined[col] = merged
            previous = generalized[col]
            generalized[col] = Generalized(
                col,
                previous.method,
                previous.description,
                previous.unreadable,
                categories,
                merged_rows,
            )
    keep, sizes, kanon = enforce_k(combined, list(qis), k, PSEUDONYM_COLUMN)
    suppressed_old = int((~keep[:n_old]).sum())
    suppressed_new_mask = ~keep[n_old:]
    report.rows_suppressed = int(suppressed_new_mask.sum())
    suppressed_issues = _issues_for_rows(
        [
            (
                int(fresh_rows[i]),
                ", ".join(qis),
                fresh.loc[i, PSEUDONYM_COLUMN],
                None,
                f"suppressed for k-anonymity: its class over the quasi-identifiers has "
                f"{int(sizes[n_old + i])} respondent(s), fewer than k = {k}",
            )
            for i in np.flatnonzero(suppressed_new_mask)
        ]
    )
    final = combined.loc[keep].reset_index(drop=True)
    report.rows_imported = len(fresh) - report.rows_suppressed
    report.rows_quarantined = report.rows_excluded + report.rows_invalid_id + report.rows_suppressed
    if report.rows_read != report.rows_imported + report.rows_quarantined + report.duplicates:
        raise RuntimeError(f"row counts do not add up: {report.counts_line()}")  # a bug, not input
    report.issues = _concat_issues([issues, excluded_issues, suppressed_issues])
    report.cohort_rows = len(final)
    if qis and kanon.smallest is not None and k is None and kanon.smallest < 5:
        report.warnings.append(
            ImportWarning(
                "small_class",
                None,
                f"the smallest class over the quasi-identifiers ({', '.join(qis)}) has "
                f"{kanon.smallest} record(s): those respondents may be recognizable; consider --k 5",
            )
        )

    disclosure = DisclosureReport(
        dropped=[d for d in decisions if not d.kept],
        kept=[d for d in decisions if d.kept],
        id_column=plan.id_column,
        key_fingerprint=secret.fingerprint,
        generalized=[generalized[c] for c in qis],
        k_anonymity=kanon,
        suppressed_existing=suppressed_old,
        rows=len(final),
        notes=list(secret.notes),
    )
    if not plan.id_column:
        disclosure.notes.append("no respondent id column: pseudonyms are made from file and row")

    # --- the ledger and the files ------------------------------------------------------------
    ledger.add_respondents(fresh_keys)
    entry = {
        "batch": batch,
        "source": table.path.name,
        "sha256": table.sha256,
        "format": table.format,
        "format_variant": table.variant,
        "format_detected": table.detected,
        "mapping_sha256": loaded.sha256,
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows_read": report.rows_read,
        "rows_imported": report.rows_imported,
        "rows_quarantined": report.rows_quarantined,
        "duplicates": report.duplicates,
        "rows_excluded": report.rows_excluded,
        "rows_invalid_id": report.rows_invalid_id,
        "rows_suppressed": report.rows_suppressed,
        "suppressed_from_existing": suppressed_old,
        "k": k,
    }
    changed = report.rows_imported > 0 or suppressed_old > 0
    first_time = earlier is None
    report.cohort_changed = changed
    if out_path is not None:
        paths = sidecar_paths(out_path)
        if changed or first_time or existing is None:
            ledger.imports.append(entry)
            metadata = {
                "kind": COHORT_KIND,
                "cohort_format_version": COHORT_FORMAT_VERSION,
                **provenance(inst),
                **layout.as_dict(),
                "k": k,
                "ledger": ledger.as_dict(),
                "disclosure": disclosure.as_dict(),
                "last_import": report.as_dict(),
            }
            report.written += [str(p) for p in write_table(final, out_path, metadata=metadata)]
            _write_text(paths["disclosure_json"], json.dumps(disclosure.as_dict(), indent=2) + "\n")
            _write_text(paths["disclosure_text"], disclosure.format_text())
            report.written += [str(paths["disclosure_json"]), str(paths["disclosure_text"])]
        else:
            report.notes.append(f"nothing new: {out_path} is unchanged")
        if len(report.issues):
            write_table(report.issues, paths["quarantine"])
            report.written.append(str(paths["quarantine"]))
        elif paths["quarantine"].exists():
            paths[
                "quarantine"
            ].unlink()  # a report left by an earlier run would describe other data
    return CohortImport(frame=final, report=report, disclosure=disclosure)
