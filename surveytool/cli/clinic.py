"""``surveytool clinic``: client records, in-person administration, reports, backups, audit.

Thin wrappers over :mod:`surveytool.clinic`; every import of the store (SQLAlchemy, pandas) happens
inside the command that needs it, so ``surveytool --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from surveytool.cli.common import output_option

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from surveytool.clinic.models import Clinician
    from surveytool.clinic.store import ClinicStore

T = TypeVar("T")


@dataclass
class _Settings:
    database_url: str | None
    as_user: str | None
    _store: ClinicStore | None = None

    def store(self) -> ClinicStore:
        if self._store is None:
            from surveytool.clinic.store import open_store

            self._store = open_store(self.database_url, create=False)
        return self._store

    def who(self, session: Session) -> tuple[Clinician | None, str]:
        """The clinician acting (``--as``) and the actor label for the audit log."""
        from surveytool.clinic.clinicians import actor_of, find_clinician

        if self.as_user:
            clinician = find_clinician(session, self.as_user)
            return clinician, actor_of(clinician, "")
        return None, self.system_actor()

    @staticmethod
    def system_actor() -> str:
        """The audit log's actor for the operating-system user running the command."""
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # pragma: no cover - no user name in this environment
            user = "unknown"
        return f"cli:{user}"


class _ClinicGroup(click.Group):
    """Database errors become one line and exit status 1, like every other user-facing error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            db_errors = sys.modules.get("sqlalchemy.exc")
            if db_errors is not None and isinstance(exc, db_errors.SQLAlchemyError):
                orig = getattr(exc, "orig", None)
                text = str(orig if orig is not None else exc).strip().splitlines()
                click.echo(f"error: the clinic database: {text[0] if text else exc}", err=True)
                ctx.exit(1)
            raise


def _settings(ctx: click.Context) -> _Settings:
    settings = ctx.find_object(_Settings)
    assert settings is not None
    return settings


@click.group(cls=_ClinicGroup)
@click.option(
    "--database-url",
    envvar="SURVEYTOOL_DATABASE_URL",
    help="sqlite:///PATH or postgresql://USER@HOST/DB (default: clinic.sqlite3 in your data "
    "folder; env SURVEYTOOL_DATABASE_URL).",
)
@click.option(
    "--as",
    "as_user",
    envvar="SURVEYTOOL_CLINICIAN",
    help="Your clinician username, recorded in the audit log (env SURVEYTOOL_CLINICIAN).",
)
@click.pass_context
def clinic(ctx: click.Context, database_url: str | None, as_user: str | None) -> None:
    """Clinician records: clients, administrations, change over time, reports.

    Start with `surveytool clinic init` and `surveytool clinic add-clinician NAME`, then
    `surveytool serve` for the clinician pages.
    """
    ctx.obj = _Settings(database_url, as_user)


@clinic.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the clinic database, or upgrade it to this surveytool's schema."""
    from surveytool.clinic.store import ClinicStore, display_url

    settings = _settings(ctx)
    store = ClinicStore(settings.database_url)
    before, after = store.upgrade()
    where = display_url(store.url)
    if before is None:
        click.echo(f"created the clinic database {where} (schema revision {after})")
        click.echo("next: surveytool clinic add-clinician USERNAME")
    elif before == after:
        click.echo(f"the clinic database {where} is up to date (schema revision {after})")
    else:
        click.echo(f"upgraded the clinic database {where} from revision {before} to {after}")


def _has_terminal() -> bool:
    """Whether the process has a controlling terminal (getpass prompts there, even when the
    standard input is a pipe or a file)."""
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return False


