"""The audit trail covers the clinical record: rewriting an administration's answers or scores,
deleting its alert, un-acknowledging it, editing a note or slipping a row in, each directly in
the SQLite file, makes ``surveytool clinic verify-audit`` fail; so does removing the newest
audit rows (the head is kept in a file outside the database, and can be kept elsewhere too)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from surveytool.clinic import audit
from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.test_cli import administer_mood, fails, ok


def _db(env: dict[str, str]) -> str:
    return env["SURVEYTOOL_DATABASE_URL"].removeprefix("sqlite:///")


def _record(env: dict[str, str], tmp_path: Path) -> None:
    """Two administrations (the second with a critical answer: an alert), an acknowledgement
    and a note."""
    administer_mood(env, tmp_path, 3, 3)
    administer_mood(env, tmp_path, 5, 2)
    ok(env, "acknowledge", "1", "--note", "phoned")
    ok(env, "note", "C-001", "first session went well")
    assert "audit log verified" in ok(env, "verify-audit")


TAMPERING = {
    "answer changed": (
        "UPDATE item_answers SET value = 1 WHERE administration_id = 2 AND item_id = 'D3'",
        r"the answers of administration 2 were changed outside surveytool after audit row \d+",
    ),
    "answer deleted": (
        "DELETE FROM item_answers WHERE administration_id = 1 AND item_id = 'W1'",
        "the answers of administration 1 were changed",
    ),
    "score changed": (
        "UPDATE scores SET value = 1.0, band = 'Mild' WHERE administration_id = 2",
        "the scores of administration 2 were changed",
    ),
    "administration re-dated": (
        "UPDATE administrations SET administered_at = '2020-01-01 00:00:00' WHERE id = 1",
        "administration 1 was changed",
    ),
    "alert deleted": (
        "DELETE FROM alerts WHERE id = 1",
        r"alert 1 was deleted outside surveytool \(audit row \d+ records it\)",
    ),
    "acknowledgement undone": (
        "UPDATE alerts SET acknowledged_at = NULL, acknowledgement_note = NULL WHERE id = 1",
        "alert 1 was changed",
    ),
    "note edited": (
        "UPDATE notes SET text = 'nothing to note' WHERE id = 1",
        "note 1 was changed",
    ),
    "note slipped in": (
        "INSERT INTO notes (client_id, clinician_id, actor, created_at, text) VALUES "
        "(1, NULL, 'clinician:alice', '2026-01-01 00:00:00', 'backdated')",
        r"note 2 is not in the audit log \(added outside surveytool\)",
    ),
}


@pytest.mark.parametrize("sql, message", TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_with_the_clinical_record_is_detected(
    clinic: dict[str, str], tmp_path: Path, sql: str, message: str
) -> None:
    _record(clinic, tmp_path)
    with sqlite3.connect(_db(clinic)) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(sql)
    fails(
        clinic, "verify-audit", match="the clinical record does not match the audit log: " + message
    )


def test_administration_deleted_with_everything_is_detected(
    clinic: dict[str, str], tmp_path: Path
) -> None:
    _record(clinic, tmp_path)
    with sqlite3.connect(_db(clinic)) as conn:
        for table in ("item_answers", "scores", "alerts"):
            conn.execute(f"DELETE FROM {table} WHERE administration_id = 2")
        conn.execute("DELETE FROM administrations WHERE id = 2")
    fails(clinic, "verify-audit", match="administration 2 was deleted outside surveytool")


def test_removing_the_newest_audit_rows_is_detected(clinic: dict[str, str], tmp_path: Path) -> None:
    _record(clinic, tmp_path)
    store = ClinicStore(clinic["SURVEYTOOL_DATABASE_URL"])
    head_file = store.head_path()
    head = json.loads(head_file.read_text())
    printed = ok(clinic, "audit-head", "--output", str(tmp_path / "kept-elsewhere.json"))
    assert head["hash"] in printed and str(head_file) in printed
    assert head_file.stat().st_mode & 0o777 == 0o600
    with store.read() as session:
        assert audit.verify(session).rows == head["id"]
    store.dispose()
    # the note's audit row (the newest) and the note go; the chain alone still verifies
    with sqlite3.connect(_db(clinic)) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
        conn.execute("DELETE FROM notes")
    fails(
        clinic,
        "verify-audit",
        match=rf"broken at row {head['id']}: the newest rows were removed: the head file names "
        rf"row {head['id']}",
    )
    # the head file removed as well: a missing head is itself a failure (else removing the
    # rows and the head together would pass), and the copy kept elsewhere still tells
    head_file.unlink()
    fails(
        clinic, "verify-audit", match=rf"the audit head file {re.escape(str(head_file))} is missing"
    )
    fails(
        clinic,
        "verify-audit",
        "--head",
        str(tmp_path / "kept-elsewhere.json"),
        match="the newest rows were removed",
    )


def test_every_change_moves_the_head_file(clinic: dict[str, str], tmp_path: Path) -> None:
    store = ClinicStore(clinic["SURVEYTOOL_DATABASE_URL"])
    before = json.loads(store.head_path().read_text())
    administer_mood(clinic, tmp_path, 3, 3)
    after = json.loads(store.head_path().read_text())
    assert after["id"] == before["id"] + 1 and after["hash"] != before["hash"]
    with store.read() as session:
        head = audit.current_head(session)
    assert head is not None and (head.id, head.hash) == (after["id"], after["hash"])
    store.dispose()


def test_a_backup_keeps_its_audit_head_and_a_restored_backup_verifies(
    clinic: dict[str, str], tmp_path: Path
) -> None:
    _record(clinic, tmp_path)
    store = ClinicStore(clinic["SURVEYTOOL_DATABASE_URL"])
    live_head = json.loads(store.head_path().read_text())
    store.dispose()
    copy = tmp_path / "backups" / "monday.sqlite3"
    copy.parent.mkdir()
    printed = ok(clinic, "backup", str(copy))
    copy_head = copy.with_name("monday.sqlite3.audit-head")
    assert f"its audit head: {copy_head}" in printed
    assert json.loads(copy_head.read_text()) == live_head
    assert copy_head.stat().st_mode & 0o777 == 0o600
    # restored as its own database: it verifies against its own head
    restored = dict(clinic, SURVEYTOOL_DATABASE_URL=f"sqlite:///{copy}")
    assert "audit log verified" in ok(restored, "verify-audit")
    # the database copied back without its head: refused, with what to do
    copy_head.unlink()
    fails(restored, "verify-audit", match="copy the backup's .audit-head file to")
    # with a head kept elsewhere: verified, and a note that the head beside it is missing
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps(live_head))
    printed = ok(restored, "verify-audit", "--head", str(kept))
    assert "audit log verified" in printed and "note: the audit head file" in printed
    # a second backup to the same name is refused before anything is written
    fails(clinic, "backup", str(copy), match="already exists")
