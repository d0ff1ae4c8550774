"""The generic support texts: concrete, about any instrument, and saying what the tool is not."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from surveytool.safety import SupportTexts, load_support_texts


def _all_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _all_strings(v)]
    return []


def test_three_or_four_steps_for_right_now():
    texts = load_support_texts()
    assert 3 <= len(texts.right_now.steps) <= 4
    assert any("emergency" in step for step in texts.right_now.steps)


def test_the_tool_says_what_it_is_not():
    about = " ".join(load_support_texts().about_this_tool.is_not)
    assert "does not screen for suicide risk" in about
    assert "not monitored" in about
    assert "not a diagnosis" in about
    assert "not an emergency service" in about


def test_finding_a_therapist_is_concrete():
    finding = load_support_texts().finding_help
    assert len(finding.kinds) >= 3
    assert finding.asking_a_doctor and finding.first_call


def test_distance_from_someone_who_hurts_you_is_protection():
    text = load_support_texts().distance_is_protection.text
    for words in ("hurts", "threatens", "controls", "protection", '"pushing away"'):
        assert words in text, words


def test_the_generic_texts_speak_of_no_instruments_constructs():
    """Only the protection statement may name "pushing away", and only to say it is not that."""
    dumped = load_support_texts().model_dump(by_alias=True, exclude={"distance_is_protection"})
    for text in _all_strings(dumped):
        assert not re.search(r"\b(pull|pulling|push|pushing)(ing)? away\b", text, re.I), text
        assert "inventory" not in text.lower(), text


def test_no_diagnostic_labels_in_the_generic_texts():
    dumped = load_support_texts().model_dump(by_alias=True)
    for text in _all_strings(dumped):
        for label in ("disorder", "borderline", "you have depression", "you are depressed"):
            assert label not in text.lower(), (label, text)


def test_too_few_steps_are_refused():
    data = load_support_texts().model_dump(by_alias=True)
    data["right_now"]["steps"] = data["right_now"]["steps"][:2]
    with pytest.raises(ValidationError, match=r"right_now\.steps"):
        SupportTexts.model_validate(data)


def test_an_unknown_section_is_refused():
    data = load_support_texts().model_dump(by_alias=True)
    data["pulling_away_tips"] = {"title": "x", "text": "y"}
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SupportTexts.model_validate(data)