@clinic.command("add-clinician")
@click.argument("username")
@click.option("--name", "display_name", help="Name shown on pages and reports.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option(
    "--role",
    type=click.Choice(["admin", "clinician"]),
    help="A practice admin sees every client and runs the accounts (default: admin for the "
    "first account, clinician after).",
)
@click.option("--email", help="Where this clinician's alert notifications go.")
@click.pass_context
def add_clinician(
    ctx: click.Context,
    username: str,
    display_name: str | None,
    password_stdin: bool,
    role: str | None,
    email: str | None,
) -> None:
    """Create a clinician account (the password is asked twice, hidden)."""
    import sqlalchemy as sa

    from surveytool.clinic import auth
    from surveytool.clinic.errors import ClinicError
    from surveytool.clinic.models import Clinician

    settings = _settings(ctx)
    name = auth.normalize_username(username)
    store = settings.store()
    with store.read() as session:
        if session.execute(sa.select(Clinician.id).where(Clinician.username == name)).first():
            raise ClinicError(f"a clinician {name!r} already exists; choose another username")
        # The first account: nobody can act yet, so --as (or SURVEYTOOL_CLINICIAN, often set to
        # the account about to be made) is not looked up; the operating-system user makes it.
        # Later: an --as that names no account is refused here, before the password is asked.
        first = session.execute(sa.select(Clinician.id).limit(1)).first() is None
        if not first:
            settings.who(session)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty() and not _has_terminal():
        # no terminal at all: getpass could not hide the password (and warns of it)
        raise ClinicError(
            "the password prompt needs a terminal, and the input is a pipe or file: give the "
            "password as one line on standard input with --password-stdin"
        )
    else:
        password = click.prompt(
            f"Password for {name}",
            hide_input=True,
            confirmation_prompt="Repeat the password",
            err=True,
        )
    auth.check_password_strength(password, name)
    with store.write() as session:
        # decided again in the write: another account may have been made meanwhile
        first = session.execute(sa.select(Clinician.id).limit(1)).first() is None
        _, actor = (None, settings.system_actor()) if first else settings.who(session)
        clinician = auth.add_clinician(
            session, name, password, display_name=display_name, actor=actor, role=role, email=email
        )
    click.echo(
        f"clinician {clinician.username!r} created ({clinician.role}); start the pages with "
        "`surveytool serve` and log in at http://127.0.0.1:8000/clinic"
    )


# ---------------------------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------------------------


@clinic.group()
def clients() -> None:
    """Add, list and show clients (known by pseudonymous codes)."""


@clients.command("add")
@click.argument("code", required=False)
@click.option(
    "--name", "display_name", help="Optional display name, kept only in the clinic database."
)
@click.pass_context
def clients_add(ctx: click.Context, code: str | None, display_name: str | None) -> None:
    """Add a client under CODE (a pseudonym; one is made up when CODE is left out)."""
    from surveytool.clinic.clients import add_client

    settings = _settings(ctx)
    with settings.store().write() as session:
        clinician, actor = settings.who(session)
        client = add_client(
            session, code, display_name=display_name, clinician=clinician, actor=actor
        )
    click.echo(client.code)


