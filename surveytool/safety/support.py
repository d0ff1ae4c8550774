"""What the support page shows, on every path: the checks met, the instrument's own words, the
generic texts and the numbers of the person's country with the date each was checked.

:func:`support_view` gathers it once; the web templates (``_support.html``) and the terminal
(:func:`support_lines`) render the same :class:`SupportView`, so no path can show less.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
from dataclasses import dataclass

from surveytool.instrument.model import Instrument
from surveytool.safety.checks import CriticalHit
from surveytool.safety.resources import (
    Entry,
    Fallback,
    Service,
    SupportTexts,
    countries_for_chooser,
    load_resources,
    load_support_texts,
)

#: The gentle words for a check met by a skip or a "prefer not to say" (no alarm).
GENTLE = (
    "You left a question about how you have been feeling unanswered, which is completely fine. "
    "If any of it weighs on you, here is where you can find someone to talk to."
)

#: On a clinician's link: who sees the answers, when (the practice's sentence, from
#: :func:`surveytool.clinic.settings.review_sentence`), and that it is not an emergency service.
LINK_NOTE = (
    "{review} Nobody watches your answers as you give them, and this is not an emergency "
    "service: if you need help now, contact one of the services above."
)


@dataclass(frozen=True)
class Line:
    """One number to show: who, how (call or text), the number, a note, and when it was checked."""

    service: str
    kind: str
    number: str
    note: str
    checked: dt.date
    source: str


@dataclass(frozen=True)
class SupportView:
    """Everything a support section shows, for one person and country."""

    texts: SupportTexts
    hits: tuple[CriticalHit, ...]
    instrument_text: str
    country: str
    entry: Entry | Fallback
    chooser: tuple[tuple[str, str], ...]
    #: ``self``: a self-assessment (not monitored); ``link``: a clinician's questionnaire, whose
    #: answers a clinician reads (``review`` says when).
    path: str = "self"
    review: str = ""

    @property
    def is_not(self) -> tuple[str, ...]:
        """What the tool is not, for this path: a clinician's link is read by the clinician, so
        "nobody watches your answers" is said only on the self-assessment."""
        items = self.texts.about_this_tool.is_not
        if self.path == "self":
            return items
        review = self.review or "Your clinician will see your answers when they next review them."
        return (*items[:-1], LINK_NOTE.format(review=review))

    @property
    def alert(self) -> bool:
        """A check was met by an answer at level alert (not only a gentle pointer)."""
        return any(h.alert for h in self.hits)

    @property
    def messages(self) -> tuple[str, ...]:
        """The checks' own words (a met rule), else the gentle text for a skip."""
        own = tuple(dict.fromkeys(h.message for h in self.hits if h.message))
        if own:
            return own
        return (GENTLE,) if self.hits else ()

    @property
    def fallback(self) -> Fallback:
        return load_resources().fallback

    @property
    def is_fallback(self) -> bool:
        return isinstance(self.entry, Fallback)

    @property
    def place(self) -> str:
        return "" if isinstance(self.entry, Fallback) else self.entry.name

    def emergency(self) -> tuple[Line, ...]:
        if isinstance(self.entry, Fallback):
            return ()
        return tuple(
            Line(e.publisher, "call", e.number, "", e.checked, str(e.source))
            for e in self.entry.emergency
        )

    def crisis_lines(self) -> tuple[Line, ...]:
        if isinstance(self.entry, Fallback):
            return ()
        return _lines(self.entry.crisis_lines)

    def domestic_abuse(self) -> tuple[Line, ...]:
        if isinstance(self.entry, Fallback):
            return ()
        return _lines(self.entry.domestic_abuse)

    def other_abuse_lines(self) -> tuple[tuple[str, Line], ...]:
        """With no domestic-abuse line for the chosen country (or none chosen): every line we
        list, by country, so the distance statement always comes with a number."""
        return () if self.domestic_abuse() else domestic_abuse_lines()


def _lines(services: tuple[Service, ...]) -> tuple[Line, ...]:
    return tuple(
        Line(s.name, c.kind, c.number, c.note, c.checked, str(c.source))
        for s in services
        for c in s.contacts
    )


#: Codes people type for a country that ISO 3166-1 reserves for it exceptionally (UK: the United
#: Kingdom, whose code is GB; EL: Greece in EU use, GR) -> the country's code.
COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}
#: "Another country" in the chooser: ISO 3166-1's user-assigned ZZ (the international numbers).
OTHER_COUNTRY = "ZZ"


