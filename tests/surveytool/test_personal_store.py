"""The personal store (surveytool/personal_store.py): owner-only files, secure deletion, codes.

The database files are read as raw bytes (the SQLite file, its ``-wal`` and ``-shm``): what a
person who copies the folder would find, not what SQL shows.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from surveytool.errors import SurveytoolError
from surveytool.personal_store import (
    CODE_ALPHABET,
    CheckpointError,
    PersonalStore,
    check_new_code,
    guesses_log10,
    new_code,
)
from surveytool.report import build_report
from tests.surveytool.test_report import PPAI, SCREEN

DB_FILES = ("surveytool.sqlite3", "surveytool.sqlite3-wal", "surveytool.sqlite3-shm")


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give (022): without care, SQLite's files would be 0644."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def save(store: PersonalStore, code: str, value: int) -> tuple[bytes, bytes]:
    """Save the short form answered ``value`` everywhere; returns the stored JSON texts."""
    report = build_report(PPAI, dict.fromkeys(SCREEN, value), form="screen")
    scores = {s.id: s.score for s in (*report.subscales, *report.composites)}
    store.save(code, provenance=report.provenance, answers=report.answers, scores=scores)
    return json.dumps(report.answers).encode(), json.dumps(scores).encode()


def raw_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in DB_FILES if (folder / name).exists()}


def test_files_are_owner_only(tmp_path: Path, usual_umask: None) -> None:
    folder = tmp_path / "data"
    store = PersonalStore(folder)
    save(store, new_code(), 3)
    assert mode(folder) == 0o700
    assert {p.name for p in folder.iterdir()} == {*DB_FILES, "personal-codes.key"}
    for path in folder.iterdir():
        assert mode(path) == 0o600, path.name
    store.dispose()


def test_files_of_earlier_versions_are_narrowed(tmp_path: Path, usual_umask: None) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "surveytool.sqlite3"
    old = sqlite3.connect(path)  # as earlier versions left it: 0644, in WAL mode
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    old.commit()
    assert mode(path) == 0o644 and mode(folder / "surveytool.sqlite3-wal") == 0o644
    store = PersonalStore(folder)
    save(store, new_code(), 2)
    old.close()
    for name in DB_FILES:
        assert mode(folder / name) == 0o600, name
    store.dispose()


def test_no_answer_survives_deletion_in_the_database_files(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = PersonalStore(folder)
    mine, theirs = new_code(), new_code()
    my_texts = [*save(store, mine, 2), *save(store, mine, 1)]
    their_texts = list(save(store, theirs, 4))
    my_fragments = [b'"FF1": 2.0', b'"FF1": 1.0']  # one answer of each of my results
    my_key = store.code_key(mine).encode()
    before = b"".join(raw_bytes(folder).values())
    for needle in (*my_texts, *my_fragments, my_key):
        assert needle in before  # the check can see them: they are there before deleting

    assert store.delete(mine) == 2

    files = raw_bytes(folder)
    assert set(files) == set(DB_FILES)
    assert files["surveytool.sqlite3-wal"] == b""  # checkpointed and truncated
    for name, blob in files.items():
        for needle in (*my_texts, *my_fragments, my_key):
            assert needle not in blob, (name, needle[:40])
    for needle in their_texts:  # the other code's result is still there, and still readable
        assert needle in files["surveytool.sqlite3"]
    assert len(store.history(theirs, "ppai")) == 1 and store.history(mine, "ppai") == []
    store.dispose()
    # and with every connection closed, as a person would copy the folder
    for name, blob in raw_bytes(folder).items():
        for needle in (*my_texts, *my_fragments):
            assert needle not in blob, name


def test_a_checkpoint_that_cannot_finish_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = PersonalStore(folder, busy_timeout=0.2)
    code = new_code()
    answers, _ = save(store, code, 2)
    reader = sqlite3.connect(folder / "surveytool.sqlite3")
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM saved_results").fetchall()  # holds a read snapshot
    with pytest.raises(CheckpointError, match="another program has the database open"):
        store.delete(code)
    reader.close()
    assert store.delete(code) == 0  # deleting again finishes the job
    for name, blob in raw_bytes(folder).items():
        assert answers not in blob, name
    store.dispose()


def test_counting_and_deleting_create_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = PersonalStore(folder)
    assert store.count("k7qm-3xpa-9rtd") == 0
    assert store.delete("k7qm-3xpa-9rtd") == 0
    assert not folder.exists()


def test_generated_codes() -> None:
    codes = {new_code() for _ in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert re.fullmatch(
            rf"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}", code
        )
        assert check_new_code(code) == code
        assert check_new_code(code.upper().replace("-", " ")) == code  # as someone may type it


@pytest.mark.parametrize(
    "code", ["123456", "password1", "abcdefgh", "qwerty-uiop", "iloveyou", "maple-11"]
)
def test_guessable_chosen_codes_are_refused(tmp_path: Path, code: str) -> None:
    assert guesses_log10(code) < 10
    with pytest.raises(SurveytoolError, match="too easy to guess"):
        check_new_code(code)
    store = PersonalStore(tmp_path / "data")
    with pytest.raises(SurveytoolError, match="too easy to guess"):
        save(store, code, 3)
    assert not (tmp_path / "data").exists()  # refused before any file was made


@pytest.mark.parametrize("code", ["maple-river-heron-42", "blue house by the sea"])
def test_strong_chosen_codes_are_accepted(code: str) -> None:
    assert check_new_code(code) == "-".join(code.split())


def test_too_short_and_too_long_codes() -> None:
    with pytest.raises(SurveytoolError, match="at least 6 characters"):
        check_new_code("ab c")
    with pytest.raises(SurveytoolError, match="at most 64 characters; yours has 70"):
        check_new_code("x" * 70)


def test_the_country_is_saved_and_older_stores_gain_the_column(tmp_path: Path) -> None:
    # a store written before results kept the country: its table has no such column
    folder = tmp_path / "old"
    folder.mkdir(mode=0o700)
    with sqlite3.connect(folder / "surveytool.sqlite3") as conn:
        conn.execute(
            "CREATE TABLE saved_results (id INTEGER PRIMARY KEY, code_key VARCHAR(64) NOT NULL,"
            " instrument_id VARCHAR(64) NOT NULL, instrument_version VARCHAR(32) NOT NULL,"
            " instrument_hash VARCHAR(64) NOT NULL, form VARCHAR(64), created_at DATETIME NOT"
            " NULL, answers TEXT NOT NULL, scores TEXT NOT NULL)"
        )
    store = PersonalStore(folder)
    code = "quiet-harbour-moss-19"
    save(store, code, 2)
    report = build_report(PPAI, dict.fromkeys(SCREEN, 3), form="screen")
    scores = {s.id: s.score for s in (*report.subscales, *report.composites)}
    store.save(
        code, provenance=report.provenance, answers=report.answers, scores=scores, country="NZ"
    )
    assert [r.country for r in store.history(code, PPAI.id)] == ["", "NZ"]
    store.dispose()