@clients.command("list")
@click.pass_context
def clients_list(ctx: click.Context) -> None:
    """Every client with their last administration and open alerts."""
    from rich.console import Console
    from rich.table import Table

    from surveytool.clinic.administrations import administrations_of
    from surveytool.clinic.alerts import open_alerts
    from surveytool.clinic.clients import list_clients

    with _settings(ctx).store().read() as session:
        rows = []
        for client in list_clients(session):
            adms = administrations_of(session, client)
            last = adms[-1] if adms else None
            rows.append(
                (
                    client.code,
                    client.display_name or "",
                    str(len(adms)),
                    "" if last is None else f"{last.administered_at:%Y-%m-%d} {last.instrument_id}",
                    str(len(open_alerts(session, client))),
                )
            )
    if not rows:
        click.echo("no clients yet: add one with `surveytool clinic clients add`")
        return
    table = Table(title="Clients")
    for col in ("code", "name", "administrations", "last", "open alerts"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@clients.command("show")
@click.argument("client")
@click.pass_context
def clients_show(ctx: click.Context, client: str) -> None:
    """One client: administrations, alerts, notes and links."""
    from rich.console import Console
    from rich.table import Table

    from surveytool.clinic.administrations import administrations_of
    from surveytool.clinic.alerts import alert_text
    from surveytool.clinic.clients import find_client
    from surveytool.clinic.links import links_of
    from surveytool.clinic.models import utcnow
    from surveytool.clinic.notes import notes_of

    console = Console()
    with _settings(ctx).store().read() as session:
        found = find_client(session, client)
        adms = administrations_of(session, found)
        alerts = [al for a in adms for al in a.alerts]
        notes = notes_of(session, found)
        links = links_of(session, found)
        console.print(f"client {found.code}", style="bold", markup=False)
        if found.display_name:
            console.print(f"name: {found.display_name}", markup=False)
        console.print(f"on record since {found.created_at:%Y-%m-%d %H:%M} UTC", markup=False)
        table = Table(title="Administrations")
        for col in ("id", "date (UTC)", "instrument", "form", "how", "status", "alerts"):
            table.add_column(col)
        for a in adms:
            table.add_row(
                str(a.id),
                f"{a.administered_at:%Y-%m-%d %H:%M}",
                f"{a.instrument_id} {a.instrument_version}",
                a.form or "full",
                "by link" if a.mode == "link" else "in person",
                a.status,
                str(len(a.alerts)),
            )
        console.print(table)
        for al in alerts:
            state = (
                f"acknowledged {al.acknowledged_at:%Y-%m-%d %H:%M}"
                if al.acknowledged_at
                else "OPEN"
            )
            console.print(
                f"alert {al.id} ({al.created_at:%Y-%m-%d %H:%M}) {state}: {alert_text(al)}",
                markup=False,
            )
        console.print(f"{len(notes)} note(s)", markup=False)
        now = utcnow()
        for link in links:
            console.print(
                f"link {link.id}: {link.instrument_id} {link.form or 'full'}, "
                f"{link.state(now)}, expires {link.expires_at:%Y-%m-%d %H:%M} UTC",
                markup=False,
            )


# ---------------------------------------------------------------------------------------------
# administering and reading
# ---------------------------------------------------------------------------------------------


@clinic.command()
@click.argument("client")
@click.argument("instrument")
@click.option("--form", help="Administer a short form.")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="Read the answers from a file (JSON/YAML mapping of item to answer) instead of asking.",
)
@click.pass_context
def administer(
    ctx: click.Context,
    client: str,
    instrument: str,
    form: str | None,
    answers_file: Path | None,
) -> None:
    """Administer INSTRUMENT to CLIENT in person, in this terminal, and store the result."""
    from rich.console import Console

    from surveytool.clinic.administrations import record_administration
    from surveytool.clinic.alerts import alert_text
    from surveytool.clinic.clients import find_client, get_client
    from surveytool.clinic.instruments import form_items, instrument_source
    from surveytool.clinic.models import IN_PERSON, utcnow
    from surveytool.instrument.registry import load_instrument
    from surveytool.safety.checks import check_answers
    from surveytool.safety.support import support_lines, support_view
    from surveytool.terminal import (
        Interrupted,
        answers_from_file,
        interview,
        parse_answer,
        read_line,
    )

    settings = _settings(ctx)
    inst = load_instrument(instrument)
    source = instrument_source(instrument)
    item_ids = form_items(inst, form)
    store = settings.store()
    with store.read() as session:
        found = find_client(session, client)
        settings.who(session)  # an unknown --as fails before the interview, not after
    console = Console()
    started = utcnow()
    answers: dict[str, int | None] = {}
    if answers_file is not None:
        from surveytool.clinic.errors import ClinicError

        for key, raw in answers_from_file(answers_file).items():
            if key not in item_ids:
                raise ClinicError(f"{answers_file}: {key!r} is not an item of this form")
            text = "" if raw is None else str(raw)
            try:
                parsed = parse_answer(text, inst, key)
            except ValueError as exc:
                raise ClinicError(f"{answers_file}: {key}: {exc}") from None
            answers[key] = parsed if isinstance(parsed, int) else None
    else:
        console.rule(f"{inst.title}: client {found.code}")
        console.print(
            "In-person administration. Nothing is stored until the last item is answered; "
            "Ctrl-C stops without storing.",
            markup=False,
        )
        if inst.instructions:
            console.print(inst.instructions.strip(), markup=False)
        try:
            interview(inst, item_ids, answers, read_line, console, lambda _answers: None)
        except (Interrupted, KeyboardInterrupt):
            # KeyboardInterrupt: Ctrl-C while an item was being printed rather than at the prompt
            console.print("\nStopped: nothing was stored.", markup=False)
            sys.exit(130)
    with store.write() as session:
        clinician, actor = settings.who(session)
        current = get_client(session, found.id)
        adm = record_administration(
            session,
            current,
            inst,
            source,
            answers,
            form=form,
            mode=IN_PERSON,
            clinician=clinician,
            actor=actor,
            started_at=started,
        )
        scores = list(adm.scores)
        alerts = list(adm.alerts)
    from surveytool.progress import count_answers

    answered = count_answers(inst, item_ids, answers).answered  # the one count of every page
    console.print(
        f"\nstored administration {adm.id} for client {found.code}: {answered} of "
        f"{len(item_ids)} items answered ({adm.status})",
        markup=False,
    )
    _print_scores(console, inst, scores)
    for alert in alerts:
        console.rule("Critical check")
        console.print(alert_text(alert), markup=False)
        console.print(f"alert {alert.id} is open until acknowledged", markup=False)
    hits = check_answers(inst, answers)
    if hits:  # for the client in the room: what to do, and where to find the numbers
        for line in support_lines(support_view(inst, hits), full=False):
            console.print(line, markup=False, highlight=False)


