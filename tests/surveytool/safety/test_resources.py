"""The support resources file: every number has its source and check date; lookup by country."""

from __future__ import annotations

import copy
import datetime as dt
import re
from importlib.resources import files
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from surveytool.safety import (
    Entry,
    Fallback,
    Region,
    Resources,
    countries_for_chooser,
    entry_for,
    load_resources,
)
from surveytool.safety.resources import host_belongs

TODAY = dt.datetime.now(dt.UTC).date()


def _raw() -> dict[str, Any]:
    text = files("surveytool.safety").joinpath("resources.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def _all_facts(resources: Resources) -> list[tuple[str, Any, tuple[str, ...]]]:
    """(label, fact, hosts the fact's source must be on) for every fact in the file."""
    out: list[tuple[str, Any, tuple[str, ...]]] = []
    entries: dict[str, Entry] = {**resources.countries, **resources.regions}
    for code, entry in entries.items():
        for service in (*entry.crisis_lines, *entry.domestic_abuse):
            for contact in service.contacts:
                out.append((f"{code} {service.name} {contact.number}", contact, service.hosts))
        for number in entry.emergency:
            out.append((f"{code} emergency {number.number}", number, number.publisher_hosts))
    out.append(("fallback", resources.fallback, resources.fallback.hosts))
    return out


def test_every_fact_has_an_https_source_on_the_services_own_host_and_a_past_check_date():
    resources = load_resources()
    facts = _all_facts(resources)
    assert len(facts) >= 8
    for label, fact, hosts in facts:
        assert fact.source.scheme == "https", label
        assert host_belongs(fact.source, hosts), (label, str(fact.source), hosts)
        assert isinstance(fact.checked, dt.date), label
        assert fact.checked <= TODAY, label
        assert "stored copy" in fact.how_checked, label


def test_every_entry_in_the_raw_file_carries_source_and_checked_per_fact():
    """Read the YAML itself too, so a loader default could never hide a missing field."""
    data = _raw()
    entries = {**data["countries"], **data.get("regions", {})}
    assert entries
    for code, entry in entries.items():
        assert re.fullmatch(r"[A-Z]{2}", code), code
        facts = [
            c
            for kind in ("crisis_lines", "domestic_abuse")
            for s in entry.get(kind, [])
            for c in s["contacts"]
        ] + list(entry.get("emergency", []))
        assert facts, code
        for fact in facts:
            assert str(fact["source"]).startswith("https://"), (code, fact)
            assert isinstance(fact["checked"], dt.date), (code, fact)
            assert fact["how_checked"].strip(), (code, fact)
    for key in ("source", "checked", "how_checked"):
        assert data["fallback"][key], key


def test_service_websites_are_on_their_own_hosts():
    resources = load_resources()
    for entry in (*resources.countries.values(), *resources.regions.values()):
        for service in (*entry.crisis_lines, *entry.domestic_abuse):
            assert service.website.scheme == "https"
            assert host_belongs(service.website, service.hosts), service.name


def test_lookup_by_country_code():
    gb = entry_for("GB")
    assert isinstance(gb, Entry) and gb.name == "United Kingdom"
    assert [c.number for c in gb.crisis_lines[0].contacts] == ["116 123"]
    assert gb.domestic_abuse[0].contacts[0].number == "0808 2000 247"
    assert entry_for(" gb ") == gb

    au = entry_for("AU")
    assert isinstance(au, Entry)
    assert [e.number for e in au.emergency] == ["000"]
    assert [c.number for c in au.crisis_lines[0].contacts] == ["13 11 14"]
    assert [(c.kind, c.number) for c in au.domestic_abuse[0].contacts] == [
        ("call", "1800 737 732"),
        ("text", "0458 737 732"),
    ]


def test_a_country_entry_takes_precedence_over_its_region():
    ie = entry_for("IE")
    assert isinstance(ie, Entry) and not isinstance(ie, Region)
    assert ie.name == "Ireland"
    assert ie.crisis_lines[0].contacts[0].number == "116 123"
    assert [e.number for e in ie.emergency] == ["112"]


def test_an_eu_country_without_its_own_entry_gets_the_eu_emergency_number():
    fr = entry_for("fr")
    assert isinstance(fr, Region) and fr.name == "European Union"
    assert [e.number for e in fr.emergency] == ["112"]
    assert fr.crisis_lines == ()


@pytest.mark.parametrize("code", ["US", "CA", "NZ", "XX", "", None, "GBR"])
def test_unconfirmed_or_unknown_countries_get_the_fallback_directory(code):
    """US, CA and NZ stay out until their numbers are confirmed on the services' own pages."""
    result = entry_for(code)
    assert isinstance(result, Fallback)
    assert result.website.host == "findahelpline.com"
    assert "emergency" in result.emergency_note


def test_countries_for_the_chooser():
    chooser = countries_for_chooser()
    codes = [code for code, _ in chooser]
    names = [name for _, name in chooser]
    assert len(codes) == len(set(codes))
    assert names == sorted(names, key=str.casefold)
    assert {"GB", "IE", "AU", "FR", "DE"} <= set(codes)
    assert dict(chooser)["GB"] == "United Kingdom"
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in codes)
    # every country offered in the chooser has an entry (its own or its region's)
    assert not [c for c in codes if isinstance(entry_for(c), Fallback)]


