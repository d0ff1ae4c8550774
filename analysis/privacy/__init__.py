"""Privacy: every disclosure-control rule of the research layer, in one place.

On the way in (``surveytool cohort import``, :func:`anonymize`): drop direct identifiers
(:mod:`.identifiers`), pseudonymize ids (:mod:`.pseudonyms`), generalize quasi-identifiers
(:mod:`.generalize`), enforce k-anonymity (:mod:`.kanonymity`), and say what was done
(:mod:`.disclosure`). On the way out (the cohort report, norms): small-cell suppression with
its complements (:mod:`.suppression`).

Disclosure control as FORMULAS.md ("Disclosure control") defines it:

- **Direct identifiers never reach the output.** A column is dropped when the mapping declares it
  an identifier, and when :func:`detect_identifiers` finds names, e-mail addresses, phone numbers,
  street addresses or postal codes, dates of birth or other exact dates, IP addresses, geographic
  coordinates, record or reference ids, free-text answers, or a value unique to each row, by its
  column name or by its values. Detection errs toward dropping: one e-mail address, phone number or
  IP address among the values is enough. The output keeps only what was asked for (items, groups,
  waves, quasi-identifiers), so a column nobody declared is dropped as well; the report gives the
  reason for every dropped column.
- **Respondent ids become keyed pseudonyms**: HMAC-SHA-256(key, id), the first 128 bits in hex.
  The key lives in a key file (created with :mod:`secrets`, mode 0600) that never goes into the
  output; the same key gives the same pseudonyms, so waves link. Plain hashes are not offered: ids
  are few and guessable, so a plain hash is reversed by trying them all.
- **Quasi-identifiers are generalized**: ages into bands with a top code (90+), dates reduced to
  the year or shifted by a per-respondent offset (the same for every date of one respondent, drawn
  from the key), categories seen fewer than ``min_count`` times merged into ``other``, codes cut to
  a prefix.
- **k-anonymity** over the declared quasi-identifiers: the smallest equivalence class (respondents
  sharing every quasi-identifier value, missing counted as a value; the waves of one respondent
  count once) is reported; with ``k`` every record in a smaller class is suppressed and counted.
  In R, for one row per respondent: ``sdcMicro::kAnon`` finds the same classes.
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
