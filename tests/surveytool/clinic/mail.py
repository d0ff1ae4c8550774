"""A real local SMTP server for the alert-mail tests (aiosmtpd on a free loopback port), what it
received, and the practice's mail settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from surveytool.clinic import settings
from surveytool.clinic.store import ClinicStore
from tests.surveytool.web.servers import free_port


@dataclass
class Inbox:
    """What the local SMTP server received."""

    mails: list[tuple[str, list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


@contextmanager
def local_smtp() -> Iterator[tuple[Inbox, int]]:
    """The SMTP server, running for the block: its inbox and its port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def configure(store: ClinicStore, port: int, **more: str) -> None:
    """The practice's mail settings: the local server on ``port``, no TLS (loopback only)."""
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_security": "none",
        "mail_from": "alerts@practice.example",
        "base_url": "https://clinic.practice.example",
        "practice_name": "Riverside Practice",
        "escalation_email": "lead@practice.example",
        "escalation_minutes": "30",
        **more,
    }
    with store.write() as session:
        for key, value in values.items():
            settings.set_setting(session, key, value, actor="test")
