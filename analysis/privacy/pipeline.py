"""Anonymize one table: the steps ``surveytool cohort import`` applies on the way in, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.cells import as_text
from analysis.privacy.disclosure import DisclosureReport
from analysis.privacy.generalize import (
    Generalized,
    QuasiIdentifier,
    generalize_column,
    merge_small_categories,
)
from analysis.privacy.identifiers import classify_columns
from analysis.privacy.kanonymity import KSuppression, enforce_k
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN, PseudonymKey, load_key
from surveytool.responses import id_text


@dataclass(frozen=True)
class Anonymized:
    """An anonymized table and its disclosure report."""

    frame: pd.DataFrame
    disclosure: DisclosureReport


def anonymize(
    frame: pd.DataFrame,
    *,
    key: PseudonymKey | bytes | str | Path,
    id_column: str | None = None,
    keep: Sequence[str] = (),
    groups: Sequence[str] = (),
    quasi_identifiers: Mapping[str, QuasiIdentifier | Mapping[str, Any]] | None = None,
    identifiers: Sequence[str] = (),
    k: int | None = None,
    k_suppression: KSuppression = "local",
) -> Anonymized:
    """Anonymize one table: the same steps ``surveytool cohort import`` applies on the way in.

    Parameters
    ----------
    frame
        One row per respondent.
    key
        A :class:`PseudonymKey`, raw key bytes, or the path of a key file (created when missing).
    id_column
        Respondent id column, replaced by :data:`PSEUDONYM_COLUMN`. Without it, pseudonyms are
        made from the row number, so they only link rows within this table.
    keep
        Columns kept as they are (for example item answers already validated as codes).
    groups
        Columns kept unless they look like direct identifiers.
    quasi_identifiers
        Column -> :class:`QuasiIdentifier` (or a mapping such as ``{"generalize": "year"}``).
    identifiers
        Columns declared direct identifiers (dropped). Every column not named in ``keep``,
        ``groups`` or ``quasi_identifiers`` is dropped too, with the reason in the report.
    k
        Protect every equivalence class over the quasi-identifiers to ``k`` respondents.
    k_suppression
        ``local`` (default): blank single quasi-identifier values first, suppress only records no
        blanking protects; ``records``: suppress whole records in small classes.

    Returns
    -------
    Anonymized
        ``frame``: pseudonym, groups, quasi-identifiers (generalized), then the ``keep`` columns;
        ``disclosure``: the report.
    """
    from analysis.errors import AnalysisError

    secret = load_key(key)
    specs = {
        name: spec if isinstance(spec, QuasiIdentifier) else QuasiIdentifier.model_validate(spec)
        for name, spec in (quasi_identifiers or {}).items()
    }
    for col in [*keep, *groups, *specs, *identifiers, *([id_column] if id_column else [])]:
        if col not in frame.columns:
            raise AnalysisError(
                f"column {col!r} is not in the table; its columns are: "
                f"{', '.join(map(str, frame.columns[:30]))}"
            )
    decisions = classify_columns(
        frame,
        items=keep,
        id_column=id_column,
        groups=groups,
        quasi_identifiers=specs,
        identifiers=identifiers,
    )
    kept = {d.column for d in decisions if d.kept}
    if id_column:
        raw_ids = [None if pd.isna(v) else str(v) for v in id_text(frame[id_column])]
    else:
        raw_ids = [f"row:{i + 1}" for i in range(len(frame))]
    pseudonyms = secret.pseudonyms(raw_ids)
    out = pd.DataFrame({PSEUDONYM_COLUMN: pd.Series(pseudonyms, dtype=object)})
    for col in groups:
        if col in kept:
            out[col] = as_text(frame[col]).astype(object).where(frame[col].notna(), None).values
    report = DisclosureReport(id_column=id_column, key_fingerprint=secret.fingerprint)
    active_qis = [c for c in specs if c in kept]
    for col in active_qis:
        spec = specs[col]
        values, unreadable = generalize_column(
            frame[col].reset_index(drop=True), spec, respondents=pseudonyms, key=secret
        )
        merged_categories = merged_rows = 0
        if spec.generalize == "merge":
            values, merged_categories, merged_rows = merge_small_categories(values, spec)
        out[col] = values.values
        report.generalized.append(
            Generalized(
                col, spec.generalize, spec.describe(), unreadable, merged_categories, merged_rows
            )
        )
    for col in keep:
        out[col] = frame[col].to_numpy()
    out, keep_mask, _sizes, kanon = enforce_k(
        out, active_qis, k, PSEUDONYM_COLUMN, method=k_suppression
    )
    out = out.loc[keep_mask].reset_index(drop=True)
    report.dropped = [d for d in decisions if not d.kept]
    report.kept = [d for d in decisions if d.kept]
    report.k_anonymity = kanon
    report.rows = len(out)
    report.notes.extend(secret.notes)
    return Anonymized(frame=out, disclosure=report)
