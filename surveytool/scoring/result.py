"""What scoring returns: the scores table, typed per-person records, issues and provenance.

:class:`ScoreResult` (from :func:`~surveytool.scoring.engine.score_responses`) holds the scores
table, the issue frame of the responses (coded, see :mod:`surveytool.problems`) and the
:class:`Provenance`. Consumers that show one person's results (the personal report, the clinic,
the tour) read :class:`PersonScores` records from :meth:`ScoreResult.person`, never the table's
column names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from surveytool.problems import Problem, is_missing, issue_problems
from surveytool.safety.checks import CheckOutcomes, CriticalHit

if TYPE_CHECKING:
    from surveytool.responses import Responses


class Status(StrEnum):
    """Whether a scale could be scored: enough answers (``ok``) or too few (``insufficient``)."""

    ok = "ok"
    insufficient = "insufficient"


#: The ``<id>_status`` categories of a scores table, in code order (``ok`` is code 0).
STATUS_CATEGORIES: tuple[str, ...] = (Status.ok.value, Status.insufficient.value)

#: The suffix of a scores table's column per check: ``<check id>_check`` (levels none, support,
#: alert; see :mod:`surveytool.safety.checks`).
CHECK_SUFFIX = "_check"

ScaleKind = Literal["subscale", "composite"]


class Provenance(BaseModel):
    """Enough to trace and re-score a score: the instrument's id, version, content hash and form.

    One frozen model, stored the same way everywhere: as the metadata of score files
    (:meth:`as_metadata`), on the clinic's administrations and on the personal store's saved results.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_id: str
    instrument_version: str
    instrument_hash: str
    form: str | None = None
    surveytool_version: str

    def as_metadata(self) -> dict[str, str | None]:
        """Every field as a plain mapping: the metadata of score files (Parquet, JSON, sidecar)."""
        return {key: value for key, value in self.model_dump(mode="json").items()}

    def record_fields(self) -> dict[str, str | None]:
        """The fields a stored record keeps in its own columns (the clinic's administrations, the
        personal store's results): instrument id, version, hash and form."""
        return {
            "instrument_id": self.instrument_id,
            "instrument_version": self.instrument_version,
            "instrument_hash": self.instrument_hash,
            "form": self.form,
        }


@dataclass(frozen=True)
class ScaleScore:
    """One subscale or composite of one person."""

    id: str
    kind: ScaleKind
    score: float | None
    answered: int
    status: Status
    band: str | None
    t: float | None = None
    percentile: float | None = None
    percentile_source: str | None = None
    norm_group: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.ok


@dataclass(frozen=True)
class PersonScores:
    """One scored respondent: every scale scored by the form, and the checks met (the hits, with
    their level: ``support`` or ``alert``)."""

    respondent_id: str | int
    row: int
    scales: tuple[ScaleScore, ...]
    critical: tuple[CriticalHit, ...]

    @property
    def by_id(self) -> dict[str, ScaleScore]:
        return {s.id: s for s in self.scales}

    @property
    def alerts(self) -> tuple[CriticalHit, ...]:
        """The hits at level ``alert`` (a clinic alert each)."""
        return tuple(h for h in self.critical if h.alert)

    def values(self) -> dict[str, float | None]:
        """Scale id -> score (None when not scored), e.g. to save or to compare over time."""
        return {s.id: s.score for s in self.scales}


@dataclass(frozen=True)
class ScaleColumns:
    """One scale's scores over all scored rows, as arrays (the table is assembled from these)."""

    id: str
    kind: ScaleKind
    score: np.ndarray
    answered: np.ndarray
    band: pd.Categorical[str]
    norms: Mapping[str, np.ndarray] | None = None

    @property
    def scored(self) -> np.ndarray:
        """Which rows have a score (status ``ok``); the others are ``insufficient``."""
        return np.asarray(~np.isnan(self.score))


@dataclass(frozen=True)
class ScoreResult:
    """Scores with everything needed to trust them.

    ``scores``: one row per scored respondent: the id column, group columns, then per subscale and
    composite ``<id>``, ``<id>_n``, ``<id>_status``, ``<id>_band`` (and with norms ``<id>_t``,
    ``<id>_percentile``, ``<id>_percentile_source``, ``<id>_norm_group``), then per check
    ``<check id>_check`` (categorical: none, support, alert).
    ``issues``: every invalid cell, unknown or missing column and quarantined row, as an issue frame
    (coded, see :mod:`surveytool.problems`). ``person(i)`` gives the typed record of row ``i``.
    """

    scores: pd.DataFrame
    issues: pd.DataFrame
    provenance: Provenance
    rows_read: int
    rows_scored: int
    rows_quarantined: int
    responses: Responses = field(repr=False)
    scales: tuple[ScaleColumns, ...] = field(default=(), repr=False)
    checks: CheckOutcomes | None = field(default=None, repr=False)

    def counts_line(self) -> str:
        return (
            f"rows read {self.rows_read} = rows scored {self.rows_scored} + rows quarantined "
            f"{self.rows_quarantined}"
        )

    def __repr__(self) -> str:
        """One line: what was scored, the counts, the tables' sizes and the issues by code."""
        p = self.provenance
        form = f", form {p.form}" if p.form else ""
        codes: dict[str, int] = {}
        if len(self.issues):
            counts = self.issues["code"].astype("string").value_counts()
            codes = {str(code): int(n) for code, n in counts.items()}
        issues = ", ".join(f"{n} {code}" for code, n in sorted(codes.items()))
        return (
            f"ScoreResult({p.instrument_id} {p.instrument_version}{form}: {self.counts_line()}; "
            f"scores <DataFrame {self.scores.shape[0]}x{self.scores.shape[1]}>; "
            f"issues {len(self.issues)}{f' ({issues})' if issues else ''})"
        )

    @property
    def problems(self) -> list[Problem]:
        """The issues as :class:`~surveytool.problems.Problem` objects (code, row, field, hint)."""
        return issue_problems(self.issues)

    def person(self, i: int = 0) -> PersonScores:
        """The typed record of the ``i``-th scored respondent (0-based, in table order)."""
        if not 0 <= i < self.rows_scored:
            raise IndexError(f"person {i} of {self.rows_scored} scored respondents")
        scales = []
        for col in self.scales:
            value = float(col.score[i])
            ok = not np.isnan(value)
            band = col.band[i] if ok else None
            norms = col.norms or {}
            scales.append(
                ScaleScore(
                    id=col.id,
                    kind=col.kind,
                    score=value if ok else None,
                    answered=int(col.answered[i]),
                    status=Status.ok if ok else Status.insufficient,
                    band=None if is_missing(band) else str(band),
                    t=_number(norms.get("t"), i),
                    percentile=_number(norms.get("percentile"), i),
                    percentile_source=_text(norms.get("percentile_source"), i),
                    norm_group=_text(norms.get("norm_group"), i),
                )
            )
        ident = self.responses.ids.iloc[i]
        return PersonScores(
            respondent_id=ident if isinstance(ident, str) else int(ident),
            row=int(self.responses.rows[i]),
            scales=tuple(scales),
            critical=self.checks.hits[i] if self.checks is not None else (),
        )

    def people(self) -> Iterator[PersonScores]:
        """Every scored respondent's record, in table order."""
        for i in range(self.rows_scored):
            yield self.person(i)


def _number(values: np.ndarray | None, i: int) -> float | None:
    if values is None:
        return None
    value = float(values[i])
    return None if np.isnan(value) else value


def _text(values: np.ndarray | None, i: int) -> str | None:
    if values is None:
        return None
    value = values[i]
    return None if value is None else str(value)
