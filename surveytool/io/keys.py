"""Key files: the one on-disk format of every secret key surveytool keeps (HMAC keys).

A key file is text: comment lines starting with ``#`` (what the key is for), then one line of
hex digits, the key's bytes. It is created with :mod:`secrets` (32 random bytes), mode 0600 from
its first byte (:func:`~surveytool.io.files.create_secret_file`), and never overwritten. Reading
notes whether other users can read it, so callers can say how to fix that.

The personal store's key files of earlier versions held the 32 raw bytes; :func:`read_key_file`
reads them when asked (``legacy_raw=True``), and :func:`open_key_file` rewrites them in this
format (same bytes, so every keyed hash stays the same).
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from surveytool.errors import SurveytoolError
from surveytool.io.files import create_secret_file, write_bytes_atomic

KEY_BYTES = 32
"""Random bytes in a new key."""

_LEGACY_RAW_BYTES = 32


class KeyFileError(SurveytoolError):
    """A key file cannot be read, created, or does not hold a usable key."""


@dataclass(frozen=True, repr=False)
class KeyFile:
    """A key read from (or created in) a key file; the repr never shows the secret."""

    secret: bytes
    path: Path
    created: bool = False
    legacy: bool = False
    open_to_others: bool = False

    def __repr__(self) -> str:
        return f"KeyFile(path={self.path!r}, created={self.created})"

    @property
    def mode_note(self) -> str | None:
        """How to fix a key file that other users can read, or None."""
        if not self.open_to_others:
            return None
        mode = stat.S_IMODE(self.path.stat().st_mode)
        return f"the key file {self.path} can be read by other users (mode {mode:o}); run: chmod 600 {self.path}"


def format_key(secret: bytes, purpose: str) -> bytes:
    """The bytes of a key file for ``secret``; ``purpose`` is the comment line."""
    return f"# {purpose}\n{secret.hex()}\n".encode("ascii")


def create_key_file(path: str | Path, purpose: str) -> KeyFile:
    """A new key file at ``path`` (which must not exist) with :data:`KEY_BYTES` random bytes."""
    path = Path(path)
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        create_secret_file(path, format_key(secret, purpose))
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the key file: {exc.strerror}") from None
    return KeyFile(secret, path, created=True)


def read_key_file(path: str | Path, *, legacy_raw: bool = False, hint: str = "") -> KeyFile:
    """The key in ``path``; ``hint`` is added to the message when it cannot be read.

    With ``legacy_raw``, a file that is not in the text format but holds exactly 32 bytes is read
    as the raw key of earlier versions (``legacy`` is then True).
    """
    path = Path(path)
    suffix = f"; {hint}" if hint else ""
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the key file ({exc}){suffix}") from None
    open_to_others = os.name == "posix" and bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
    try:
        text = raw.decode("ascii")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        if len(lines) != 1:
            raise ValueError("expected one line of hex digits")
        secret = bytes.fromhex(lines[0])
    except ValueError:  # UnicodeDecodeError is a ValueError
        if legacy_raw and len(raw) == _LEGACY_RAW_BYTES:
            return KeyFile(raw, path, legacy=True, open_to_others=open_to_others)
        raise KeyFileError(
            f"{path}: not a surveytool key file (one line of hex digits); give the right file, "
            "or a path that does not exist yet to create a new key"
        ) from None
    return KeyFile(secret, path, open_to_others=open_to_others)


def open_key_file(
    path: str | Path, purpose: str, *, create: bool = True, legacy_raw: bool = False, hint: str = ""
) -> KeyFile:
    """Read the key file at ``path``, or create it when missing (``create``).

    A legacy raw key (``legacy_raw``) is rewritten in the text format, atomically and 0600.
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise KeyFileError(f"{path}: no such key file")
        try:
            return create_key_file(path, purpose)
        except KeyFileError:
            if path.exists():  # another process created it first: read theirs
                return read_key_file(path, legacy_raw=legacy_raw, hint=hint)
            raise
    key = read_key_file(path, legacy_raw=legacy_raw, hint=hint)
    if key.legacy:
        try:
            write_bytes_atomic(path, format_key(key.secret, purpose), secret=True)
        except OSError:
            return key  # still readable as it is; rewriting is a courtesy
        return KeyFile(key.secret, path)
    return key
