"""``surveytool take`` through a real pseudo-terminal (pexpect): answer, back, skip, Ctrl-C, resume.

Each run is a fresh ``python -m surveytool take ppai --form screen`` with SURVEYTOOL_DATA_DIR in a
temporary folder (where the progress file is kept between runs). The numbers printed and written
to the report must be those of ``surveytool.score`` on the same answers.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from surveytool.cli import cli
from surveytool.terminal import progress_path
from tests.surveytool.test_report import (
    PPAI,
    SCREEN,
    assert_page_matches_score,
    expected_scores,
    sections,
)

TIMEOUT = 20
PROMPT = r"answer \(s skip, b back\)(?: \[now (\w+), Enter keeps it\])?: "
HINT = "type a number from 1 to 5, 9, s to skip or b to go back"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TOTAL = len(SCREEN)
LABELS = {s.id: s.label for s in (*PPAI.subscales, *PPAI.composites)}


class Take:
    """One run of ``surveytool take`` in a pseudo-terminal, with its whole transcript."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        # TERM=dumb: rich prints plain text (no styles splitting "[2/15]"); COLUMNS and LINES
        # make it wide enough that neither the texts nor the results table wrap.
        env = dict(
            os.environ,
            SURVEYTOOL_DATA_DIR=str(data_dir),
            TERM="dumb",
            COLUMNS="220",
            LINES="50",
            NO_COLOR="1",
        )
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "surveytool", "take", "ppai@1.0.0", *args],
            env=env,
            cwd=str(data_dir.parent),
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(50, 220),
        )
        self.child.logfile_read = self.log

    @property
    def text(self) -> str:
        return ANSI.sub("", self.log.getvalue()).replace("\r", "")

    def at(self, k: int) -> str | None:
        """Wait for item ``k`` (1-based) and its prompt; returns the answer shown as "now"."""
        self.child.expect(rf"\[{k}/{TOTAL}\]")
        self.child.expect(PROMPT)
        now = self.child.match.group(1)
        return None if now is None else str(now)

    def answer(self, k: int, reply: str) -> str | None:
        now = self.at(k)
        self.child.sendline(reply)
        return now

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.signalstatus is None
        return int(self.child.exitstatus)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def runs() -> Iterator[list[Take]]:
    started: list[Take] = []
    yield started
    for run in started:
        run.close()


COLUMNS = ("area", "score", "range", "answered", "band", "what it means")


def table_rows(transcript: str) -> dict[str, dict[str, str]]:
    """Label -> {column: text} from the printed results table (a row may wrap over lines)."""
    rows: dict[str, dict[str, str]] = {}
    parts: list[list[str]] = []

    def flush() -> None:
        if parts:
            cells = [" ".join(" ".join(p[k] for p in parts).split()) for k in range(len(COLUMNS))]
            if cells[0] in LABELS.values():
                rows[cells[0]] = dict(zip(COLUMNS, cells, strict=True))
        parts.clear()

    for line in transcript.splitlines():
        if re.match(r"\s*[├└┡╞]", line):
            flush()
            continue
        cells = [c.strip() for c in re.split(r"[│┃]", line)]
        if len(cells) == len(COLUMNS) + 2:
            parts.append(cells[1:-1])
    flush()
    return rows


def results_table(transcript: str) -> dict[str, tuple[str, str, str]]:
    """Label -> (score, answered, band) from the printed results table."""
    return {k: (r["score"], r["answered"], r["band"]) for k, r in table_rows(transcript).items()}


def assert_table_matches_score(transcript: str, answers: dict[str, int | None]) -> None:
    expected = expected_scores(PPAI, answers, "screen")
    table = results_table(transcript)
    assert set(table) == {LABELS[k] for k in expected}
    for scale_id, value in expected.items():
        score, _, band = table[LABELS[scale_id]]
        assert score == (value if value is not None else "—"), scale_id
        if value is None:
            assert band == "not enough answers", scale_id


