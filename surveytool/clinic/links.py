"""Questionnaire links: single use, with an expiry; only a hash of the token is kept.

A clinician "sends a questionnaire": :func:`create_link` makes a token with
``secrets.token_urlsafe(32)`` (256 bits) and stores its SHA-256; the URL ``/q/<token>`` is shown
to the clinician once and never stored or logged. The client's first visit :func:`redeem` s the
token (it can never be used again) and receives a client session (another random token, hashed in
the same row) in a cookie; the browser is redirected to ``/q``, a URL without the token. That
session can submit the answers once (:func:`recording_link`), before ``session_expires_at``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.auth import token_hash
from surveytool.clinic.errors import ClinicError, LinkError
from surveytool.clinic.models import Client, Clinician, Link, utcnow
from surveytool.instrument import Instrument

#: Choices offered for a link's life, in hours.
EXPIRY_CHOICES = (24, 72, 168, 336)
DEFAULT_EXPIRY_HOURS = 72
#: How long a client has to answer once the link is opened.
SESSION_HOURS = 4
MAX_TOKEN = 200


@dataclass(frozen=True)
class NewLink:
    link: Link
    token: str

    def path(self) -> str:
        return f"/q/{self.token}"


def create_link(
    session: Session,
    client: Client,
    inst: Instrument,
    source: str,
    *,
    form: str | None,
    show_results: bool,
    expires_in: timedelta,
    clinician: Clinician | None,
    actor: str,
) -> NewLink:
    """A new single-use link for ``client`` to answer ``inst`` (``form``)."""
    if form is not None and form not in inst.short_form_by_id:
        raise ClinicError(f"{inst.id} has no short form {form!r}")
    if not timedelta(minutes=1) <= expires_in <= timedelta(days=90):
        raise ClinicError("a link must expire between 1 minute and 90 days from now")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    link = Link(
        token_hash=token_hash(token),
        client_id=client.id,
        instrument_id=inst.id,
        instrument_source=source,
        form=form,
        show_results=show_results,
        created_by_id=None if clinician is None else clinician.id,
        created_at=now,
        expires_at=now + expires_in,
    )
    session.add(link)
    session.flush()
    audit.append(
        session,
        actor,
        "link.create",
        f"client:{client.id}",
        {
            "link": link.id,
            "instrument": inst.id,
            "form": form,
            "expires_at": link.expires_at.isoformat(),
            "show_results": show_results,
        },
    )
    return NewLink(link, token)


def redeem(session: Session, token: str) -> tuple[Link, str]:
    """Use a link's token up; returns the link and a new client-session token.

    Refuses (:class:`LinkError`, one message for all, so the answer tells a guesser nothing) a
    token that is unknown, already used, revoked or expired.
    """
    refused = LinkError(
        "This link cannot be used: it may have been used already, have expired or been "
        "cancelled. Please ask your clinician for a new link."
    )
    if not token or len(token) > MAX_TOKEN:
        raise refused
    now = utcnow()
    # one UPDATE guarded by its WHERE: two simultaneous first visits cannot both win
    result = session.execute(
        sa.update(Link)
        .where(
            Link.token_hash == token_hash(token),
            Link.used_at.is_(None),
            Link.revoked_at.is_(None),
            Link.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise refused
    link = session.execute(sa.select(Link).where(Link.token_hash == token_hash(token))).scalar_one()
    client_token = secrets.token_urlsafe(32)
    link.session_hash = token_hash(client_token)
    link.session_expires_at = now + timedelta(hours=SESSION_HOURS)
    audit.append(session, f"link:{link.id}", "link.open", f"client:{link.client_id}")
    return link, client_token


def session_link(session: Session, client_token: str | None) -> Link | None:
    """The link of a live client session (opened, not revoked, not past its session time)."""
    if not client_token or len(client_token) > MAX_TOKEN:
        return None
    link = session.execute(
        sa.select(Link).where(Link.session_hash == token_hash(client_token))
    ).scalar_one_or_none()
    if link is None or link.revoked_at is not None:
        return None
    if link.session_expires_at is None or link.session_expires_at <= utcnow():
        return None
    return link


def recording_link(session: Session, client_token: str | None) -> Link:
    """The link about to receive answers; refuses one already completed, in the transaction.

    The ``completed_at IS NULL`` guard is an UPDATE, so a double submission (two tabs, a
    resubmitted form) records one administration only.
    """
    link = session_link(session, client_token)
    if link is None:
        raise LinkError(
            "This questionnaire session has ended. Please ask your clinician for a new link."
        )
    now = utcnow()
    result = session.execute(
        sa.update(Link)
        .where(Link.id == link.id, Link.completed_at.is_(None))
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkError("These answers have already been sent. Thank you.")
    session.refresh(link)
    return link


def revoke(session: Session, link: Link, actor: str) -> None:
    if link.completed_at is not None:
        raise ClinicError("this link has been completed; there is nothing to cancel")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.append(session, actor, "link.revoke", f"client:{link.client_id}", {"link": link.id})


def links_of(session: Session, client: Client) -> list[Link]:
    return list(
        session.execute(
            sa.select(Link).where(Link.client_id == client.id).order_by(Link.created_at.desc())
        ).scalars()
    )
