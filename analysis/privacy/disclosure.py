"""The disclosure report of an anonymization: dropped, pseudonymized, generalized, suppressed.

It never holds a value of the data (only column names, counts and methods); it is written beside
every cohort as ``COHORT.disclosure.json`` and ``.txt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from analysis.privacy.generalize import Generalized
from analysis.privacy.identifiers import ColumnDecision, ColumnDecisions
from analysis.privacy.kanonymity import KAnonymity
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN
from surveytool.privacy import redact

#: Dropped columns a report names one by one, for each role and reason; the rest are counted
#: (a file of 10**6 columns that match no item names 100 and counts 999,900), and every column
#: is in the columns file beside the cohort (:attr:`DisclosureReport.columns_file`).
COLUMNS_LISTED: Final = 100


def shown_name(column: str) -> str:
    """A column's name as a report shows it: a name that looks like an identifier (a header
    that is an e-mail address, a person's name) redacted like a cell."""
    return str(redact(column))


@dataclass
class DisclosureReport:
    """What anonymization did: dropped, pseudonymized, generalized, suppressed; the resulting k.

    Never holds a value of the data (only column names, counts and methods).
    """

    dropped: Sequence[ColumnDecision] = field(default_factory=list)
    kept: Sequence[ColumnDecision] = field(default_factory=list)
    id_column: str | None = None
    key_fingerprint: str | None = None
    generalized: list[Generalized] = field(default_factory=list)
    k_anonymity: KAnonymity | None = None
    suppressed_existing: int = 0
    rows: int = 0
    notes: list[str] = field(default_factory=list)
    #: The file that names every column and what became of it, when a report leaves some out.
    columns_file: str | None = None
    _listed: tuple[tuple[int, int], tuple[ColumnDecisions, list[dict[str, Any]]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def listed(self) -> tuple[ColumnDecisions, list[dict[str, Any]]]:
        """The dropped columns named one by one and the counts of the rest
        (:meth:`ColumnDecisions.listed`, :data:`COLUMNS_LISTED` of each role and reason);
        worked out once for the same ``dropped`` (the JSON, the text and the metadata ask)."""
        key = (id(self.dropped), len(self.dropped))
        if self._listed is None or self._listed[0] != key:
            self._listed = (key, ColumnDecisions.of(self.dropped).listed(COLUMNS_LISTED))
        return self._listed[1]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``COHORT.disclosure.json`` file)."""
        listed, left = self.listed()
        return {
            "dropped_columns": [{**d.as_dict(), "column": shown_name(d.column)} for d in listed],
            "dropped_count": len(self.dropped),
            "dropped_not_listed": left,
            "columns_file": self.columns_file if left else None,
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
        listed, left = self.listed()
        for d in listed:
            lines.append(f"  - {shown_name(d.column)}: {d.reason}")
        for rest in left:
            lines.append(f"  - ... and {rest['count']:,} more: {rest['reason']}")
        if left and self.columns_file:
            lines.append(f"  Every column and what became of it is in {self.columns_file}.")
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