# Answers for the items after the interruption (item 6 on): LS5 = 5 is the critical answer.
REST = dict(zip(SCREEN[5:], [4, 3, 2, 1, 5, 5, 2, 3, 4, 5], strict=True))


def test_answer_back_skip_invalid_interrupt_and_resume(
    data_dir: Path, tmp_path: Path, runs: list[Take]
) -> None:
    report = tmp_path / "out" / "r.html"
    progress = progress_path(PPAI, "screen", data_dir)

    first = Take(data_dir, "--form", "screen", "--report", str(report))
    runs.append(first)
    first.child.expect("not a diagnosis")
    assert first.answer(1, "4") is None
    # an invalid answer: a hint, and the same item again
    first.answer(2, "x")
    first.child.expect(HINT)
    first.answer(2, "7")
    first.child.expect(HINT)
    first.answer(2, "1")
    # back twice, change the first answer; Enter keeps the second, and the prompt says so
    assert first.answer(3, "b") is None
    assert first.answer(2, "b") == "1"
    assert first.answer(1, "2") == "4"
    assert first.answer(2, "") == "1"
    # Enter alone on a new statement is not an answer: it asks again, saying so
    first.answer(3, "")
    first.child.expect("Enter alone is not an answer: " + HINT)
    first.answer(3, "Somewhat like me")  # a label is an answer too
    first.answer(4, "s")  # skip
    first.answer(5, "9")  # prefer not to say
    first.at(6)
    assert not progress.exists()  # answers are not written to disk while the person answers
    first.child.sendintr()  # Ctrl-C
    first.child.expect("Stopped")
    assert first.finish() == 130
    assert json.loads(progress.read_text("utf-8"))["answers"] == {
        "FF1": 2,
        "DW1": 1,
        "EC1": 3,
        "SB1": None,
        "CE1": 9,
    }
    assert progress.stat().st_mode & 0o777 == 0o600  # kept for the owner only
    stopped = " ".join(first.text[first.text.index("Stopped") :].split())
    # one count everywhere: neither the skip nor "Prefer not to say" is an answer
    counts = "3 of 15 answered (1 “Prefer not to say”, 1 skipped)"
    assert f"Stopped after 5 of 15 statements: {counts}. Your answers are kept in" in stopped
    assert "run the same command to resume" in stopped
    assert progress.is_file()
    assert not report.exists()
    assert "[1/15] .................... 0 of 15 answered" in first.text
    assert re.search(rf"\[6/15\] #{{7}}\.{{13}} {re.escape(counts)}", first.text)
    assert "[3/15]" in first.text and first.text.count("[3/15]") == 3  # Enter asked again

    second = Take(data_dir, "--form", "screen", "--report", str(report))
    runs.append(second)
    second.child.expect(re.escape(f"You stopped after 5 of 15 statements: {counts}."))
    second.child.expect(r"Resume where you stopped\? \[Y/n\] ")
    second.child.sendline("y")
    for k, (item, value) in enumerate(REST.items(), start=6):
        second.answer(k, str(value))  # continues at item 6
        if item == "LS5":  # the critical answer: support before the next item
            second.child.expect("Which country are you in")
            second.child.sendline("gb")
            second.child.expect("Support, first")
            second.child.expect(r"Press Enter to continue")
            second.child.sendline("")
    second.child.expect("Report written to")
    assert second.finish() == 0
    text = second.text
    assert "[1/15]" not in text and "[5/15]" not in text  # nothing asked twice
    assert re.search(rf"\[6/15\] #{{7}}\.{{13}} {re.escape(counts)}", text)
    answers: dict[str, int | None] = {"FF1": 2, "DW1": 1, "EC1": 3, "SB1": None, "CE1": 9, **REST}
    assert_table_matches_score(text, answers)
    assert "Pushing People Away Inventory: your results" in text
    assert text.index("Support, first") < text.index("your results")  # LS5 = 5
    assert "You said that lately you feel so alone" in " ".join(text.split())
    assert "This inventory is a self-reflection aid" in " ".join(text.split())
    assert not progress.exists()  # finishing removes the progress file
    # support came right after the critical answer (item 11), before item 12, with numbers
    support = text[text.index("Support, first") : text.index("[12/15]")]
    assert "[11/15]" in text[: text.index("Support, first")]
    flat = " ".join(support.split())
    assert "Samaritans: call 116 123" in flat and "(checked 2026-12-02)" in flat
    assert "0808 2000 247" in flat  # the domestic abuse line
    assert "does not screen for suicide risk" in flat
    assert text.count("Which country are you in") == 1  # asked once
    html = report.read_text("utf-8")
    assert_page_matches_score(html, PPAI, answers, "screen")
    assert sections(html)[0] == "support-first"
    assert "116 123" in html  # the report keeps the country chosen in the terminal
    assert "<link" not in html and "@media print" in html
    # the terminal never saves results: no database
    assert sorted(p.name for p in data_dir.iterdir()) == []


