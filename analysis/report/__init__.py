"""The cohort report: the tables a reviewer expects, as one HTML file and a CSV per table.

By stage: :mod:`.build` (cohort checks, then each section in order), :mod:`.sections` (the tables
and figures each section publishes), :mod:`.format` (how cells read), :mod:`.render` (jinja2, the
``templates/`` folder), :mod:`.write` (the folder, atomically); :mod:`.norms` for
``surveytool cohort norms``.

:func:`build_cohort_report` reads an anonymized cohort (``surveytool cohort import``), scores it
with surveytool's own engine and runs the analysis API on it: reliability per subscale and the
inventory's omega, item statistics and answer frequencies, careless responding, score
descriptives and intercorrelations, group comparisons, parallel analysis, EFA and CFA. Every
number comes from those functions; this module only chooses, suppresses, lays out and writes.
:func:`write_report` writes ``report.html`` (jinja2, autoescaped; figures as inline SVG from
matplotlib; nothing loaded from another host) and the CSVs beside it, atomically: everything goes
to a temporary folder that replaces the target only when complete.

Small-cell suppression (FORMULAS.md, "Disclosure control"; :mod:`analysis.privacy.suppression`), on by
default with ``min_cell`` = 10; a suppressed value reads ``suppressed`` in the HTML and the CSVs:

- **groups**: a group (a value of a column in ``groups``, or "not recorded") with 1 ≤ n < min_cell,
  overall or among the respondents with any one scale's score, is suppressed, and so is the next
  smallest group of every line whose total is published (the group sizes add up to the cohort's
  N; each scale's group n's add up to that scale's n) until no line has exactly one suppressed
  group, nor suppressed groups that together hold fewer than min_cell (:func:`~analysis.privacy.suppression.hidden_columns`;
  the rule of :mod:`analysis.stats.norms`). A suppressed group shows no n, mean, sd or interval, and is left out of the tests (which
  compare the published groups only; with fewer than two, the test rows are suppressed);
- **answer frequencies**: per item, the answer counts and the missing count add up to N; a count
  with 1 ≤ n < min_cell is suppressed with the smallest other count of its item. An item with a
  suppressed count also has its n, missing count and rate, floor and ceiling shares, mean, sd,
  median, skew and kurtosis suppressed (n·mean and n·Σx² are weighted totals from which hidden
  counts could be solved), in the item and reliability tables alike;
- **careless responding**: per index, flagged + not flagged + not computed = N, suppressed alike;
  so is the distribution of the number of flags;
- the smallest k-anonymity class of the import is shown as "fewer than min_cell" when it is.

Not suppressed (stated in the report): sample sizes of statistics over all respondents (a scale's
n, a correlation's n, the CFA's complete cases), whose differences from N count respondents who
left too many items unanswered, and the import's own counts (rows read, quarantined, duplicates),
which describe rows that are not in the cohort.
"""

from __future__ import annotations

from analysis.report.build import (
    STEPS,
    CohortReport,
    build_cohort_report,
    instrument_check,
    read_cohort_file,
)
from analysis.report.norms import cohort_norms, default_sample
from analysis.report.render import render_html
from analysis.report.sections import SECTIONS, ReportTable, Section
from analysis.report.write import (
    MANIFEST_FILE,
    REPORT_FILE,
    REPORT_KIND,
    cohort_report,
    write_report,
)

__all__ = [
    "MANIFEST_FILE",
    "REPORT_FILE",
    "REPORT_KIND",
    "SECTIONS",
    "STEPS",
    "CohortReport",
    "ReportTable",
    "Section",
    "build_cohort_report",
    "cohort_norms",
    "cohort_report",
    "default_sample",
    "instrument_check",
    "read_cohort_file",
    "render_html",
    "write_report",
]
