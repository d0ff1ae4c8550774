"""Clinician accounts, login sessions and login rate limiting.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile);
  a hash made with older parameters is upgraded at the next successful login.
- A login creates a random session token (``secrets.token_urlsafe(32)``) sent as an HttpOnly,
  SameSite=Strict cookie; the database keeps only its SHA-256, so a copy of the database cannot be
  used to log in. Sessions end after 30 minutes without use or 12 hours at most.
- Rate limiting (:class:`LoginLimiter`) counts failures per (username, client address) with an
  exponential back-off, so someone guessing from elsewhere slows only themselves and cannot lock
  the clinician out; and caps attempts per address over all usernames (password spraying). The
  attempts are kept in the database (table ``login_attempts``), not in a server's memory.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import (
    ADMIN,
    CLINICIAN,
    ROLES,
    Clinician,
    LoginAttempt,
    LoginSession,
    utcnow,
)

MIN_PASSWORD = 10
EMAIL_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_SESSION = timedelta(hours=12)
_TOUCH_EVERY = timedelta(minutes=1)

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so a miss takes as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a session or link token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise ClinicError(
            f"invalid username {username!r}: use 2-64 characters, lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter"
        )
    return name


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ClinicError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if password.strip().lower() == username.lower():
        raise ClinicError("the password must not be the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_clinician(
    session: Session,
    username: str,
    password: str,
    *,
    display_name: str | None,
    actor: str,
    role: str | None = None,
    email: str | None = None,
) -> Clinician:
    """Create an account (the caller's transaction); refuses a taken name or a weak password.

    ``role``: ``admin`` or ``clinician``; by default the practice's first account is its admin
    and later ones are clinicians."""
    name = normalize_username(username)
    check_password_strength(password, name)
    taken = session.execute(sa.select(Clinician.id).where(Clinician.username == name)).first()
    if taken is not None:
        raise ClinicError(f"a clinician {name!r} already exists; choose another username")
    first = session.execute(sa.select(Clinician.id).limit(1)).first() is None
    chosen = role or (ADMIN if first else CLINICIAN)
    if chosen not in ROLES:
        raise ClinicError(f"unknown role {chosen!r}; use {' or '.join(ROLES)}")
    cleaned_email = (email or "").strip() or None
    if cleaned_email is not None and not EMAIL_ADDRESS.match(cleaned_email):
        raise ClinicError(f"{email!r} is not a mail address (name@example.org)")
    clinician = Clinician(
        username=name,
        display_name=(display_name or "").strip() or None,
        password_hash=hash_password(password),
        created_at=utcnow(),
        active=True,
        role=chosen,
        email=cleaned_email,
    )
    session.add(clinician)
    session.flush()
    audit.append(
        session,
        actor,
        "clinician.add",
        f"clinician:{clinician.id}",
        {"username": name, "role": chosen},
    )
    return clinician


@dataclass(frozen=True)
class Login:
    """What a login attempt came to: the clinician, or why not (``reason``)."""

    clinician: Clinician | None
    reason: str = ""  # "", "password", "code", "totp_not_set"

    @property
    def ok(self) -> bool:
        return self.clinician is not None and not self.reason


def authenticate(session: Session, username: str, password: str) -> Clinician | None:
    """The clinician whose username and password these are, or None (same cost either way)."""
    name = username.strip().lower()
    clinician = session.execute(
        sa.select(Clinician).where(Clinician.username == name, Clinician.active.is_(True))
    ).scalar_one_or_none()
    stored = clinician.password_hash if clinician is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if clinician is None:
        return None
    if _hasher.check_needs_rehash(clinician.password_hash):
        clinician.password_hash = _hasher.hash(password)
    return clinician


def log_in(
    session: Session, username: str, password: str, code: str | None, *, require_totp: bool
) -> Login:
    """Password, then the second factor when the account has one (or the practice requires
    one: an account without it cannot log in until an admin sets it up)."""
    clinician = authenticate(session, username, password)
    if clinician is None:
        return Login(None, "password")
    if clinician.totp_secret is None:
        return Login(clinician, "totp_not_set" if require_totp else "")
    if not code or not verify_totp(clinician.totp_secret, code):
        return Login(clinician, "code")
    return Login(clinician)


# ---- the second factor (TOTP, RFC 6238, through pyotp) --------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str = "surveytool clinic") -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def verify_totp(secret: str, code: str, at: datetime | None = None) -> bool:
    """A 6-digit code of this 30-second step or the one before or after (clock drift)."""
    cleaned = "".join(code.split())
    if not re.fullmatch(r"\d{6}", cleaned):
        return False
    return bool(pyotp.TOTP(secret).verify(cleaned, for_time=at or utcnow(), valid_window=1))


def enable_totp(
    session: Session, clinician: Clinician, secret: str, code: str, *, actor: str
) -> None:
    """Turn the second factor on once a code from the new secret proves the app has it."""
    if not re.fullmatch(r"[A-Z2-7]{16,64}", secret):
        raise ClinicError("the second-factor secret is not valid; start the set-up again")
    if not verify_totp(secret, code):
        raise ClinicError(
            "that code does not match: check the authenticator app's clock and type the "
            "6-digit code it shows now"
        )
    clinician.totp_secret = secret
    audit.append(session, actor, "totp.enable", f"clinician:{clinician.id}")


def disable_totp(session: Session, clinician: Clinician, *, actor: str) -> None:
    if clinician.totp_secret is not None:
        clinician.totp_secret = None
        audit.append(session, actor, "totp.disable", f"clinician:{clinician.id}")


# ---- passwords and accounts ----------------------------------------------------------------

RESET_LIFETIME = timedelta(hours=24)


def end_sessions(session: Session, clinician: Clinician) -> None:
    session.execute(sa.delete(LoginSession).where(LoginSession.clinician_id == clinician.id))


def change_password(
    session: Session, clinician: Clinician, current: str, new: str, *, actor: str
) -> None:
    """Change one's own password (the current one is asked again); other sessions end."""
    try:
        _hasher.verify(clinician.password_hash, current)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise ClinicError("the current password is not right") from None
    set_password(session, clinician, new, actor=actor)


def set_password(session: Session, clinician: Clinician, new: str, *, actor: str) -> None:
    check_password_strength(new, clinician.username)
    clinician.password_hash = hash_password(new)
    clinician.password_changed_at = utcnow()
    clinician.reset_hash = None
    clinician.reset_expires_at = None
    end_sessions(session, clinician)
    audit.append(session, actor, "password.change", f"clinician:{clinician.id}")


def issue_reset_code(session: Session, clinician: Clinician, *, actor: str) -> str:
    """A one-time reset code (valid 24 hours; only its hash is kept). The old password stops
    working at once and every session of the account ends."""
    code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
    clinician.reset_hash = token_hash(code)
    clinician.reset_expires_at = utcnow() + RESET_LIFETIME
    clinician.password_hash = hash_password(secrets.token_urlsafe(32))  # nobody knows it
    end_sessions(session, clinician)
    audit.append(session, actor, "password.reset_issued", f"clinician:{clinician.id}")
    return code


def redeem_reset_code(session: Session, username: str, code: str, new: str) -> Clinician:
    """Set a new password with a reset code (once); refuses an unknown, used or old code."""
    refused = ClinicError(
        "this reset code is not valid (it may have been used or be older than 24 hours); "
        "ask a practice admin for a new one"
    )
    clinician = session.execute(
        sa.select(Clinician).where(Clinician.username == username.strip().lower())
    ).scalar_one_or_none()
    if (
        clinician is None
        or not clinician.active
        or clinician.reset_hash is None
        or clinician.reset_expires_at is None
        or clinician.reset_expires_at <= utcnow()
        or not secrets.compare_digest(clinician.reset_hash, token_hash(code.strip().upper()))
    ):
        raise refused
    set_password(session, clinician, new, actor=f"clinician:{clinician.username}")
    return clinician


def start_session(session: Session, clinician: Clinician, *, address: str = "") -> str:
    """A new login session; returns the token (only its hash is stored)."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=token_hash(token),
            clinician_id=clinician.id,
            created_at=now,
            expires_at=now + MAX_SESSION,
            last_seen_at=now,
        )
    )
    # housekeeping: forget this clinician's sessions that have ended
    session.execute(
        sa.delete(LoginSession).where(
            LoginSession.clinician_id == clinician.id,
            sa.or_(LoginSession.expires_at <= now, LoginSession.last_seen_at <= now - IDLE_TIMEOUT),
        )
    )
    audit.append(
        session,
        f"clinician:{clinician.username}",
        "login",
        f"clinician:{clinician.id}",
        {"address": address} if address else None,
    )
    return token


@dataclass(frozen=True)
class LiveSession:
    clinician: Clinician
    needs_touch: bool


def _login_session(session: Session, token: str | None) -> LoginSession | None:
    """The session row of a token (None: no token, an overlong one, or no such session)."""
    if not token or len(token) > 200:
        return None
    row: LoginSession | None = session.execute(
        sa.select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).scalar_one_or_none()
    return row


def session_clinician(session: Session, token: str | None) -> LiveSession | None:
    """The clinician of a live session token, or None; ``needs_touch``: call :func:`touch`.

    Read-only, so pages can check the session without a write transaction; the last-use time
    is written at most once a minute.
    """
    row = _login_session(session, token)
    if row is None:
        return None
    now = utcnow()
    if is_expired(row, now) or not row.clinician.active:
        return None
    return LiveSession(row.clinician, now - row.last_seen_at >= _TOUCH_EVERY)


def touch(session: Session, token: str) -> None:
    """Record that a session was used now (keeps it from idling out)."""
    session.execute(
        sa.update(LoginSession)
        .where(LoginSession.token_hash == token_hash(token))
        .values(last_seen_at=utcnow())
    )


def end_session(session: Session, token: str | None) -> Clinician | None:
    """Log out: delete the session; returns whose it was."""
    row = _login_session(session, token)
    if row is None:
        return None
    clinician = row.clinician
    session.delete(row)
    audit.append(session, f"clinician:{clinician.username}", "logout", f"clinician:{clinician.id}")
    return clinician


# ---------------------------------------------------------------------------------------------
# Rate limiting, kept in the database
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLimiter:
    """Login throttling read from the ``login_attempts`` table (so it holds across restarts,
    worker processes and servers sharing one database).

    - Per (username, address): the first ``free_failures`` failures since the pair's last
      success cost nothing; after that each failure blocks that pair for
      ``base_delay · 2^(n − free − 1)`` seconds after it, at most ``max_delay``. Failures for
      ``alice`` from one address never block ``alice`` from another address, so nobody can
      lock a clinician out from elsewhere.
    - Per address: at most ``per_address`` attempts in ``window`` seconds, whatever the username
      (password spraying).
    - Attempts older than ``forget_after`` seconds are deleted as new ones are recorded.

    The address is the TCP peer's, unless ``surveytool serve --trusted-proxy`` names the proxy
    whose ``X-Forwarded-For`` may be believed; a client cannot choose its own address.
    """

    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 900.0
    per_address: int = 30
    window: float = 600.0
    forget_after: float = 86400.0

    def retry_after(
        self, session: Session, username: str, address: str, now: datetime | None = None
    ) -> float:
        """Seconds to wait before this attempt may be tried (0: go ahead)."""
        now = now or utcnow()
        name = username.strip().lower()[:64]
        since = now - timedelta(seconds=self.window)
        recent = session.execute(
            sa.select(LoginAttempt.at)
            .where(LoginAttempt.address == address, LoginAttempt.at > since)
            .order_by(LoginAttempt.at)
        ).scalars()
        times = list(recent)
        spraying = 0.0
        if len(times) >= self.per_address:
            oldest = times[len(times) - self.per_address]
            spraying = max(1.0, (oldest - since).total_seconds())
        last_success = session.execute(
            sa.select(sa.func.max(LoginAttempt.at)).where(
                LoginAttempt.username == name,
                LoginAttempt.address == address,
                LoginAttempt.succeeded.is_(True),
            )
        ).scalar_one_or_none()
        horizon = now - timedelta(seconds=self.forget_after)
        if last_success is not None:
            last_success = _aware(last_success)
        floor = max(horizon, last_success) if last_success is not None else horizon
        failures = list(
            session.execute(
                sa.select(LoginAttempt.at)
                .where(
                    LoginAttempt.username == name,
                    LoginAttempt.address == address,
                    LoginAttempt.succeeded.is_(False),
                    LoginAttempt.at > floor,
                )
                .order_by(LoginAttempt.at)
            ).scalars()
        )
        over = len(failures) - self.free_failures
        if over <= 0:
            return spraying
        delay = min(self.max_delay, self.base_delay * 2.0 ** (over - 1))
        wait = (failures[-1] + timedelta(seconds=delay) - now).total_seconds()
        return max(spraying, wait, 0.0)

    def record(
        self,
        session: Session,
        username: str,
        address: str,
        *,
        succeeded: bool,
        now: datetime | None = None,
    ) -> None:
        """Keep one attempt (and forget those older than ``forget_after``)."""
        now = now or utcnow()
        session.add(
            LoginAttempt(
                at=now,
                username=username.strip().lower()[:64],
                address=address[:64],
                succeeded=succeeded,
            )
        )
        session.execute(
            sa.delete(LoginAttempt).where(
                LoginAttempt.at < now - timedelta(seconds=self.forget_after)
            )
        )
        session.flush()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def wait_text(seconds: float) -> str:
    """'12 seconds', '3 minutes': how long to wait, rounded up."""
    if seconds < 90:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    n = math.ceil(seconds / 60)
    return f"{n} minutes"


def is_expired(row: LoginSession, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return row.expires_at <= now or row.last_seen_at <= now - IDLE_TIMEOUT
