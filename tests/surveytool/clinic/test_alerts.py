"""Alerts from critical checks: created with the answers in one transaction, saying what the
clinician needs (item text, answer label, rule, time), listed oldest first with their age; a
database of revision 0003 with alerts and notifications upgrades to the newest and keeps them,
and one of 0004 gains the alerts of links (no administration yet, one per link and check)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveytool.clinic.administrations import record_administration
from surveytool.clinic.alerts import alert_age, alert_text, open_alerts
from surveytool.clinic.clients import add_client, get_client
from surveytool.clinic.models import (
    IN_PERSON,
    Administration,
    Alert,
    Clinician,
    ItemAnswer,
    utcnow,
)
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import MOOD_YAML, add_test_clinician, mood_answers, write_mood


@pytest.fixture
def store(tmp_path: Path) -> ClinicStore:
    found = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    found.ensure_ready()
    return found


def seed(store: ClinicStore, code: str = "C-001") -> int:
    with store.write() as session:
        alice = add_test_clinician(session)
        return add_client(
            session, code, display_name=None, clinician=alice, actor="clinician:alice"
        ).id


def counts(store: ClinicStore) -> tuple[int, int, int]:
    with store.read() as session:
        return tuple(  # type: ignore[return-value]
            int(session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one())
            for m in (Administration, ItemAnswer, Alert)
        )


class Boom(Exception):
    pass


def test_the_alert_is_created_in_the_same_transaction_as_the_answers(
    store: ClinicStore, tmp_path: Path
) -> None:
    path = write_mood(tmp_path)
    inst = load_instrument(path)
    client_id = seed(store)
    # a failure after the answers and the alert were added: neither is kept
    with pytest.raises(Boom), store.write() as session:
        record_administration(
            session,
            get_client(session, client_id),
            inst,
            str(path),
            mood_answers(5, 2),
            form=None,
            mode=IN_PERSON,
            clinician=None,
            actor="test",
        )
        assert session.execute(sa.select(sa.func.count()).select_from(Alert)).scalar_one() == 1
        raise Boom
    assert counts(store) == (0, 0, 0)
    # committed: the answers and the alert together
    with store.write() as session:
        adm = record_administration(
            session,
            get_client(session, client_id),
            inst,
            str(path),
            mood_answers(5, 2),
            form=None,
            mode=IN_PERSON,
            clinician=None,
            actor="test",
        )
        adm_id = adm.id
    assert counts(store) == (1, 6, 1)
    with store.read() as session:
        (alert,) = session.execute(sa.select(Alert)).scalars()
        assert alert.administration_id == adm_id
        assert (alert.check_id, alert.item_id, alert.item_text) == (
            "hopeless",
            "D3",
            "I felt hopeless.",
        )
        assert (alert.answer, alert.answer_label, alert.reason) == (5, "Always", "rule")
        assert alert.rule == "answer at or above 5 (Always)"
        assert alert_text(alert) == (
            "Item D3 \u201cI felt hopeless.\u201d: answered 5 \u201cAlways\u201d, which meets the "
            "rule: answer at or above 5 (Always)."
        )


def test_a_skip_or_missing_code_alerts_when_the_check_says_so(
    store: ClinicStore, tmp_path: Path
) -> None:
    text = MOOD_YAML.replace("on_skip: none", "on_skip: alert").replace(
        "on_missing_code: none", "on_missing_code: alert"
    )
    path = write_mood(tmp_path, text)
    inst = load_instrument(path)
    client_id = seed(store)
    for d3 in (None, 9):
        with store.write() as session:
            record_administration(
                session,
                get_client(session, client_id),
                inst,
                str(path),
                mood_answers(2, 2, D3=d3),
                form=None,
                mode=IN_PERSON,
                clinician=None,
                actor="test",
            )
    with store.read() as session:
        skipped, coded = session.execute(sa.select(Alert).order_by(Alert.id)).scalars()
        assert (skipped.answer, skipped.reason) == (None, "skip")
        assert alert_text(skipped) == (
            "Item D3 \u201cI felt hopeless.\u201d: left unanswered, which this check treats as "
            "an alert."
        )
        assert (coded.answer, coded.answer_label, coded.reason) == (
            9,
            "Prefer not to say",
            "missing_code",
        )
        assert "\u201cPrefer not to say\u201d (not answered)" in alert_text(coded)


def test_open_alerts_oldest_first_with_their_age(store: ClinicStore, tmp_path: Path) -> None:
    path = write_mood(tmp_path)
    inst = load_instrument(path)
    first = seed(store, "C-001")
    with store.write() as session:
        owner = session.execute(sa.select(Clinician)).scalar_one()
        second = add_client(
            session, "C-002", display_name=None, clinician=owner, actor="clinician:alice"
        ).id
    for client_id in (second, first):
        with store.write() as session:
            record_administration(
                session,
                get_client(session, client_id),
                inst,
                str(path),
                mood_answers(5, 2),
                form=None,
                mode=IN_PERSON,
                clinician=None,
                actor="test",
            )
    now = utcnow()
    with store.write() as session:
        older, newer = session.execute(sa.select(Alert).order_by(Alert.id)).scalars()
        older.created_at = now - timedelta(days=2, hours=3)
        newer.created_at = now - timedelta(minutes=5)
    with store.read() as session:
        listed = open_alerts(session)
        assert [a.client.code for a in listed] == ["C-002", "C-001"]  # the oldest first
        assert [alert_age(a, now) for a in listed] == ["2 days", "5 minutes"]
    assert alert_age(Alert(created_at=now), now) == "under a minute"
    assert alert_age(Alert(created_at=now - timedelta(hours=1)), now) == "1 hour"


def test_revision_0003_with_alerts_and_notifications_upgrades(tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    store.upgrade("0003")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO clients (id, code, created_at) VALUES (1, 'C1', '2026-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO administrations (id, client_id, instrument_id, instrument_version, "
            "instrument_hash, instrument_source, actor, administered_at, mode, status) VALUES "
            "(1, 1, 'ppai', '1.0.0', 'h', 'ppai', 'x', '2026-01-01', 'in_person', 'complete')"
        )
        conn.exec_driver_sql(
            "INSERT INTO alerts (id, administration_id, client_id, item_id, answer, message, "
            "created_at) VALUES (1, 1, 1, 'LS5', 5, 'old message', '2026-01-01 10:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO notifications (id, alert_id, kind, recipient, attempted_at) VALUES "
            "(1, 1, 'notify', 'a@example.org', '2026-01-01')"
        )
    assert store.upgrade() == ("0003", "0005")
    with store.read() as session:
        (alert,) = session.execute(sa.select(Alert)).scalars()
        assert (alert.item_id, alert.answer, alert.message, alert.rule) == (
            "LS5",
            5,
            "old message",
            None,
        )
        assert alert_text(alert) == "Item LS5: answered 5."
    with store.engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert conn.exec_driver_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.exec_driver_sql(  # a skip alert (no answer) can now be stored
            "INSERT INTO alerts (id, administration_id, client_id, item_id, answer, message, "
            "created_at, reason) VALUES (2, 1, 1, 'LS5', NULL, '', '2026-01-02', 'skip')"
        )
    store.dispose()


def test_revision_0004_gains_link_alerts_and_keeps_every_alert(tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    store.upgrade("0004")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO clients (id, code, created_at) VALUES (1, 'C1', '2026-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO administrations (id, client_id, instrument_id, instrument_version, "
            "instrument_hash, instrument_source, actor, administered_at, mode, status) VALUES "
            "(1, 1, 'mood', '1.0.0', 'h', 'mood', 'x', '2026-01-01', 'in_person', 'complete')"
        )
        conn.exec_driver_sql(
            "INSERT INTO alerts (id, administration_id, client_id, item_id, answer, message, "
            "created_at, check_id, reason) VALUES "
            "(1, 1, 1, 'D3', 5, '', '2026-01-01 10:00:00', 'hopeless', 'rule')"
        )
        conn.exec_driver_sql(
            "INSERT INTO notifications (id, alert_id, kind, recipient, attempted_at) VALUES "
            "(1, 1, 'notify', 'a@example.org', '2026-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO links (id, token_hash, client_id, instrument_id, instrument_source, "
            "show_results, created_at, expires_at) VALUES "
            "(1, 't', 1, 'mood', 'mood', 0, '2026-01-01', '2026-01-02')"
        )
    assert store.upgrade() == ("0004", "0005")
    with store.read() as session:
        (alert,) = session.execute(sa.select(Alert)).scalars()
        assert (alert.id, alert.administration_id, alert.link_id) == (1, 1, None)
    with store.engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert conn.exec_driver_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
        insert = (
            "INSERT INTO alerts (administration_id, client_id, item_id, answer, message, "
            "created_at, check_id, link_id) VALUES (NULL, 1, 'D3', 5, '', '2026-01-02', "
            "'hopeless', 1)"
        )
        conn.exec_driver_sql(insert)  # an alert of a link, before any administration
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.exec_driver_sql(insert)  # a second of the same link and check is refused
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        # the reference to the link is kept (no link 99)
        conn.exec_driver_sql(insert.replace("'hopeless', 1)", "'other', 99)"))
    store.dispose()
