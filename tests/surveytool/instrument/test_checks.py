"""Every validation rule has a failing fixture, and its report is asserted exactly.

Reports are compared flattened, as lists of ``(code, line, path)`` tuples (the way pandera and
frictionless compare error reports), so a change in what is reported, where, or in which order
shows up as a readable diff.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from surveytool.errors import InstrumentError
from surveytool.instrument.checks import validate_document
from surveytool.instrument.load import MAX_BYTES, load_path, validate_path, validate_text
from surveytool.problems import INSTRUMENT_CODES, Report

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "instruments"
BAD = FIXTURES / "bad"
BUNDLED = ROOT / "instruments"

Flat = list[tuple[str, int | None, str]]


def flatten(report: Report) -> Flat:
    return [(p.code, p.line, p.path) for p in report.problems]


#: fixture in tests/fixtures/instruments/bad -> the exact flattened report
CASES: dict[str, Flat] = {
    "file_unreadable": [("file_unreadable", None, "")],
    "yaml_syntax": [("yaml_syntax", 5, "")],
    "yaml_alias": [("yaml_alias", 6, "")],
    "yaml_duplicate_key": [("yaml_duplicate_key", 11, "items[0].text")],
    "not_a_mapping": [("not_a_mapping", 2, "")],
    "missing_field": [
        ("missing_field", 2, "title"),
        ("missing_field", 8, "items[1].text"),
    ],
    "unknown_field": [
        ("unknown_field", 7, "response_scales.agree5.lables"),
        ("unknown_field", 8, "titel"),
        ("unknown_field", 12, "items[2].reversed"),
    ],
    "wrong_type": [
        ("wrong_type", 3, "version"),
        ("wrong_type", 6, "response_scales.agree6.min"),
        ("wrong_type", 8, "items[0].reverse"),
        ("wrong_type", 10, "subscales"),
    ],
    "invalid_value": [
        ("invalid_value", 3, "version"),
        ("invalid_value", 9, "response_scales.agree6.labels"),
        ("invalid_value", 11, "items[0].id"),
        ("invalid_value", 12, "items[1].weight"),
        ("invalid_value", 14, "subscales[0].method"),
    ],
    "duplicate_id": [
        ("duplicate_id", 9, "items[1].id"),
        ("duplicate_id", 14, "composites[0].id"),
    ],
    "folded_duplicate_id": [
        ("folded_duplicate_id", 9, "items[1].id"),
        ("folded_duplicate_id", 10, "items[2].id"),
        ("folded_duplicate_id", 13, "subscales[1].id"),
    ],
    "scale_range": [("scale_range", 6, "response_scales.agree6.max")],
    "label_out_of_range": [("label_out_of_range", 11, "response_scales.agree6.labels[7]")],
    "missing_code_in_range": [
        ("missing_code_in_range", 11, "response_scales.agree6.missing_codes[3]")
    ],
    "unknown_scale": [("unknown_scale", 9, "items[1].scale")],
    "unknown_item": [
        ("unknown_item", 11, "subscales[0].items[1]"),
        ("unknown_item", 13, "checks[0].item"),
        ("unknown_item", 15, "short_forms[0].items[1]"),
    ],
    "duplicate_member": [
        ("duplicate_member", 11, "subscales[0].items"),
        ("duplicate_member", 13, "composites[0].components"),
    ],
    "min_answered": [
        ("min_answered", 11, "subscales[0].min_answered"),
        ("min_answered", 12, "subscales[1].min_answered"),
    ],
    "band_inverted": [("band_inverted", 16, "subscales[0].bands[1]")],
    "band_overlap": [("band_overlap", 16, "subscales[0].bands[1].lower")],
    "band_gap": [("band_gap", 16, "subscales[0].bands[1].lower")],
    "band_coverage": [
        ("band_coverage", 17, "subscales[0].bands[1].upper"),
        ("band_coverage", 23, "composites[0].bands[0].lower"),
    ],
    "unknown_component": [("unknown_component", 13, "composites[0].components[1]")],
    "composite_cycle": [
        ("composite_cycle", 13, "composites[0].components"),
        ("composite_cycle", 15, "composites[2].components"),
    ],
    "check_rule": [
        ("check_rule", 13, "checks[0].rule.at_or_above"),
        ("check_rule", 14, "checks[1].rule"),
        ("check_rule", 15, "checks[2].rule"),
        ("check_rule", 16, "checks[3].rule.answers[1]"),
        ("check_rule", 17, "checks[4].rule"),
    ],
    "unscored_item_in_subscale": [("unscored_item_in_subscale", 11, "subscales[0].items[1]")],
    "critical_items_replaced": [("critical_items_replaced", 12, "critical_items")],
    "short_form_partial_sum": [("short_form_partial_sum", 14, "short_forms[0].items")],
    "norm_sd": [
        ("norm_sd", 16, "norms.entries[0].sd"),
        ("norm_sd", 17, "norms.entries[1].sd"),
    ],
    "norm_unknown_scale": [("norm_unknown_scale", 17, "norms.entries[1].scale")],
    "norm_group": [
        ("norm_group", 19, "norms.entries[2].group"),
        ("norm_group", 20, "norms.entries[3].group"),
    ],
    "norm_duplicate": [("norm_duplicate", 19, "norms.entries[2]")],
    "percentile_order": [
        ("percentile_order", 23, "norms.entries[0].percentiles[2]"),
        ("percentile_order", 24, "norms.entries[0].percentiles[3]"),
    ],
}

#: codes whose failing input is made by the test (a file over MAX_BYTES is not checked in)
GENERATED = {"file_too_large"}


def test_every_code_has_a_failing_fixture():
    assert set(CASES) | GENERATED == set(INSTRUMENT_CODES)
    assert sorted(p.stem for p in BAD.glob("*.yaml")) == sorted(CASES)


def test_every_code_has_a_hint():
    for code, hint in INSTRUMENT_CODES.items():
        assert hint.strip(), code


@pytest.mark.parametrize("code", sorted(CASES))
def test_fixture_report(code):
    path = BAD / f"{code}.yaml"
    instrument, report = validate_path(path)
    assert instrument is None
    assert not report.ok
    assert flatten(report) == CASES[code]
    assert report.file == str(path)
    for p in report.problems:
        assert p.file == str(path)
        assert p.hint
        assert p.message
        assert (p.line is None) == (p.column is None)


@pytest.mark.parametrize("code", sorted(CASES))
def test_fixture_is_refused_by_the_loader(code):
    with pytest.raises(InstrumentError) as info:
        load_path(BAD / f"{code}.yaml")
    assert info.value.report.codes() == [c for c, _, _ in CASES[code]]


# ---- the file-level codes -----------------------------------------------------------------------


def test_missing_file_is_unreadable(tmp_path):
    path = tmp_path / "nope.yaml"
    instrument, report = validate_path(path)
    assert instrument is None
    assert flatten(report) == [("file_unreadable", None, "")]
    assert "No such file" in report.problems[0].message


def test_directory_is_unreadable(tmp_path):
    _, report = validate_path(tmp_path)
    assert flatten(report) == [("file_unreadable", None, "")]


def test_binary_file_is_unreadable(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01")
    _, report = validate_path(path)
    assert flatten(report) == [("file_unreadable", None, "")]
    assert "utf-8" in report.problems[0].message


def test_path_with_nul_is_unreadable():
    _, report = validate_path("instrument\x00.yaml")
    assert flatten(report) == [("file_unreadable", None, "")]


def test_file_too_large(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * (MAX_BYTES // 10 + 1), encoding="utf-8")
    assert path.stat().st_size > MAX_BYTES
    instrument, report = validate_path(path)
    assert instrument is None
    assert flatten(report) == [("file_too_large", None, "")]
    assert report.problems[0].file == str(path)


def test_text_too_large_counts_bytes_not_characters():
    text = "# " + "é" * (MAX_BYTES // 2 + 1)  # fewer characters than MAX_BYTES, more bytes
    assert len(text) < MAX_BYTES < len(text.encode("utf-8"))
    _, report = validate_text(text)
    assert flatten(report) == [("file_too_large", None, "")]


def test_file_of_exactly_max_bytes_is_read(tmp_path):
    head = (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")
    path = tmp_path / "padded.yaml"
    path.write_text(head + "#" * (MAX_BYTES - len(head.encode()) - 1) + "\n", encoding="utf-8")
    assert path.stat().st_size == MAX_BYTES
    instrument, report = validate_path(path)
    assert report.ok, report.format_text()
    assert instrument is not None


# ---- many problems at once ---------------------------------------------------------------------

MANY: Flat = [
    ("invalid_value", 2, "id"),
    ("wrong_type", 3, "version"),
    ("label_out_of_range", 9, "response_scales.agree5.labels[0]"),
    ("missing_code_in_range", 10, "response_scales.agree5.missing_codes[3]"),
    ("scale_range", 11, "response_scales.broken.max"),
    ("unknown_scale", 19, "items[1].scale"),
    ("duplicate_id", 20, "items[2].id"),
    ("unknown_field", 23, "items[2].weigth"),
    ("duplicate_member", 27, "subscales[0].items"),
    ("unknown_item", 27, "subscales[0].items[2]"),
    ("min_answered", 29, "subscales[0].min_answered"),
    ("band_overlap", 32, "subscales[0].bands[1].lower"),
    ("composite_cycle", 34, "composites[0].components"),
    ("check_rule", 36, "checks[0].rule.at_or_above"),
    ("short_form_partial_sum", 38, "short_forms[0].items"),
    ("norm_unknown_scale", 42, "norms.entries[0].scale"),
    ("norm_sd", 42, "norms.entries[0].sd"),
]


def test_many_problems_reported_in_one_run_in_line_order_with_hints():
    path = FIXTURES / "many_problems.yaml"
    _, report = validate_path(path)
    assert flatten(report) == MANY
    positions = [(p.line or 0, p.column or 0) for p in report.problems]
    assert positions == sorted(positions)
    hints = {p.path: p.hint for p in report.problems}
    assert all(hints.values())
    assert hints["version"] == 'Write the version as a quoted semantic version, e.g. "1.0.0".'
    assert hints["id"] == "Ids start with a letter and hold letters, digits, _ . or -."
    assert hints["items[2].weigth"] == "Did you mean 'weight'?"
    assert hints["items[1].scale"] == "Use one of: agree5, broken."
    assert hints["norms.entries[0].sd"] == INSTRUMENT_CODES["norm_sd"]

    text = report.format_text()
    assert text.splitlines()[0] == f"{path}: {len(MANY)} problem(s)"
    for code, line, where in MANY:
        assert f"{path}:{line}:" in text
        assert f"[{code}] at {where}:" in text
    assert text.count("hint: ") == len(MANY)


def test_report_as_dict_is_json():
    _, report = validate_path(FIXTURES / "many_problems.yaml")
    data = json.loads(json.dumps(report.as_dict()))
    assert data["ok"] is False
    assert [(p["code"], p["line"], p["path"]) for p in data["problems"]] == MANY
    assert set(data["problems"][0]) == {
        "code",
        "file",
        "line",
        "column",
        "path",
        "message",
        "hint",
    }


# ---- hints and messages that help ---------------------------------------------------------------


def _hints(code: str) -> list[str]:
    return [p.hint for p in validate_path(BAD / f"{code}.yaml")[1].problems]


def test_unknown_field_suggests_the_right_spelling_at_every_depth():
    assert _hints("unknown_field") == [
        "Did you mean 'labels'?",  # inside a response scale (a dict of models)
        "Did you mean 'title'?",
        "Did you mean 'reverse'?",
    ]


def test_unknown_references_suggest_what_exists():
    assert _hints("unknown_component") == ["Did you mean 'agree'?"]
    assert _hints("unknown_scale") == ["Use one of: agree6."]


def test_id_hint_only_on_ids():
    _, report = validate_path(BAD / "invalid_value.yaml")
    hints = {p.path: p.hint for p in report.problems}
    assert hints["items[0].id"] == "Ids start with a letter and hold letters, digits, _ . or -."
    assert hints["subscales[0].method"] == INSTRUMENT_CODES["invalid_value"]
    _, report = validate_text(
        (FIXTURES / "minimal.yaml").read_text().replace("items: [A1, A2]", "items: []")
    )
    assert [(p.code, p.path, p.hint) for p in report.problems] == [
        ("invalid_value", "subscales[0].items", INSTRUMENT_CODES["invalid_value"])
    ]


def test_member_id_with_bad_pattern_gets_the_id_hint():
    text = (FIXTURES / "minimal.yaml").read_text().replace("items: [A1, A2]", "items: [A1, 2A]")
    _, report = validate_text(text)
    assert [(p.code, p.path, p.hint) for p in report.problems] == [
        (
            "invalid_value",
            "subscales[0].items[1]",
            "Ids start with a letter and hold letters, digits, _ . or -.",
        )
    ]


def test_one_bad_entry_does_not_make_its_list_look_empty():
    """pydantic counts only valid entries for min_length; the list is not reported as empty."""
    text = (FIXTURES / "minimal.yaml").read_text().replace("method: mean", "method: median")
    _, report = validate_text(text)
    assert flatten(report) == [("invalid_value", 10, "subscales[0].method")]


def test_an_empty_list_is_reported_as_too_short():
    text = (FIXTURES / "minimal.yaml").read_text()
    text = text.split("subscales:")[0] + "subscales: []\n"
    _, report = validate_text(text)
    assert flatten(report) == [("invalid_value", 9, "subscales")]


def test_inverted_band_is_not_also_reported_as_gap_or_coverage():
    _, report = validate_path(BAD / "band_inverted.yaml")
    assert report.codes() == ["band_inverted"]


def test_check_rule_messages_say_what_is_wrong():
    _, report = validate_path(BAD / "check_rule.yaml")
    messages = [p.message for p in report.problems]
    assert "7 is not a point of the scale 1..6" in messages[0]
    assert "is met by every answer" in messages[1]
    assert "is met by every answer" in messages[2]
    assert "a missing code: say what it means with on_missing_code" in messages[3]
    assert "is met by every answer" in messages[4]
    assert report.problems[0].hint == INSTRUMENT_CODES["check_rule"]
    assert report.problems[1].hint != INSTRUMENT_CODES["check_rule"]


def test_old_critical_items_are_refused_with_the_checks_block_that_means_the_same():
    import textwrap

    import yaml

    _, report = validate_path(BAD / "critical_items_replaced.yaml")
    (found,) = report.problems
    assert "checks replace it" in found.message
    block = textwrap.dedent(found.hint.split(":\n", 1)[1])
    rewritten = yaml.safe_load(block)
    assert rewritten == {
        "checks": [
            {
                "id": "A2",
                "item": "A2",
                "rule": {"at_or_above": 5},
                "level": "alert",
                "on_skip": "none",
                "on_missing_code": "none",
                "message": "Please talk to someone",
            },
            {
                "id": "A1",
                "item": "A1",
                "rule": {"at_or_below": 1},
                "level": "alert",
                "on_skip": "none",
                "on_missing_code": "none",
                "message": "Closeness: hard",
            },
        ]
    }
    # pasted in place of the old block, the file loads
    text = (BAD / "critical_items_replaced.yaml").read_text("utf-8")
    head = text.split("critical_items:")[0]
    instrument, fixed = validate_text(head + block + "\n")
    assert fixed.ok, fixed.format_text()
    assert instrument is not None and [c.id for c in instrument.checks] == ["A2", "A1"]


def test_score_range_overflow_is_reported_not_raised():
    text = (FIXTURES / "minimal.yaml").read_text()
    text = text.replace("reverse: true}", "reverse: true, weight: 1e308}")
    text = text.replace("scale: agree6}", "scale: agree6, weight: 1e308}")
    text = text.replace("method: mean", "method: sum")
    _, report = validate_text(text)
    assert flatten(report) == [("invalid_value", 10, "subscales[0].items")]


def test_empty_document_is_not_a_mapping_without_a_line():
    for text in ("", "\n\n", "# only a comment\n"):
        _, report = validate_text(text)
        assert flatten(report) == [("not_a_mapping", None, "")], repr(text)
        assert "empty" in report.problems[0].message


@pytest.mark.parametrize("text", ["just a sentence", "42", "- a\n- b\n", "null\n", "---\n"])
def test_other_documents_are_not_a_mapping(text):
    _, report = validate_text(text)
    assert report.codes() == ["not_a_mapping"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("id: x\ntitle: a\x07b\n", 2),  # a control character: located from the reader's position
        ("id: x\nversion: 2021-02-30\n", 2),  # parses as a date, then cannot be built
        ("id: x\n\nn: " + "1" * 5000 + "\n", 3),  # more digits than Python converts
    ],
)
def test_unreadable_values_are_located(text, line):
    _, report = validate_text(text)
    assert flatten(report) == [("yaml_syntax", line, "")]


def test_semantic_checks_run_despite_structural_problems():
    """A type error in one item does not hide the reference problems elsewhere."""
    text = (FIXTURES / "minimal.yaml").read_text()
    text = text.replace("reverse: true", "reverse: maybe").replace("[A1, A2]", "[A1, A3]")
    _, report = validate_text(text)
    assert flatten(report) == [
        ("wrong_type", 7, "items[0].reverse"),
        ("unknown_item", 10, "subscales[0].items[1]"),
    ]


def test_validate_document_on_data():
    instrument, problems = validate_document({"id": "x"})
    assert instrument is None
    assert {p.code for p in problems} == {"missing_field"}
    assert {p.path for p in problems} == {
        "version",
        "title",
        "response_scales",
        "items",
        "subscales",
    }


# ---- no false positives -------------------------------------------------------------------------

GOOD = [FIXTURES / "minimal.yaml", FIXTURES / "minimal_reformatted.yaml", FIXTURES / "full.yaml"]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixtures_validate_clean(path):
    instrument, report = validate_path(path)
    assert report.ok, report.format_text()
    assert instrument is not None
    assert report.format_text() == f"{path}: ok"


def _bundled() -> list[Path]:
    return sorted(BUNDLED.glob("*.yaml"))


def test_ppai_is_bundled():
    if not (BUNDLED / "ppai.yaml").exists():
        pytest.skip("instruments/ppai.yaml is not written yet (it is being added in parallel)")
    assert "ppai" in [p.stem for p in _bundled()]


@pytest.mark.parametrize("path", _bundled(), ids=lambda p: p.name)
def test_bundled_instruments_validate_clean(path):
    instrument, report = validate_path(path)
    assert report.ok, report.format_text()
    assert instrument is not None
    assert instrument.id == path.stem, "a bundled file is named after its instrument id"


def test_dense_composite_graph_validates_quickly():
    """Cycle search expands each composite once (it used to follow every path: 2**n of them)."""
    text = (FIXTURES / "minimal.yaml").read_text()
    n = 40
    text += "composites:\n"
    for i in range(n):
        deps = ", ".join(["agree", *(f"c{j}" for j in range(i + 1, n))])
        text += f"  - {{id: c{i}, label: C{i}, components: [{deps}]}}\n"
    start = time.perf_counter()
    _, report = validate_text(text)
    assert time.perf_counter() - start < 2
    assert report.ok, report.format_text()
    text += "  - {id: c40, label: Back, components: [c0]}\n"
    text = text.replace("components: [agree, c1,", "components: [agree, c40, c1,")
    _, report = validate_text(text)
    assert report.codes() == ["composite_cycle"]
    assert "c0 -> c40 -> c0" in report.problems[0].message