def test_ctrl_c_after_a_critical_answer_prints_the_support_numbers(
    data_dir: Path, runs: list[Take]
) -> None:
    run = Take(data_dir, "--form", "screen", "--country", "AU")
    runs.append(run)
    for k in range(1, 11):
        run.answer(k, "2")
    run.answer(11, "4")  # LS5 "Mostly like me": below the top answer, and critical
    run.child.expect(r"Press Enter to continue")
    assert "Which country are you in" not in run.text  # --country gave it
    shown = " ".join(run.text[run.text.index("Support, first") :].split())
    assert "Lifeline: call 13 11 14" in shown and "call 000" in shown
    assert "[12/15]" not in run.text  # nothing asked after the critical answer yet
    run.child.sendintr()  # Ctrl-C at the support prompt
    run.child.expect("Stopped")
    assert run.finish() == 130
    leaving = " ".join(run.text[run.text.rindex("Support, first") :].split())
    assert "Lifeline: call 13 11 14" in leaving and "(checked 2026-12-02)" in leaving
    assert "1800RESPECT: call 1800 737 732" in leaving
    assert leaving.index("13 11 14") < leaving.index("Stopped")


def test_a_resumed_interview_keeps_the_chosen_country(data_dir: Path, runs: list[Take]) -> None:
    first = Take(data_dir, "--form", "screen", "--country", "AU")
    runs.append(first)
    for k in range(1, 11):
        first.answer(k, "2")
    first.answer(11, "4")  # critical: support, with Australia's numbers
    first.child.expect(r"Press Enter to continue")
    first.child.sendintr()
    first.child.expect("Stopped")
    assert first.finish() == 130
    # resumed without --country: the country chosen before still gives the numbers
    again = Take(data_dir, "--form", "screen")
    runs.append(again)
    again.child.expect(r"Resume where you stopped\? \[Y/n\]")
    again.child.sendline("")
    again.at(12)
    again.child.sendintr()
    again.child.expect("Stopped")
    assert again.finish() == 130
    assert "Which country are you in" not in again.text
    leaving = " ".join(again.text[again.text.rindex("Support, first") :].split())
    assert "Lifeline: call 13 11 14" in leaving


def test_eof_after_a_skipped_distress_item_prints_gentle_support(
    data_dir: Path, runs: list[Take]
) -> None:
    run = Take(data_dir, "--form", "screen")
    runs.append(run)
    for k in range(1, 11):
        run.answer(k, "3")
    run.answer(11, "s")  # a skip of the distress item: a gentle pointer, no alarm
    run.child.expect("Which country are you in")
    run.child.sendline("")  # no country: the directory of helplines
    run.child.expect("Before you go on")
    run.child.expect(r"Press Enter to continue")
    run.child.sendline("l")  # stop and come back later
    run.child.expect("Stopped")
    assert run.finish() == 130
    flat = " ".join(run.text.split())
    assert "Support, first" not in flat
    assert "You left a question about how you have been feeling unanswered" in flat
    assert "findahelpline.com" in flat
    assert "[12/15]" not in flat
    assert (
        json.loads(progress_path(PPAI, "screen", data_dir).read_text("utf-8"))["answers"]["LS5"]
        is None
    )


