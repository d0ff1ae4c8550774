"""How a report table's cells read: numbers, p values, counts, suppressed and missing cells."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.privacy.suppression import (
    SUPPRESSED,
)

if TYPE_CHECKING:
    pass
from analysis.report.sections import ReportTable

P_COLUMNS = frozenset({"p", "p_holm", "pvalue", "bartlett_p", "median_mahalanobis_p"})
INT_COLUMNS = frozenset(
    {
        "n",
        "k",
        "n_rows",
        "missing",
        "df",
        "baseline_df",
        "n_obs",
        "n_parameters",
        "flagged",
        "not_flagged",
        "not_computed",
        "respondents",
        "number",
        "batch",
        "rows_read",
        "rows_imported",
        "rows_quarantined",
        "duplicates",
    }
)


def format_cell(column: str, value: object) -> tuple[str, str]:
    """(text, css class) of one cell."""
    if value is None or value is pd.NA:
        return "—", "na"
    if isinstance(value, str):
        return value, ("suppressed" if value == SUPPRESSED else "text")
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no"), "text"
    if isinstance(value, int | np.integer):
        return str(int(value)), "num"
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "—", "na"
        if column in P_COLUMNS:
            return ("<.001" if x < 0.001 else f"{x:.3f}"), "num"
        if column in INT_COLUMNS and x.is_integer():
            return str(int(x)), "num"
        if abs(x) >= 1000:
            return f"{x:,.1f}", "num"
        return f"{x:.3f}", "num"
    return str(value), "text"


def rendered(table: ReportTable) -> dict[str, Any]:
    """Header and formatted rows of a table for the template."""
    columns = [str(c) for c in table.frame.columns]
    rows = [
        [format_cell(col, value) for col, value in zip(columns, row, strict=True)]
        for row in table.frame.astype(object).itertuples(index=False, name=None)
    ]
    return {"table": table, "columns": columns, "rows": rows}