def test_the_data_files_are_package_resources():
    package = files("surveytool.safety")
    for name in ("resources.yaml", "support.yaml"):
        assert package.joinpath(name).is_file(), name


# --- hand cases: the model refuses a fact without its provenance -------------------------


def _one_country() -> dict[str, Any]:
    return {
        "countries": {
            "GB": {
                "name": "United Kingdom",
                "crisis_lines": [
                    {
                        "name": "Samaritans",
                        "website": "https://www.samaritans.org",
                        "hosts": ["samaritans.org"],
                        "contacts": [
                            {
                                "kind": "call",
                                "number": "116 123",
                                "source": "https://www.samaritans.org/contact",
                                "checked": "2026-01-05",
                                "how_checked": "checked against a stored copy",
                            }
                        ],
                    }
                ],
            }
        },
        "fallback": {
            "name": "Find A Helpline",
            "website": "https://findahelpline.com",
            "hosts": ["findahelpline.com"],
            "description": "A directory.",
            "source": "https://findahelpline.com/GB",
            "checked": "2026-01-05",
            "how_checked": "checked against a stored copy",
            "emergency_note": "Call your local emergency number.",
        },
    }


def _contact(data: dict[str, Any]) -> dict[str, Any]:
    contact = data["countries"]["GB"]["crisis_lines"][0]["contacts"][0]
    assert isinstance(contact, dict)
    return contact


def test_the_hand_case_is_valid():
    resources = Resources.model_validate(_one_country())
    assert isinstance(resources.entry_for("GB"), Entry)


@pytest.mark.parametrize("missing", ["source", "checked", "how_checked"])
def test_a_contact_without_its_provenance_is_refused(missing):
    data = _one_country()
    del _contact(data)[missing]
    with pytest.raises(ValidationError, match=missing):
        Resources.model_validate(data)


def test_a_check_date_in_the_future_is_refused():
    data = _one_country()
    _contact(data)["checked"] = (TODAY + dt.timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError, match="in the future"):
        Resources.model_validate(data)


def test_a_plain_http_source_is_refused():
    data = _one_country()
    _contact(data)["source"] = "http://www.samaritans.org/contact"
    with pytest.raises(ValidationError, match="URL scheme should be 'https'"):
        Resources.model_validate(data)


def test_a_source_on_another_host_is_refused():
    data = _one_country()
    _contact(data)["source"] = "https://en.wikipedia.org/wiki/Samaritans_(charity)"
    with pytest.raises(ValidationError, match="not on the service's own hosts"):
        Resources.model_validate(data)


def test_a_lookalike_host_is_not_the_services_own():
    data = _one_country()
    _contact(data)["source"] = "https://notsamaritans.org/contact"
    with pytest.raises(ValidationError, match="not on the service's own hosts"):
        Resources.model_validate(data)


def test_an_emergency_number_without_source_is_refused():
    data = _one_country()
    data["countries"]["GB"]["emergency"] = [
        {
            "number": "999",
            "publisher": "Someone",
            "publisher_hosts": ["example.org"],
            "checked": "2026-01-05",
            "how_checked": "checked against a stored copy",
        }
    ]
    with pytest.raises(ValidationError, match="source"):
        Resources.model_validate(data)


def test_the_fallback_without_source_is_refused():
    data = _one_country()
    del data["fallback"]["source"]
    with pytest.raises(ValidationError, match="source"):
        Resources.model_validate(data)


def test_unknown_fields_and_bad_codes_are_refused():
    data = _one_country()
    _contact(data)["verified"] = True
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Resources.model_validate(data)
    data = _one_country()
    data["countries"]["uk"] = copy.deepcopy(data["countries"]["GB"])
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2"):
        Resources.model_validate(data)


def test_an_entry_without_any_number_is_refused():
    data = _one_country()
    data["countries"]["GB"]["crisis_lines"] = []
    with pytest.raises(ValidationError, match="at least one confirmed number"):
        Resources.model_validate(data)


def test_the_loaded_models_are_frozen():
    gb = entry_for("GB")
    assert isinstance(gb, Entry)
    with pytest.raises(ValidationError):
        gb.name = "Elsewhere"  # type: ignore[misc]


def test_country_codes_are_assigned_iso_codes() -> None:
    from surveytool.safety.resources import countries_for_chooser
    from surveytool.safety.support import iso_countries, normalize_country

    known = iso_countries()
    assert len(known) > 240 and known["GB"].startswith("Britain")
    assert [c for c, _ in countries_for_chooser() if c not in known] == []
    assert [normalize_country(c) for c in ("uk", " gb ", "Ie", "el")] == ["GB", "GB", "IE", "GR"]
    assert normalize_country("zz") == "ZZ"  # the chooser's "Another country": kept, remembered
    assert [normalize_country(c) for c in ("XX", "QQ", "UKR", "", None, "1A")] == [""] * 6
