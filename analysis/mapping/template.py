"""A starting mapping for a source: items matched by id or question text, the id, identifiers."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from analysis.cells import as_text, snake_name, snake_names
from analysis.mapping.plan import fold, guess_id
from analysis.mapping.recode import spss_labels_are_scale
from analysis.privacy.identifiers import (
    ColumnDecisions,
    classify_columns,
    describe_findings,
)
from surveytool.instrument.model import Instrument
from surveytool.io.sources import SourceTable, ungrouped

_QUASI_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^|_)age(_|$)"), "{generalize: age_band, width: 10, top: 90}"),
    (re.compile(r"(^|_)(dob|birth\w*)(_|$)"), "{generalize: year}"),
    (
        re.compile(r"(^|_)(zip|postcode|post_code|postal\w*)(_|$)"),
        "{generalize: prefix, length: 3}",
    ),
    (re.compile(r"(^|_)(date|visit_date|\w+_date)(_|$)"), "{generalize: year}"),
    (
        re.compile(
            r"(^|_)(sex|gender|country|region|state|ethnicity|race|education|occupation)(_|$)"
        ),
        "{generalize: merge, min_count: 10}",
    ),
)


def _q(value: str) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML."""
    return json.dumps(value, ensure_ascii=False)


def _statement(question: str) -> str:
    """The statement of a Qualtrics matrix row ("Question - Statement") or the question itself."""
    return question.rsplit(" - ", 1)[-1].strip() if " - " in question else question.strip()


def _question(table: SourceTable, col: str) -> str:
    return table.question_text.get(col) or (col if len(col) >= 15 else "")


def shared_statements(table: SourceTable, instrument: Instrument) -> dict[str, list[str]]:
    """Items whose text is the statement of several columns (a matrix row repeated in blocks).

    Qualtrics writes a matrix row as ``Question - Statement``; when the same statement appears
    under several questions (or several columns), the statement alone cannot tell which column
    is the item, unless exactly one column's whole question text is the item's text. Item id ->
    the columns; the template leaves such items for the researcher to map by hand.
    """
    by_text: dict[str, list[str]] = {}
    for col in map(str, table.frame.columns):
        question = _question(table, col)
        if question and col not in table.metadata_columns:
            by_text.setdefault(_statement(question).casefold(), []).append(col)
    out: dict[str, list[str]] = {}
    for item in instrument.items:
        cols = by_text.get(item.text.casefold().strip(), [])
        whole = [c for c in cols if _question(table, c).casefold().strip() == item.text.casefold()]
        if len(cols) > 1 and len(whole) != 1:
            out[item.id] = cols
    return out


def match_items(table: SourceTable, instrument: Instrument) -> dict[str, tuple[str, str]]:
    """Item id -> (source column, how it matched) for every item the template can place.

    Exact id, then case- and punctuation-insensitive id, then an ODK/Kobo column inside groups
    (``grp-q``, ``grp/q``) whose rest is an item id, then a Qualtrics ImportId equal to an item
    id, then question text (Qualtrics row 2, SPSS variable labels, REDCap label headers): the whole
    text or the statement of a matrix row (after " - "), equal to the item's text, else similar
    (difflib ratio >= 0.6, best pairs first, each used once). A statement shared by several
    columns is matched by none of them (:func:`shared_statements`).
    """
    columns = [str(c) for c in table.frame.columns]
    skip = set(table.metadata_columns) | set(table.wave_columns)
    if table.default_id_column:
        skip.add(table.default_id_column)
    found: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    folded = {fold(i): i for i in instrument.item_by_id}
    for col in columns:
        if col in skip:
            continue
        if col in instrument.item_by_id and col not in found:
            found[col] = (col, "same id")
            used.add(col)
    for col in columns:
        if col in skip or col in used:
            continue
        target = folded.get(fold(col))
        if target and target not in found:
            found[target] = (col, "same id but for case")
            used.add(col)
    for col in columns:
        if col in skip or col in used:
            continue
        target = ungrouped(table, col, instrument.item_by_id)
        if target and target not in found:
            found[target] = (col, "same id inside a group")
            used.add(col)
    for col, import_id in table.import_ids.items():
        if col in used or col in skip:
            continue
        target = import_id if import_id in instrument.item_by_id else folded.get(fold(import_id))
        if target and target not in found:
            found[target] = (col, f"Qualtrics ImportId {import_id}")
            used.add(col)
    texts: dict[str, tuple[str, ...]] = {}  # the statement, and the whole question when longer
    for col in columns:
        if col in used or col in skip:
            continue
        question = _question(table, col)
        if question:
            whole, statement = question.strip().casefold(), _statement(question).casefold()
            texts[col] = (statement,) if whole == statement else (statement, whole)
    exact: dict[str, list[str]] = {}
    for col, options in texts.items():
        for text in options:
            if col not in exact.setdefault(text.strip(), []):
                exact[text.strip()].append(col)
    shared = shared_statements(table, instrument)
    for item in instrument.items:
        if item.id in found or item.id in shared:
            continue
        same = [c for c in exact.get(item.text.casefold().strip(), []) if c not in used]
        if len(same) == 1:
            found[item.id] = (same[0], "same question text")
            used.add(same[0])
    pairs: list[tuple[float, str, str]] = []
    for item in instrument.items:
        if item.id in found or item.id in shared:
            continue
        wanted = item.text.casefold()
        for col, options in texts.items():
            if col in used:
                continue
            best = 0.0
            for text in options:
                matcher = difflib.SequenceMatcher(None, wanted, text, autojunk=False)
                if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
                    continue
                best = max(best, matcher.ratio())
            if best >= 0.6:
                pairs.append((best, item.id, col))
    for ratio, item_id, col in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if item_id in found or col in used:
            continue
        found[item_id] = (col, f"question text {round(ratio * 100)}% similar")
        used.add(col)
    return {i: found[i] for i in instrument.item_by_id if i in found}


