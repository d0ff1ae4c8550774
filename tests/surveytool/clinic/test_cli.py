"""``surveytool clinic ...``: every command on a real SQLite file; the interactive ones (hidden
password prompt, in-person administration) through a real pseudo-terminal (pexpect).

Every user mistake must give one line on stderr, exit status 1 and no traceback.
"""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner, Result

from surveytool.cli import cli
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import mood_answers, write_mood

PASSWORD = "correct horse battery"
PPAI = load_instrument("ppai@1.0.0")
SCREEN = list(PPAI.short_form_by_id["screen"].items)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["clinic", *args], env=env, input=input)


def ok(env: dict[str, str], *args: str, input: str | None = None) -> str:
    result = run(env, *args, input=input)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return result.stdout


def fails(env: dict[str, str], *args: str, match: str, input: str | None = None) -> None:
    """A user mistake: exit 1, one 'error:' line on stderr, no traceback."""
    result = run(env, *args, input=input)
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(match, lines[0]), lines[0]


def answers_file(folder: Path, answers: Mapping[str, object]) -> Path:
    path = folder / f"answers-{len(list(folder.glob('answers-*')))}.json"
    path.write_text(json.dumps(answers), "utf-8")
    return path


def db_rows(env: dict[str, str], query: str) -> list[tuple[object, ...]]:
    path = env["SURVEYTOOL_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


# ---------------------------------------------------------------------------------------------
# set-up commands
# ---------------------------------------------------------------------------------------------


def test_init_creates_then_is_idempotent_and_upgrades(env: dict[str, str], tmp_path: Path) -> None:
    assert "created the clinic database" in ok(env, "init")
    assert "up to date (schema revision 0005)" in ok(env, "init")
    old = dict(env, SURVEYTOOL_DATABASE_URL=f"sqlite:///{tmp_path / 'old.sqlite3'}")
    store = ClinicStore(old["SURVEYTOOL_DATABASE_URL"])
    store.upgrade("0001")
    store.dispose()
    fails(old, "clients", "list", match="revision 0001.*clinic init")
    assert "from revision 0001 to 0005" in ok(old, "init")
    assert "no clients yet" in ok(old, "clients", "list")


def test_the_first_account_is_made_whatever_surveytool_clinician_names(
    env: dict[str, str],
) -> None:
    """SURVEYTOOL_CLINICIAN often names the account about to be made: for the first account
    nobody can act yet, so the system user makes it; later, an --as that names no account is
    refused before the password is asked."""
    ok(env, "init")
    as_alex = dict(env, SURVEYTOOL_CLINICIAN="alex")
    assert "clinician 'alex' created (admin)" in ok(
        as_alex, "add-clinician", "alex", "--password-stdin", input=PASSWORD
    )
    made = db_rows(env, "SELECT actor FROM audit_log WHERE action = 'clinician.add' ORDER BY id")
    assert len(made) == 1 and str(made[0][0]).startswith("cli:"), made
    assert "clinician 'sam' created (clinician)" in ok(
        as_alex, "add-clinician", "sam", "--password-stdin", input=PASSWORD
    )
    made = db_rows(env, "SELECT actor FROM audit_log WHERE action = 'clinician.add' ORDER BY id")
    assert [str(a[0]) for a in made][1] == "clinician:alex"  # alex, the account, made sam
    fails(
        dict(env, SURVEYTOOL_CLINICIAN="nobody"),
        "add-clinician",
        "kim",
        "--password-stdin",
        input="",  # refused before any password is read
        match="no clinician 'nobody'",
    )


def test_database_url_option_wins(env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    ok(env, "--database-url", f"sqlite:///{other}", "init")
    assert other.exists() and not (tmp_path / "clinic.sqlite3").exists()
    fails(env, "--database-url", "mysql://x@y/z", "init", match="unsupported database")
    fails(env, "--database-url", "sqlite://", "init", match="must be a file")


def test_add_clinician_from_stdin_and_its_mistakes(env: dict[str, str]) -> None:
    ok(env, "init")
    out = ok(env, "add-clinician", "Bob", "--name", "Dr Bob", "--password-stdin", input=PASSWORD)
    assert "clinician 'bob' created" in out
    rows = db_rows(env, "SELECT username, display_name, password_hash FROM clinicians")
    assert rows[0][:2] == ("bob", "Dr Bob") and str(rows[0][2]).startswith("$argon2id$")
    assert PASSWORD not in str(rows)
    fails(env, "add-clinician", "bob", "--password-stdin", input=PASSWORD, match="already exists")
    fails(env, "add-clinician", "carol", "--password-stdin", input="short", match="too short")
    fails(env, "add-clinician", "c d", "--password-stdin", input=PASSWORD, match="invalid username")
    # a piped password without --password-stdin and no terminal at all: said so (getpass warned
    # that it cannot hide it); with a controlling terminal getpass prompts there instead
    from surveytool.cli.clinic import _has_terminal

    if not _has_terminal():
        fails(
            env, "add-clinician", "erin", input=PASSWORD, match="needs a terminal.*--password-stdin"
        )
    assert [r[0] for r in db_rows(env, "SELECT action FROM audit_log")] == ["clinician.add"]


def spawn(env: dict[str, str], *args: str) -> tuple[pexpect.spawn, io.StringIO]:
    log = io.StringIO()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "surveytool", "clinic", *args],
        env=dict(os.environ, **env, TERM="dumb", LINES="50"),
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    child.logfile_read = log
    return child, log


def test_add_clinician_asks_twice_without_echo(env: dict[str, str]) -> None:
    ok(env, "init")
    child, log = spawn(env, "add-clinician", "dana")
    child.expect("Password for dana: ")
    child.sendline(PASSWORD)
    child.expect("Repeat the password: ")
    child.sendline(PASSWORD + "x")
    child.expect("do not match")
    child.expect("Password for dana: ")
    child.sendline(PASSWORD)
    child.expect("Repeat the password: ")
    child.sendline(PASSWORD)
    child.expect("clinician 'dana' created")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert PASSWORD not in log.getvalue()  # never echoed
    assert db_rows(env, "SELECT username FROM clinicians") == [("dana",)]


# ---------------------------------------------------------------------------------------------
# clients and administrations
# ---------------------------------------------------------------------------------------------


def test_clients_add_list_show(clinic: dict[str, str]) -> None:
    made = ok(clinic, "clients", "add").strip()
    assert re.fullmatch(r"C-[0-9A-Z]{6}", made)
    fails(clinic, "clients", "add", "c-001", match="already exists")
    fails(clinic, "clients", "add", "Jane Roe", match="invalid client code")
    listing = ok(clinic, "clients", "list")
    assert "C-001" in listing and "Jane Roe" in listing and made in listing
    shown = ok(clinic, "clients", "show", "c-001")
    assert "client C-001" in shown and "name: Jane Roe" in shown
    fails(clinic, "clients", "show", "C-404", match="no client 'C-404'")


def test_administer_from_a_file_stores_scores_and_alert(
    clinic: dict[str, str], tmp_path: Path
) -> None:
    answers: dict[str, object] = dict.fromkeys(SCREEN, 3)
    answers["LS5"] = 5
    answers["FF1"] = "Mostly like me"  # a label works as well as its number
    out = ok(
        clinic,
        "--as",
        "alice",
        "administer",
        "C-001",
        "ppai@1.0.0",
        "--form",
        "screen",
        "--answers",
        str(answers_file(tmp_path, answers)),
    )
    assert "stored administration 1 for client C-001: 15 of 15 items answered (complete)" in out
    flat = " ".join(out.split())
    said = (
        "Item LS5 \u201cLately I feel so alone that getting through the day is hard.\u201d: "
        "answered 5 \u201cVery much like me\u201d, which meets the rule: answer at or above 4 "
        "(Mostly like me)."
    )
    assert said in flat  # the item's text, the answer's label and the rule
    assert "alert 1 is open until acknowledged" in flat
    assert "crisis line" in flat
    ((mode, actor, clinician, form),) = db_rows(
        clinic, "SELECT mode, actor, clinician_id, form FROM administrations"
    )
    assert (mode, actor, clinician, form) == ("in_person", "clinician:alice", 1, "screen")
    assert db_rows(clinic, "SELECT value FROM item_answers WHERE item_id = 'FF1'") == [(4,)]
    assert len(db_rows(clinic, "SELECT * FROM scores WHERE administration_id = 1")) == 16
    assert "OPEN" in ok(clinic, "clients", "show", "C-001")
    listed = " ".join(ok(clinic, "alerts").split())
    assert "alert 1: client C-001," in listed and "(open under a minute)" in listed
    assert said in listed
    # no mail server: notify does not pass silently while an alert waits
    fails(
        clinic,
        "notify",
        match=r"^error: 1 open alert\(s\), and no mail server is configured, so nobody is told "
        "by mail: see them with `surveytool clinic alerts`",
    )
    assert "alert 1 acknowledged" in ok(
        clinic, "--as", "alice", "acknowledge", "1", "--note", "phoned"
    )
    assert "no open alerts" in ok(clinic, "alerts")
    assert "no mail server configured (no open alerts now)" in ok(clinic, "notify")
    assert db_rows(clinic, "SELECT acknowledged_by_id, acknowledgement_note FROM alerts") == [
        (1, "phoned")
    ]


def test_administer_mistakes(clinic: dict[str, str], tmp_path: Path) -> None:
    good = answers_file(tmp_path, {"FF1": 3})
    fails(clinic, "administer", "C-404", "ppai@1.0.0", "--answers", str(good), match="no client")
    fails(clinic, "administer", "C-001", "nope", "--answers", str(good), match="no instrument")
    fails(
        clinic,
        "administer",
        "C-001",
        "ppai@1.0.0",
        "--form",
        "long",
        "--answers",
        str(good),
        match="no short form 'long'",
    )
    fails(
        clinic,
        "administer",
        "C-001",
        "ppai@1.0.0",
        "--answers",
        str(answers_file(tmp_path, {"FF1": 7})),
        match="FF1: type a number from 1 to 5",
    )
    fails(
        clinic,
        "administer",
        "C-001",
        "ppai@1.0.0",
        "--form",
        "screen",
        "--answers",
        str(answers_file(tmp_path, {"FF2": 3})),
        match="'FF2' is not an item of this form",
    )
    fails(
        clinic,
        "--as",
        "zed",
        "administer",
        "C-001",
        "ppai@1.0.0",
        "--answers",
        str(good),
        match="no clinician 'zed'",
    )
    assert db_rows(clinic, "SELECT count(*) FROM administrations") == [(0,)]


@pytest.fixture
def terminal_env(clinic: dict[str, str]) -> Iterator[dict[str, str]]:
    yield clinic


def test_administer_in_person_in_the_terminal(terminal_env: dict[str, str]) -> None:
    child, log = spawn(terminal_env, "administer", "C-001", "ppai@1.0.0", "--form", "screen")
    child.expect("Nothing is stored until the last item is answered")
    given: dict[str, int | None] = {}
    for k, item_id in enumerate(SCREEN):
        child.expect(re.escape(f"[{k + 1}/{len(SCREEN)}]"))
        child.expect(re.escape(PPAI.item_by_id[item_id].text))
        child.expect(r"answer \(s skip, b back\)")
        if k == 1:
            child.sendline("7")  # off the scale: asked again
            child.expect("type a number from 1 to 5")
            child.expect(r"answer \(s skip, b back\)")
        if k == 2:
            child.sendline("b")  # back to the second item, then on again
            child.expect(re.escape(f"[2/{len(SCREEN)}]"))
            child.expect(r"answer \(s skip, b back\) \[now 2, Enter keeps it\]")
            child.sendline("")  # Enter keeps the answer given
            child.expect(re.escape(f"[3/{len(SCREEN)}]"))
            child.expect(r"answer \(s skip, b back\)")
        if item_id == "LS5":
            value: int | None = 5
        elif k == 4:
            value = None
        else:
            value = 2
        child.sendline("s" if value is None else str(value))
        given[item_id] = value
    child.expect("stored administration 1 for client C-001: 14 of 15 items answered")
    child.expect("Critical check")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    rows = db_rows(terminal_env, "SELECT item_id, value FROM item_answers")
    stored = {str(k): v for k, v in rows}
    assert stored == given
    assert db_rows(terminal_env, "SELECT status, mode FROM administrations") == [
        ("partial", "in_person")
    ]
    assert db_rows(terminal_env, "SELECT item_id, answer FROM alerts") == [("LS5", 5)]
    assert "Traceback" not in log.getvalue()


def test_administer_interrupted_stores_nothing(terminal_env: dict[str, str]) -> None:
    child, _ = spawn(terminal_env, "administer", "C-001", "ppai@1.0.0", "--form", "screen")
    child.expect(r"answer \(s skip, b back\)")
    child.sendline("3")
    child.expect(r"\[2/15\]")
    child.expect(r"answer \(s skip, b back\)")
    child.sendintr()
    child.expect("Stopped: nothing was stored")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert db_rows(terminal_env, "SELECT count(*) FROM administrations") == [(0,)]
    assert db_rows(terminal_env, "SELECT count(*) FROM item_answers") == [(0,)]


# ---------------------------------------------------------------------------------------------
# history, report, export
# ---------------------------------------------------------------------------------------------


def administer_mood(env: dict[str, str], tmp_path: Path, low: int, well: int) -> None:
    path = tmp_path / "mood.yaml"
    if not path.exists():
        write_mood(tmp_path)
    ok(
        env,
        "administer",
        "C-001",
        str(path),
        "--answers",
        str(answers_file(tmp_path, dict(mood_answers(low, well)))),
    )


def test_history_shows_scores_and_reliable_change(clinic: dict[str, str], tmp_path: Path) -> None:
    administer_mood(clinic, tmp_path, 5, 2)
    administer_mood(clinic, tmp_path, 2, 4)
    out = ok(clinic, "history", "C-001")
    assert "Mood check: client C-001" in out
    assert "5.00 Marked" in out and "2.00 Mild" in out
    assert "-3.00 reliable improvement (RCI -6.85)" in out
    for answers in ({i.id: 4 for i in PPAI.items}, {i.id: 2 for i in PPAI.items}):
        ok(
            clinic,
            "administer",
            "C-001",
            "ppai@1.0.0",
            "--answers",
            str(answers_file(tmp_path, answers)),
        )
    out = ok(clinic, "history", "C-001", "--instrument", "ppai")
    assert "not judged: no SD/reliability" in out
    assert "reliable change: no SD and reliability" in out
    assert "Mood check" not in out
    assert "no administrations of nope" in ok(clinic, "history", "C-001", "--instrument", "nope")


def test_report_html_has_what_a_clinician_needs(clinic: dict[str, str], tmp_path: Path) -> None:
    administer_mood(clinic, tmp_path, 5, 2)
    administer_mood(clinic, tmp_path, 2, 4)
    ok(clinic, "--as", "alice", "acknowledge", "1", "--note", "seen in session")
    out = tmp_path / "report.html"
    assert f"report written to {out}" in ok(clinic, "report", "C-001", "-o", str(out))
    html = out.read_text("utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # a client's answers: owner only
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert "Clinician report: client C-001" in html
    assert "Jane Roe" not in html  # the display name stays in the database
    assert "<style>" in html and "<script" not in html and "http" not in html.split("</style>")[1]
    # charts with bands, coloured by meaning
    assert html.count('class="trend"') >= 2 and 'class="band favourable"' in html
    assert "reliable improvement" in html
    assert "I felt hopeless." in html and 'class="flagged"' in html  # items, critical flagged
    assert "Acknowledged" in html and "by Dr Alice" in html and "seen in session" in html
    assert "validated" in html and "Test fixture written for surveytool" in html
    assert "5.00" in html and "Marked" in html
    assert db_rows(clinic, "SELECT action FROM audit_log ORDER BY id DESC LIMIT 1") == [
        ("report.export",)
    ]
    fails(clinic, "report", "C-001", "-o", str(tmp_path / "r.docx"), match=r"\.html or \.pdf")
    fails(clinic, "report", "C-001", "-o", str(tmp_path / "no" / "r.html"), match="no folder")
    fails(clinic, "report", "C-404", "-o", str(out), match="no client")


def test_report_pdf(clinic: dict[str, str], tmp_path: Path) -> None:
    administer_mood(clinic, tmp_path, 5, 2)
    out = tmp_path / "report.pdf"
    ok(clinic, "report", "C-001", "-o", str(out))
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages >= 2


def slow_html(rows: int = 6000) -> str:
    """A report long enough that Chromium takes seconds to print it (a real print, not a wait)."""
    body = "".join(f"<tr><td>{k}</td><td>{'x' * 40}</td></tr>" for k in range(rows))
    return f"<table>{body}</table>"


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
def test_pdfs_come_from_one_shared_browser_with_a_bounded_queue() -> None:
    """While a long report prints and the queue is full, one more request is refused at once
    (PdfBusy, with the time to wait) before the long one is done; the queued ones print, all
    from one browser."""
    from concurrent.futures import ThreadPoolExecutor

    from surveytool.clinic.report import PdfBusy, PdfPrinter

    printer = PdfPrinter(queue_size=2)
    try:
        with ThreadPoolExecutor(4) as pool:
            long = pool.submit(printer.print, slow_html(), wait=120)
            wait_until(lambda: printer.launches == 1 and printer.waiting() == 0)  # printing
            queued = [pool.submit(printer.print, "<p>short</p>", wait=120) for _ in range(2)]
            wait_until(lambda: printer.waiting() == 2)
            with pytest.raises(PdfBusy, match="try again in 10 seconds") as refused:
                printer.print("<p>one too many</p>")
            assert refused.value.retry_after == 10
            assert not long.done()  # refused at once, not after a wait
            assert long.result().startswith(b"%PDF")
            assert all(f.result().startswith(b"%PDF") for f in queued)
        assert printer.launches == 1  # one browser for every print
        assert printer.print("<p>again</p>").startswith(b"%PDF")  # and usable afterwards
        assert printer.launches == 1
    finally:
        printer.close()


def test_export_is_all_of_one_clients_data(clinic: dict[str, str], tmp_path: Path) -> None:
    administer_mood(clinic, tmp_path, 5, 2)
    ok(clinic, "note", "C-001", "discussed sleep")
    data = json.loads(ok(clinic, "export", "C-001"))
    assert data["format"] == "surveytool-clinic-export/1"
    assert data["client"]["display_name"] == "Jane Roe"
    assert data["administrations"][0]["answers"] == mood_answers(5, 2)
    assert data["notes"][0]["text"] == "discussed sleep"
    target = tmp_path / "export.json"
    result = run(clinic, "export", "C-001", "-o", str(target))
    assert result.exit_code == 0 and "exported client C-001" in result.stderr
    assert json.loads(target.read_text("utf-8"))["client"]["code"] == "C-001"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # everything about a client
    result = run(clinic, "export", "C-001", "-o", str(target))  # again: replaced atomically
    assert result.exit_code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    fails(clinic, "note", "C-001", "   ", match="the note is empty")


def test_export_to_a_full_disk_says_so_and_leaves_no_partial_file(
    clinic: dict[str, str], tmp_path: Path
) -> None:
    """A real full file system (a 64 KiB tmpfs, filled to the last byte, in a private mount
    namespace): one line naming the target and the lack of space, exit 1, and no file: before,
    a 12 KB file that was not valid JSON was left there."""
    from tests.surveytool.cli.test_full_disk import assert_no_space_reported
    from tests.tiny_disk import SKIP_REASON, on_tiny_disk, tiny_disk_prefix

    if tiny_disk_prefix() is None:
        pytest.skip(SKIP_REASON)
    administer_mood(clinic, tmp_path, 5, 2)
    disk = tmp_path / "disk"
    target = disk / "x.json"
    command = [sys.executable, "-m", "surveytool", "clinic", "export", "C-001", "-o", str(target)]
    exports = "SELECT count(*) FROM audit_log WHERE action = 'client.export'"
    assert db_rows(clinic, exports) == [(0,)]
    run = on_tiny_disk(disk, command, clinic, fill=True)
    assert run.code == 1, run.stderr
    assert_no_space_reported(run.stderr, target)
    assert run.files == {}  # neither a partial export nor a hidden temporary
    # the export that did not happen is not audited as one (its audit row rolled back)
    assert db_rows(clinic, exports) == [(0,)]
    assert "audit log verified" in ok(clinic, "verify-audit")
    ok(clinic, "export", "C-001", "-o", str(tmp_path / "done.json"))
    assert db_rows(clinic, exports) == [(1,)]


def test_an_export_whose_audit_head_cannot_be_written_keeps_its_file(
    clinic: dict[str, str], tmp_path: Path
) -> None:
    # the export and its audit row committed; only the head file after it failed: the file is
    # kept (it is audited), and the message says what was saved
    administer_mood(clinic, tmp_path, 5, 2)
    (tmp_path / "notadir").write_text("")
    broken = dict(clinic, SURVEYTOOL_AUDIT_HEAD=str(tmp_path / "notadir" / "head"))
    target = tmp_path / "out.json"
    fails(broken, "export", "C-001", "-o", str(target), match="the change was saved, but the audit")
    assert json.loads(target.read_text("utf-8"))["client"]["code"] == "C-001"
    exports = "SELECT count(*) FROM audit_log WHERE action = 'client.export'"
    assert db_rows(clinic, exports) == [(1,)]


@pytest.mark.parametrize("what", ["backup", "report"])
def test_backup_and_report_to_a_full_disk_say_so_and_leave_nothing(
    clinic: dict[str, str], tmp_path: Path, what: str
) -> None:
    """A real full file system (a 64 KiB tmpfs in a private mount namespace, filled to the last
    byte): the backup and the HTML report exit 1 with one line naming the target, no traceback
    and no file left (the report left r.html.partial, the backup a traceback)."""
    from tests.tiny_disk import SKIP_REASON, on_tiny_disk, tiny_disk_prefix

    if tiny_disk_prefix() is None:
        pytest.skip(SKIP_REASON)
    administer_mood(clinic, tmp_path, 5, 2)
    disk = tmp_path / "disk"
    target = disk / ("b.sqlite3" if what == "backup" else "r.html")
    args = ["backup", str(target)] if what == "backup" else ["report", "C-001", "-o", str(target)]
    command = [sys.executable, "-m", "surveytool", "clinic", *args]
    run = on_tiny_disk(disk, command, clinic, fill=True)
    assert run.code == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {target}"), run.stderr
    assert re.search(r"no space left|disk is full", lines[0], re.I), lines[0]
    assert "Traceback" not in run.stderr and ".tmp" not in lines[0] and ".partial" not in lines[0]
    assert run.files == {}  # no partial backup, report or hidden temporary


# ---------------------------------------------------------------------------------------------
# backup, rescore, audit
# ---------------------------------------------------------------------------------------------


def test_backup(clinic: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "backup.sqlite3"
    out = ok(clinic, "backup", str(target))
    assert "integrity ok" in out and "audit log verified (2 rows)" in out
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT code FROM clients").fetchall() == [("C-001",)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # every client's data: owner only
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial
    fails(clinic, "backup", str(target), match="already exists")
    pg = dict(clinic, SURVEYTOOL_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    fails(pg, "backup", str(tmp_path / "b2"), match="for PostgreSQL use pg_dump")


def test_rescore_after_the_instrument_changes(clinic: dict[str, str], tmp_path: Path) -> None:
    administer_mood(clinic, tmp_path, 4, 4)
    out = ok(clinic, "rescore")
    assert "rescored: 1 administration(s) checked, 0 changed, 1 unchanged" in out
    path = tmp_path / "mood.yaml"
    path.write_text(
        path.read_text("utf-8").replace("scale: freq, reverse: true}", "scale: freq}"), "utf-8"
    )
    os.utime(path, ns=(7, 8))
    dry = ok(clinic, "rescore", "--dry-run")
    assert "would rescore (dry run, nothing changed)" in dry and "wellbeing: 4 -> 3" in dry
    assert db_rows(clinic, "SELECT value FROM scores WHERE scale_id = 'wellbeing'") == [(4.0,)]
    out = ok(clinic, "rescore", "--instrument", str(path))
    assert "1 changed" in out and "wellbeing: 4 -> 3" in out
    assert db_rows(clinic, "SELECT value FROM scores WHERE scale_id = 'wellbeing'") == [
        (pytest.approx(10 / 3),)
    ]
    assert "audit log verified" in ok(clinic, "verify-audit")


def test_verify_audit_finds_tampering(clinic: dict[str, str], tmp_path: Path) -> None:
    administer_mood(clinic, tmp_path, 3, 3)
    assert "audit log verified: 3 rows" in ok(clinic, "verify-audit")
    path = clinic["SURVEYTOOL_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    fails(clinic, "verify-audit", match="audit log broken at row 2: its content does not match")


# ---------------------------------------------------------------------------------------------
# the real process: no traceback, and --help stays light
# ---------------------------------------------------------------------------------------------


def test_real_process_errors_are_one_line(clinic: dict[str, str], tmp_path: Path) -> None:
    for args, expected in (
        (["clinic", "clients", "show", "C-404"], "error: no client 'C-404'"),
        (["clinic", "report", "C-001", "-o", str(tmp_path / "x.txt")], "error: "),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "surveytool", *args],
            env=dict(os.environ, **clinic),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stderr.startswith(expected) and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr + done.stdout


def test_help_does_not_import_the_database_layer() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from surveytool.cli import cli; "
        "r = CliRunner().invoke(cli, ['clinic', '--help']); assert r.exit_code == 0, r.output; "
        "assert 'verify-audit' in r.output; "
        "print(sorted(m for m in ('sqlalchemy', 'pandas', 'alembic') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "command",
    [
        ("verify-audit",),
        ("clients", "list"),
        ("audit-head",),
        ("history", "C-001"),
        ("export", "C-001"),
        ("backup", "copy.sqlite3"),
    ],
)
def test_commands_refuse_a_database_that_does_not_exist(
    env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A mistyped --database-url is never created empty: verify-audit once said "verified: 0
    rows" of a file it had just made. Only `clinic init` (and the server) create a database."""
    typo = tmp_path / "typo.sqlite3"
    env = {**env, "SURVEYTOOL_DATABASE_URL": f"sqlite:///{typo}"}
    fails(env, *command, match=r"no clinic database at .*typo\.sqlite3")
    assert not typo.exists() and not (tmp_path / "copy.sqlite3").exists()
    ok(env, "init")
    assert typo.exists()
    assert "audit log verified: 0 rows" in ok(env, "verify-audit")
