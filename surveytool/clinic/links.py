"""Questionnaire links that survive real inboxes; only a hash of the token is kept.

A clinician "sends a questionnaire": :func:`create_link` makes a token with
``secrets.token_urlsafe(32)`` (256 bits) and stores its SHA-256; the URL ``/q/<token>`` is shown
to the clinician once and never stored or logged.

- Opening the link (a GET) only *looks* (:func:`lookup`): a mail scanner or a link preview that
  fetches it consumes nothing.
- The client presses Begin (a POST with the CSRF token): :func:`begin` issues a client session
  (another random token, hashed in the same row) in a cookie; the browser goes on at ``/q``, a
  URL without the token.
- Each page's answers are kept in the store (:func:`save_progress`), so a client who closes the
  tab and opens the link again continues where they stopped, until the link expires.
- Sending the answers uses the link up, once (:func:`recording_link`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.auth import token_hash
from surveytool.clinic.errors import ClinicError, LinkError
from surveytool.clinic.models import Client, Clinician, Link, utcnow
from surveytool.instrument.model import Instrument

#: Choices offered for a link's life, in hours.
EXPIRY_CHOICES = (24, 72, 168, 336)
DEFAULT_EXPIRY_HOURS = 72
#: How long one client session lasts (a client can begin again by the link until it expires).
SESSION_HOURS = 4
MAX_TOKEN = 200
UNKNOWN = (
    "This link is not known here. Please check that the whole link was copied, or ask your "
    "clinician for a new one."
)


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
    forget_stale_progress(session)
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


def _who(link: Link) -> str:
    return link.created_by.name if link.created_by is not None else "your clinician"


def _contact(link: Link) -> str:
    return f"Please contact {_who(link)} for a new link."


def when_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC").lstrip("0")


def lookup(session: Session, token: str) -> Link:
    """The link of a token, usable for answering (read-only: looking consumes nothing).

    A mail scanner or a link preview that fetches the URL changes nothing. Refuses with
    :class:`LinkError`: an unknown token with one message that tells a guesser nothing; a real
    link that has been completed, cancelled or has expired with what happened and whom to ask
    (whoever holds the token may know that much).
    """
    if not token or len(token) > MAX_TOKEN:
        raise LinkError(UNKNOWN)
    link = session.execute(
        sa.select(Link).where(Link.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if link is None:
        raise LinkError(UNKNOWN)
    now = utcnow()
    if link.completed_at is not None:
        raise LinkError(
            f"Your answers were sent on {when_text(link.completed_at)}, so this link has done its "
            f"work. Thank you. If you want to add or change something, please contact {_who(link)}.",
            title="Your answers have been sent",
        )
    if link.revoked_at is not None:
        raise LinkError(
            f"This link was cancelled by the practice. {_contact(link)}",
            title="This link was cancelled",
        )
    if link.expires_at <= now:
        raise LinkError(
            f"This link was valid until {when_text(link.expires_at)}. Links expire so that your "
            f"answers cannot be reached by someone else later. {_contact(link)}",
            title="This link has expired",
        )
    return link


def begin(session: Session, token: str) -> tuple[Link, str]:
    """The client pressed Begin (or Continue): a new client session for a usable link.

    The link is *not* used up: the client can come back by the same link until it expires or
    the answers are sent (:func:`recording_link`). Each Begin issues a new session token (only
    its hash is kept) and ends the previous one, so only the newest tab can send answers; the
    answers saved so far (:func:`save_progress`) are kept.
    """
    forget_stale_progress(session)
    link = lookup(session, token)
    now = utcnow()
    first = link.used_at is None
    if first:
        link.used_at = now
    client_token = secrets.token_urlsafe(32)
    link.session_hash = token_hash(client_token)
    link.session_expires_at = min(now + timedelta(hours=SESSION_HOURS), link.expires_at)
    session.flush()
    audit.append(
        session,
        f"link:{link.id}",
        "link.open" if first else "link.resume",
        f"client:{link.client_id}",
    )
    return link, client_token


@dataclass(frozen=True)
class Progress:
    """The answers given so far (item id -> posted code or ``skip``) and the page reached."""

    answers: dict[str, str]
    page: int

    @classmethod
    def of(cls, link: Link) -> Progress:
        if not link.progress:
            return cls({}, -1)
        data = json.loads(link.progress)
        answers = data.get("answers", {})
        return cls({str(k): str(v) for k, v in answers.items()}, int(data.get("page", -1)))


def forget_stale_progress(session: Session) -> None:
    """Forget the answers kept for links that expired or were cancelled before they were sent
    (nothing is kept longer than the link could use it)."""
    session.execute(
        sa.update(Link)
        .where(
            Link.progress.is_not(None),
            sa.or_(Link.expires_at <= utcnow(), Link.revoked_at.is_not(None)),
        )
        .values(progress=None)
        .execution_options(synchronize_session=False)
    )


def save_progress(session: Session, link: Link, answers: Mapping[str, str], page: int) -> None:
    """Keep the answers so far in the store (never in logs or the audit), page by page."""
    session.execute(
        sa.update(Link)
        .where(Link.id == link.id, Link.completed_at.is_(None))
        .values(
            progress=json.dumps({"answers": dict(answers), "page": page}, sort_keys=True),
            progress_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


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
    link.progress = None  # the answers now live in the administration
    return link


def revoke(session: Session, link: Link, actor: str) -> None:
    if link.completed_at is not None:
        raise ClinicError("this link has been completed; there is nothing to cancel")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        link.progress = None
        audit.append(session, actor, "link.revoke", f"client:{link.client_id}", {"link": link.id})


def links_of(session: Session, client: Client) -> list[Link]:
    return list(
        session.execute(
            sa.select(Link).where(Link.client_id == client.id).order_by(Link.created_at.desc())
        ).scalars()
    )
