"""Issue tables of an import: rows set aside, in the scoring engine's issue columns."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from surveytool.responses import ISSUE_COLUMNS


def issues_for_rows(
    rows: Sequence[tuple[int, str | None, str | None, str | None, str]],
) -> pd.DataFrame:
    records = [
        {"kind": "row", "row": r, "column": c, "respondent_id": who, "value": v, "reason": why}
        for r, c, who, v, why in rows
    ]
    frame = pd.DataFrame.from_records(records, columns=list(ISSUE_COLUMNS))
    frame = frame.astype({c: "object" for c in ISSUE_COLUMNS if c != "row"})
    frame["row"] = frame["row"].astype("Int64")
    return frame


def concat_issues(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    kept = [p for p in parts if len(p)]
    if not kept:
        return parts[0].iloc[0:0].copy() if parts else issues_for_rows([])
    out = pd.concat(kept, ignore_index=True)
    out["row"] = out["row"].astype("Int64")
    return out
