"""The answers a statistic is computed on: validated by surveytool, with every problem kept.

The statistics take the :class:`~surveytool.responses.Responses` of
:func:`surveytool.responses.read_responses` (validate once, then any statistic). A raw table is
accepted for convenience and validated here by the same reader; what it finds is never dropped:
the result's ``problems`` counts it and a :class:`~analysis.errors.ResponseProblemsWarning` says
so.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import TypedDict, Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError, ResponseProblemsWarning
from analysis.stats._result import Problems
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses, read_responses
from surveytool.scoring.engine import is_dask
from surveytool.scoring.plan import ScoringPlan

_PACKAGE = "analysis.stats"


class ReadOptions(TypedDict, total=False):
    """How a statistic reads a raw table (ignored for validated Responses).

    ``id_column``, ``group_columns`` and ``ignore_columns`` as for
    :func:`surveytool.responses.read_responses`; ``form``: a short form's id (its items only).
    """

    id_column: str | None
    group_columns: Sequence[str]
    ignore_columns: Sequence[str]
    form: str | None


def _caller() -> tuple[str, int]:
    """The public statistic that was called and the ``stacklevel`` of its caller's line."""
    frame = sys._getframe(2)
    level, name = 2, "a statistic"
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(_PACKAGE):
        if frame.f_code.co_name == "wrapper":  # the instrument form of analysis.stats._forms
            name = getattr(frame.f_locals.get("func"), "__name__", name)
        elif not frame.f_code.co_name.startswith("_"):
            name = frame.f_code.co_name
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return name, level


def warn_problems(problems: Problems) -> None:
    """Warn (:class:`ResponseProblemsWarning`) that validation found ``problems``, if any."""
    if not problems:
        return
    name, level = _caller()
    warnings.warn(
        ResponseProblemsWarning(
            f"{name}: the responses have {problems.describe()}; invalid answers count as "
            "missing and quarantined rows are left out (the result's problems lists them). "
            "Validate once with surveytool.responses.read_responses and pass its Responses "
            "to see them first."
        ),
        stacklevel=level,
    )


def check_read_options(read: ReadOptions) -> None:
    """Refuse keywords that are not :class:`ReadOptions` (as Python refuses them)."""
    unknown = sorted(set(read) - set(ReadOptions.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}")


def validated(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    **read: Unpack[ReadOptions],
) -> tuple[ScoringPlan, Responses, Problems]:
    """The scoring plan, the validated answers and their problems (surveytool's reader).

    ``responses`` is a :class:`~surveytool.responses.Responses` already validated (for example
    ``read_responses(...)`` or ``score_responses(...).responses``), used as is, or the raw
    table as surveytool reads it (numbers or labels, one column per item), validated here; its
    problems are then reported by :func:`warn_problems`. Either way they are returned, for the
    result's ``problems``.
    """
    check_read_options(read)
    if is_dask(responses):
        name, _ = _caller()
        raise AnalysisError(
            f"{name} takes a pandas DataFrame or validated Responses, not a Dask DataFrame "
            "(on Dask, reliability, item_statistics and sufficient_statistics sum the "
            "partitions, and omega, efa, parallel_analysis, kmo and bartlett_sphericity merge "
            f"their moments); for {name}, pass responses.compute() if the answers fit in memory"
        )
    inst = load_instrument(instrument)
    plan = ScoringPlan.build(inst, read.get("form"))
    if isinstance(responses, Responses):
        problems = Problems.of(responses.issues)
        if responses.item_ids == plan.item_ids:
            return plan, responses, problems
        position = {item_id: j for j, item_id in enumerate(responses.item_ids)}
        absent = [i for i in plan.item_ids if i not in position]
        if absent:
            raise AnalysisError(f"the validated responses lack the items {', '.join(absent)}")
        values = responses.values[:, [position[i] for i in plan.item_ids]]
        return (
            plan,
            Responses(
                item_ids=plan.item_ids,
                values=np.asfortranarray(values),
                ids=responses.ids,
                groups=responses.groups,
                rows=responses.rows,
                rows_read=responses.rows_read,
                issues=responses.issues,
            ),
            problems,
        )
    answers = read_responses(
        inst,
        responses,
        item_ids=plan.item_ids,
        id_column=read.get("id_column"),
        group_columns=read.get("group_columns", ()),
        ignore_columns=read.get("ignore_columns", ()),
    )
    problems = Problems.of(answers.issues)
    warn_problems(problems)
    return plan, answers, problems
