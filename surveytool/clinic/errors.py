"""Exceptions of the clinic package: each says what was wrong and how to fix it."""

from __future__ import annotations

from surveytool.errors import SurveytoolError


class ClinicError(SurveytoolError):
    """A clinic request that cannot be honoured (unknown client, bad option, used link...)."""


class NotFoundError(ClinicError):
    """A client, clinician, administration or alert that does not exist."""


class SchemaError(ClinicError):
    """The database is missing, at an older schema revision, or from a newer surveytool."""


class LinkError(ClinicError):
    """A questionnaire link that is unknown, used, expired or revoked (``title``: for the page)."""

    def __init__(self, message: str, *, title: str = "This link cannot be used") -> None:
        super().__init__(message)
        self.title = title


class AuditError(ClinicError):
    """The audit log's hash chain does not verify."""


class HeadWriteError(ClinicError):
    """A change was committed, but the audit head file could not be written after it."""
