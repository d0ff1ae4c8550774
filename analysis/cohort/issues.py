"""Issue tables of an import: rows set aside, in the one issue frame of :mod:`surveytool.problems`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from surveytool.problems import issue_frame, issue_record


def issues_for_rows(
    code: str,
    rows: Sequence[tuple[int, str | None, str | None, str | None, str]],
) -> pd.DataFrame:
    """An issue frame of whole rows set aside, each ``(row, column, respondent_id, value, reason)``."""
    return issue_frame(
        issue_record(code, why, row=r, column=c, respondent_id=who, value=v)
        for r, c, who, v, why in rows
    )
