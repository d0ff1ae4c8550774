"""The practice's settings, kept in the clinic database (table ``settings``), each checked when set.

=========================  ===================================================================
key                        meaning
=========================  ===================================================================
``practice_name``          how the practice is named in mails and on the client's pages
``review_time``            when answers are read, as the client is told: "Your clinician will
                           see your answers <review_time>." (e.g. ``within one working day``)
``base_url``               the clinician pages' address, for the link in a notification
                           (e.g. ``https://clinic.example.org``)
``smtp_host``              the practice's mail server (no mail is sent without it)
``smtp_port``              its port (default 587 with ``starttls``, 465 with ``tls``, else 25)
``smtp_security``          ``starttls`` (default), ``tls`` or ``none``
``smtp_username``          login at the mail server (the password is read from the
                           ``SURVEYTOOL_SMTP_PASSWORD`` environment variable, never stored)
``mail_from``              the sender address of notifications
``escalation_email``       who is told when an alert stays open past ``escalation_minutes``
``escalation_minutes``     how long an alert may stay unacknowledged before escalation
``notify_every_seconds``   how often the server's timer looks for alerts to notify (default 60)
``require_totp``           ``yes``: every account needs a second factor (TOTP) to log in
=========================  ===================================================================

Setting a value is audited (its key and value; there are no secrets among them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.auth import EMAIL_ADDRESS as EMAIL
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import Setting, utcnow

SMTP_PASSWORD_ENV = "SURVEYTOOL_SMTP_PASSWORD"


def _text(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        cleaned = " ".join(value.split())
        if not cleaned:
            raise ValueError("it is empty")
        if len(cleaned) > limit:
            raise ValueError(f"it is longer than {limit} characters")
        return cleaned

    return check


def _email(value: str) -> str:
    cleaned = value.strip()
    if not EMAIL.match(cleaned) or len(cleaned) > 254:
        raise ValueError("it is not a mail address (name@example.org)")
    return cleaned


def _int(low: int, high: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError("it is not a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"it must be between {low} and {high}")
        return str(number)

    return check


def _choice(*options: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        cleaned = value.strip().lower()
        if cleaned not in options:
            raise ValueError(f"use one of: {', '.join(options)}")
        return cleaned

    return check


def _url(value: str) -> str:
    cleaned = value.strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError("use the address of the clinician pages, e.g. https://clinic.example.org")
    return cleaned


def _host(value: str) -> str:
    cleaned = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", cleaned):
        raise ValueError("it is not a host name (e.g. mail.example.org)")
    return cleaned


@dataclass(frozen=True)
class Key:
    check: Callable[[str], str]
    help: str


KEYS: dict[str, Key] = {
    "practice_name": Key(_text(200), "how the practice is named in mails and to clients"),
    "review_time": Key(_text(200), "when answers are read, e.g. 'within one working day'"),
    "base_url": Key(_url, "the clinician pages' address, for links in notifications"),
    "smtp_host": Key(_host, "the practice's mail server"),
    "smtp_port": Key(_int(1, 65535), "the mail server's port"),
    "smtp_security": Key(_choice("starttls", "tls", "none"), "starttls, tls or none"),
    "smtp_username": Key(_text(254), f"login at the mail server (password: ${SMTP_PASSWORD_ENV})"),
    "mail_from": Key(_email, "the sender address of notifications"),
    "escalation_email": Key(_email, "who is told when an alert stays open too long"),
    "escalation_minutes": Key(_int(1, 60 * 24 * 30), "minutes before an open alert escalates"),
    "notify_every_seconds": Key(_int(1, 3600), "how often the server looks for alerts to notify"),
    "require_totp": Key(_choice("yes", "no"), "yes: every account needs a second factor"),
}


def check_key(key: str) -> str:
    if key not in KEYS:
        raise ClinicError(f"unknown setting {key!r}; the settings are: {', '.join(KEYS)}")
    return key


def set_setting(session: Session, key: str, value: str, *, actor: str) -> str:
    """Check and store one setting (an empty value removes it); returns the stored value."""
    check_key(key)
    row = session.get(Setting, key)
    if not value.strip():
        if row is not None:
            session.delete(row)
            audit.append(session, actor, "setting.unset", f"setting:{key}")
        return ""
    try:
        cleaned = KEYS[key].check(value)
    except ValueError as exc:
        raise ClinicError(f"cannot set {key} to {value!r}: {exc}") from None
    if row is None:
        session.add(Setting(key=key, value=cleaned, changed_at=utcnow()))
    else:
        row.value = cleaned
        row.changed_at = utcnow()
    session.flush()
    audit.append(session, actor, "setting.set", f"setting:{key}", {"value": cleaned})
    return cleaned


def all_settings(session: Session) -> dict[str, str]:
    return {r.key: r.value for r in session.execute(sa.select(Setting)).scalars()}


def get_setting(session: Session, key: str) -> str | None:
    row = session.get(Setting, check_key(key))
    return None if row is None else row.value


def review_sentence(session: Session) -> str:
    """What the client is told about when their answers will be seen."""
    when = get_setting(session, "review_time")
    if when is None:
        return (
            "Your clinician will see your answers when they next review them; they are not "
            "watched around the clock."
        )
    return f"Your clinician will see your answers {when}."