def _looks_zero_based(
    table: SourceTable, instrument: Instrument, matched: Mapping[str, str]
) -> bool:
    lows, highs = [], []
    for item_id, col in matched.items():
        scale = instrument.scale_of(item_id)
        if col in table.value_labels and spss_labels_are_scale(table.value_labels[col], scale):
            continue  # codes are read through their labels
        numbers = pd.to_numeric(as_text(table.frame[col]), errors="coerce").dropna()
        numbers = numbers[~numbers.isin(list(scale.missing_codes))]
        if numbers.empty:
            continue
        lows.append(float(numbers.min()) - scale.min)
        highs.append(float(numbers.max()) - scale.max)
    return bool(lows) and min(lows) == -1 and max(highs) <= -1


#: Undeclared columns the template lists one by one under ``drop:``; a file with more gets
#: ``unmatched: drop`` instead (a mapping of 10**6 lines is over the size a mapping may have).
TEMPLATE_LISTED: Final = 1000


def _quasi_candidates(decisions: ColumnDecisions) -> list[str]:
    """Comment lines for identifier and unmatched columns named like a quasi-identifier (age,
    dates, postcodes ...), the names checked at once."""
    import pyarrow.compute as pc

    candidates = decisions.where(np.isin(decisions.roles, ["identifier", "unmatched"]))
    if not len(candidates):
        return []
    snake = snake_names(list(candidates.columns))
    spec_at: dict[int, str] = {}
    for pattern, spec in _QUASI_HINTS:
        hits = pc.match_substring_regex(snake, pattern.pattern).to_numpy(zero_copy_only=False)
        for at in np.flatnonzero(hits).tolist():
            if at not in spec_at and pattern.search(snake_name(str(candidates.columns[at]))):
                spec_at[at] = spec
    return [f"#   {_q(str(candidates.columns[at]))}: {spec_at[at]}" for at in sorted(spec_at)]