def test_stop_at_the_support_prompt_shows_the_results_so_far(
    data_dir: Path, runs: list[Take]
) -> None:
    run = Take(data_dir, "--form", "screen", "--country", "IE")
    runs.append(run)
    for k in range(1, 11):
        run.answer(k, "1")
    run.answer(11, "5")
    run.child.expect(r"Press Enter to continue")
    run.child.sendline("r")
    run.child.expect("your results")
    run.child.expect(r"File name for the report \(Enter for none\): ")
    run.child.sendline("")
    assert run.finish() == 0
    text = run.text
    assert "[12/15]" not in text
    answers: dict[str, int | None] = dict.fromkeys(SCREEN[:11], 1)
    answers["LS5"] = 5
    answers.update(dict.fromkeys(SCREEN[11:]))
    assert_table_matches_score(text, answers)
    results = " ".join(text[text.rindex("Support, first") :].split())
    assert "Samaritans Ireland: call 116 123" in results and "call 112" in results


def test_answer_no_to_resume_starts_over(data_dir: Path, runs: list[Take]) -> None:
    progress = progress_path(PPAI, "screen", data_dir)
    first = Take(data_dir, "--form", "screen")
    runs.append(first)
    first.answer(1, "5")
    first.answer(2, "5")
    first.at(3)
    first.child.sendintr()
    assert first.finish() == 130
    assert len(json.loads(progress.read_text("utf-8"))["answers"]) == 2

    second = Take(data_dir, "--form", "screen")
    runs.append(second)
    second.child.expect(r"You stopped after 2 of 15 statements: 2 of 15 answered\.")
    second.child.expect(r"\[Y/n\] ")
    second.child.sendline("n")
    assert second.at(1) is None  # from the start, the earlier answers are gone
    assert "0 of 15 answered" in second.text
    # starting over starts as the first time did: title, what this is, instructions, timeframe
    over = " ".join(second.text[second.text.index("[Y/n]") :].split())
    assert "Starting over: the earlier answers are deleted." in over
    for said in ("Pushing People Away Inventory", "not a diagnosis", "Timeframe:"):
        assert said in over, said
    assert " ".join(PPAI.instructions.split())[:60] in over
    second.child.sendline("1")
    second.at(2)
    second.child.sendeof()  # Ctrl-D keeps progress as well
    assert second.finish() == 130
    assert json.loads(progress.read_text("utf-8"))["answers"] == {"FF1": 1}


def test_full_form_resume_is_separate_from_the_short_form(data_dir: Path, runs: list[Take]) -> None:
    short = progress_path(PPAI, "screen", data_dir)
    short.write_text(
        json.dumps({"instrument_hash": PPAI.content_hash, "answers": {"FF1": 3}}), "utf-8"
    )
    full = Take(data_dir)
    runs.append(full)
    full.child.expect(r"\[1/58\]")  # no resume offer: that progress belongs to the short form
    assert "Resume" not in full.text
    full.child.sendintr()  # at once, maybe before the prompt: the progress is kept all the same
    full.child.expect("Stopped")
    assert full.finish() == 130
    assert "interrupted" not in full.text
    assert progress_path(PPAI, None, data_dir).is_file() and short.is_file()


def test_progress_of_another_instrument_version_is_not_offered(
    data_dir: Path, runs: list[Take]
) -> None:
    progress_path(PPAI, "screen", data_dir).write_text(
        json.dumps({"instrument_hash": "0" * 64, "answers": {"FF1": 3}}), "utf-8"
    )
    run = Take(data_dir, "--form", "screen")
    runs.append(run)
    assert run.at(1) is None
    assert "Resume" not in run.text
    run.child.sendintr()
    assert run.finish() == 130


