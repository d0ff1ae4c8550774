"""The questionnaire forms shared by the self-assessment pages and the questionnaire-by-link
pages: answers travel in the form itself (``a_<item>`` hidden fields), a page at a time.

Nothing is stored on the server while a person answers: the answers given so far are posted
with every page, so "back" keeps them and closing the tab forgets them.

Pages hold at most :data:`PAGE_SIZE` statements and are balanced (58 statements: nine pages of
7 or 6, not eight of 7 and a last one of 2). The answered count is
:func:`surveytool.progress.count_answers`, the one count of the report and the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from surveytool.instrument.model import Instrument
from surveytool.progress import SKIP, count_answers

PAGE_SIZE = 7


def answers_from_form(
    inst: Instrument, data: Mapping[str, Any], item_ids: list[str]
) -> dict[str, str]:
    """The answers posted so far (``a_<item>`` fields), validated against each item's scale."""
    out: dict[str, str] = {}
    for item_id in item_ids:
        raw = data.get(f"a_{item_id}")
        if raw is None:
            continue
        value = str(raw).strip()
        if value == SKIP or value == "":
            out[item_id] = SKIP
            continue
        try:
            out[item_id] = str(inst.scale_of(item_id).code_for(value))
        except ValueError:
            continue  # a crafted or stale value: treated as not answered
    return out


def numeric(answers: Mapping[str, str]) -> dict[str, int | None]:
    """The posted answers as numbers (a skipped item: None)."""
    return {k: (None if v == SKIP else int(v)) for k, v in answers.items()}


def next_page(
    inst: Instrument,
    form: str | None,
    item_ids: list[str],
    answers: Mapping[str, str],
    data: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Where a posted page leads: None when the person finished, else the next ``page.html``
    context (``action`` back, next or finish; answers outside the shown page kept hidden)."""
    pages = page_count(len(item_ids))
    try:
        current = int(str(data.get("page", "-1")))
    except ValueError:
        current = -1
    action = str(data.get("action", "next"))
    if action == "finish" or (action == "next" and current + 1 >= pages):
        return None
    target = max(0, current - 1) if action == "back" else min(pages - 1, current + 1)
    first, last = page_bounds(len(item_ids), target)
    shown = item_ids[first:last]
    counts = count_answers(inst, item_ids, answers)
    offered = [label for i in shown for label in inst.scale_of(i).missing_codes.values()]
    return {
        "inst": inst,
        "lang": inst.language,
        "form": form,
        "page": target,
        "pages": pages,
        "items": [inst.item_by_id[i] for i in shown],
        "answers": answers,
        "kept": {k: v for k, v in answers.items() if k not in shown},
        "total": len(item_ids),
        "counts": counts,
        "decline_label": offered[0] if offered else None,
    }


def page_count(n_items: int) -> int:
    """Pages of at most :data:`PAGE_SIZE` statements (at least one page)."""
    return max(1, math.ceil(n_items / PAGE_SIZE))


def page_bounds(n_items: int, page: int) -> tuple[int, int]:
    """Slice bounds of ``page`` (0-based) when ``n_items`` are spread evenly over the pages:
    the first ``n_items % pages`` pages hold one statement more than the others."""
    pages = page_count(n_items)
    base, extra = divmod(n_items, pages)
    first = page * base + min(page, extra)
    return first, first + base + (1 if page < extra else 0)
