"""Instruments as data: the minimal example of the issue loads exactly as written.

The model's fields (and every default) are checked on the loaded instrument, and the content hash
is checked to depend on content only: re-formatting or re-commenting a file keeps it, any change of
what is scored changes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from surveytool.errors import InstrumentError
from surveytool.instrument.load import load_path, load_text
from surveytool.instrument.model import Better, Instrument, Method, ValidationStatus, score_ranges

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "instruments"
MINIMAL_PATH = FIXTURES / "minimal.yaml"

#: The minimal example, verbatim from the issue "Instruments as data".
MINIMAL = """\
id: example
version: "1.0.0"
title: Example
response_scales:
  agree6: {min: 1, max: 6, labels: {1: Strongly disagree, 6: Strongly agree}}
items:
  - {id: A1, text: "First statement", scale: agree6, reverse: true}
  - {id: A2, text: "Second statement", scale: agree6}
subscales:
  - {id: agree, label: Agreeableness, items: [A1, A2], method: mean, min_answered: 1}
"""


@pytest.fixture
def minimal() -> Instrument:
    return load_text(MINIMAL)


def test_fixture_file_is_the_example_verbatim():
    assert MINIMAL_PATH.read_text(encoding="utf-8") == MINIMAL


def test_minimal_example_loads_from_text_and_file_alike(minimal):
    from_file = load_path(MINIMAL_PATH)
    assert from_file == minimal
    assert from_file.content_hash == minimal.content_hash


def test_minimal_example_top_level_fields_and_defaults(minimal):
    assert minimal.id == "example"
    assert minimal.version == "1.0.0"
    assert minimal.title == "Example"
    # defaults of everything the example leaves out
    assert minimal.description == ""
    assert minimal.language == "en"
    assert minimal.instructions == ""
    assert minimal.timeframe == ""
    assert minimal.source == ""
    assert minimal.provenance == ""
    assert minimal.licence == ""
    assert minimal.validation_status is ValidationStatus.unvalidated
    assert minimal.disclaimer == ""
    assert minimal.minutes is None
    assert minimal.composites == ()
    assert minimal.checks == ()
    assert minimal.support_text == ""
    assert minimal.short_forms == ()
    assert minimal.norms is None


def test_minimal_example_response_scale(minimal):
    assert list(minimal.response_scales) == ["agree6"]
    scale = minimal.response_scales["agree6"]
    assert (scale.min, scale.max) == (1, 6)
    # YAML keys 1: and 6: are ints, and stay ints
    assert scale.labels == {1: "Strongly disagree", 6: "Strongly agree"}
    assert all(type(k) is int for k in scale.labels)
    assert scale.missing_codes == {}
    assert scale.points == [1, 2, 3, 4, 5, 6]


def test_minimal_example_items(minimal):
    assert [item.id for item in minimal.items] == ["A1", "A2"]
    a1, a2 = minimal.items
    assert (a1.text, a1.scale, a1.reverse) == ("First statement", "agree6", True)
    assert (a2.text, a2.scale, a2.reverse) == ("Second statement", "agree6", False)
    for item in (a1, a2):
        assert item.weight == 1.0
        assert item.translations == {}
        assert item.source is None
    assert minimal.item_by_id["A2"] is a2
    assert minimal.scale_of("A1") is minimal.response_scales["agree6"]


def test_minimal_example_subscale(minimal):
    (sub,) = minimal.subscales
    assert sub.id == "agree"
    assert sub.label == "Agreeableness"
    assert sub.items == ("A1", "A2")
    assert sub.method is Method.mean
    assert sub.min_answered == 1
    assert type(sub.min_answered) is int  # a count, not the fraction 1.0 (= all items)
    # defaults
    assert sub.description == ""
    assert sub.bands == ()
    assert sub.guidance == ""
    assert sub.better is Better.LOWER
    assert minimal.subscale_by_id == {"agree": sub}
    assert minimal.scored_ids() == ["agree"]
    assert score_ranges(minimal) == {"agree": (1.0, 6.0)}


def test_minimal_example_full_dump(minimal):
    """The whole loaded model, as JSON: nothing added, nothing lost."""
    assert minimal.model_dump(mode="json") == {
        "id": "example",
        "version": "1.0.0",
        "title": "Example",
        "description": "",
        "language": "en",
        "instructions": "",
        "timeframe": "",
        "source": "",
        "provenance": "",
        "licence": "",
        "validation_status": "unvalidated",
        "disclaimer": "",
        "minutes": None,
        "response_scales": {
            "agree6": {
                "min": 1,
                "max": 6,
                "labels": {"1": "Strongly disagree", "6": "Strongly agree"},
                "missing_codes": {},
            }
        },
        "items": [
            {
                "id": "A1",
                "text": "First statement",
                "translations": {},
                "scale": "agree6",
                "reverse": True,
                "weight": 1.0,
                "scored": True,
                "timeframe": "",
                "source": None,
            },
            {
                "id": "A2",
                "text": "Second statement",
                "translations": {},
                "scale": "agree6",
                "reverse": False,
                "weight": 1.0,
                "scored": True,
                "timeframe": "",
                "source": None,
            },
        ],
        "subscales": [
            {
                "id": "agree",
                "label": "Agreeableness",
                "description": "",
                "bands": [],
                "guidance": "",
                "better": "lower",
                "items": ["A1", "A2"],
                "method": "mean",
                "min_answered": 1,
            }
        ],
        "composites": [],
        "checks": [],
        "support_text": "",
        "short_forms": [],
        "norms": None,
    }


def test_instrument_is_frozen(minimal):
    with pytest.raises(ValidationError):
        minimal.title = "Other"
    with pytest.raises(ValidationError):
        minimal.items[0].reverse = False


def test_json_round_trip_keeps_content_and_hash(minimal):
    again = Instrument.model_validate(json.loads(minimal.model_dump_json()))
    assert again == minimal
    assert again.content_hash == minimal.content_hash


# ---- content hash -----------------------------------------------------------------------------


def test_content_hash_is_sha256_hex_and_stable(minimal):
    assert len(minimal.content_hash) == 64
    assert set(minimal.content_hash) <= set("0123456789abcdef")
    assert load_text(MINIMAL).content_hash == minimal.content_hash


def test_content_hash_is_the_same_in_another_process(minimal):
    """No dependence on hash randomisation or anything else of one process."""
    code = (
        "import sys; from surveytool.instrument.load import load_path; "
        "print(load_path(sys.argv[1]).content_hash)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(MINIMAL_PATH)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == minimal.content_hash


def test_reformatted_file_has_the_same_content_and_hash(minimal):
    """Block style, other key order, other quoting, comments, ``yes`` for true: same content."""
    reformatted = load_path(FIXTURES / "minimal_reformatted.yaml")
    assert reformatted == minimal
    assert reformatted.content_hash == minimal.content_hash


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: "# a comment\n\n" + t.replace("\n", "   # note\n"), id="comments"),
        pytest.param(lambda t: t.replace("\n", "  \n") + "\n\n\n", id="trailing-whitespace"),
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: t.replace("version: ", "version:     "), id="spacing"),
        pytest.param(lambda t: t.replace('"First statement"', "'First statement'"), id="quotes"),
        pytest.param(lambda t: t.replace("reverse: true", "reverse: True"), id="true-spelling"),
        pytest.param(lambda t: "\ufeff" + t, id="byte-order-mark"),
    ],
)
def test_formatting_changes_keep_the_hash(minimal, edit):
    text = edit(MINIMAL)
    assert text != MINIMAL
    assert load_text(text).content_hash == minimal.content_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"First statement"', '"First statement!"'),
        ('"Second statement"', '"Second  statement"'),
        ("reverse: true", "reverse: false"),
        ('"1.0.0"', '"1.0.1"'),
        ("title: Example", "title: Example 2"),
        ("6: Strongly agree", "6: Agree strongly"),
        ("max: 6", "max: 7"),
        ("method: mean", "method: sum"),
        ("min_answered: 1", "min_answered: 2"),
        ("items: [A1, A2]", "items: [A2, A1]"),
    ],
)
def test_content_changes_change_the_hash(minimal, old, new):
    assert old in MINIMAL
    changed = load_text(MINIMAL.replace(old, new))
    assert changed.content_hash != minimal.content_hash


def test_a_default_written_out_keeps_the_hash(minimal):
    """Writing a default explicitly does not change what is scored, so not the hash either."""
    text = MINIMAL.replace("scale: agree6}", "scale: agree6, weight: 1.0, reverse: false}")
    assert load_text(text).content_hash == minimal.content_hash


def test_min_answered_count_and_fraction_differ_in_hash(minimal):
    """``1`` (one item) and ``1.0`` (all items) mean different things and must hash apart."""
    fraction = load_text(MINIMAL.replace("min_answered: 1}", "min_answered: 1.0}"))
    assert fraction.subscales[0].min_answered == 1.0
    assert type(fraction.subscales[0].min_answered) is float
    assert fraction.content_hash != minimal.content_hash


def test_loading_a_bad_text_raises_instrument_error_with_the_report():
    with pytest.raises(InstrumentError) as info:
        load_text(MINIMAL.replace("scale: agree6}", "scale: agree7}"))
    report = info.value.report
    assert report.codes() == ["unknown_scale"]
    assert "[unknown_scale]" in str(info.value)
    assert ":8:" in str(info.value)
