"""Telling someone that an alert needs attention: mail through the practice's SMTP server, an
escalation when an alert stays open, and the timer that does both without anyone logged in.

- **Notify**: every open alert is mailed once to the clinician its client is assigned to (their
  account's mail address), or, for a client assigned to nobody, to the practice's admins.
- **Escalate**: an alert still unacknowledged ``escalation_minutes`` after it was raised is
  mailed once to ``escalation_email``.
- The mail carries **no client data**: no name, no code, no answer, no item; only that an alert
  needs attention, its reference number and a link to the clinician pages, where a login is
  needed to see anything.
- Every attempt is a row of ``notifications`` (who, when, sent or the error) and an audit row.
  An attempt is claimed in a write transaction before the mail is sent, so two timers (two
  servers on one database) do not both send; a failed attempt is tried again after
  :data:`RETRY_AFTER`.
- :class:`Timer` runs :func:`run_once` every ``notify_every_seconds`` in the web server's
  process; ``surveytool clinic notify`` runs it once (from cron, for example).

Settings: see :mod:`surveytool.clinic.settings` (``smtp_*``, ``mail_from``, ``base_url``,
``escalation_*``); the SMTP password comes from ``SURVEYTOOL_SMTP_PASSWORD``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.models import ADMIN, Alert, Clinician, Notification, utcnow
from surveytool.clinic.settings import SMTP_PASSWORD_ENV, all_settings
from surveytool.clinic.store import ClinicStore

log = logging.getLogger("surveytool.notify")

NOTIFY = "notify"
ESCALATE = "escalate"
RETRY_AFTER = timedelta(minutes=5)
#: an attempt without outcome this old is taken as lost (the process died while sending)
LOST_AFTER = timedelta(minutes=10)
DEFAULT_EVERY = 60


@dataclass(frozen=True)
class MailConfig:
    """How to reach the practice's mail server (from the settings)."""

    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str
    base_url: str | None
    practice: str
    escalation_email: str | None
    escalation_after: timedelta | None

    @classmethod
    def of(cls, values: dict[str, str]) -> MailConfig | None:
        """None when the practice has not configured a mail server and a sender."""
        host, sender = values.get("smtp_host"), values.get("mail_from")
        if not host or not sender:
            return None
        security = values.get("smtp_security", "starttls")
        default_port = {"starttls": 587, "tls": 465}.get(security, 25)
        minutes = values.get("escalation_minutes")
        return cls(
            host=host,
            port=int(values.get("smtp_port", default_port)),
            security=security,
            username=values.get("smtp_username"),
            password=os.environ.get(SMTP_PASSWORD_ENV),
            sender=sender,
            base_url=values.get("base_url"),
            practice=values.get("practice_name", "surveytool clinic"),
            escalation_email=values.get("escalation_email"),
            escalation_after=timedelta(minutes=int(minutes)) if minutes else None,
        )


@dataclass(frozen=True)
class Job:
    alert_id: int
    kind: str
    recipient: str


def message(config: MailConfig, job: Job) -> EmailMessage:
    """The mail: that an alert needs attention, its reference and where to look; no client
    data at all (the pages behind the link need a login)."""
    mail = EmailMessage()
    urgent = "still open" if job.kind == ESCALATE else "needs attention"
    mail["Subject"] = f"{config.practice}: an alert {urgent} (reference {job.alert_id})"
    mail["From"] = config.sender
    mail["To"] = job.recipient
    mail["Message-ID"] = make_msgid(domain=config.sender.rsplit("@", 1)[-1])
    where = (
        f"{config.base_url}/clinic/alerts/{job.alert_id}"
        if config.base_url
        else "the clinician pages (surveytool serve, /clinic)"
    )
    if job.kind == ESCALATE:
        opening = (
            f"An alert raised by a questionnaire answer has not been acknowledged within "
            f"{_minutes(config.escalation_after)}. You are the practice's escalation contact."
        )
    else:
        opening = "A questionnaire answer raised an alert for a client assigned to you."
    mail.set_content(
        f"{opening}\n\n"
        f"Alert reference: {job.alert_id}\n"
        f"Please log in and look at it: {where}\n\n"
        "This message holds no client information on purpose; everything is behind the login.\n"
        f"-- {config.practice}\n"
    )
    return mail