def _print_scores(console: Any, inst: Any, scores: list[Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{inst.title}: scores")
    for col in ("scale", "score", "answered", "band"):
        table.add_column(col)
    for s in scores:
        definition = inst.subscale_by_id.get(s.scale_id) or inst.composite_by_id.get(s.scale_id)
        table.add_row(
            definition.label if definition is not None else s.scale_id,
            "—" if s.value is None else f"{s.value:.2f}",
            str(s.n_answered),
            s.band or ("not enough answers" if s.value is None else ""),
        )
    console.print(table)


@clinic.command()
@click.argument("client")
@click.option("--instrument", help="Only this instrument (id).")
@click.pass_context
def history(ctx: click.Context, client: str, instrument: str | None) -> None:
    """Scores over time, and reliable change between the last two administrations."""
    from rich.console import Console
    from rich.table import Table

    from surveytool.clinic import report
    from surveytool.clinic.clients import find_client

    console = Console()
    with _settings(ctx).store().read() as session:
        found = find_client(session, client)
        built = report.build_client_report(session, found)
    sections = [s for s in built.sections if instrument in (None, s.instrument_id)]
    if not sections:
        click.echo(
            f"client {found.code} has no administrations"
            + (f" of {instrument}" if instrument else "")
        )
        return
    for section in sections:
        table = Table(title=f"{section.title}: client {found.code}")
        table.add_column("scale")
        for adm in section.administrations:
            table.add_column(f"{adm.administered_at:%Y-%m-%d %H:%M}\n{adm.form or 'full'}")
        last = section.changes[-1] if section.changes else None
        by_scale = {c.scale: c for c in last.rows} if last is not None else {}
        if last is not None:
            table.add_column("change (last two)")
        for scale in section.scales:
            cells = []
            for adm in section.administrations:
                sc = next((s for s in adm.scores if s.scale_id == scale.id), None)
                cells.append(
                    "—"
                    if sc is None or sc.value is None
                    else f"{sc.value:.2f} {sc.band or ''}".strip()
                )
            if last is not None:
                change = by_scale.get(scale.id)
                if change is None:
                    cells.append("")
                elif change.classification is None:
                    cells.append(f"{change.difference:+.2f} (not judged: no SD/reliability)")
                else:
                    cells.append(
                        f"{change.difference:+.2f} {change.classification.value} "
                        f"(RCI {change.rci:+.2f})"
                    )
            table.add_row(scale.label, *cells)
        console.print(table)
        if last is not None and any(c.classification is None for c in last.rows):
            reason = next(c.source for c in last.rows if c.classification is None)
            console.print(f"reliable change: {reason}", markup=False)


@clinic.command("report")
@click.argument("client")
@output_option("FILE.html or FILE.pdf")
@click.pass_context
def report_command(ctx: click.Context, client: str, output: Path) -> None:
    """Write the clinician report of CLIENT as HTML or PDF."""
    from surveytool.clinic import audit, report
    from surveytool.clinic.clients import find_client
    from surveytool.clinic.errors import ClinicError

    kind = output.suffix.lower()
    if kind not in (".html", ".htm", ".pdf"):
        raise ClinicError(f"{output}: the report is written as .html or .pdf")
    if not output.parent.is_dir():
        raise ClinicError(f"no folder {output.parent}; create it first")
    settings = _settings(ctx)
    store = settings.store()
    with store.read() as session:
        found = find_client(session, client)
        html = report.render_html(report.build_client_report(session, found))
    data = (
        report.html_to_pdf(html, footer=f"Client {found.code} · confidential")
        if kind == ".pdf"
        else html.encode("utf-8")
    )
    from surveytool.io.files import write_bytes_atomic

    write_bytes_atomic(output, data, secret=True)  # a client's answers: owner only, atomic
    with store.write() as session:
        _, actor = settings.who(session)
        audit.append(
            session, actor, "report.export", f"client:{found.id}", {"format": kind.lstrip(".")}
        )
    click.echo(f"report written to {output}")


@clinic.command()
@click.argument("client")
@output_option("Write to FILE.json.", required=False)
@click.option(
    "--fhir",
    "as_fhir",
    is_flag=True,
    help="A FHIR Bundle instead: a QuestionnaireResponse per administration, an Observation "
    "per score.",
)
@click.pass_context
def export(ctx: click.Context, client: str, output: Path | None, as_fhir: bool) -> None:
    """Everything stored about CLIENT, as JSON (to stdout, or -o FILE); --fhir: its answers and
    scores as a FHIR R4 Bundle."""
    import json

    from surveytool.clinic.clients import find_client
    from surveytool.clinic.errors import ClinicError, HeadWriteError
    from surveytool.clinic.export import export_client

    if output is not None and not output.parent.is_dir():
        raise ClinicError(f"no folder {output.parent}; create it first")
    from surveytool.io.files import write_text_atomic

    settings = _settings(ctx)
    written = False
    try:
        # the export is audited in the transaction that writes it: a failed write (a full disk,
        # a broken pipe) rolls the audit row back, so only exports that happened are recorded
        with settings.store().write() as session:
            _, actor = settings.who(session)
            data = export_client(session, find_client(session, client), actor=actor)
            code = data["client"]["code"]
            if as_fhir:
                from surveytool.interchange.clinic import client_bundle

                data = client_bundle(data)
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            if output is None:
                click.echo(text, nl=False)
            else:
                write_text_atomic(output, text, secret=True)  # everything about a client
                written = True
    except HeadWriteError:  # committed (the export is audited): the file stays
        raise
    except BaseException:
        if written and output is not None:  # written, but the audit row did not commit
            output.unlink(missing_ok=True)
        raise
    if output is not None:
        click.echo(f"exported client {code} to {output}", err=True)


@clinic.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_context
def backup(ctx: click.Context, path: Path) -> None:
    """Copy the SQLite database to PATH (online backup), then check the copy."""
    from surveytool.clinic.store import ClinicStore

    # not settings.store(): for PostgreSQL the answer (use pg_dump) needs no connection
    result = ClinicStore(_settings(ctx).database_url).backup(path)
    click.echo(
        f"backup written to {result.path} ({result.size} bytes): integrity {result.integrity}, "
        f"audit log verified ({result.audit_rows} rows)"
    )
    if result.head_path is not None:
        click.echo(
            f"its audit head: {result.head_path} (to restore, copy both files back, the head "
            "to the database's name + .audit-head)"
        )


@clinic.command()
@click.option(
    "--instrument",
    help="Rescore only this instrument, with this file (a bundled id or a path).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.pass_context
def rescore(ctx: click.Context, instrument: str | None, dry_run: bool) -> None:
    """Recompute every stored score from its answers with the instrument files as they are now."""
    from surveytool.clinic.instruments import instrument_source
    from surveytool.clinic.rescore import rescore as rescore_store
    from surveytool.instrument.registry import load_instrument

    settings = _settings(ctx)
    inst = load_instrument(instrument) if instrument else None
    source = instrument_source(instrument) if instrument else None
    store = settings.store()
    if dry_run:
        with store.read() as session:
            _, actor = settings.who(session)
            summary = rescore_store(
                session, instrument=inst, source=source, apply=False, actor=actor
            )
    else:
        with store.write() as session:
            _, actor = settings.who(session)
            summary = rescore_store(session, instrument=inst, source=source, actor=actor)
    for line in summary.lines():
        click.echo(line)


@clinic.command("verify-audit")
@click.pass_context
@click.option(
    "--head",
    "head_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A copy of the audit head kept elsewhere (from `surveytool clinic audit-head`) to "
    "check against as well.",
)
def verify_audit(ctx: click.Context, head_file: Path | None) -> None:
    """Check the audit log's hash chain, the clinical record it covers, and its head file;
    exit 1 at the first thing that does not verify."""
    from surveytool.clinic.audit import check_head, read_head, verify
    from surveytool.clinic.errors import AuditError

    store = _settings(ctx).store()
    own = store.head_path()
    heads = [own] + ([head_file] if head_file is not None else [])
    if head_file is not None and not head_file.exists():
        raise AuditError(f"--head {head_file}: no such file")
    with store.read() as session:
        result = verify(session)
        for path in heads:
            result = check_head(result, session, read_head(path))
    if not result.ok:
        raise AuditError(result.message)
    if result.rows and not own.exists():
        lost = (
            f"the audit head file {own} is missing, so rows removed from the end of the log "
            "would go unnoticed"
        )
        if head_file is None:
            raise AuditError(
                f"{lost}. If the database was restored from a backup, copy the backup's "
                f".audit-head file to {own}; else check the log against a head kept elsewhere "
                f"(verify-audit --head FILE), then write it anew with `surveytool clinic "
                f"audit-head --output {own}`"
            )
        click.echo(f"{result.message} (checked against {head_file})")
        click.echo(f"note: {lost}; write it with `surveytool clinic audit-head --output {own}`")
        return
    click.echo(result.message)
    click.echo(f"head file: {own}")


@clinic.command()
@click.pass_context
def alerts(ctx: click.Context) -> None:
    """Open alerts of critical checks, oldest first (acknowledge: `surveytool clinic acknowledge
    ID`)."""
    from surveytool.clinic.alerts import alert_age, alert_text, open_alerts

    with _settings(ctx).store().read() as session:
        rows = [
            (a.id, a.client.code, alert_text(a), a.created_at, alert_age(a))
            for a in open_alerts(session)
        ]
    if not rows:
        click.echo("no open alerts")
    for alert_id, code, text, at, age in rows:
        click.echo(f"alert {alert_id}: client {code}, {at:%Y-%m-%d %H:%M} UTC (open {age}): {text}")


@clinic.command()
@click.argument("alert_id", type=int)
@click.option("--note", help="What was done.")
@click.pass_context
def acknowledge(ctx: click.Context, alert_id: int, note: str | None) -> None:
    """Acknowledge an alert of a critical check (recorded in the audit log)."""
    from surveytool.clinic.alerts import acknowledge_alert

    settings = _settings(ctx)
    with settings.store().write() as session:
        clinician, actor = settings.who(session)
        acknowledge_alert(session, alert_id, clinician=clinician, note=note, actor=actor)
    click.echo(f"alert {alert_id} acknowledged")


@clinic.command()
@click.argument("client")
@click.argument("text")
@click.pass_context
def note(ctx: click.Context, client: str, text: str) -> None:
    """Add a note to CLIENT's record."""
    from surveytool.clinic.clients import find_client
    from surveytool.clinic.notes import add_note

    settings = _settings(ctx)
    with settings.store().write() as session:
        clinician, actor = settings.who(session)
        add_note(session, find_client(session, client), text, clinician=clinician, actor=actor)
    click.echo("note added")


# ---------------------------------------------------------------------------------------------
# running a practice: the audit head, settings, accounts, assignment, notifications
# ---------------------------------------------------------------------------------------------


@clinic.command("audit-head")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the head to this file (keep it elsewhere; check with verify-audit --head).",
)
@click.pass_context
def audit_head(ctx: click.Context, output: Path | None) -> None:
    """Print the audit log's head (newest row and hash), which detects removed rows."""
    from surveytool.clinic.audit import current_head
    from surveytool.io.files import write_text_atomic

    store = _settings(ctx).store()
    with store.read() as session:
        head = current_head(session)
    if head is None:
        click.echo("the audit log is empty")
        return
    click.echo(head.text().strip())
    click.echo(f"kept in {store.head_path()}")
    if output is not None:
        write_text_atomic(output, head.text(), secret=True)
        click.echo(f"written to {output}")


@clinic.group("settings")
def settings_group() -> None:
    """The practice's settings: mail server, escalation, review time, second factor."""


@settings_group.command("show")
@click.pass_context
def settings_show(ctx: click.Context) -> None:
    """Every setting, with what it means (unset ones too)."""
    from surveytool.clinic.settings import KEYS, all_settings

    with _settings(ctx).store().read() as session:
        values = all_settings(session)
    for key, spec in KEYS.items():
        click.echo(f"{key} = {values.get(key, '(not set)')}    # {spec.help}")


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_context
def settings_set(ctx: click.Context, key: str, value: str) -> None:
    """Set KEY to VALUE (an empty VALUE removes it). `surveytool clinic settings show` lists
    the keys."""
    from surveytool.clinic.settings import set_setting

    settings = _settings(ctx)
    with settings.store().write() as session:
        _, actor = settings.who(session)
        stored = set_setting(session, key, value, actor=actor)
    click.echo(f"{key} = {stored}" if stored else f"{key} removed")


@clinic.group()
def accounts() -> None:
    """Clinician accounts: roles, deactivation, password resets, second factor, mail."""


def _account(session: Session, username: str) -> Clinician:
    from surveytool.clinic.clinicians import find_clinician

    return find_clinician(session, username)


def _change_account(
    ctx: click.Context, username: str, change: Callable[[Session, Clinician, str], T]
) -> T:
    """Apply ``change(session, account, actor)`` to USERNAME's account in one write transaction."""
    settings = _settings(ctx)
    with settings.store().write() as session:
        _, actor = settings.who(session)
        return change(session, _account(session, username), actor)


@accounts.command("list")
@click.pass_context
def accounts_list(ctx: click.Context) -> None:
    """Every account with its role, state, mail address and second factor."""
    from surveytool.clinic.accounts import clinicians

    with _settings(ctx).store().read() as session:
        rows = clinicians(session)
    for c in rows:
        state = "active" if c.active else "deactivated"
        totp = "second factor on" if c.totp_secret else "no second factor"
        click.echo(f"{c.username}: {c.role}, {state}, {c.email or 'no mail address'}, {totp}")


@accounts.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "clinician"]))
@click.pass_context
def accounts_role(ctx: click.Context, username: str, role: str) -> None:
    """Make USERNAME a practice admin or a clinician."""
    from surveytool.clinic.accounts import set_role

    _change_account(
        ctx, username, lambda s, account, actor: set_role(s, account, role, actor=actor)
    )
    click.echo(f"{username} is now {role}")


