"""Cells that look like direct identifiers: the one set of value rules, and redaction.

A single cell is taken for an identifier (:func:`identifier_category`) when it holds an e-mail
address, an IP address, a phone number (alone, or inside text: ``call 07700900123``), a street
address, a postal code with a shape of its own (UK ``SW1A 2AA``, Canada, US ZIP+4, the
Netherlands), an exact date, free text, or a person's name (a known given name alone, ``Maria``,
or two to four capitalised words, ``Gonzalez, Maria``). Given names are Faker's lists for the
locales of :data:`NAME_LOCALES` (MIT licence).

:func:`redact` replaces such a cell by a marker (``<redacted: looks like personal names>``) and
:func:`redact_issues` does so for the values of an issue frame, so that a quarantine report
(``surveytool score``'s, ``cohort import``'s) lists what was wrong without what identifies
someone. The research layer's column decisions (:mod:`analysis.privacy.identifiers`) apply the
same rules to a column's values.
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from surveytool.problems import is_missing

if TYPE_CHECKING:
    import pandas as pd

CATEGORY_LABELS: dict[str, str] = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "ip_address": "IP addresses",
    "person_name": "personal names",
    "street_address": "street addresses",
    "postal_code": "postal codes",
    "date_of_birth": "dates of birth",
    "exact_date": "exact dates",
    "location": "geographic locations",
    "record_id": "record or reference ids",
    "free_text": "free-text answers",
    "unique_values": "a value unique to each row",
}

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\+?\(?\d[\d\s().\-/]{5,}\d$")
_DATE = re.compile(
    r"^(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
    r"( \d{1,2}:\d{2}(:\d{2})?)?)$"
)
_NUMBER = re.compile(r"^[-+]?\d+([.,]\d+)?$")
_STREET = re.compile(
    r"(^\d+[A-Za-z]?,?\s+(\S+\s+){0,4}(street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|"
    r"blvd|way|court|ct|place|pl|terrace|close|crescent|square|sq|highway|hwy|parkway)\b)|"
    r"(\w(stra(ss|ß)e|weg|gasse|allee|platz)\s+\d+)|(\b(rue|via|calle|avenida)\s+\S+.*\d)",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^[A-Z][a-zà-öø-ÿ'’-]+(,?\s+[A-Z][a-zà-öø-ÿ'’.-]*){1,3}$")
_GIVEN = re.compile(r"^[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]+(-[A-ZÀ-ÖØ-Þ]?[a-zà-öø-ÿ'’]+)?$")
#: A phone number inside text ("call 07700 900123"): a run of digits and separators.
_PHONE_IN_TEXT = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().\-/]{5,}\d(?![\w.])")
#: A number written as phone numbers are and ids or answers are not: a leading 0 or +.
_PHONE_DIGITS = re.compile(r"^(\+|00?)[1-9]\d{7,13}$")
#: Postal codes with a shape of their own (a plain five-digit number is too often something
#: else): UK, Canada, US ZIP+4, the Netherlands.
_POSTCODES = (
    re.compile(
        r"\b(GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE
    ),
    re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d\b"),
    re.compile(r"\b\d{5}-\d{4}\b"),
    re.compile(r"^\d{4} ?[A-Z]{2}$"),
)

#: Locales whose given names are known (Faker's person providers, MIT licence).
NAME_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_IN", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_PT",
    "pt_BR", "sv_SE", "pl_PL",
)  # fmt: skip


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def has_email(text: str) -> bool:
    return bool(EMAIL.search(text))


def is_ip(text: str) -> bool:
    """An IPv4 (four parts) or IPv6 address, alone."""
    if not re.fullmatch(r"[0-9.]{7,15}|[0-9A-Fa-f:.]{3,45}", text) or text.count(":") == 1:
        return False
    if "." in text and ":" not in text and text.count(".") != 3:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_date(text: str) -> bool:
    """An exact date (``2024-03-01``, ``1/3/2024``), with or without a time."""
    return bool(_DATE.match(text))


def _is_phone(text: str) -> bool:
    if not _PHONE.match(text) or is_date(text) or _NUMBER.match(text) or is_ip(text):
        return False
    return 7 <= _digits(text) <= 15


def has_phone(text: str) -> bool:
    """A phone number, alone or inside text (``call 07700900123``)."""
    if _is_phone(text) or _PHONE_DIGITS.match(text.replace(" ", "")):
        return True
    if not any(ch.isalpha() for ch in text):
        return False
    for match in _PHONE_IN_TEXT.finditer(text):
        found = match.group().strip()
        if 7 <= _digits(found) <= 15 and not is_date(found) and not is_ip(found):
            return True
    return False


def has_street(text: str) -> bool:
    return bool(_STREET.search(text))


def has_postcode(text: str) -> bool:
    return any(p.search(text) for p in _POSTCODES)


def is_free_text(text: str) -> bool:
    """Prose: at least four words with letters in them, or 40 characters with letters."""
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    return len(words) >= 4 or (len(text) >= 40 and bool(words))


def looks_like_full_name(text: str) -> bool:
    """Two to four capitalised words (``Maria Gonzalez``, ``Gonzalez, Maria``), known or not."""
    return bool(_PERSON.match(text))


@functools.cache
def given_names() -> frozenset[str]:
    """Given names of the :data:`NAME_LOCALES` (case-folded), from Faker's name lists."""
    names: set[str] = set()
    for locale in NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            value = vars(provider).get(attribute, ())
            if isinstance(value, Mapping):
                value = tuple(value)  # weighted lists: name -> frequency
            if isinstance(value, list | tuple | set | frozenset):
                names.update(str(v).casefold() for v in value if len(str(v)) >= 2)
    return frozenset(names)


