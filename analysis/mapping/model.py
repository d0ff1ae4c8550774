"""The mapping file's content as pydantic models, and where each value sits in the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis.errors import MappingError
from analysis.privacy.generalize import QuasiIdentifier
from surveytool.problems import CODES, Loc, Problem, Report

HINTS: dict[str, str] = {
    # the one code list (surveytool.problems.CODES), with a mapping file's own words where the
    # instrument files' hint would mislead
    **CODES,
    "file_unreadable": "Check the path and that the file is readable UTF-8 text.",
    "not_a_mapping": "A mapping file is a YAML mapping with keys such as items, recode, groups.",
    "unknown_field": (
        "Known keys: instrument, format, sheet, id_column, items, recode, groups, waves, "
        "quasi_identifiers, identifiers, drop, unmatched, qualtrics, redcap, k_suppression, "
        "wide_waves, missing."
    ),
    "unknown_item": "Use an item id of the instrument.",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Scalar = str | int | float


class RecodeRule(_Model):
    """How one or all items' raw values become codes (see the module docstring)."""

    items: Literal["all"] | tuple[str, ...]
    offset: int | None = None
    map: dict[Scalar, int | None] | None = None
    missing: tuple[Scalar, ...] = ()

    @model_validator(mode="after")
    def _does_something(self) -> RecodeRule:
        if self.offset is None and not self.map and not self.missing:
            raise ValueError("a recode rule needs offset, map or missing")
        return self

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing value(s)")
        if self.map:
            parts.append(f"{len(self.map)} value(s) mapped")
        if self.offset:
            parts.append(f"offset {self.offset:+d}")
        return ", ".join(parts)


class QualtricsOptions(_Model):
    """Qualtrics-only settings: which responses are respondents."""

    keep_status: tuple[str, ...] = Field(
        default=(), description="Status values kept besides ordinary responses ('IP Address'/0)."
    )
    finished: bool = Field(
        default=False, description="Keep only finished responses (Finished = 1 / True)."
    )
    min_progress: float | None = Field(
        default=None, ge=0, le=100, description="Keep responses with Progress at least this (%)."
    )
    min_duration: float | None = Field(
        default=None,
        ge=0,
        description="Keep responses that took at least this many seconds (speeders left out).",
    )
    qsf: str | None = Field(
        default=None,
        description="The survey definition (.qsf), relative to the mapping file: question text "
        "and choice recodes.",
    )


#: REDCap's form status codes (``<form>_complete``) and their labels.
REDCAP_STATUS: dict[int, str] = {0: "Incomplete", 1: "Unverified", 2: "Complete"}


class RedcapOptions(_Model):
    """REDCap-only settings."""

    dictionary: str | None = Field(
        default=None,
        description="The project's data dictionary (CSV), relative to the mapping file.",
    )
    complete: tuple[Literal[0, 1, 2, "Incomplete", "Unverified", "Complete"], ...] = Field(
        default=(),
        description="Keep rows whose form status (<form>_complete) is one of these; () keeps all.",
    )

    def kept_codes(self) -> frozenset[int]:
        by_label = {v: k for k, v in REDCAP_STATUS.items()}
        return frozenset(c if isinstance(c, int) else by_label[c] for c in self.complete)


class WideWaves(_Model):
    """Waves side by side in one row (``s1_q1, s2_q1, ...``), reshaped to a row per wave."""

    pattern: str = Field(
        description="Regular expression with the groups (?P<wave>...) and (?P<column>...)."
    )
    wave_column: str = Field(default="wave", description="Name of the new wave column.")


class CohortMapping(_Model):
    """A mapping file's content."""

    instrument: str | None = None
    format: Literal["csv", "tsv", "xlsx", "sav", "parquet", "qualtrics", "redcap"] | None = None
    sheet: str | int | None = None
    id_column: str | None = None
    items: dict[str, str] = Field(default_factory=dict)
    recode: tuple[RecodeRule, ...] = ()
    groups: tuple[str, ...] = ()
    waves: tuple[str, ...] | None = None
    wide_waves: WideWaves | None = None
    missing: dict[str, tuple[Scalar, ...]] = Field(
        default_factory=dict,
        description="Missing codes of group, wave and quasi-identifier columns (e.g. 999).",
    )
    quasi_identifiers: dict[str, QuasiIdentifier] = Field(default_factory=dict)
    identifiers: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    unmatched: Literal["warn", "drop"] = Field(
        default="warn",
        description="Columns the mapping names nowhere and that match no item: warn (a warning "
        "and a quarantine line each) or drop (dropped as if listed under drop:, counted once; "
        "what map-template writes for a file of very many columns).",
    )
    qualtrics: QualtricsOptions = Field(default_factory=QualtricsOptions)
    redcap: RedcapOptions = Field(default_factory=RedcapOptions)
    k_suppression: Literal["local", "records"] = Field(
        default="local",
        description="k-anonymity: blank single quasi-identifier values first (local), or "
        "suppress whole records (records).",
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_keys_are_empty(cls, data: object) -> object:
        """A list or table key left empty in YAML (``drop:`` with nothing under it, as after
        moving its only entry to ``groups``) means an empty list or table, not an error."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None and k in _EMPTY_MEANS_NONE)}
        return data


_EMPTY_MEANS_NONE = frozenset(
    {
        "items",
        "recode",
        "groups",
        "missing",
        "quasi_identifiers",
        "identifiers",
        "drop",
        "qualtrics",
        "redcap",
    }
)


@dataclass(frozen=True)
class LoadedMapping:
    """A validated mapping with where each value sits in its file (for located errors)."""

    mapping: CohortMapping
    file: str | None = None
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    sha256: str | None = None

    @property
    def id_column_set(self) -> bool:
        """Whether the file sets ``id_column`` (``null`` there means: no id column)."""
        return "id_column" in self.mapping.model_fields_set

    def problem(self, code: str, loc: Loc, message: str, hint: str | None = None) -> Problem:
        """A problem located at ``loc`` (or the nearest enclosing value found in the file)."""
        found = loc
        while found and found not in self.positions:
            found = found[:-1]
        line, column = self.positions.get(found, (None, None))
        return Problem(
            code=code,
            loc=loc,
            message=message,
            hint=HINTS.get(code, "") if hint is None else hint,
            file=self.file,
            line=line,
            column=column,
        )

    def fail(self, problems: Sequence[Problem]) -> MappingError:
        ordered = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        return MappingError(Report(file=self.file or "<mapping>", problems=list(ordered)))