def _minutes(after: timedelta | None) -> str:
    if after is None:
        return "the time the practice set"
    minutes = int(after.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def smtp_send(config: MailConfig, mail: EmailMessage) -> None:
    """Send through the practice's server (STARTTLS or TLS with certificate checks, or none)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=30, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=30)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=context)
        if config.username:
            smtp.login(config.username, config.password or "")
        smtp.send_message(mail)


Sender = Callable[[MailConfig, EmailMessage], None]


def _recipients(session: Session, alert: Alert) -> list[str]:
    client = alert.client
    if client.clinician_id is not None:
        clinician = session.get(Clinician, client.clinician_id)
        if clinician is not None and clinician.active and clinician.email:
            return [clinician.email]
    admins = session.execute(
        sa.select(Clinician.email).where(
            Clinician.role == ADMIN, Clinician.active.is_(True), Clinician.email.is_not(None)
        )
    ).scalars()
    return sorted({e for e in admins if e})


def _settled(rows: list[Notification], now: datetime) -> bool:
    """True when no new attempt is due: one was sent, or one is under way, or failed lately."""
    for row in rows:
        if row.sent_at is not None:
            return True
        if row.error is None and now - row.attempted_at < LOST_AFTER:
            return True  # another timer is sending it now
        if row.error is not None and now - row.attempted_at < RETRY_AFTER:
            return True
    return False


def due(session: Session, config: MailConfig, now: datetime) -> list[Job]:
    """What should be sent now."""
    jobs: list[Job] = []
    alerts = session.execute(
        sa.select(Alert).where(Alert.acknowledged_at.is_(None)).order_by(Alert.id)
    ).scalars()
    for alert in alerts:
        done = list(
            session.execute(
                sa.select(Notification).where(Notification.alert_id == alert.id)
            ).scalars()
        )
        for recipient in _recipients(session, alert):
            mine = [r for r in done if r.kind == NOTIFY and r.recipient == recipient]
            if not _settled(mine, now):
                jobs.append(Job(alert.id, NOTIFY, recipient))
        if (
            config.escalation_email
            and config.escalation_after is not None
            and alert.created_at + config.escalation_after <= now
        ):
            mine = [r for r in done if r.kind == ESCALATE]
            if not _settled(mine, now):
                jobs.append(Job(alert.id, ESCALATE, config.escalation_email))
    return jobs


@dataclass
class RunSummary:
    sent: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)
    configured: bool = True
    #: without a mail server: the open (unacknowledged) alerts nobody is told of by mail
    unsent_open: int = 0


def run_once(
    store: ClinicStore, *, now: datetime | None = None, send: Sender = smtp_send
) -> RunSummary:
    """Send what is due (each attempt claimed, then sent outside any transaction, then
    recorded and audited)."""
    summary = RunSummary()
    when = now or utcnow()
    with store.read() as session:
        config = MailConfig.of(all_settings(session))
        if config is None:
            summary.configured = False
            summary.unsent_open = int(
                session.execute(
                    sa.select(sa.func.count())
                    .select_from(Alert)
                    .where(Alert.acknowledged_at.is_(None))
                ).scalar_one()
            )
            return summary
        jobs = due(session, config, when)
    for job in jobs:
        with store.write() as session:
            # claim it (serialized with any other timer by the write transaction)
            alert = session.get(Alert, job.alert_id)
            if alert is None or alert.acknowledged_at is not None:
                continue
            rows = list(
                session.execute(
                    sa.select(Notification).where(
                        Notification.alert_id == job.alert_id,
                        Notification.kind == job.kind,
                        Notification.recipient == job.recipient,
                    )
                ).scalars()
            )
            if _settled(rows, when):
                continue
            claim = Notification(
                alert_id=job.alert_id, kind=job.kind, recipient=job.recipient, attempted_at=when
            )
            session.add(claim)
            session.flush()
            claim_id = claim.id
        error: str | None = None
        try:
            send(config, message(config, job))
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        with store.write() as session:
            row = session.get(Notification, claim_id)
            assert row is not None
            if error is None:
                row.sent_at = utcnow()
            else:
                row.error = error
            audit.append(
                session,
                "notifier",
                f"alert.{job.kind}",
                f"alert:{job.alert_id}",
                {
                    "notification": claim_id,
                    "recipient": job.recipient,
                    "sent": error is None,
                    "error": error,
                },
            )
        if error is None:
            summary.sent.append(job)
        else:
            log.warning(
                "alert %s: %s to %s failed: %s", job.alert_id, job.kind, job.recipient, error
            )
            summary.failed.append((job, error))
    return summary


class Timer:
    """Runs :func:`run_once` every ``notify_every_seconds`` in a daemon thread, whether or not
    anyone is logged in. Starts only when the clinic database exists (it never creates one)."""

    def __init__(self, store: Callable[[], ClinicStore | None]) -> None:
        self._store = store
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="surveytool-notify", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        every = DEFAULT_EVERY
        told = 0  # the open alerts last logged as going out by no mail
        while not self._stop.is_set():
            try:
                store = self._store()
                if store is not None:
                    with store.read() as session:
                        every = int(all_settings(session).get("notify_every_seconds", every))
                    summary = run_once(store)
                    if summary.unsent_open > told:  # said again only when more are waiting
                        log.warning(
                            "%d open alert(s) and no mail server configured: nobody is told by "
                            "mail (they show on the clinic pages; set smtp_host and mail_from "
                            "with `surveytool clinic settings set`)",
                            summary.unsent_open,
                        )
                    told = summary.unsent_open
            except Exception as exc:  # the timer must survive a database that is away
                log.warning("alert notification run failed: %s", type(exc).__name__)
            self._stop.wait(every)
