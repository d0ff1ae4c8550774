"""Trend charts keep the full and the short form apart: one line per form, never a line that
joins a short-form score (fewer items) to a full-form one."""

from __future__ import annotations

from pathlib import Path

from surveytool.clinic.administrations import record_administration
from surveytool.clinic.clients import add_client, get_client
from surveytool.clinic.report import build_client_report, render_html
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import mood_answers, write_mood


def test_full_and_short_forms_are_separate_lines(tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    path = write_mood(tmp_path)
    mood = load_instrument(path)
    brief = mood.short_form_by_id["brief"].items
    plan = [(None, 4, 2), ("brief", 3, 3), (None, 3, 3), ("brief", 2, 4), (None, 2, 4)]
    with store.write() as session:
        client = add_client(session, "C-FORMS", display_name=None, clinician=None, actor="t")
        for form, low, well in plan:
            answers = mood_answers(low, well)
            if form is not None:
                answers = {k: v for k, v in answers.items() if k in brief}
            record_administration(
                session,
                get_client(session, client.id),
                mood,
                str(path),
                answers,
                form=form,
                mode="in_person",
                clinician=None,
                actor="t",
            )
    with store.read() as session:
        report = build_client_report(session, get_client(session, client.id))
    (section,) = report.sections
    chart = next(c for c in section.charts if c["id"] == "low")
    assert [(line["form"], line["points"].count(",")) for line in chart["lines"]] == [
        ("", 3),
        ("brief", 2),
    ]
    assert chart["forms"] == ["", "brief"]
    html = render_html(report)
    assert 'class="line short" data-form="brief"' in html and 'data-form="full"' in html
    assert "dashed line and open dots: short form (brief)" in html
    store.dispose()


def test_two_administrations_in_one_minute_are_told_apart(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from surveytool.clinic.models import Administration

    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    path = write_mood(tmp_path)
    mood = load_instrument(path)
    with store.write() as session:
        client = add_client(session, "C-MINUTE", display_name=None, clinician=None, actor="t")
        for low in (4, 2, 3):
            record_administration(
                session,
                get_client(session, client.id),
                mood,
                str(path),
                mood_answers(low, 3),
                form=None,
                mode="in_person",
                clinician=None,
                actor="t",
            )
    # the first two in one minute (seconds apart), the third an hour later
    with store.write() as session:
        adms = list(
            session.execute(sa.select(Administration).order_by(Administration.id)).scalars()
        )
        from datetime import UTC, datetime

        for adm, when in zip(
            adms,
            (
                datetime(2026, 3, 1, 9, 15, 5, tzinfo=UTC),
                datetime(2026, 3, 1, 9, 15, 48, tzinfo=UTC),
                datetime(2026, 3, 1, 10, 15, 0, tzinfo=UTC),
            ),
            strict=True,
        ):
            adm.administered_at = when
    with store.read() as session:
        report = build_client_report(session, get_client(session, client.id))
    (section,) = report.sections
    assert [section.when(a) for a in section.administrations] == [
        "2026-03-01 09:15:05",
        "2026-03-01 09:15:48",
        "2026-03-01 10:15",
    ]
    html = render_html(report)
    assert "2026-03-01 09:15:05" in html and "2026-03-01 09:15:48" in html
    store.dispose()


def test_each_scale_reads_in_its_own_direction(tmp_path: Path) -> None:
    """The bundled inventory's Wish for closeness has no better end: the clinician's chart says so
    and shades it neutral (a neutral scale once read "higher is better" with the low end green);
    a lower-is-better scale has its low band in the favourable colour, as in the self-assessment."""
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    ppai = load_instrument("ppai")
    with store.write() as session:
        client = add_client(session, "C-DIR", display_name=None, clinician=None, actor="t")
        for value in (2, 4):
            record_administration(
                session,
                get_client(session, client.id),
                ppai,
                "ppai",
                {item.id: value for item in ppai.items},
                form=None,
                mode="in_person",
                clinician=None,
                actor="t",
            )
    with store.read() as session:
        report = build_client_report(session, get_client(session, client.id))
    (section,) = report.sections
    charts = {c["id"]: c for c in section.charts}
    wish = charts["desire_closeness"]
    assert wish["direction"] == "neither end is better"
    assert {s["cls"] for s in wish["stripes"]} == {"band neutral"}
    distance = charts["distancing"]
    assert distance["direction"] == "lower is better"
    assert [s["cls"] for s in distance["stripes"]] == [
        "band favourable",
        "band middle",
        "band attention",
    ]
    aware = charts["self_awareness"]
    assert aware["direction"] == "higher is better"
    assert aware["stripes"][-1]["cls"] == "band favourable"
    html = render_html(report)
    assert 'Wish for closeness <span class="muted">(neither end is better)</span>' in html
    assert "(higher is better)" in html and "(lower is better)" in html
    store.dispose()
