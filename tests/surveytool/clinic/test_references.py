"""Change a practice can judge: reliable change from each source, each labelled — the
instrument's norms, published values the practice supplies (with their source), a practice-based
estimate once there are enough first administrations — and the bundled inventory without them
saying why it cannot be judged."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from surveytool.clinic.administrations import (
    administrations_of,
    change_between,
    record_administration,
)
from surveytool.clinic.clients import add_client
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import Administration, Client
from surveytool.clinic.references import (
    MIN_PRACTICE_N,
    cronbach_alpha,
    practice_estimates,
    references_for,
    set_reference,
)
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import mood_answers, write_mood
from tests.surveytool.clinic.test_cli import fails, ok

PPAI = load_instrument("ppai")


def _store(tmp_path: Path) -> ClinicStore:
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    return store


Answers = dict[str, int | None]


def _two(store: ClinicStore, inst: Instrument, source: str, first: Answers, second: Answers) -> int:
    with store.write() as session:
        client = add_client(session, None, display_name=None, clinician=None, actor="t")
        for answers in (first, second):
            record_administration(
                session,
                client,
                inst,
                source,
                answers,
                form=None,
                mode="in_person",
                clinician=None,
                actor="t",
            )
        return client.id


def _changes(store: ClinicStore, inst: Instrument, client_id: int) -> dict[str, object]:
    from surveytool.clinic.clients import get_client

    with store.read() as session:
        before, after = administrations_of(session, get_client(session, client_id))
        refs = references_for(session, inst)
        return {c.scale: c for c in change_between(inst, before, after, refs)}


def test_the_bundled_inventory_says_why_and_published_values_judge(tmp_path: Path) -> None:
    store = _store(tmp_path)
    items = [i.id for i in PPAI.items]
    client_id = _two(store, PPAI, "ppai", dict.fromkeys(items, 4), dict.fromkeys(items, 2))
    changes = _changes(store, PPAI, client_id)
    assert changes and all(c.classification is None for c in changes.values())  # type: ignore[attr-defined]
    assert {c.source for c in changes.values()} == {  # type: ignore[attr-defined]
        "no SD and reliability: not in the norms and not given"
    }
    scale = PPAI.scored_ids()[0]
    source = "Example & Other (2025), Table 2, community sample n=412"
    with store.write() as session:
        set_reference(session, PPAI, scale, reliability=0.84, sd=0.71, source=source, actor="t")
    judged = _changes(store, PPAI, client_id)[scale]
    assert judged.classification is not None  # type: ignore[attr-defined]
    assert judged.source == f"SD and reliability from the practice's values ({source})"  # type: ignore[attr-defined]
    # the others still cannot be judged, and say why
    others = [c for k, c in _changes(store, PPAI, client_id).items() if k != scale]
    assert all(c.classification is None for c in others)  # type: ignore[attr-defined]
    for bad, match in (
        ({"reliability": 1.2, "sd": 1.0, "source": "x"}, "between 0 and 1"),
        ({"reliability": 0.8, "sd": 0.0, "source": "x"}, "SD must be above 0"),
        ({"reliability": 0.8, "sd": 1.0, "source": "  "}, "say where the values come from"),
    ):
        with pytest.raises(ClinicError, match=match), store.write() as session:
            set_reference(session, PPAI, scale, actor="t", **bad)  # type: ignore[arg-type]
    with pytest.raises(ClinicError, match="has no scale 'nope'"), store.write() as session:
        set_reference(session, PPAI, "nope", reliability=0.8, sd=1, source="x", actor="t")
    store.dispose()


def test_norms_and_the_practice_values_are_labelled(tmp_path: Path) -> None:
    store = _store(tmp_path)
    mood = load_instrument(write_mood(tmp_path))
    client_id = _two(
        store, mood, str(tmp_path / "mood.yaml"), mood_answers(5, 2), mood_answers(2, 4)
    )
    normed = _changes(store, mood, client_id)["low"]
    assert normed.source.startswith("SD and reliability from norms (")  # type: ignore[attr-defined]
    with store.write() as session:
        set_reference(session, mood, "low", reliability=0.9, sd=0.5, source="our manual", actor="t")
    assert (
        _changes(store, mood, client_id)["low"].source  # type: ignore[attr-defined]
        == "SD and reliability from the practice's values (our manual)"
    )
    store.dispose()


def test_a_practice_based_estimate_needs_enough_first_administrations(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rng = random.Random(7)
    items = [i.id for i in PPAI.items]
    scale = PPAI.subscales[0]

    def person() -> dict[str, int | None]:
        level = rng.randint(1, 5)
        out: dict[str, int | None] = {}
        for i in items:
            keyed = max(1, min(5, level + rng.choice((-1, 0, 0, 1))))
            out[i] = 6 - keyed if PPAI.item_by_id[i].reverse else keyed
        return out

    with store.write() as session:
        for _ in range(MIN_PRACTICE_N - 1):
            client = add_client(session, None, display_name=None, clinician=None, actor="t")
            for _ in range(2):  # a later administration never counts
                record_administration(
                    session,
                    client,
                    PPAI,
                    "ppai",
                    person(),
                    form=None,
                    mode="in_person",
                    clinician=None,
                    actor="t",
                )
    with store.read() as session:
        assert practice_estimates(session, PPAI) == {}  # 29 clients: no estimate
    with store.write() as session:
        client = add_client(session, None, display_name=None, clinician=None, actor="t")
        record_administration(
            session,
            client,
            PPAI,
            "ppai",
            person(),
            form=None,
            mode="in_person",
            clinician=None,
            actor="t",
        )
    with store.read() as session:
        estimates = practice_estimates(session, PPAI)
        first = [administrations_of(session, c)[0] for c in _clients(session)]
    ref = estimates[scale.id]
    assert ref.label == (
        f"practice-based estimate from {MIN_PRACTICE_N} clients' first administrations (not a norm)"
    )
    assert "norm" not in ref.label.replace("not a norm", "")
    # the same numbers by an independent computation (numpy, sample variances)
    matrix = np.array([[_keyed(a, i) for i in scale.items] for a in first], dtype=float)
    k = matrix.shape[1]
    expected_alpha = (
        k / (k - 1) * (1 - matrix.var(axis=0, ddof=1).sum() / matrix.sum(axis=1).var(ddof=1))
    )
    assert ref.reliability == pytest.approx(expected_alpha, rel=1e-12)
    scores = np.array([next(s.value for s in a.scores if s.scale_id == scale.id) for a in first])
    assert ref.sd == pytest.approx(scores.std(ddof=1), rel=1e-12)
    store.dispose()


def _clients(session: Session) -> list[Client]:
    from surveytool.clinic.clients import list_clients

    return list_clients(session)


def _keyed(adm: Administration, item_id: str) -> float:
    value = next(a.value for a in adm.answers if a.item_id == item_id)
    assert value is not None
    points = PPAI.scale_of(item_id).points
    return float(min(points) + max(points) - value) if PPAI.item_by_id[item_id].reverse else value


def test_cronbach_alpha_of_a_small_matrix() -> None:
    # k = 3, n = 4: item variances 1, 1, 1 (sum 3), totals 3, 6, 9, 12 (variance 15)
    rows = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0], [4.0, 4.0, 4.0]]
    assert cronbach_alpha([[r[0] * 1, r[1], r[2]] for r in rows]) == pytest.approx(1.0)
    noisy = [[1, 2, 1], [2, 1, 3], [3, 3, 2], [4, 5, 4]]
    m = np.array(noisy, dtype=float)
    expected = 1.5 * (1 - m.var(axis=0, ddof=1).sum() / m.sum(axis=1).var(ddof=1))
    assert cronbach_alpha([list(map(float, r)) for r in noisy]) == pytest.approx(expected)


def test_reliability_commands(clinic: dict[str, str], tmp_path: Path) -> None:
    scale = PPAI.scored_ids()[0]
    out = ok(clinic, "reliability", "list", "ppai")
    assert f"{scale}: cannot be judged: no norms and no values given" in out
    good = tmp_path / "published.csv"
    good.write_text(
        f"instrument,scale,reliability,sd,source\nppai,{scale},0.82,0.7,Manual 2nd ed. p. 31\n",
        "utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"instrument,scale,reliability,sd,source\nppai,{scale},0.82,0.7,ok\nppai,{scale},high,0.7,x\n",
        "utf-8",
    )
    fails(
        clinic,
        "reliability",
        "import",
        str(bad),
        match=r"bad.csv, row 3, column reliability: 'high' is not a number",
    )
    assert (
        "cannot be judged" in ok(clinic, "reliability", "list", "ppai").split("\n")[0]
    )  # none kept
    assert "1 scale(s)" in ok(clinic, "reliability", "import", str(good))
    listed = ok(clinic, "reliability", "list", "ppai")
    assert (
        f"{scale}: reliability 0.820, SD 0.700: the practice's values (Manual 2nd ed. p. 31)"
        in listed
    )
    ok(
        clinic,
        "reliability",
        "set",
        "ppai",
        scale,
        "--reliability",
        "0.8",
        "--sd",
        "0.6",
        "--source",
        "our data 2025",
    )
    assert "the practice's values (our data 2025)" in ok(clinic, "reliability", "list", "ppai")
    fails(
        clinic,
        "reliability",
        "set",
        "ppai",
        scale,
        "--reliability",
        "2",
        "--sd",
        "1",
        "--source",
        "x",
        match="between 0 and 1",
    )


def test_the_report_names_each_rci_source(tmp_path: Path) -> None:
    from surveytool.clinic.clients import get_client
    from surveytool.clinic.report import build_client_report, render_html

    store = _store(tmp_path)
    items = [i.id for i in PPAI.items]
    client_id = _two(store, PPAI, "ppai", dict.fromkeys(items, 4), dict.fromkeys(items, 2))
    scale = PPAI.scored_ids()[0]
    with store.write() as session:
        set_reference(
            session, PPAI, scale, reliability=0.84, sd=0.71, source="Manual p. 9", actor="t"
        )
    with store.read() as session:
        html = render_html(build_client_report(session, get_client(session, client_id)))
    assert "the practice&#39;s values (Manual p. 9)" in html
    assert "cannot be judged: no SD and reliability: not in the norms and not given" in html
    assert "surveytool clinic reliability set" in html
    store.dispose()