def mapping_template(
    table: SourceTable,
    instrument: Instrument,
    *,
    dictionary: str | None = None,
    wide_waves: str | None = None,
    qsf: str | None = None,
) -> str:
    """A starting mapping for ``table``: every matched item, the id, identifiers and the rest.

    The text is YAML with comments that say how each line was found; :func:`load_mapping` reads it
    back and it fits the source, so it can be used as is and refined. ``dictionary``: the REDCap
    data dictionary the table was read with, as the mapping should name it; ``wide_waves``: the
    pattern the table was reshaped with (:func:`surveytool.io.sources.reshape_wide_waves`);
    ``qsf``: the Qualtrics survey definition it was read with.
    """
    matched = match_items(table, instrument)
    columns = [str(c) for c in table.frame.columns]
    item_columns = {col for col, _ in matched.values()}
    id_column = guess_id(table, columns, item_columns)
    waves = [c for c in table.wave_columns if c != id_column]
    decisions = classify_columns(
        table.frame,
        items=item_columns,
        id_column=id_column,
        waves=waves,
        metadata=table.metadata_columns,
        metadata_source=f"the {table.format} export",
        categorical=table.categorical_columns,
        identifiers=table.identifier_columns,
    )
    identifiers = decisions.where(decisions.roles == "identifier")
    others = decisions.where(np.isin(decisions.roles, ["metadata", "unmatched"]))
    waves = [str(c) for c in decisions.where((decisions.roles == "wave") & decisions.kept).columns]
    lines = [
        "# Mapping for `surveytool cohort import`, written by `surveytool cohort map-template`.",
        f"# Source: {table.path.name} ({table.format_line}).",
        f"# Instrument: {instrument.id} {instrument.version}. Check every line before importing.",
        f"instrument: {_q(instrument.id)}",
    ]
    if table.format in ("qualtrics", "redcap"):
        lines.append(f"format: {_q(table.format)}   # told from the file's content")
    if wide_waves:
        lines.append(
            f"wide_waves: {{pattern: {_q(wide_waves)}, wave_column: {_q(table.wave_columns[0])}}}"
            "   # waves side by side, one row per wave"
        )
    if id_column:
        lines.append(f"id_column: {_q(id_column)}   # respondent ids become keyed pseudonyms")
    else:
        lines.append(
            "# id_column: ...   # no respondent id column found; rows are keyed by file and row"
        )
    lines.append("items:   # source column: item id")
    if not matched:
        lines[-1] = "items: {}   # no column matched an item: map them as `source column: item id`"
    for item_id, (col, how) in matched.items():
        lines.append(f"  {_q(col)}: {_q(item_id)}   # {how}")
    for item_id, cols in shared_statements(table, instrument).items():
        if item_id not in matched:
            lines.append(
                f"# {item_id}: its text is the statement of {len(cols)} columns "
                f"({', '.join(map(_q, cols))}); map the right one by hand"
            )
    missing = [i for i in instrument.item_by_id if i not in matched]
    if missing:
        lines.append(f"# items not found in the source ({len(missing)}): {', '.join(missing)}")
    if _looks_zero_based(table, instrument, {i: c for i, (c, _) in matched.items()}):
        lines += [
            "recode:   # the answers look coded from one below the scale (e.g. 0..4 for 1..5)",
            "  - items: all",
            "    offset: 1",
        ]
    else:
        lines.append("recode: []   # e.g. - {items: all, offset: 1} or a map of labels to codes")
    suggested = [g for g in table.suggested_groups if g in columns]
    lines.append(
        "groups: []" + (f"   # perhaps {', '.join(map(_q, suggested))}" if suggested else "")
    )
    if waves:
        lines.append(f"waves: [{', '.join(map(_q, waves))}]   # with the id, one row per wave")
    quasi = _quasi_candidates(decisions)
    lines.append("quasi_identifiers: {}")
    if quasi:
        lines.append(
            "# candidates (to keep one, generalized: declare it here and take it out of the lists"
            " below):"
        )
        lines += quasi
    if identifiers:
        lines.append("identifiers:   # direct identifiers, dropped (detected by surveytool)")
        for d in identifiers:
            flagged = d.column in table.identifier_columns
            why = describe_findings(d.findings) if d.findings else ""
            why = "; ".join(
                p
                for p in ("flagged Identifier? in the data dictionary" if flagged else "", why)
                if p
            )
            lines.append(f"  - {_q(d.column)}   # {why}")
    else:
        lines.append("identifiers: []")
    if len(others) > TEMPLATE_LISTED:  # 10**6 lines would not load back: one line for them
        first = ", ".join(_q(str(c)) for c in others.columns[:5])
        lines.append("drop: []")
        lines.append(
            f"unmatched: drop   # the {len(others):,} other columns ({first} ...) match no item: "
            "dropped, counted in the disclosure report; list the ones to keep above"
        )
    elif others:
        lines.append("drop:   # not items; not needed")
        for d in others:
            lines.append(f"  - {_q(d.column)}   # {d.reason}")
    else:
        lines.append("drop: []")
    if table.format == "qualtrics":
        where = f", qsf: {_q(qsf)}" if qsf else ""
        lines.append(
            f"qualtrics: {{keep_status: []{where}}}   # ordinary responses only; "
            'e.g. ["Imported"] keeps more'
        )
        lines.append(
            "#   more filters: finished: true, min_progress: 90, min_duration: 60 (seconds)"
        )
    if table.format == "redcap":
        where = f"dictionary: {_q(dictionary)}, " if dictionary else ""
        lines.append(
            f"redcap: {{{where}complete: []}}   # form status kept, e.g. [Complete]; [] keeps all"
        )
    return "\n".join(lines) + "\n"