def _activation_command(name: str, active: bool, help: str, done: str) -> click.Command:
    """``accounts deactivate`` and ``accounts reactivate``: the one change, ``active`` apart."""

    @accounts.command(name, help=help)
    @click.argument("username")
    @click.pass_context
    def command(ctx: click.Context, username: str) -> None:
        from surveytool.clinic.accounts import set_active

        _change_account(
            ctx, username, lambda s, account, actor: set_active(s, account, active, actor=actor)
        )
        click.echo(f"{username} {done}")

    return command


accounts_deactivate = _activation_command(
    "deactivate",
    False,
    "Stop USERNAME from logging in (their sessions end now; their records stay).",
    "is deactivated",
)
accounts_reactivate = _activation_command(
    "reactivate", True, "Let USERNAME log in again.", "is active again"
)


@accounts.command("email")
@click.argument("username")
@click.argument("address", required=False, default="")
@click.pass_context
def accounts_email(ctx: click.Context, username: str, address: str) -> None:
    """Where USERNAME's alert notifications go (no ADDRESS: none)."""
    from surveytool.clinic.accounts import set_email

    _change_account(
        ctx, username, lambda s, account, actor: set_email(s, account, address, actor=actor)
    )
    click.echo(f"{username}: {address or 'no mail address'}")


