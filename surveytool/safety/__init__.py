"""Safety of the self-assessment: support resources by country and the generic support texts.

The data lives in ``resources.yaml`` and ``support.yaml`` next to this module (shipped in the
package); :mod:`surveytool.safety.resources` loads and validates it.
"""

from surveytool.safety.resources import (
    Contact,
    EmergencyNumber,
    Entry,
    Fallback,
    Region,
    Resources,
    Service,
    SupportTexts,
    countries_for_chooser,
    entry_for,
    load_resources,
    load_support_texts,
)

__all__ = [
    "Contact",
    "EmergencyNumber",
    "Entry",
    "Fallback",
    "Region",
    "Resources",
    "Service",
    "SupportTexts",
    "countries_for_chooser",
    "entry_for",
    "load_resources",
    "load_support_texts",
]