@functools.cache
def iso_countries() -> dict[str, str]:
    """Every ISO 3166-1 alpha-2 code -> its name, from the IANA time zone database's
    ``iso3166.tab`` (the ``tzdata`` package, Apache-2.0), which lists every assigned code."""
    table = importlib.resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab")
    out: dict[str, str] = {}
    for line in table.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            code, _, name = line.partition("\t")
            out[code.strip()] = name.strip()
    return out


def normalize_country(code: str | None) -> str:
    """An assigned ISO 3166-1 alpha-2 code in upper case (``uk`` -> ``GB``), :data:`OTHER_COUNTRY`
    (the chooser's "Another country"), or "" for anything else (``XX``, ``UKR``, blank)."""
    text = (code or "").strip().upper()
    text = COUNTRY_ALIASES.get(text, text)
    return text if text in iso_countries() or text == OTHER_COUNTRY else ""


def support_view(
    instrument: Instrument | None,
    hits: tuple[CriticalHit, ...] = (),
    country: str | None = None,
    *,
    path: str = "self",
    review: str = "",
) -> SupportView:
    """The support section for these hits (none: the plain support section) and country;
    ``path`` ``self`` (a self-assessment) or ``link`` (a clinician's, read ``review``)."""
    code = normalize_country(country)
    resources = load_resources()
    return SupportView(
        texts=load_support_texts(),
        hits=hits,
        instrument_text=(instrument.support_text.strip() if instrument is not None else ""),
        country=code,
        entry=resources.entry_for(code) if code else resources.fallback,
        chooser=tuple(countries_for_chooser()),
        path=path,
        review=review,
    )


def domestic_abuse_lines() -> tuple[tuple[str, Line], ...]:
    """Every domestic-abuse line in the resources, by country name (for the intro page)."""
    resources = load_resources()
    out: list[tuple[str, Line]] = []
    for entry in sorted(resources.countries.values(), key=lambda e: e.name):
        out.extend((entry.name, line) for line in _lines(entry.domestic_abuse))
    return tuple(out)


def _number_line(line: Line) -> str:
    how = "text" if line.kind == "text" else "call"
    note = f" {line.note}" if line.note else ""
    return f"  {line.service}: {how} {line.number}.{note} (checked {line.checked.isoformat()})"


def support_lines(view: SupportView, *, full: bool = True) -> list[str]:
    """The support section as plain text lines (the terminal): messages, what to do right now,
    the numbers with their check dates, and (``full``) finding help and what the tool is not."""
    t = view.texts
    out: list[str] = [*view.messages]
    if view.instrument_text:
        out.append(view.instrument_text)
    out += ["", t.right_now.title + ":"]
    out += [f"  - {step.strip()}" for step in t.right_now.steps]
    out += ["", t.who_to_call.title + (f" ({view.place})" if view.place else "") + ":"]
    emergency, crisis, abuse = view.emergency(), view.crisis_lines(), view.domestic_abuse()
    if emergency:
        out.append("Emergency:")
        out += [f"  call {e.number} (checked {e.checked.isoformat()})" for e in emergency]
    if crisis:
        out.append("Crisis line:")
        out += [_number_line(c) for c in crisis]
    if abuse:
        out.append("Domestic abuse line:")
        out += [_number_line(c) for c in abuse]
    fb = view.fallback
    if view.is_fallback:
        out.append(
            "We do not list numbers for "
            + ("your country" if view.country else "a country you have not chosen")
            + f" yet. {fb.description.strip()} {fb.website} (checked {fb.checked.isoformat()})"
        )
        out.append(fb.emergency_note.strip())
    else:
        out.append(f"Other helplines: {fb.name}, {fb.website} (checked {fb.checked.isoformat()})")
    out += ["", t.distance_is_protection.title + ":", t.distance_is_protection.text.strip()]
    for country, line in view.other_abuse_lines():
        out.append(f"  {country}: " + _number_line(line).strip())
    if full:
        out += ["", t.finding_help.title + ":"]
        out += [f"  - {k.name}: {k.text.strip()}" for k in t.finding_help.kinds]
        out += ["", t.about_this_tool.title + ":"]
        out += [f"  - {x.strip()}" for x in view.is_not]
    return out