@accounts.command("reset-password")
@click.argument("username")
@click.pass_context
def accounts_reset(ctx: click.Context, username: str) -> None:
    """Issue a one-time reset code (24 hours); the old password stops working now."""
    from surveytool.clinic import auth

    code = _change_account(
        ctx, username, lambda s, account, actor: auth.issue_reset_code(s, account, actor=actor)
    )
    click.echo(f"reset code for {username}: {code}")
    click.echo("give it to them in person or by phone; they choose a new password at /clinic/reset")


@accounts.command("totp")
@click.argument("username")
@click.option("--off", is_flag=True, help="Turn the second factor off.")
@click.option("--code-stdin", is_flag=True, help="Read the confirming code from stdin.")
@click.pass_context
def accounts_totp(ctx: click.Context, username: str, off: bool, code_stdin: bool) -> None:
    """Set up USERNAME's second factor (TOTP): add the key to an authenticator app, then type
    the code it shows."""
    from surveytool.clinic import auth

    settings = _settings(ctx)
    store = settings.store()
    if off:
        with store.write() as session:
            _, actor = settings.who(session)
            auth.disable_totp(session, _account(session, username), actor=actor)
        click.echo(f"{username}: second factor off")
        return
    with store.read() as session:
        name = _account(session, username).username
    secret = auth.new_totp_secret()
    click.echo(f"key: {secret}")
    click.echo(f"or this address, as a QR code: {auth.totp_uri(secret, name)}")
    if code_stdin:
        code = sys.stdin.readline().strip()
    else:
        code = click.prompt("Code shown by the app", err=True)
    with store.write() as session:
        _, actor = settings.who(session)
        auth.enable_totp(session, _account(session, username), secret, code, actor=actor)
    click.echo(f"{name}: second factor on")


