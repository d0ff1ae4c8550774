"""Mapping files: how a source's columns and values become an instrument's items.

A mapping is YAML, validated by pydantic and located like instrument files (every problem with its
line and column). Every key is optional::

    instrument: ppai            # checked against the instrument of the import
    format: qualtrics           # a format given to the import (not auto) wins
    sheet: Responses            # workbook sheet (name or 0-based number)
    id_column: ResponseId       # respondent ids -> keyed pseudonyms; null: no ids (rows are keyed)
    items:                      # source column: item id (columns named like an item need no entry)
      Q1_1: FF1
    recode:                     # rules; a rule naming an item beats the rule for all items
      - items: all
        offset: 1               # a 0-based 0..4 coding onto the scale's 1..5
      - items: [FF4]
        map: {"Strongly disagree": 1, "Disagree": 2}   # label text (or a code) -> code; null: missing
        missing: [99, "Refused"]                      # values meaning "not answered"
    groups: [site]              # carried along for comparisons (kept unless they look identifying)
    waves: [redcap_event_name]  # with the id, what makes a row unique (REDCap events, instances)
    quasi_identifiers:
      age: {generalize: age_band, width: 10, top: 90}
      visit_date: {generalize: year}
      country: {generalize: merge, min_count: 10}
    identifiers: [RecipientEmail]   # direct identifiers: dropped (and detected ones too)
    drop: [Duration]                 # not identifying, not needed
    unmatched: drop                  # every other column that matches no item: dropped, counted
    qualtrics: {keep_status: [Imported], finished: true, min_progress: 90, min_duration: 60}
    redcap: {dictionary: dictionary.csv, complete: [Complete]}   # form status filter

Rows that are not respondents are set aside and counted: Qualtrics previews and tests (and rows the
``qualtrics`` filters leave out), REDCap rows whose form status is not kept, and rows with no item
answered (in REDCap, events or repeat rows where the instrument is not collected).

Columns the mapping names nowhere and that match no item are dropped either way; ``unmatched``
says how they are reported: ``warn`` (the default) gives each a warning and a quarantine line,
``drop`` drops them as if they were listed under ``drop:`` and the import counts them once.
``surveytool cohort map-template`` lists undeclared columns under ``drop:`` up to 1,000 of them
and writes ``unmatched: drop`` for more (a file of 10**6 columns: a mapping of a few lines that
loads back, instead of 40 MB over the limit of a mapping's size). The disclosure report names at
most 100 dropped columns for each reason and counts the rest; when it leaves some out, every
column of the source and what became of it is in ``<cohort>.columns.csv`` beside the cohort.

Recoding a value: a ``missing`` entry makes it missing; else a ``map`` entry gives its code; else a
number has ``offset`` added; anything else is left to the scoring engine's validation (a scale label
such as "Very much like me" is read as its code there).

The package follows the data: :mod:`.model` (the file's pydantic models), :mod:`.load` (located
YAML), :mod:`.plan` (each source column's role), :mod:`.recode` (values to codes),
:mod:`.template` (a starting mapping for a source).
"""

from __future__ import annotations

from analysis.mapping.load import load_mapping
from analysis.mapping.model import (
    CohortMapping,
    LoadedMapping,
    QualtricsOptions,
    RecodeRule,
    RedcapOptions,
)
from analysis.mapping.plan import ColumnPlan, plan_columns
from analysis.mapping.recode import apply_recode, spss_labels_are_scale
from analysis.mapping.template import mapping_template, match_items

__all__ = [
    "CohortMapping",
    "ColumnPlan",
    "LoadedMapping",
    "QualtricsOptions",
    "RecodeRule",
    "RedcapOptions",
    "apply_recode",
    "load_mapping",
    "mapping_template",
    "match_items",
    "plan_columns",
    "spss_labels_are_scale",
]