def scripted(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SURVEYTOOL_DATA_DIR=str(data_dir), NO_COLOR="1", COLUMNS="220")
    return subprocess.run(
        [sys.executable, "-m", "surveytool", "take", "ppai@1.0.0", *args],
        env=env,
        stdin=subprocess.DEVNULL,  # any prompt would meet end of input and stop with 130
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_answers_file_for_scripted_use(data_dir: Path, tmp_path: Path) -> None:
    given: dict[str, object] = {item: (k % 5) + 1 for k, item in enumerate(SCREEN)}
    given["FF1"] = "Mostly like me"  # labels work as in the scoring engine
    given["DW1"] = None  # not answered
    given["EC1"] = 9  # prefer not to say
    given["LS5"] = 5
    given["XX1"] = 3  # not an item: ignored, and said so
    answers_file = tmp_path / "answers.json"
    answers_file.write_text(json.dumps(given), "utf-8")
    report = tmp_path / "scripted.html"
    done = scripted(
        data_dir, "--form", "screen", "--answers", str(answers_file), "--report", str(report)
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "answer (" not in out and "Resume" not in out  # no prompt at all
    assert "ignored: XX1" in out
    numeric: dict[str, object] = {k: v for k, v in given.items() if k != "XX1"}
    numeric["FF1"] = 4
    assert_table_matches_score(out.replace("┃", "│"), numeric)  # type: ignore[arg-type]
    assert "Support, first" in out
    assert_page_matches_score(report.read_text("utf-8"), PPAI, numeric, "screen")
    assert list(data_dir.iterdir()) == []  # no progress file, no database


def test_answers_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["take", "ppai@1.0.0", *args])
        return result.exit_code, result.output

    code, out = run("--answers", str(tmp_path / "nope.json"))
    assert code == 1 and "no such file" in out
    bad = tmp_path / "list.json"
    bad.write_text("[1, 2, 3]", "utf-8")
    code, out = run("--answers", str(bad))
    assert code == 1 and "expected a mapping" in out
    code, out = run("--form", "nope", "--answers", str(bad))
    assert code == 1 and "no short form 'nope'" in out
    assert not (tmp_path / "data").exists()


def test_back_on_the_first_statement_says_so(data_dir: Path, runs: list[Take]) -> None:
    run = Take(data_dir, "--form", "screen")
    runs.append(run)
    run.answer(1, "b")
    run.child.expect("This is the first statement: there is none before it.")
    assert run.answer(1, "3") is None  # still the first statement, nothing chosen
    run.at(2)
    run.child.sendintr()
    assert run.finish() == 130


def test_ctrl_c_at_the_resume_question_keeps_the_answers_and_says_so(
    data_dir: Path, runs: list[Take]
) -> None:
    progress = progress_path(PPAI, "screen", data_dir)
    first = Take(data_dir, "--form", "screen")
    runs.append(first)
    first.answer(1, "5")
    first.answer(2, "9")
    first.at(3)
    first.child.sendintr()
    assert first.finish() == 130
    kept = progress.read_text("utf-8")

    second = Take(data_dir, "--form", "screen")
    runs.append(second)
    second.child.expect(
        re.escape("You stopped after 2 of 15 statements: 1 of 15 answered (1 “Prefer not to say”).")
    )
    second.child.expect(r"\[Y/n\] ")
    second.child.sendintr()
    second.child.expect("Stopped. Your answers are still kept in")
    assert second.finish() == 130
    assert "Traceback" not in second.text and "KeyboardInterrupt" not in second.text
    assert progress.read_text("utf-8") == kept  # nothing lost


def test_results_show_range_direction_and_band_text_and_offer_the_report(
    data_dir: Path, tmp_path: Path, runs: list[Take]
) -> None:
    run = Take(data_dir, "--form", "screen")
    runs.append(run)
    answers = dict.fromkeys(SCREEN, 2)
    for k, item_id in enumerate(SCREEN, start=1):
        run.answer(k, str(answers[item_id]))
    run.child.expect(re.escape("File name for the report (Enter for none): "))
    target = tmp_path / "mine" / "my-report"
    run.child.sendline(str(target))
    run.child.expect("Report written to")
    assert run.finish() == 0
    text = run.text
    assert "Nothing is written unless you ask" in " ".join(text.split())
    rows = table_rows(text)
    assert set(rows) == set(LABELS.values())
    report = PPAI  # the bands and directions of the instrument itself
    for sub in report.subscales:
        row = rows[sub.label]
        direction = "higher is better" if sub.better.value == "higher" else "lower is better"
        assert row["range"] == f"1–5, {direction}", sub.id
        band = next(b for b in sub.bands if b.lower <= 2.0 < b.upper)
        assert row["band"] == band.label
        assert row["what it means"] == " ".join(band.text.split()), sub.id
    written = target.with_name("my-report.html")
    assert written.is_file() and written.stat().st_mode & 0o777 == 0o600
    assert_page_matches_score(written.read_text("utf-8"), PPAI, answers, "screen")


def test_enter_at_the_report_offer_writes_nothing(
    data_dir: Path, tmp_path: Path, runs: list[Take]
) -> None:
    run = Take(data_dir, "--form", "screen")
    runs.append(run)
    for k in range(1, TOTAL + 1):
        run.answer(k, "3")
    run.child.expect(re.escape("File name for the report (Enter for none): "))
    run.child.sendline("")
    run.child.expect("No report written.")
    assert run.finish() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert list(data_dir.iterdir()) == []


def test_an_unknown_country_code_is_said_once_and_uk_means_gb(
    data_dir: Path, runs: list[Take]
) -> None:
    run = Take(data_dir, "--form", "screen")
    runs.append(run)
    for k in range(1, 11):
        run.answer(k, "3")
    run.answer(11, "5")  # the distress item at its top: support first
    run.child.expect("Which country are you in")
    run.child.sendline("xx")  # not an assigned ISO 3166 code
    run.child.expect("'xx' is not a country code we know")
    run.child.sendline("uk")  # what people type for the United Kingdom (ISO: GB)
    run.child.expect("Support, first")
    run.child.expect(r"Press Enter to continue")
    run.child.sendline("l")
    run.child.expect("Stopped")
    assert run.finish() == 130
    flat = " ".join(run.text.split())
    assert "Samaritans: call 116 123" in flat  # the United Kingdom's numbers
    assert flat.count("Which country are you in") == 1


def test_take_refuses_a_country_option_that_is_no_country() -> None:
    result = CliRunner().invoke(cli, ["take", "ppai", "--country", "XX"])
    assert result.exit_code == 2
    assert "'XX' is not a two-letter country code" in result.output


READ_LINES = """
import sys
from surveytool.terminal import read_line
for _ in range({n}):
    try:
        line = read_line("> ")
        print("line", repr(line), flush=True)
    except KeyboardInterrupt:
        print("caught", flush=True)
    except EOFError:
        print("eof", flush=True)
        break
"""


def test_ctrl_c_the_moment_a_prompt_appears_always_stops_the_read() -> None:
    """A Ctrl-C sent as soon as the prompt is seen, again and again: each ends the read at once.

    With ``input`` the prompt's own write wakes the reader, whose Ctrl-C can arrive before the
    program blocks in ``read()``; the signal then waited for Enter (the full suite on a loaded
    machine hung in the resume question this way: 1 run in 3). ``read_line`` waits in Python.
    """
    rounds = 25
    child = pexpect.spawn(
        sys.executable,
        ["-c", READ_LINES.format(n=rounds + 2)],
        encoding="utf-8",
        timeout=TIMEOUT,
        env=dict(os.environ, TERM="dumb"),
    )
    try:
        for _ in range(rounds):
            child.expect_exact("> ")
            child.sendintr()  # no delay: the race input() loses
            child.expect_exact("caught", timeout=5)
        child.expect_exact("> ")
        child.sendline("kept as typed ")
        child.expect_exact("line 'kept as typed '")
        child.expect_exact("> ")
        child.sendeof()
        child.expect_exact("eof")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