@clinic.command()
@click.argument("client")
@click.argument("username", required=False)
@click.option("--nobody", is_flag=True, help="Assign to nobody (only admins see the client).")
@click.pass_context
def assign(ctx: click.Context, client: str, username: str | None, nobody: bool) -> None:
    """Assign CLIENT to the clinician USERNAME (they alone, and the admins, see the client)."""
    from surveytool.clinic.accounts import assign as assign_client
    from surveytool.clinic.clients import find_client
    from surveytool.clinic.errors import ClinicError

    if (username is None) == (not nobody):
        raise ClinicError("give a USERNAME, or --nobody")
    settings = _settings(ctx)
    with settings.store().write() as session:
        _, actor = settings.who(session)
        target = None if nobody or username is None else _account(session, username)
        found = find_client(session, client)
        assign_client(session, found, target, actor=actor)
        code = found.code
    click.echo(f"client {code} assigned to {username or 'nobody'}")


@clinic.command()
@click.pass_context
def notify(ctx: click.Context) -> None:
    """Send the alert notifications and escalations that are due (once; the server does this
    on its own timer)."""
    from surveytool.clinic.notify import run_once

    summary = run_once(_settings(ctx).store())
    if not summary.configured:
        setup = "set smtp_host and mail_from with `surveytool clinic settings set`"
        if summary.unsent_open:
            from surveytool.clinic.errors import ClinicError

            raise ClinicError(
                f"{summary.unsent_open} open alert(s), and no mail server is configured, so "
                f"nobody is told by mail: see them with `surveytool clinic alerts`, and {setup}"
            )
        click.echo(f"no mail server configured (no open alerts now): {setup}")
        return
    for job in summary.sent:
        click.echo(f"alert {job.alert_id}: {job.kind} sent to {job.recipient}")
    for job, error in summary.failed:
        click.echo(f"alert {job.alert_id}: {job.kind} to {job.recipient} failed: {error}", err=True)
    if not summary.sent and not summary.failed:
        click.echo("nothing to send")
    if summary.failed:
        ctx.exit(1)


