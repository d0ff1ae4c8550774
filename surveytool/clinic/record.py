"""Content hashes of the clinical record, which the audit chain commits to.

Every act that writes a clinical row names the row's content hash in its audit row's details
(``{"record": {"answers:12": "<sha256>", ...}}``), and the audit chain hashes the details, so the
chain commits to the record. :func:`check` recomputes the hash of every clinical row and compares
it with the newest commitment to that row: a row changed, deleted or added outside surveytool
(for example directly in SQLite) no longer matches, and ``surveytool clinic verify-audit`` fails.

The record, by key:

=======================  ==================================================================
``administration:<id>``  the administration (instrument, version, hash, form, who, when, how)
``answers:<id>``         its answer set: every item's position and raw value
``scores:<id>``          its score set: every scale's value, status, band, T, percentile
``alert:<id>``           an alert, with its acknowledgement (who, when, note)
``note:<id>``            a clinician's note
=======================  ==================================================================

A row's content is the canonical JSON (sorted keys, UTF-8) of its columns that hold a value,
times as ISO 8601 UTC to the microsecond; a column that a later migration adds (NULL in old
rows) leaves old rows' hashes as they were.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic.models import Administration, Alert, Base, ItemAnswer, Note, Score

KINDS = ("administration", "answers", "scores", "alert", "note")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float) and value.is_integer():
        return value  # 2.0 stays 2.0 in JSON: the same on SQLite and PostgreSQL
    return value


def columns(row: Base, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The row's columns that hold a value, as JSON-ready values."""
    skipped = set(skip)
    out: dict[str, Any] = {}
    for attr in sa.inspect(row).mapper.column_attrs:
        if attr.key in skipped:
            continue
        value = getattr(row, attr.key)
        if value is not None:
            out[attr.key] = _value(value)
    return out


def digest(kind: str, content: Any) -> str:
    body = json.dumps(
        {"kind": kind, "content": content},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _answers_content(answers: Iterable[ItemAnswer]) -> list[Any]:
    return [columns(a) for a in sorted(answers, key=lambda a: (a.position, a.id))]


def _scores_content(scores: Iterable[Score]) -> list[Any]:
    return [columns(s) for s in sorted(scores, key=lambda s: (s.scale_id, s.id))]


def current(session: Session, *, administration_ids: Iterable[int] | None = None) -> dict[str, str]:
    """The content hash of every clinical row now (of some administrations, when given: their
    administration, answers, scores and alerts)."""
    wanted = None if administration_ids is None else sorted(set(administration_ids))
    out: dict[str, str] = {}

    def where(query: sa.Select[Any], column: Any) -> sa.Select[Any]:
        return query if wanted is None else query.where(column.in_(wanted))

    adms = session.execute(where(sa.select(Administration), Administration.id)).scalars()
    ids = []
    for adm in adms:
        ids.append(adm.id)
        out[f"administration:{adm.id}"] = digest("administration", columns(adm))
    answers: dict[int, list[ItemAnswer]] = defaultdict(list)
    for answer in session.execute(
        where(sa.select(ItemAnswer), ItemAnswer.administration_id)
    ).scalars():
        answers[answer.administration_id].append(answer)
    scores: dict[int, list[Score]] = defaultdict(list)
    for score in session.execute(where(sa.select(Score), Score.administration_id)).scalars():
        scores[score.administration_id].append(score)
    # an answer or score set exists for every administration (an empty one too), and for
    # orphans whose administration was deleted
    for adm_id in sorted(set(ids) | set(answers)):
        out[f"answers:{adm_id}"] = digest("answers", _answers_content(answers[adm_id]))
    for adm_id in sorted(set(ids) | set(scores)):
        out[f"scores:{adm_id}"] = digest("scores", _scores_content(scores[adm_id]))
    for alert in session.execute(where(sa.select(Alert), Alert.administration_id)).scalars():
        out[f"alert:{alert.id}"] = digest("alert", columns(alert))
    if wanted is None:
        for note in session.execute(sa.select(Note)).scalars():
            out[f"note:{note.id}"] = digest("note", columns(note))
    return out


def of_administrations(session: Session, ids: Iterable[int]) -> dict[str, str]:
    """What the audit row of an act on these administrations commits to."""
    session.flush()
    return current(session, administration_ids=ids)


def of_alert(session: Session, alert: Alert) -> dict[str, str]:
    session.flush()
    return {f"alert:{alert.id}": digest("alert", columns(alert))}


def of_note(session: Session, note: Note) -> dict[str, str]:
    session.flush()
    return {f"note:{note.id}": digest("note", columns(note))}


def _describe(key: str) -> str:
    kind, _, ident = key.partition(":")
    return {
        "administration": f"administration {ident}",
        "answers": f"the answers of administration {ident}",
        "scores": f"the scores of administration {ident}",
        "alert": f"alert {ident}",
        "note": f"note {ident}",
    }.get(kind, key)


def check(session: Session, committed: dict[str, tuple[str, int]]) -> list[str]:
    """Every difference between the record now and what the audit chain committed to
    (``committed``: key -> (hash, audit row id)); empty when they agree."""
    now = current(session)
    problems = []
    for key in sorted(set(committed) | set(now), key=_order):
        plural = key.startswith(("answers:", "scores:"))
        was, were, is_ = ("were", "were", "are") if plural else ("was", "was", "is")
        if key not in now:
            problems.append(
                f"{_describe(key)} {was} deleted outside surveytool (audit row "
                f"{committed[key][1]} records it)"
            )
        elif key not in committed:
            problems.append(
                f"{_describe(key)} {is_} not in the audit log (added outside surveytool)"
            )
        elif now[key] != committed[key][0]:
            problems.append(
                f"{_describe(key)} {were} changed outside surveytool after audit row "
                f"{committed[key][1]}"
            )
    return problems


def _order(key: str) -> tuple[int, int, str]:
    kind, _, ident = key.partition(":")
    rank = KINDS.index(kind) if kind in KINDS else len(KINDS)
    return (int(ident) if ident.isdigit() else 0, rank, key)
