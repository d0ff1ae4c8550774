"""Clinician accounts, login sessions and login rate limiting.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile);
  a hash made with older parameters is upgraded at the next successful login.
- A login creates a random session token (``secrets.token_urlsafe(32)``) sent as an HttpOnly,
  SameSite=Strict cookie; the database keeps only its SHA-256, so a copy of the database cannot be
  used to log in. Sessions end after 30 minutes without use or 12 hours at most.
- Rate limiting (:class:`LoginLimiter`) counts failures per (username, client address) with an
  exponential back-off, so someone guessing from elsewhere slows only themselves and cannot lock
  the clinician out; and caps attempts per address over all usernames (password spraying).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from threading import Lock

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import Clinician, LoginSession, utcnow

MIN_PASSWORD = 10
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
    session: Session, username: str, password: str, *, display_name: str | None, actor: str
) -> Clinician:
    """Create an account (the caller's transaction); refuses a taken name or a weak password."""
    name = normalize_username(username)
    check_password_strength(password, name)
    taken = session.execute(sa.select(Clinician.id).where(Clinician.username == name)).first()
    if taken is not None:
        raise ClinicError(f"a clinician {name!r} already exists; choose another username")
    clinician = Clinician(
        username=name,
        display_name=(display_name or "").strip() or None,
        password_hash=hash_password(password),
        created_at=utcnow(),
        active=True,
    )
    session.add(clinician)
    session.flush()
    audit.append(session, actor, "clinician.add", f"clinician:{clinician.id}", {"username": name})
    return clinician


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


def start_session(session: Session, clinician: Clinician) -> str:
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
    audit.append(session, f"clinician:{clinician.username}", "login", f"clinician:{clinician.id}")
    return token


@dataclass(frozen=True)
class LiveSession:
    clinician: Clinician
    needs_touch: bool


def session_clinician(session: Session, token: str | None) -> LiveSession | None:
    """The clinician of a live session token, or None; ``needs_touch``: call :func:`touch`.

    Read-only, so pages can check the session without a write transaction; the last-use time
    is written at most once a minute.
    """
    if not token or len(token) > 200:
        return None
    row = session.execute(
        sa.select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).scalar_one_or_none()
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
    if not token:
        return None
    row = session.execute(
        sa.select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if row is None:
        return None
    clinician = row.clinician
    session.delete(row)
    audit.append(session, f"clinician:{clinician.username}", "logout", f"clinician:{clinician.id}")
    return clinician


# ---------------------------------------------------------------------------------------------
# Rate limiting
# ---------------------------------------------------------------------------------------------


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


@dataclass
class LoginLimiter:
    """Login throttling kept in the server's memory (one per app, thread-safe).

    - Per (username, address): the first ``free_failures`` failures cost nothing; after that each
      failure blocks that pair for ``base_delay · 2^(n − free)`` seconds, at most ``max_delay``.
      A success clears the pair. Failures for ``alice`` from one address never block ``alice``
      from another address, so nobody can lock a clinician out from elsewhere.
    - Per address: at most ``per_address`` attempts in ``window`` seconds, whatever the username.
    - Counters are forgotten after ``forget_after`` seconds without a failure.
    """

    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 900.0
    per_address: int = 30
    window: float = 600.0
    forget_after: float = 86400.0
    clock: Callable[[], float] = time.monotonic
    _pairs: dict[tuple[str, str], _Failures] = field(default_factory=dict)
    _attempts: dict[str, deque[float]] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def retry_after(self, username: str, address: str) -> float:
        """Seconds to wait before this attempt may be tried (0: go ahead). Counts the attempt."""
        now = self.clock()
        key = (username.strip().lower(), address)
        with self._lock:
            self._prune(now)
            recent = self._attempts.setdefault(address, deque())
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.per_address:
                return max(1.0, recent[0] + self.window - now)
            pair = self._pairs.get(key)
            if pair is not None and pair.blocked_until > now:
                return pair.blocked_until - now
            recent.append(now)
            return 0.0

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        key = (username.strip().lower(), address)
        with self._lock:
            pair = self._pairs.setdefault(key, _Failures())
            pair.count += 1
            pair.last = now
            over = pair.count - self.free_failures
            if over > 0:
                pair.blocked_until = now + min(self.max_delay, self.base_delay * 2.0 ** (over - 1))

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._pairs.pop((username.strip().lower(), address), None)

    def _prune(self, now: float) -> None:
        if len(self._pairs) < 10000 and len(self._attempts) < 10000:
            return
        for key in [k for k, v in self._pairs.items() if now - v.last > self.forget_after]:
            del self._pairs[key]
        for addr in [a for a, q in self._attempts.items() if not q or q[-1] <= now - self.window]:
            del self._attempts[addr]


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
