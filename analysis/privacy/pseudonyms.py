"""Keyed pseudonyms and their key file.

**Respondent ids become keyed pseudonyms**: HMAC-SHA-256(key, id), the first 128 bits in hex.
The key lives in a key file (created with :mod:`secrets`, mode 0600) that never goes into the
output; the same key gives the same pseudonyms, so waves link. Plain hashes are not offered: ids
are few and guessable, so a plain hash is reversed by trying them all.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from surveytool.io.keys import KeyFileError, open_key_file

PSEUDONYM_COLUMN: Final = "pseudonym"
"""Name of the pseudonymous id column in every anonymized table."""

PSEUDONYM_HEX = 32
"""Hex digits kept of the HMAC-SHA-256 (128 bits: no collision among billions of ids)."""


_KEY_PURPOSE = "surveytool pseudonym key (HMAC-SHA-256). Keep it apart from the data; back it up."
_MIN_KEY_BYTES = 16


class PseudonymKey:
    """The secret of keyed pseudonyms; never printed, never written to any output.

    Build it with :meth:`from_file` (creates the file when missing) or :meth:`from_secret`.
    """

    __slots__ = ("_secret", "created", "notes", "path")

    def __init__(self, secret: bytes, path: Path | None = None, created: bool = False) -> None:
        if len(secret) < _MIN_KEY_BYTES:
            raise KeyFileError(
                f"a pseudonym key needs at least {_MIN_KEY_BYTES} random bytes, got {len(secret)}"
            )
        self._secret = bytes(secret)
        self.path = path
        self.created = created
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"PseudonymKey(fingerprint={self.fingerprint!r}, path={self.path!r})"

    @classmethod
    def from_secret(cls, secret: bytes) -> PseudonymKey:
        """A key from bytes you hold (at least 16, from a secure random source)."""
        return cls(secret)

    @classmethod
    def from_file(cls, path: str | Path, *, create: bool = True) -> PseudonymKey:
        """Read the key file, or create it (32 random bytes, hex, mode 0600) when missing.

        The key-file format is :mod:`surveytool.io.keys`'.
        """
        found = open_key_file(
            path, _KEY_PURPOSE, create=create, hint="give the key file this cohort was made with"
        )
        key = cls(found.secret, found.path, created=found.created)
        note = found.mode_note
        if note is not None:
            key.notes.append(note)
        return key

    @property
    def fingerprint(self) -> str:
        """Identifies the key (to refuse mixing keys in one cohort) without revealing it."""
        return hmac.new(self._secret, b"surveytool key fingerprint v1", hashlib.sha256).hexdigest()[
            :16
        ]

    def pseudonym(self, respondent_id: str) -> str:
        """HMAC-SHA-256(key, id) in hex, first 128 bits."""
        digest = hmac.digest(self._secret, respondent_id.encode("utf-8"), "sha256")
        return digest.hex()[:PSEUDONYM_HEX]

    def pseudonyms(self, ids: Iterable[object]) -> list[str | None]:
        """Pseudonym of every id (None for a missing or empty id)."""
        out: list[str | None] = []
        cache: dict[str, str] = {}
        secret, digest, width = self._secret, hmac.digest, PSEUDONYM_HEX // 2
        for value in ids:
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                out.append(None)
                continue
            text = value if type(value) is str else str(value)
            if not text:
                out.append(None)
                continue
            known = cache.get(text)
            if known is None:
                # as pseudonym(): the first 128 bits of HMAC-SHA-256(key, id) in hex
                known = cache[text] = digest(secret, text.encode("utf-8"), "sha256")[:width].hex()
            out.append(known)
        return out

    def day_offset(self, respondent: str, max_days: int) -> int:
        """A per-respondent date shift in ±1..max_days days (never 0), drawn from the key."""
        digest = hmac.new(self._secret, b"date-shift\x00" + respondent.encode(), hashlib.sha256)
        draw = int.from_bytes(digest.digest()[:8], "big") % (2 * max_days)
        return draw - max_days if draw < max_days else draw - max_days + 1


def load_key(
    key: PseudonymKey | bytes | str | Path | None, default_path: Path | None = None
) -> PseudonymKey:
    """A key object from a key, raw bytes, or a key file path (created when missing)."""
    if isinstance(key, PseudonymKey):
        return key
    if isinstance(key, bytes):
        return PseudonymKey.from_secret(key)
    if key is None:
        if default_path is None:
            raise KeyFileError("give a key file (key_file=...) or a key for the pseudonyms")
        return PseudonymKey.from_file(default_path)
    return PseudonymKey.from_file(key)


def default_key_path(cohort: Path) -> Path:
    """Where a cohort's key goes when no key file is given: the user's data folder, not the data's."""
    import hashlib

    from surveytool.personal_store import data_dir

    # one key per cohort file (its absolute path), so two studies that both write
    # "cohort.parquet" in different folders never share a key and cannot be linked
    where = hashlib.sha256(str(cohort.resolve()).encode("utf-8")).hexdigest()[:12]
    return data_dir() / "keys" / f"{cohort.stem}-{where}.key"