@clinic.group()
def reliability() -> None:
    """Reliability and SD per scale for reliable change, with their source (published values,
    or the practice's own data)."""


@reliability.command("set")
@click.argument("instrument")
@click.argument("scale")
@click.option("--reliability", "value", type=float, required=True, help="e.g. Cronbach's alpha.")
@click.option("--sd", type=float, required=True, help="The SD of the scale's scores.")
@click.option(
    "--source", required=True, help="Where the values come from (an article, a manual, a sample)."
)
@click.pass_context
def reliability_set(
    ctx: click.Context, instrument: str, scale: str, value: float, sd: float, source: str
) -> None:
    """Give SCALE of INSTRUMENT (an id or a file) its reliability and SD."""
    from surveytool.clinic.references import set_reference
    from surveytool.instrument.registry import load_instrument

    inst = load_instrument(instrument)
    settings = _settings(ctx)
    with settings.store().write() as session:
        _, actor = settings.who(session)
        set_reference(session, inst, scale, reliability=value, sd=sd, source=source, actor=actor)
    click.echo(f"{inst.id} {scale}: reliability {value}, SD {sd} ({source})")


@reliability.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def reliability_import(ctx: click.Context, path: Path) -> None:
    """Read a CSV file with the columns instrument, scale, reliability, sd, source (all rows or
    none)."""
    from surveytool.clinic.references import import_references
    from surveytool.instrument.registry import bundled_paths, load_instrument

    instruments = {inst_id: load_instrument(p) for inst_id, p in bundled_paths().items()}
    settings = _settings(ctx)
    with settings.store().write() as session:
        _, actor = settings.who(session)
        n = import_references(session, path, instruments, actor=actor)
    click.echo(f"{n} scale(s) given reliability and SD from {path}")


@reliability.command("list")
@click.argument("instrument")
@click.pass_context
def reliability_list(ctx: click.Context, instrument: str) -> None:
    """What reliable change uses for each scale of INSTRUMENT, and where it comes from."""
    from surveytool.clinic.references import MIN_PRACTICE_N, references_for
    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.norms import entry_for

    inst = load_instrument(instrument)
    with _settings(ctx).store().read() as session:
        refs = references_for(session, inst)
    for scale_id in inst.scored_ids():
        ref = refs.get(scale_id)
        entry = entry_for(inst, scale_id, {})
        if ref is not None:
            click.echo(
                f"{scale_id}: reliability {ref.reliability:.3f}, SD {ref.sd:.3f}: {ref.label}"
            )
        elif entry is not None and entry.sd is not None and entry.reliability is not None:
            click.echo(f"{scale_id}: from the instrument's norms (n={entry.n})")
        else:
            click.echo(
                f"{scale_id}: cannot be judged: no norms and no values given (set them with "
                f"`surveytool clinic reliability set`, or wait for {MIN_PRACTICE_N} clients' "
                "first administrations for a practice-based estimate)"
            )