def is_given_name(text: str) -> bool:
    """One capitalised word that is a known given name (``Maria``, ``Jean-Luc``)."""
    return bool(_GIVEN.match(text)) and text.casefold() in given_names()


def is_person_name(text: str) -> bool:
    """A given name alone, or two to four capitalised words of which one is a given name
    (``Maria Gonzalez``, ``Gonzalez, Maria``)."""
    if is_given_name(text):
        return True
    if not looks_like_full_name(text):
        return False
    return any(is_given_name(w.strip(",.")) for w in text.split())


def blank_contacts(text: str) -> str:
    """``text`` with its e-mail addresses, postal codes and phone numbers replaced by spaces."""
    text = EMAIL.sub(" ", text)
    for pattern in _POSTCODES:
        text = pattern.sub(" ", text)
    return _PHONE_IN_TEXT.sub(lambda m: " " if _digits(m.group()) >= 7 else m.group(), text)


def identifier_category(text: str) -> str | None:
    """The identifier category (a key of :data:`CATEGORY_LABELS`) that one piece of text looks
    like, or None (see the module docstring)."""
    for category, test in (
        ("email", has_email),
        ("ip_address", is_ip),
        ("phone", has_phone),
        ("street_address", has_street),
        ("postal_code", has_postcode),
        ("exact_date", is_date),
        ("free_text", is_free_text),
        ("person_name", lambda t: looks_like_full_name(t) or is_person_name(t)),
    ):
        if test(text):
            return category
    return None


def redact(value: object) -> object:
    """A cell for a report: kept unless it looks like an identifier or free text, then a marker
    (``<redacted: looks like phone numbers>``)."""
    if is_missing(value):
        return value
    category = identifier_category(str(value).strip())
    if category is not None:
        return f"<redacted: looks like {CATEGORY_LABELS[category]}>"
    return value


def redact_issues(issues: pd.DataFrame, *, keep_columns: Iterable[str] = ()) -> pd.DataFrame:
    """An issue frame (:mod:`surveytool.problems`) for a quarantine report: every ``value`` that
    looks like an identifier replaced by :func:`redact`'s marker.

    Values of ``keep_columns`` stay as they are (``surveytool score`` keeps its respondent id
    column's: the ids are in the scores file and the ``respondent_id`` column anyway). The other
    columns, the rows and their order are unchanged, so the counts still add up.
    """
    out = issues.copy()
    if not len(out):
        return out
    seen: dict[str, object] = {}

    def one(value: object) -> object:
        if not isinstance(value, str):
            return redact(value)
        if value not in seen:
            seen[value] = redact(value)
        return seen[value]

    kept = set(keep_columns)
    if kept:
        where = ~out["column"].isin(kept).to_numpy(dtype=bool)
        out.loc[where, "value"] = out.loc[where, "value"].map(one)
    else:
        out["value"] = out["value"].map(one)
    return out
