"""Exporting everything stored about one client (the export is audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.administrations import administrations_of
from surveytool.clinic.alerts import alert_text, alerts_of
from surveytool.clinic.clinicians import clinician_names
from surveytool.clinic.links import links_of
from surveytool.clinic.models import Alert, Client, utcnow
from surveytool.clinic.notes import notes_of

EXPORT_FORMAT = "surveytool-clinic-export/1"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _alert(al: Alert, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": al.id,
        "check": al.check_id,
        "item": al.item_id,
        "item_text": al.item_text,
        "answer": al.answer,
        "answer_label": al.answer_label,
        "rule": al.rule,
        "reason": al.reason,
        "text": alert_text(al),
        "message": al.message,
        "created_at": _iso(al.created_at),
        "acknowledged_at": _iso(al.acknowledged_at),
        "acknowledged_by": names.get(al.acknowledged_by_id or -1),
        "acknowledgement_note": al.acknowledgement_note,
    }


def export_client(session: Session, client: Client, *, actor: str) -> dict[str, Any]:
    """Everything stored about one client, as JSON-ready data (the export is audited).

    Link and session token hashes are left out: they are secrets of the store, not the client's
    data.
    """
    administrations = administrations_of(session, client)
    alerts = alerts_of(session, client)
    unsent: dict[int, list[Alert]] = {}
    for al in alerts:
        if al.administration_id is None and al.link_id is not None:
            unsent.setdefault(al.link_id, []).append(al)
    names = clinician_names(
        session,
        [a.clinician_id for a in administrations] + [al.acknowledged_by_id for al in alerts],
    )
    now = utcnow()
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now),
        "client": {
            "code": client.code,
            "display_name": client.display_name,
            "created_at": _iso(client.created_at),
        },
        "administrations": [
            {
                "id": a.id,
                "instrument": {
                    "id": a.instrument_id,
                    "version": a.instrument_version,
                    "hash": a.instrument_hash,
                    "source": a.instrument_source,
                },
                "form": a.form,
                "mode": a.mode,
                "status": a.status,
                "by": a.actor,
                "clinician": names.get(a.clinician_id or -1),
                "started_at": _iso(a.started_at),
                "administered_at": _iso(a.administered_at),
                "answers": {ans.item_id: ans.value for ans in a.answers},
                "scores": [
                    {
                        "scale": s.scale_id,
                        "kind": s.kind,
                        "value": s.value,
                        "n_answered": s.n_answered,
                        "status": s.status,
                        "band": s.band,
                        "t_score": s.t_score,
                        "percentile": s.percentile,
                        "instrument_hash": s.instrument_hash,
                        "computed_at": _iso(s.computed_at),
                    }
                    for s in a.scores
                ],
                "alerts": [_alert(al, names) for al in a.alerts],
            }
            for a in administrations
        ],
        "notes": [
            {"id": n.id, "at": _iso(n.created_at), "by": n.actor, "text": n.text}
            for n in notes_of(session, client)
        ],
        "links": [
            {
                "id": link.id,
                "instrument": link.instrument_id,
                "form": link.form,
                "show_results": link.show_results,
                "created_at": _iso(link.created_at),
                "expires_at": _iso(link.expires_at),
                "used_at": _iso(link.used_at),
                "completed_at": _iso(link.completed_at),
                "revoked_at": _iso(link.revoked_at),
                "state": link.state(now),
                "administration": link.administration_id,
                # alerts raised by a saved page of a link whose answers were never sent
                "alerts": [_alert(al, names) for al in unsent.get(link.id, [])],
            }
            for link in links_of(session, client)
        ],
    }
    entry = audit.append(session, actor, "client.export", f"client:{client.id}")
    data["audit"] = [
        {
            "id": e.id,
            "at": _iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "details": e.details,
            "hash": e.hash,
        }
        for e in audit.entries_for(session, [f"client:{client.id}"])
        if e.id <= entry.id
    ]
    return data
