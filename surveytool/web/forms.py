"""The questionnaire forms shared by the self-assessment pages and the questionnaire-by-link
pages: answers travel in the form itself (``a_<item>`` hidden fields), a page at a time.

Nothing is stored on the server while a person answers: the answers given so far are posted
with every page, so "back" keeps them and closing the tab forgets them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from surveytool.instrument import Instrument

PAGE_SIZE = 7
SKIP = "skip"


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
    pages = math.ceil(len(item_ids) / PAGE_SIZE)
    try:
        current = int(str(data.get("page", "-1")))
    except ValueError:
        current = -1
    action = str(data.get("action", "next"))
    if action == "finish" or (action == "next" and current + 1 >= pages):
        return None
    target = max(0, current - 1) if action == "back" else min(pages - 1, current + 1)
    shown = item_ids[target * PAGE_SIZE : (target + 1) * PAGE_SIZE]
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
        "answered": sum(1 for v in answers.values() if v != SKIP),
    }
