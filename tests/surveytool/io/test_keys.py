"""``surveytool.io.keys``: one key-file format for the pseudonym keys and the personal store."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

import pytest

from analysis.privacy.pseudonyms import PseudonymKey
from surveytool.io.keys import KeyFileError, open_key_file, read_key_file
from surveytool.personal_store import PersonalStore


def test_one_format_for_both_keys(tmp_path: Path, no_umask: int) -> None:
    store = PersonalStore(tmp_path / "data")
    store.code_key("maple-river-heron-42")
    personal = tmp_path / "data" / "personal-codes.key"
    pseudonym = PseudonymKey.from_file(tmp_path / "cohort.key")
    for path in (personal, tmp_path / "cohort.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = path.read_text("ascii").splitlines()
        assert lines[0].startswith("# surveytool ")
        assert len(bytes.fromhex(lines[1])) == 32
    key = read_key_file(personal)
    expected = hmac.new(key.secret, b"maple-river-heron-42", hashlib.sha256).hexdigest()
    assert store.code_key("maple-river-heron-42") == expected
    assert read_key_file(tmp_path / "cohort.key").secret.hex() not in repr(pseudonym)


def test_legacy_raw_personal_key_is_read_and_rewritten(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    raw = secrets.token_bytes(32)
    legacy = folder / "personal-codes.key"
    fd = os.open(legacy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)  # the format of earlier versions: 32 raw bytes
    code_key = PersonalStore(folder).code_key("maple-river-heron-42")
    assert code_key == hmac.new(raw, b"maple-river-heron-42", hashlib.sha256).hexdigest()
    assert read_key_file(legacy).secret == raw  # rewritten in the one format, same key
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o600
    assert PersonalStore(folder).code_key("maple-river-heron-42") == code_key


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no such key file"):
        open_key_file(tmp_path / "none.key", "test", create=False)
    raw = tmp_path / "raw.key"
    raw.write_bytes(secrets.token_bytes(32))
    with pytest.raises(KeyFileError, match="not a surveytool key file"):
        read_key_file(raw)  # raw bytes are read only where earlier versions wrote them
    folder = tmp_path / "folder.key"
    folder.mkdir()
    with pytest.raises(KeyFileError, match=r"cannot read the key file.*; the hint"):
        read_key_file(folder, hint="the hint")
    open_key = open_key_file(tmp_path / "open.key", "test")
    os.chmod(open_key.path, 0o644)
    note = open_key_file(open_key.path, "test").mode_note
    assert note is not None and "chmod 600" in note
