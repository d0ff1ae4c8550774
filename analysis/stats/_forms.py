"""The ``(instrument, responses)`` form of the statistics that take an items or a scores table.

:func:`analysis.efa`, :func:`analysis.parallel_analysis`, :func:`analysis.kmo` and
:func:`analysis.bartlett_sphericity` work on a table of keyed items; :func:`analysis.compare_groups`,
:func:`analysis.compare_waves` and :func:`analysis.score_correlations` on a scores table. Each
also takes the instrument and the validated answers, like :func:`analysis.reliability`::

    responses = read_responses(instrument, table, id_column="pseudonym", group_columns=["site"])
    analysis.efa(instrument, responses, 2)  # = efa(keyed_items(instrument, responses), 2)
    analysis.compare_groups(instrument, responses, "site")  # on score_validated(...).scores

The table is then made here (:func:`~analysis.stats.items.keyed_answers` for items: reverse-keyed
items of some subscale; :func:`surveytool.scoring.engine.score_validated` for scores, with the
respondent id column and the group columns), and the result's ``problems`` are those of the
answers. A raw table in place of the validated answers is validated with the default reading
options (no id or group columns), and its problems are announced by a
:class:`~analysis.errors.ResponseProblemsWarning`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload

import pandas as pd

from analysis.stats._input import validated, warn_problems
from analysis.stats._result import Problems, Result
from analysis.stats.items import keyed_answers
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses
from surveytool.scoring.engine import is_dask, score_validated

P = ParamSpec("P")
R_co = TypeVar("R_co", bound=Result, covariant=True)
R = TypeVar("R", bound=Result)


class TakesResponses(Protocol[P, R_co]):
    """A statistic called with a table, or with the instrument and the (validated) answers."""

    @overload
    def __call__(self, table: pd.DataFrame, /, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    @overload
    def __call__(
        self,
        instrument: Instrument | str,
        responses: Responses | pd.DataFrame,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R_co: ...


def scores_table(
    instrument: Instrument | str, responses: Responses | pd.DataFrame
) -> tuple[pd.DataFrame, Problems]:
    """The scores of the answers (one row per kept respondent: id, groups, scores) and their
    problems; a raw table is validated first."""
    _, answers, problems = validated(instrument, responses)
    if not isinstance(responses, Responses):
        warn_problems(problems)
    # validated() keeps the instrument's items only; score the answers as they were given
    given = responses if isinstance(responses, Responses) else answers
    return score_validated(instrument, given).scores, problems


def takes_responses(
    kind: Literal["items", "scores"],
) -> Callable[[Callable[Concatenate[pd.DataFrame, P], R]], TakesResponses[P, R]]:
    """Give a statistic of an items (``kind="items"``) or scores table the instrument form."""

    def decorate(func: Callable[Concatenate[pd.DataFrame, P], R]) -> TakesResponses[P, R]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(first: Any, *args: Any, **kwargs: Any) -> R:
            if isinstance(first, pd.DataFrame):
                return func(first, *args, **kwargs)
            if not args:
                raise TypeError(
                    f"{func.__name__}() with an instrument needs the responses too: "
                    f"{func.__name__}(instrument, responses, ...)"
                )
            responses, *rest = args
            if not isinstance(responses, Responses | pd.DataFrame) and not is_dask(responses):
                raise TypeError(
                    f"{func.__name__}(): the responses are read_responses(...) or a table, "
                    f"not {type(responses).__name__}"
                )
            inst = load_instrument(first)
            if kind == "items":
                table, problems = keyed_answers(inst, responses)
            else:
                table, problems = scores_table(inst, responses)
                if "scales" not in signature.bind_partial(table, *rest, **kwargs).arguments:
                    kwargs["scales"] = inst
            result = func(table, *rest, **kwargs)
            return dataclasses.replace(result, problems=problems + result.problems)

        return wrapper  # type: ignore[return-value]  # the overloads of TakesResponses

    return decorate
