"""What scoring returns: a plain table from score(), typed records and coded issues from
score_responses() (surveytool.scoring.result)."""

from __future__ import annotations

import pandas as pd
import pytest

import surveytool
from surveytool.problems import CODES, flatten
from surveytool.scoring.result import PersonScores, Provenance, Status


def test_score_returns_a_plain_frame_with_empty_attrs(methods):
    frame = pd.DataFrame({"pid": ["a", "b"], "M1": [3, 7], "extra": [0, 0]})
    table = surveytool.score(methods, frame, id_column="pid")
    assert table.attrs == {}
    assert table[["pid", "mean_s"]].attrs == {}


def test_score_result_carries_coded_issues(methods):
    frame = pd.DataFrame({"pid": ["a", "b", "a"], "M1": [3, 7, 2], "M2": ["lots", 2, 2]})
    result = surveytool.score_responses(methods, frame, id_column="pid", ignore_columns=["M3"])
    got = [f for f in flatten(result.issues) if f[0] != "missing_item"]
    assert sorted(got) == [
        ("duplicate_respondent_id", 3, "pid"),
        ("not_an_answer", 1, "M2"),
        ("off_scale", 2, "M1"),
    ]
    assert result.issues["code"].isin(list(CODES)).all()
    problems = result.problems
    assert len(problems) == len(result.issues)
    assert all(p.hint == CODES[p.code] for p in problems)
    off = next(p for p in problems if p.code == "off_scale")
    assert (off.row, off.field, off.value, off.respondent_id) == (2, "M1", "7", "b")


def test_person_records_match_the_table(methods):
    frame = pd.DataFrame({"pid": ["a", "b"], "M1": [3, None], "M2": [4, None]})
    result = surveytool.score_responses(methods, frame, id_column="pid")
    table = result.scores
    for i, person in enumerate(result.people()):
        assert isinstance(person, PersonScores)
        assert person.respondent_id == table["pid"].iloc[i]
        for scale in person.scales:
            assert scale.answered == table[f"{scale.id}_n"].iloc[i]
            assert scale.status == table[f"{scale.id}_status"].iloc[i]
            assert (scale.status is Status.ok) == (scale.score is not None)
            if scale.ok:
                assert scale.score == table[scale.id].iloc[i]
                assert scale.band == table[f"{scale.id}_band"].iloc[i]
            else:
                assert scale.band is None and pd.isna(table[scale.id].iloc[i])
    assert [s.id for s in result.person(0).scales] == [
        c.removesuffix("_status") for c in table.columns if c.endswith("_status")
    ]
    with pytest.raises(IndexError):
        result.person(2)


def test_norm_fields_on_the_person_record(normed):
    result = surveytool.score_responses(
        normed,
        pd.DataFrame({"sex": ["F"], "H1": [3], "H2": [4], "X1": [2], "X2": [2]}),
        group_columns=["sex"],
    )
    table = result.scores
    checked = []
    for scale in result.person(0).scales:
        if f"{scale.id}_t" in table.columns and scale.ok:
            assert scale.t == table[f"{scale.id}_t"].iloc[0]
            assert scale.percentile == table[f"{scale.id}_percentile"].iloc[0]
            assert scale.percentile_source == table[f"{scale.id}_percentile_source"].iloc[0]
            assert scale.norm_group == table[f"{scale.id}_norm_group"].iloc[0]
            checked.append(scale.id)
    assert checked  # at least one normed scale was scored


def test_provenance_is_one_frozen_model(methods):
    result = surveytool.score_responses(methods, {"M1": 3})
    provenance = result.provenance
    assert isinstance(provenance, Provenance)
    with pytest.raises(ValueError):
        provenance.form = "brief"  # type: ignore[misc]
    assert Provenance.model_validate(provenance.as_metadata()) == provenance
    assert provenance.record_fields() == {
        "instrument_id": "methods",
        "instrument_version": "1.0.0",
        "instrument_hash": methods.content_hash,
        "form": None,
    }
