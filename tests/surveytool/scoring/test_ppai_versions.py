"""ppai's versions: ``ppai`` is the newest, ``ppai@1.0.0`` the old one, and results made with
1.0.0 re-score exactly as they did (against scores made with main before 2.0.0 existed:
tests/fixtures/scoring/ppai-1.0.0/, see its make_fixture.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import surveytool
from surveytool.errors import InstrumentNotFoundError
from surveytool.instrument.registry import (
    bundled_file,
    bundled_paths,
    bundled_versions,
    list_bundled,
    load_instrument,
    versioned_ref,
)
from surveytool.personal_store import PersonalStore, new_code
from surveytool.report import build_report

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "scoring" / "ppai-1.0.0"


def test_bare_id_is_the_newest_and_id_at_version_the_one_named():
    newest = load_instrument("ppai")
    assert newest.version == "2.0.0"
    assert load_instrument("ppai@2.0.0") is newest
    old = load_instrument("ppai@1.0.0")
    assert old.version == "1.0.0" and old.id == "ppai"
    assert [v.version for v in bundled_versions()["ppai"]] == ["1.0.0", "2.0.0"]


def test_older_versions_are_hidden_from_default_listings():
    assert list(bundled_paths()) == ["ppai"]
    assert bundled_paths()["ppai"].name == "ppai@2.0.0.yaml"
    assert [i.version for i in list_bundled()] == ["2.0.0"]
    assert [i.version for i in list_bundled(all_versions=True)] == ["1.0.0", "2.0.0"]


def test_unknown_version_names_the_bundled_ones():
    with pytest.raises(InstrumentNotFoundError) as err:
        load_instrument("ppai@3.1.4")
    assert "no version '3.1.4' of the bundled instrument 'ppai'" in str(err.value)
    assert "ppai@1.0.0, ppai@2.0.0" in str(err.value)
    with pytest.raises(InstrumentNotFoundError, match=re.escape("id@version such as ppai@1.0.0")):
        load_instrument("nope@1.0.0")


def test_versioned_ref_only_for_the_bundled_content(tmp_path):
    assert versioned_ref(load_instrument("ppai@1.0.0")) == "ppai@1.0.0"
    assert versioned_ref(load_instrument("ppai")) == "ppai@2.0.0"
    edited = load_instrument("ppai@1.0.0").model_copy(update={"title": "Edited"})
    assert versioned_ref(edited) is None  # same id and version, other content: not bundled


@pytest.mark.parametrize(("name", "form"), [("full", None), ("screen", "screen")])
def test_version_1_results_rescore_unchanged(name, form):
    answers = pd.read_csv(FIXTURE / f"answers_{name}.csv", dtype={"respondent_id": str})
    expected = pd.read_csv(FIXTURE / f"scores_{name}.csv", dtype={"respondent_id": str})
    scores = surveytool.score("ppai@1.0.0", answers, id_column="respondent_id", form=form)
    got = scores[list(expected.columns)].copy()
    for column in expected.columns:
        if column.endswith(("_status", "_band")):
            got[column] = got[column].astype("string")
            expected[column] = expected[column].astype("string")
    # written with 17 significant digits: exact doubles
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected, check_dtype=False, check_exact=True
    )


def test_a_version_1_result_can_be_rescored_from_what_is_stored(tmp_path):
    """Saved personal results keep their version; re-scoring loads that version."""
    old = load_instrument("ppai@1.0.0")
    answers = pd.read_csv(FIXTURE / "answers_full.csv").iloc[10]
    row: dict[str, float | None] = {
        k: (None if pd.isna(v) else float(v)) for k, v in answers.items() if k in old.item_by_id
    }
    report = build_report(old, row)
    store = PersonalStore(tmp_path)
    scores = {s.id: s.score for s in (*report.subscales, *report.composites)}
    code = new_code()
    store.save(code, provenance=report.provenance, answers=row, scores=scores)
    (saved,) = store.history(code, "ppai")
    assert saved.instrument_ref == "ppai@1.0.0"
    again = build_report(load_instrument(saved.instrument_ref), saved.answers)
    assert {s.id: s.score for s in (*again.subscales, *again.composites)} == saved.scores


def test_the_pages_offer_the_newest_version_only(tmp_path):
    from fastapi.testclient import TestClient

    from surveytool.web.app import create_app

    app = create_app(store=PersonalStore(tmp_path / "data"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        start = client.get("/").text
        assert start.count('href="/i/ppai"') == 1
        intro = client.get("/i/ppai").text
        assert "PPAI brief form" in intro and "PPAI screen" not in intro
        assert client.get("/i/ppai@1.0.0").status_code == 404  # kept for re-scoring, not offered
    old = create_app(
        store=PersonalStore(tmp_path / "data"), instruments={"ppai": bundled_file("ppai@1.0.0")}
    )
    with TestClient(old, base_url="http://127.0.0.1") as client:
        assert "PPAI screen" in client.get("/i/ppai").text  # serve --offer ppai@1.0.0
