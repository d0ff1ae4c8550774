"""The disclosure report of an anonymization: dropped, pseudonymized, generalized, suppressed.

It never holds a value of the data (only column names, counts and methods); it is written beside
every cohort as ``COHORT.disclosure.json`` and ``.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analysis.privacy.generalize import Generalized
from analysis.privacy.identifiers import ColumnDecision
from analysis.privacy.kanonymity import KAnonymity
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN


@dataclass
class DisclosureReport:
    """What anonymization did: dropped, pseudonymized, generalized, suppressed; the resulting k.

    Never holds a value of the data (only column names, counts and methods).
    """

    dropped: list[ColumnDecision] = field(default_factory=list)
    kept: list[ColumnDecision] = field(default_factory=list)
    id_column: str | None = None
    key_fingerprint: str | None = None
    generalized: list[Generalized] = field(default_factory=list)
    k_anonymity: KAnonymity | None = None
    suppressed_existing: int = 0
    rows: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``COHORT.disclosure.json`` file)."""
        return {
            "dropped_columns": [d.as_dict() for d in self.dropped],
            "kept_columns": [d.as_dict() for d in self.kept],
            "pseudonyms": {
                "source_column": self.id_column,
                "output_column": PSEUDONYM_COLUMN,
                "method": "HMAC-SHA-256 with a secret key kept apart from the data; first 128 bits",
                "key_fingerprint": self.key_fingerprint,
            },
            "generalized": [g.as_dict() for g in self.generalized],
            "k_anonymity": None if self.k_anonymity is None else self.k_anonymity.as_dict(),
            "suppressed_from_existing_cohort": self.suppressed_existing,
            "rows": self.rows,
            "notes": list(self.notes),
        }

    def format_text(self) -> str:
        """The readable summary (the ``COHORT.disclosure.txt`` file)."""
        lines = ["Disclosure report", "=================", ""]
        lines.append(f"Rows in the anonymized table: {self.rows}")
        lines.append("")
        lines.append(f"Dropped columns ({len(self.dropped)}): they do not reach the output.")
        for d in self.dropped:
            lines.append(f"  - {d.column}: {d.reason}")
        lines.append("")
        if self.id_column:
            lines.append(
                f"Respondent ids ({self.id_column}) replaced by keyed pseudonyms in column "
                f"{PSEUDONYM_COLUMN!r}: HMAC-SHA-256, key fingerprint {self.key_fingerprint}. "
                "The key is not in the output; without it the pseudonyms cannot be recomputed."
            )
        else:
            lines.append(
                f"No respondent id column: column {PSEUDONYM_COLUMN!r} holds keyed pseudonyms of "
                f"file and row (key fingerprint {self.key_fingerprint})."
            )
        lines.append("")
        lines.append(f"Generalized quasi-identifiers ({len(self.generalized)}):")
        for g in self.generalized:
            extra = []
            if g.unreadable:
                extra.append(f"{g.unreadable} unreadable value(s) set to missing")
            if g.merged_categories:
                extra.append(
                    f"{g.merged_categories} small categor{'y' if g.merged_categories == 1 else 'ies'}"
                    f" ({g.merged_rows} row(s)) merged"
                )
            tail = f" ({'; '.join(extra)})" if extra else ""
            lines.append(f"  - {g.column}: {g.description}{tail}")
        lines.append("")
        kanon = self.k_anonymity
        if kanon is None or not kanon.quasi_identifiers:
            lines.append("k-anonymity: no quasi-identifiers declared, so none was assessed.")
        else:
            lines.append(f"k-anonymity over {', '.join(kanon.quasi_identifiers)}:")
            lines.append(
                f"  smallest equivalence class before suppression: {kanon.smallest_before}"
            )
            if kanon.k_requested is not None:
                lines.append(
                    f"  k requested: {kanon.k_requested} ({kanon.method} suppression); values "
                    f"blanked: {sum(kanon.blanked.values())}; records suppressed: "
                    f"{kanon.suppressed}"
                    + (
                        f" (and {self.suppressed_existing} from the existing cohort)"
                        if self.suppressed_existing
                        else ""
                    )
                )
            smallest = (
                "none (every record was suppressed)" if kanon.smallest is None else kanon.smallest
            )
            lines.append(f"  resulting k (smallest class): {smallest}; classes: {kanon.classes}")
            for col, n in kanon.blanked.items():
                lines.append(f"  {col}: {n} value(s) blanked (local suppression)")
            for col, lost in kanon.lost_categories.items():
                lines.append(f"  {col}: categories no longer in the cohort: {', '.join(lost)}")
        if self.notes:
            lines.append("")
            lines.append("Notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines) + "\n"
