"""``surveytool take``: answer an instrument in the terminal and get the same report as the web.

Each item is asked with its labels and the progress so far; ``b`` goes back, ``s`` skips (counted
as missing). Enter alone is not an answer: on a new item it asks again; on an item answered before
(after going back) it keeps that answer, and the prompt says so. The counts shown (while
answering, on stopping, on resuming) are :func:`surveytool.progress.count_answers`, the report's.
Ctrl-C (or end of input) keeps the answers given so far in a progress file in the user's data
folder, and the next run offers to resume there (Ctrl-C at that question keeps them too, and says
so); starting over shows the introduction again; finishing deletes that file. The results table
shows each area's range, direction and band text, and the person is offered the full report as a
file (``--report`` writes it without asking).

Support first: right after an answer (or a skip) that meets one of the instrument's checks, and
before the next item, the support text is printed with the numbers of the person's country (asked
once, or given with ``--country``) and the date each was checked; the person then chooses to
continue, to stop and see the results so far, or to stop and come back later. Ctrl-C or end of
input after such an answer prints the numbers again on the way out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from surveytool.errors import SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.io.files import write_text_atomic
from surveytool.personal_store import data_dir
from surveytool.progress import count_answers
from surveytool.report import PersonalReport, build_report, render_report
from surveytool.safety.checks import CriticalHit, check_answer, check_answers
from surveytool.safety.support import normalize_country, support_lines, support_view

Ask = Callable[[str], str]


def read_line(prompt: str) -> str:
    """:func:`input`, but a Ctrl-C that arrives just as the prompt appears still stops it.

    ``input`` prints the prompt and then blocks in C in ``read()``; a SIGINT that comes in
    between (the person is quick, or the machine busy: the prompt's own write wakes whoever
    is waiting for it) only sets CPython's flag, and the read waits for Enter before the
    interrupt is seen. Here the wait is Python's: ``select`` on the terminal in short steps,
    so the signal's handler runs within one step whatever the moment, and the line is read
    once the terminal has one (a terminal in canonical mode hands over one whole line per
    read, so nothing waits in a buffer). Not a terminal (a pipe, a file), a terminal not in
    canonical mode (``stty -icanon``: a read may hold several lines), or not POSIX: as
    ``input``.
    """
    import os
    import select
    import sys

    stdin = sys.stdin
    if os.name != "posix" or stdin is None or not stdin.isatty():
        return input(prompt)
    import termios

    try:
        canonical = bool(termios.tcgetattr(stdin.fileno())[3] & termios.ICANON)
    except (termios.error, OSError, ValueError):
        canonical = False
    if not canonical:  # raw or cbreak mode: one read may hold several lines (input buffers)
        return input(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    fd = stdin.fileno()
    while not select.select([fd], [], [], 0.1)[0]:
        pass  # a signal's handler runs here, between two steps, and raises
    line = stdin.readline()
    if not line:  # Ctrl-D on an empty line
        raise EOFError
    return line[:-1] if line.endswith("\n") else line


Choice = Literal["continue", "stop", "later"]


class Interrupted(Exception):
    """The person stopped (Ctrl-C or end of input); progress has been kept."""


def progress_path(inst: Instrument, form: str | None, folder: Path | None = None) -> Path:
    return (folder or data_dir()) / f"take-progress-{inst.id}-{form or 'full'}.json"


def _load_progress(path: Path, inst: Instrument) -> dict[str, int | None] | None:
    try:
        saved = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("instrument_hash") != inst.content_hash:
        return None  # the instrument changed since; the old answers may not fit
    answers = saved.get("answers")
    return dict(answers) if isinstance(answers, dict) else None


def _save_progress(
    path: Path, inst: Instrument, answers: Mapping[str, int | None], country: str = ""
) -> None:
    """The answers so far, and the country chosen for the support numbers (asked once, so a
    resumed interview keeps it)."""
    payload = {"instrument_hash": inst.content_hash, "answers": dict(answers), "country": country}
    write_text_atomic(path, json.dumps(payload), secret=True)  # answers: owner only


def _saved_country(path: Path) -> str | None:
    """The country a progress file recorded, or None (none chosen, or an older file)."""
    try:
        value = json.loads(path.read_text("utf-8")).get("country")
    except (OSError, ValueError, AttributeError):
        return None
    return normalize_country(value) if isinstance(value, str) and value else None


def parse_answer(text: str, inst: Instrument, item_id: str) -> int | str | None:
    """A typed answer: a scale point or missing code, a label, ``s`` (skip) or ``b`` (back).

    Returns the code, None for skip (``s``, or an empty cell of an answers file), "back", or
    raises ValueError with what to type instead. (In the interview Enter alone is not an answer:
    :func:`interview` asks again before parsing.)
    """
    raw = text.strip()
    folded = raw.casefold()
    scale = inst.scale_of(item_id)
    if folded in ("b", "back"):
        return "back"
    if folded in ("s", "skip", ""):
        return None
    try:
        return scale.code_for(raw)
    except ValueError:
        raise ValueError(answer_hint(inst, item_id)) from None


def answer_hint(inst: Instrument, item_id: str) -> str:
    scale = inst.scale_of(item_id)
    extra = "".join(f", {c}" for c in scale.missing_codes)
    return f"type a number from {scale.min} to {scale.max}{extra}, s to skip or b to go back"


@dataclass
class Support:
    """Support first in the terminal: after each answer, the checks it meets are shown at once.

    ``country`` is asked once, the first time support is shown (unless ``--country`` gave it).
    """

    inst: Instrument
    ask: Ask
    console: Console
    country: str | None = None
    shown: set[str] = field(default_factory=set)

    def choose_country(self) -> str:
        if self.country is None:
            self.country = ""  # asked once, even when the answer is Enter or Ctrl-C
            prompt = (
                "Which country are you in, for the helpline numbers? Type its two-letter "
                "code (for example GB, IE, AU) or press Enter to skip: "
            )
            # asked at most twice, so support is never held up: an unknown code is said once,
            # and a second unknown reply shows the international numbers
            for attempt in range(2):
                try:
                    reply = self.ask(prompt)
                except (KeyboardInterrupt, EOFError):
                    raise Interrupted from None
                self.country = normalize_country(reply)
                if self.country or not reply.strip() or attempt:
                    break
                prompt = (
                    f"{reply.strip()!r} is not a country code we know. Type two letters (for "
                    "example GB for the United Kingdom, IE, AU), or press Enter for the "
                    "international numbers: "
                )
        return self.country

    def show(self, hits: tuple[CriticalHit, ...], *, full: bool = True) -> None:
        view = support_view(self.inst, hits, self.country)
        self.console.rule("Support, first" if view.alert else "Before you go on")
        for line in support_lines(view, full=full):
            self.console.print(line, markup=False, highlight=False)

    def after(self, item_id: str, value: int | None) -> Choice:
        """Support for a new check met by this answer, then what the person chooses."""
        hits = tuple(
            h for h in check_answer(self.inst, item_id, value) if h.check not in self.shown
        )
        if not hits:
            return "continue"
        self.shown.update(h.check for h in hits)
        self.choose_country()
        self.show(hits)
        while True:
            try:
                reply = self.ask(
                    "\nPress Enter to continue with the questions, r to stop here and see your "
                    "results so far, or l to stop and come back later: "
                )
            except (KeyboardInterrupt, EOFError):
                raise Interrupted from None
            folded = reply.strip().casefold()
            if folded in ("", "c", "continue"):
                return "continue"
            if folded in ("r", "results", "stop"):
                return "stop"
            if folded in ("l", "later"):
                return "later"
            self.console.print("  type Enter, r or l", markup=False)


def interview(
    inst: Instrument,
    item_ids: list[str],
    answers: dict[str, int | None],
    ask: Ask,
    console: Console,
    on_change: Callable[[dict[str, int | None]], None],
    support: Support | None = None,
) -> dict[str, int | None]:
    """Ask every item from the first unanswered one; returns all answers (None = skipped).

    With ``support``, an answer that meets a check brings the support text before the next item;
    stopping there returns the answers so far, and "later" raises :class:`Interrupted`.
    """
    index = next((k for k, i in enumerate(item_ids) if i not in answers), len(item_ids))
    total = len(item_ids)
    while index < total:
        item_id = item_ids[index]
        item = inst.item_by_id[item_id]
        scale = inst.scale_of(item_id)
        counts = count_answers(inst, item_ids, answers)
        filled = round(20 * index / total)
        console.print(
            f"\n[bold][{index + 1}/{total}][/bold] {'#' * filled}{'.' * (20 - filled)} "
            f"{escape(counts.summary())}"
        )
        if item.timeframe:
            console.print(f"{item.timeframe}:", markup=False)
        console.print(item.text, markup=False, style="bold")
        points = [f"{p} {scale.labels.get(p, '')}".strip() for p in scale.points]
        points += [f"{c} {label}" for c, label in scale.missing_codes.items()]
        console.print("   " + "   ".join(points), markup=False)
        given = item_id in answers
        current = answers.get(item_id)
        hint = ""
        if given:
            shown = "skipped" if current is None else str(current)
            hint = f" [now {shown}, Enter keeps it]"
        try:
            text = ask(f"answer (s skip, b back){hint}: ")
        except (KeyboardInterrupt, EOFError):
            raise Interrupted from None
        if text.strip() == "":
            if given:
                index += 1  # Enter keeps the answer given before (after going back)
            else:
                console.print(
                    f"  Enter alone is not an answer: {answer_hint(inst, item_id)}", markup=False
                )
            continue
        try:
            parsed = parse_answer(text, inst, item_id)
        except ValueError as exc:
            console.print(f"  {exc}", markup=False)
            continue
        if parsed == "back":
            if index == 0:
                console.print(
                    "  This is the first statement: there is none before it.", markup=False
                )
            index = max(0, index - 1)
            continue
        answers[item_id] = parsed if isinstance(parsed, int) else None
        on_change(answers)
        index += 1
        if support is not None:
            choice = support.after(item_id, answers[item_id])
            if choice == "stop":
                break
            if choice == "later":
                raise Interrupted
    return answers


def results_table(report: PersonalReport) -> Table:
    """One row per area: score on its range, which end is better, answered, band and its text."""
    from surveytool.charts import direction_text

    table = Table(title=f"{report.instrument.title}: your results", show_lines=True)
    for col in ("area", "score", "range", "answered", "band", "what it means"):
        table.add_column(col, overflow="fold")
    for area in (*report.subscales, *report.composites):
        table.add_row(
            escape(area.label),
            "—" if area.score is None else f"{area.score:.2f}",
            escape(f"{area.low:g}–{area.high:g}, {direction_text(area.better)}"),
            f"{area.answered}/{area.total}",
            escape(area.band or ("not enough answers" if area.score is None else "")),
            escape(area.band_text),
        )
    return table


def print_support(report: PersonalReport, console: Console, *, full: bool) -> None:
    view = support_view(report.instrument, report.hits, report.country)
    console.rule("Support, first" if view.alert else "Support")
    for line in support_lines(view, full=full):
        console.print(line, markup=False, highlight=False)


def print_results(report: PersonalReport, console: Console) -> None:
    if report.support_first:
        print_support(report, console, full=True)
    console.print(results_table(report))
    inst = report.instrument
    console.print(
        (inst.disclaimer or "This is a self-reflection aid, not a diagnosis.").strip(),
        style="italic",
        markup=False,
    )
    if not report.support_first:
        print_support(report, console, full=False)


def _mapping_file(path: Path) -> object:
    """A JSON or YAML answers file, read as instrument files are: an item given twice (JSON and
    YAML would silently keep the last answer), aliases and syntax errors are refused, located."""
    from surveytool.instrument.load import Refusal, parse_text

    try:
        data, _ = parse_text(path.read_text("utf-8"))
    except UnicodeDecodeError:
        raise SurveytoolError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except Refusal as refused:
        found = refused.problem
        where = f":{found.line}" if found.line is not None else ""
        what = (
            f"{found.message}; give each item once"
            if found.code == "yaml_duplicate_key"
            else f"not valid JSON/YAML: {found.message}"
        )
        raise SurveytoolError(f"{path}{where}: {what}") from None
    return data


def print_intro(inst: Instrument, console: Console) -> None:
    """Title, what this is, the instructions and the timeframe: before the first statement."""
    console.rule(inst.title)
    console.print(
        "This is a self-reflection aid, not a diagnosis. Your answers stay on this computer.",
        style="bold",
    )
    if inst.instructions:
        console.print(inst.instructions.strip(), markup=False)
    if inst.timeframe:
        console.print(f"Timeframe: {inst.timeframe}", markup=False)
    console.print(
        "Type the number of your answer and press Enter; s skips a statement, b goes back. "
        "Ctrl-C stops and keeps your answers for next time.",
        markup=False,
    )


def offer_report(report: PersonalReport, ask: Ask, console: Console) -> Path | None:
    """Ask whether to write the full report (each area's text and ideas) to a file."""
    console.print(
        "\nThe full report (each area's text and ideas to try, the profile chart) can be kept as "
        "one HTML file that opens in a browser and prints to PDF. Nothing is written unless you "
        "ask (next time, --report FILE writes it without asking).",
        markup=False,
    )
    while True:
        try:
            reply = ask("File name for the report (Enter for none): ").strip()
        except (KeyboardInterrupt, EOFError):
            console.print("\nNo report written.", markup=False)
            return None
        if not reply:
            console.print("No report written.", markup=False)
            return None
        path = Path(reply).expanduser()
        if path.suffix.lower() not in (".html", ".htm"):
            path = path.with_name(path.name + ".html")
        if path.exists():
            console.print(f"  {path} exists already; choose another name.", markup=False)
            continue
        try:
            write_report(report, path)
        except OSError as exc:
            console.print(f"  cannot write {path}: {exc.strerror}; try another name.", markup=False)
            continue
        return path


def write_report(report: PersonalReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, render_report(report, standalone=True), secret=True)  # your answers


def answers_from_file(path: Path) -> dict[str, object]:
    """Answers for scripted use: JSON/YAML mapping item -> answer, or a one-row table."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise SurveytoolError(f"{path}: no such file")
    if suffix in (".json", ".yaml", ".yml"):
        data = _mapping_file(path)
        if not isinstance(data, dict):
            raise SurveytoolError(f"{path}: expected a mapping of item id to answer")
        return {str(k): v for k, v in data.items()}
    import pandas as pd

    from surveytool.io.sources import read_source

    frame = read_source(path).frame
    if len(frame) != 1:
        raise SurveytoolError(f"{path}: expected one row of answers, found {len(frame)}")
    return {str(k): None if pd.isna(v) else v for k, v in frame.iloc[0].items()}


def checked_answers(
    inst: Instrument, given: Mapping[str, object], item_ids: list[str], source: Path
) -> dict[str, int | None]:
    """Answers from a file, each checked like a typed answer; every bad one is named at once."""
    out: dict[str, int | None] = {}
    bad: list[str] = []
    for item_id in item_ids:
        value = given.get(item_id)
        if value is None or (isinstance(value, float) and value != value):
            out[item_id] = None
            continue
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        try:
            parsed = parse_answer(text, inst, item_id)
        except ValueError as exc:
            bad.append(f"{item_id}: {value!r}: {exc}")
            continue
        if parsed == "back":
            bad.append(f"{item_id}: {value!r}: not an answer")
            continue
        out[item_id] = parsed if isinstance(parsed, int) else None
    if bad:
        raise SurveytoolError(f"{source}: {len(bad)} invalid answer(s): " + "; ".join(bad))
    return out


def take(
    inst: Instrument,
    *,
    form: str | None = None,
    report_path: Path | None = None,
    answers_file: Path | None = None,
    ask: Ask = read_line,
    console: Console | None = None,
    progress_folder: Path | None = None,
    country: str | None = None,
) -> PersonalReport:
    """Run the interview (or read ``answers_file``), print the results, write the report.

    ``country`` (ISO 3166-1 alpha-2) chooses the support numbers; None: asked when needed.
    """
    console = console or Console()
    item_ids = inst.form_items(form)
    code = None if country is None else normalize_country(country)
    if answers_file is not None:
        given = answers_from_file(answers_file)
        unknown = sorted(set(given) - set(item_ids))
        if unknown:
            console.print(f"ignored: {', '.join(unknown)} (not items of this form)", markup=False)
        report = build_report(
            inst,
            checked_answers(inst, given, item_ids, answers_file),
            form=form,
            country=code or "",
        )
    else:
        path = progress_path(inst, form, progress_folder)
        answers: dict[str, int | None] = {}
        earlier = _load_progress(path, inst) if path.exists() else None
        if earlier:
            kept = {k: v for k, v in earlier.items() if k in item_ids}
            counts = count_answers(inst, item_ids, kept)
            console.print(
                f"You stopped after {counts.seen} of {len(item_ids)} statements: "
                f"{counts.summary()}.",
                markup=False,
            )
            try:
                reply = ask("Resume where you stopped? [Y/n] ").strip().casefold()
            except (KeyboardInterrupt, EOFError):
                console.print(
                    f"\nStopped. Your answers are still kept in {path}; run the same command "
                    "to resume.",
                    markup=False,
                )
                raise Interrupted from None
            if reply in ("", "y", "yes"):
                answers = kept
                if code is None:
                    code = _saved_country(path)
            else:
                path.unlink(missing_ok=True)
                console.print("Starting over: the earlier answers are deleted.", markup=False)
                print_intro(inst, console)
        else:
            print_intro(inst, console)
        support = Support(inst, ask, console, country=code)
        try:
            interview(inst, item_ids, answers, ask, console, lambda _answers: None, support)
        except (Interrupted, KeyboardInterrupt):
            # KeyboardInterrupt: Ctrl-C while an item was being printed rather than at the prompt
            _save_progress(path, inst, answers, support.country or "")
            met = check_answers(inst, answers)
            if met:  # leaving after a check was met: the numbers once more, on the way out
                console.print()
                support.show(met, full=False)
            counts = count_answers(inst, item_ids, answers)
            console.print(
                f"\nStopped after {counts.seen} of {len(item_ids)} statements: "
                f"{counts.summary()}. Your answers are kept in {path}; run the same command to "
                "resume (or answer 'n' then to start over).",
                markup=False,
            )
            raise Interrupted from None
        report = build_report(inst, answers, form=form, country=support.country or "")
        path.unlink(missing_ok=True)
    print_results(report, console)
    if report_path is not None:
        write_report(report, report_path)
        console.print(f"Report written to {report_path}", markup=False)
    elif answers_file is None:
        written = offer_report(report, ask, console)
        if written is not None:
            console.print(f"Report written to {written}", markup=False)
    else:
        console.print("To keep the full report as a file, add --report FILE.html.", markup=False)
    return report
