"""Clinicians as the acts name them: the audit actor, lookup by username, display names."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic.errors import NotFoundError
from surveytool.clinic.models import Clinician


def actor_of(clinician: Clinician | None, fallback: str) -> str:
    return f"clinician:{clinician.username}" if clinician is not None else fallback


def find_clinician(session: Session, username: str) -> Clinician:
    clinician = session.execute(
        sa.select(Clinician).where(Clinician.username == username.strip().lower())
    ).scalar_one_or_none()
    if clinician is None:
        raise NotFoundError(
            f"no clinician {username!r}; create the account with "
            "`surveytool clinic add-clinician USERNAME`"
        )
    return clinician


def clinician_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(Clinician.id, Clinician.username, Clinician.display_name).where(
            Clinician.id.in_(wanted)
        )
    )
    return {r.id: r.display_name or r.username for r in rows}
