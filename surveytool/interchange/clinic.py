"""A clinic client's administrations as FHIR: one QuestionnaireResponse per administration, an
Observation per score (``derivedFrom`` its response), in one ``collection`` Bundle.

Built from the clinic's JSON export (:func:`surveytool.clinic.export.export_client`), so the
export stays one audited act and this module needs nothing of the store.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from surveytool.errors import SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.interchange.fhir import (
    DEFAULT_BASE,
    EXT,
    SCORE_PREFIX,
    bundle,
    canonical,
    questionnaire_response,
)

#: The identifier system of clinic client codes (a client is named by its code, nothing else).
CLIENT_SYSTEM = "urn:surveytool:clinic:client"

_STATUS = {"complete": "completed", "completed": "completed"}


def _when(text: str | None) -> dt.datetime | None:
    return None if not text else dt.datetime.fromisoformat(text)


def _observation(
    instrument: Instrument | None,
    instrument_id: str,
    score: Mapping[str, Any],
    subject: Mapping[str, Any],
    response_url: str,
    effective: str | None,
) -> dict[str, Any]:
    scale_id = str(score["scale"])
    label = scale_id
    if instrument is not None:
        found = instrument.subscale_by_id.get(scale_id) or instrument.composite_by_id.get(scale_id)
        label = found.label if found is not None else scale_id
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {"system": f"{DEFAULT_BASE}{instrument_id}", "code": SCORE_PREFIX + scale_id}
            ],
            "text": label,
        },
        "subject": dict(subject),
        "derivedFrom": [{"reference": response_url}],
    }
    if effective:
        out["effectiveDateTime"] = effective
    if score.get("value") is None:
        out["dataAbsentReason"] = {"text": f"too few answers ({score.get('n_answered')})"}
    else:
        out["valueQuantity"] = {"value": score["value"]}
    if score.get("band"):
        out["interpretation"] = [{"text": score["band"]}]
    out["extension"] = [{"url": EXT + "answered", "valueInteger": score.get("n_answered") or 0}]
    return out


def client_bundle(export: Mapping[str, Any]) -> dict[str, Any]:
    """A Bundle of the client's administrations from the clinic export's data."""
    code = str(export["client"]["code"])
    subject = {"identifier": {"system": CLIENT_SYSTEM, "value": code}}
    entries: list[dict[str, Any]] = []
    for admin in export["administrations"]:
        meta = admin["instrument"]
        try:
            instrument: Instrument | None = load_instrument(meta["source"])
        except SurveytoolError:
            instrument = None
        if instrument is None or instrument.id != meta["id"]:
            raise SurveytoolError(
                f"administration {admin['id']}: its instrument {meta['source']!r} cannot be "
                "loaded, so its answers cannot be written as FHIR; restore the file first"
            )
        answers = {k: v for k, v in admin["answers"].items() if k in instrument.item_by_id}
        response = questionnaire_response(
            instrument,
            answers,
            response_id=f"administration-{admin['id']}",
            authored=_when(admin.get("administered_at")),
            status=_STATUS.get(str(admin.get("status")), "in-progress"),
            form=admin.get("form") or None,
        )
        # the version and content stored with the administration, not the file's of today
        response["questionnaire"] = f"{canonical(instrument)}|{meta['version']}"
        response["subject"] = subject
        response_url = f"urn:uuid:{uuid.uuid4()}"
        entries.append({"fullUrl": response_url, "resource": response})
        for score in admin.get("scores") or ():
            observation = _observation(
                instrument, meta["id"], score, subject, response_url, response.get("authored")
            )
            entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": observation})
    out = bundle([], bundle_id=f"client-{code}")
    out["entry"] = entries
    return out
