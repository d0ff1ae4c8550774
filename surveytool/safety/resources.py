"""Support resources by country, and the generic support texts, loaded from the package data.

``resources.yaml`` holds one entry per country (or region, such as the EU): crisis lines,
emergency numbers and domestic-abuse lines. Every number carries the page it was confirmed on
(``source``, the service's own host), the day it was checked and how. A number that could not
be confirmed stays out of the file; :func:`entry_for` then gives the international fallback
directory. ``support.yaml`` holds the support texts shown on every path, for any instrument.

Both files are validated on load; a file that breaks a rule raises ``pydantic.ValidationError``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from importlib.resources import files
from typing import Annotated, Any, Literal

import yaml
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, UrlConstraints, model_validator

RESOURCES_FILE = "resources.yaml"
SUPPORT_FILE = "support.yaml"

HttpsUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["https"], host_required=True)]
"""An absolute ``https`` address with a host."""

_CODE = re.compile(r"^[A-Z]{2}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")

NonEmpty = Annotated[str, Field(min_length=1)]


def _today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def host_belongs(url: AnyUrl, hosts: tuple[str, ...]) -> bool:
    """Whether ``url`` is on one of ``hosts`` or on a subdomain of one (``www.``)."""
    host = (url.host or "").lower()
    return any(host == h or host.endswith("." + h) for h in hosts)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Checked(_Frozen):
    """Where a fact was confirmed, when and how."""

    source: HttpsUrl
    checked: dt.date
    how_checked: NonEmpty

    @model_validator(mode="after")
    def _not_in_future(self) -> Checked:
        if self.checked > _today_utc():
            raise ValueError(f"checked date {self.checked.isoformat()} is in the future")
        return self


def _check_hosts(hosts: tuple[str, ...]) -> None:
    if not hosts:
        raise ValueError("hosts must name at least one host")
    for h in hosts:
        if not _HOST.match(h):
            raise ValueError(f"hosts: {h!r} is not a lower-case host name")


class Contact(Checked):
    """One way to reach a service: a number to call or to text."""

    kind: Literal["call", "text"]
    number: NonEmpty
    note: str = ""


class Service(_Frozen):
    """A crisis line or domestic-abuse line, with the hosts that count as its own pages."""

    name: NonEmpty
    website: HttpsUrl
    hosts: tuple[str, ...]
    contacts: tuple[Contact, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _facts_from_own_hosts(self) -> Service:
        _check_hosts(self.hosts)
        if not host_belongs(self.website, self.hosts):
            raise ValueError(f"{self.name}: website {self.website} is not on {list(self.hosts)}")
        for contact in self.contacts:
            if not host_belongs(contact.source, self.hosts):
                raise ValueError(
                    f"{self.name}: the source of {contact.number} ({contact.source}) "
                    f"is not on the service's own hosts {list(self.hosts)}"
                )
        return self


class EmergencyNumber(Checked):
    """An emergency number and the publisher whose own page confirmed it."""

    number: NonEmpty
    publisher: NonEmpty
    publisher_hosts: tuple[str, ...]

    @model_validator(mode="after")
    def _from_publisher_host(self) -> EmergencyNumber:
        _check_hosts(self.publisher_hosts)
        if not host_belongs(self.source, self.publisher_hosts):
            raise ValueError(
                f"emergency {self.number}: source {self.source} is not on the publisher's "
                f"hosts {list(self.publisher_hosts)}"
            )
        return self


class Entry(_Frozen):
    """What is known, and confirmed, for one country or region."""

    name: NonEmpty
    crisis_lines: tuple[Service, ...] = ()
    emergency: tuple[EmergencyNumber, ...] = ()
    domestic_abuse: tuple[Service, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> Entry:
        if not (self.crisis_lines or self.emergency or self.domestic_abuse):
            raise ValueError(f"{self.name}: an entry needs at least one confirmed number")
        return self

    def facts(self) -> tuple[Checked, ...]:
        """Every checked fact of the entry (contacts and emergency numbers)."""
        contacts = [c for s in (*self.crisis_lines, *self.domestic_abuse) for c in s.contacts]
        return (*contacts, *self.emergency)


class Region(Entry):
    """An entry that covers several countries (ISO 3166-1 alpha-2 code -> English name)."""

    members: dict[str, NonEmpty] = Field(min_length=1)

    @model_validator(mode="after")
    def _member_codes(self) -> Region:
        for code in self.members:
            if not _CODE.match(code):
                raise ValueError(f"{self.name}: {code!r} is not an ISO 3166-1 alpha-2 code")
        return self


class Fallback(Checked):
    """The international directory of helplines, for every country without an entry."""

    name: NonEmpty
    website: HttpsUrl
    hosts: tuple[str, ...]
    description: NonEmpty
    emergency_note: NonEmpty

    @model_validator(mode="after")
    def _from_own_host(self) -> Fallback:
        _check_hosts(self.hosts)
        for url in (self.website, self.source):
            if not host_belongs(url, self.hosts):
                raise ValueError(f"{self.name}: {url} is not on {list(self.hosts)}")
        return self


class Resources(_Frozen):
    """The whole resources file."""

    countries: dict[str, Entry]
    regions: dict[str, Region] = Field(default_factory=dict)
    fallback: Fallback

    @model_validator(mode="after")
    def _codes(self) -> Resources:
        for code in self.countries:
            if not _CODE.match(code):
                raise ValueError(f"countries: {code!r} is not an ISO 3166-1 alpha-2 code")
        seen: dict[str, str] = {}
        for region_code, region in self.regions.items():
            for code in region.members:
                if code in seen:
                    raise ValueError(f"{code} is a member of both {seen[code]} and {region_code}")
                seen[code] = region_code
        return self

    def entry_for(self, country: str | None) -> Entry | Fallback:
        """The entry for an ISO 3166-1 alpha-2 code: the country's own, else its region's,
        else the fallback directory. Case and surrounding blanks are ignored."""
        code = (country or "").strip().upper()
        if code in self.countries:
            return self.countries[code]
        for region in self.regions.values():
            if code in region.members:
                return region
        return self.fallback

    def countries_for_chooser(self) -> list[tuple[str, str]]:
        """``(code, name)`` of every country with an entry or in a region, sorted by name."""
        names = {code: entry.name for code, entry in self.countries.items()}
        for region in self.regions.values():
            for code, name in region.members.items():
                names.setdefault(code, name)
        return sorted(names.items(), key=lambda item: (item[1].casefold(), item[0]))


# --- the support texts ---------------------------------------------------------------------


class RightNow(_Frozen):
    title: NonEmpty
    steps: tuple[NonEmpty, ...] = Field(min_length=3, max_length=4)


class WhoToCall(_Frozen):
    title: NonEmpty
    intro: NonEmpty
    emergency: NonEmpty
    crisis_line: NonEmpty
    domestic_abuse: NonEmpty
    directory: NonEmpty


class KindOfHelp(_Frozen):
    name: NonEmpty
    text: NonEmpty


class FindingHelp(_Frozen):
    title: NonEmpty
    kinds: tuple[KindOfHelp, ...] = Field(min_length=1)
    asking_a_doctor: tuple[NonEmpty, ...] = Field(min_length=1)
    first_call: tuple[NonEmpty, ...] = Field(min_length=1)


class AboutThisTool(_Frozen):
    title: NonEmpty
    is_: tuple[NonEmpty, ...] = Field(alias="is", min_length=1)
    is_not: tuple[NonEmpty, ...] = Field(min_length=1)


class TitledText(_Frozen):
    title: NonEmpty
    text: NonEmpty


class SupportTexts(_Frozen):
    """The generic support section: the same for every instrument."""

    right_now: RightNow
    who_to_call: WhoToCall
    finding_help: FindingHelp
    about_this_tool: AboutThisTool
    distance_is_protection: TitledText


# --- loading -------------------------------------------------------------------------------


def _read_yaml(name: str) -> Any:
    text = files("surveytool.safety").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.cache
def load_resources() -> Resources:
    """The packaged resources file, validated (loaded once)."""
    return Resources.model_validate(_read_yaml(RESOURCES_FILE))


@functools.cache
def load_support_texts() -> SupportTexts:
    """The packaged support texts, validated (loaded once)."""
    return SupportTexts.model_validate(_read_yaml(SUPPORT_FILE))


def entry_for(country: str | None) -> Entry | Fallback:
    """The packaged entry for an ISO 3166-1 alpha-2 code, else the fallback directory."""
    return load_resources().entry_for(country)


def countries_for_chooser() -> list[tuple[str, str]]:
    """``(code, name)`` pairs for a country chooser, sorted by name."""
    return load_resources().countries_for_chooser()
