"""How far a person has got in a questionnaire: one count of answers for every place that shows it.

A statement is *answered* when it has a point of its response scale: that is what scoring counts
(a subscale's ``answered``, the report's "N of M statements answered"). "Prefer not to say" (a
scale's missing code) is a deliberate non-answer and "Skip" leaves a statement without one;
neither is answered, and both are counted apart so the person sees what they chose. The web
pages, the questionnaire-by-link pages and ``surveytool take`` all count with
:func:`count_answers`, so their numbers agree with each other and with the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from surveytool.instrument.model import Instrument

#: How the web forms write a skipped statement (the terminal writes None).
SKIP = "skip"


@dataclass(frozen=True)
class AnswerCounts:
    """Counts over the statements of one form."""

    total: int
    answered: int
    declined: int
    skipped: int
    declined_label: str = "Prefer not to say"

    @property
    def seen(self) -> int:
        """Statements the person has been through (answered, declined or skipped)."""
        return self.answered + self.declined + self.skipped

    def summary(self) -> str:
        """E.g. ``5 of 15 answered (1 “Prefer not to say”, 1 skipped)``."""
        extras = []
        if self.declined:
            extras.append(f"{self.declined} “{self.declined_label}”")
        if self.skipped:
            extras.append(f"{self.skipped} skipped")
        tail = f" ({', '.join(extras)})" if extras else ""
        return f"{self.answered} of {self.total} answered{tail}"


def count_answers(
    inst: Instrument, item_ids: list[str], answers: Mapping[str, int | str | None]
) -> AnswerCounts:
    """Count the answers given so far to ``item_ids``.

    ``answers`` maps item id to a code (an int, or its text as the web forms post it), to None or
    ``"skip"`` for a skipped statement; statements not in it have not been reached yet.
    """
    answered = declined = skipped = 0
    labels: list[str] = []
    for item_id in item_ids:
        if item_id not in answers:
            continue
        value = answers[item_id]
        if value is None or value == SKIP:
            skipped += 1
            continue
        scale = inst.scale_of(item_id)
        code = int(value)
        if code in scale.missing_codes:
            declined += 1
            labels.append(scale.missing_codes[code])
        else:
            answered += 1
    distinct = set(labels)
    label = labels[0] if len(distinct) == 1 else "not said" if distinct else "Prefer not to say"
    return AnswerCounts(len(item_ids), answered, declined, skipped, label)
