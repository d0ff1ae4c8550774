"""Privacy: every disclosure-control rule of the research layer, in one place.

On the way in (``surveytool cohort import``, :func:`anonymize`): drop direct identifiers
(:mod:`.identifiers`), pseudonymize ids (:mod:`.pseudonyms`), generalize quasi-identifiers
(:mod:`.generalize`), enforce k-anonymity (:mod:`.kanonymity`), and say what was done
(:mod:`.disclosure`). On the way out (the cohort report, norms): small-cell suppression with
its complements (:mod:`.suppression`).

Disclosure control as FORMULAS.md ("Disclosure control") defines it, each rule stated where it
is applied:

- **Direct identifiers never reach the output**: declared or detected, by column name or by
  values, and every column nobody declared (:mod:`.identifiers`).
- **Respondent ids become keyed pseudonyms**: HMAC-SHA-256 under a key kept apart from the data;
  never plain hashes (:mod:`.pseudonyms`).
- **Quasi-identifiers are generalized**: age bands, dates, rare categories, code prefixes
  (:mod:`.generalize`).
- **k-anonymity** over the declared quasi-identifiers: the smallest class reported; with ``k``,
  local suppression, then whole records, every blanked value counted (:mod:`.kanonymity`).
- **Small cells** of published tables are suppressed with their complements
  (:mod:`.suppression`).
"""

from __future__ import annotations

from analysis.privacy.disclosure import DisclosureReport
from analysis.privacy.generalize import Generalized, QuasiIdentifier
from analysis.privacy.identifiers import (
    ColumnDecision,
    Finding,
    classify_columns,
    detect_identifiers,
)
from analysis.privacy.kanonymity import KAnonymity, enforce_k
from analysis.privacy.pipeline import Anonymized, anonymize
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN, PseudonymKey
from analysis.privacy.suppression import DEFAULT_MIN_CELL, SUPPRESSED

__all__ = [
    "DEFAULT_MIN_CELL",
    "PSEUDONYM_COLUMN",
    "SUPPRESSED",
    "Anonymized",
    "ColumnDecision",
    "DisclosureReport",
    "Finding",
    "Generalized",
    "KAnonymity",
    "PseudonymKey",
    "QuasiIdentifier",
    "anonymize",
    "classify_columns",
    "detect_identifiers",
    "enforce_k",
]
