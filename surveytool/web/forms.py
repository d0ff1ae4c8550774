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
from surveytool.safety.checks import CriticalHit, check_answers
from surveytool.safety.support import normalize_country

PAGE_SIZE = 7

#: Page state carried from page to page in hidden fields (never stored on the server): the
#: country chosen for the support numbers, and the checks whose support page was shown.
CARRIED = ("country", "shown")


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


def carried(data: Mapping[str, Any]) -> dict[str, str]:
    """The page state to post again with the next page (see :data:`CARRIED`)."""
    country = normalize_country(str(data.get("country") or ""))  # "ZZ": another country
    shown = " ".join(sorted(set(str(data.get("shown") or "").split())))
    return {k: v for k, v in (("country", country), ("shown", shown)) if v}


def _posted_page(data: Mapping[str, Any]) -> int:
    try:
        return int(str(data.get("page", "-1")))
    except ValueError:
        return -1


def posted_hits(
    inst: Instrument, item_ids: list[str], answers: Mapping[str, str], data: Mapping[str, Any]
) -> tuple[CriticalHit, ...]:
    """The checks met by the answers of the page just posted, whatever was pressed and whether
    or not their support page was shown: what a clinician's link alerts on when it saves the page.

    Going on (next, finish, a country chosen) counts an item of the page left unanswered as
    skipped; going back counts only the items answered.
    """
    action = str(data.get("action", "next"))
    current = _posted_page(data)
    if current < 0 or current >= page_count(len(item_ids)):
        return ()
    first, last = page_bounds(len(item_ids), current)
    shown_items = item_ids[first:last]
    if action == "back":
        shown_items = [i for i in shown_items if answers.get(i) not in (None, SKIP)]
    given = {i: (None if answers.get(i) in (None, SKIP) else int(answers[i])) for i in shown_items}
    return check_answers(inst, given)


def page_hits(
    inst: Instrument, item_ids: list[str], answers: Mapping[str, str], data: Mapping[str, Any]
) -> tuple[CriticalHit, ...]:
    """The checks met on the page just posted, whose support page has not been shown yet.

    Going back shows nothing; a country chosen on the support page (``action`` ``country``)
    shows the same support page again with that country's numbers. An item of the page left
    unanswered counts as skipped.
    """
    action = str(data.get("action", "next"))
    if action not in ("next", "finish", "country"):
        return ()
    hits = posted_hits(inst, item_ids, answers, data)
    if action == "country":
        return hits
    shown = set(str(data.get("shown") or "").split())
    return tuple(h for h in hits if h.check not in shown)


def support_page(
    inst: Instrument,
    form: str | None,
    answers: Mapping[str, str],
    data: Mapping[str, Any],
    hits: tuple[CriticalHit, ...],
) -> dict[str, Any]:
    """The context of ``support.html`` after a page with a check met: the hidden fields that
    continue where the person was (``then``: next or finish) or stop (finish)."""
    action = str(data.get("action", "next"))
    then = str(data.get("then") or "next") if action == "country" else action
    state = carried(data)
    shown = set(state.get("shown", "").split()) | {h.check for h in hits}
    state["shown"] = " ".join(sorted(shown))
    hidden = {f"a_{k}": v for k, v in answers.items()}
    hidden.update(state)
    hidden.update({"form": form or "", "page": str(_posted_page(data)), "then": then})
    return {
        "inst": inst,
        "lang": inst.language,
        "hits": hits,
        "then": then,
        "hidden": hidden,
        "country": state.get("country", ""),
    }


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
    current = _posted_page(data)
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
        "carry": carried(data),
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
