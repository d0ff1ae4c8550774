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

A Dask DataFrame of raw answers is taken by the statistics of a correlation matrix (``dask=``
of :func:`takes_responses`: efa, parallel_analysis, kmo, bartlett_sphericity; and
:func:`analysis.omega`): the keyed items' moments are reduced over the partitions
(:func:`dask_item_correlation`), never the rows gathered.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    Unpack,
    overload,
)

import numpy as np
import pandas as pd

from analysis.stats._input import ReadOptions, check_read_options, validated, warn_problems
from analysis.stats._matrix import Use
from analysis.stats._options import check_option
from analysis.stats._result import Problems, Result
from analysis.stats.items import keyed_answers
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses
from surveytool.scoring.engine import is_dask, score_validated

if TYPE_CHECKING:
    from analysis.stats.moments import Moments

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


#: A statistic's form for a correlation matrix: (correlation, respondents, the call's other
#: arguments) -> its result, for answers on Dask (see :func:`takes_responses`).
FromCorrelation = Callable[..., Any]


Keyed = tuple[int, int, "Moments", Problems]


def _keyed_moments(instrument: Instrument, part: Responses, use: str, form: str | None) -> Keyed:
    """One partition's keyed items (as :func:`~analysis.stats.items.keyed_answers`): its rows,
    the rows the correlations use (listwise: those with every item answered), their moments and
    the partition's problems (a task)."""
    from analysis.stats.moments import moments

    keyed, problems = keyed_answers(instrument, part, form=form)
    values = keyed.to_numpy(dtype=np.float64, na_value=np.nan)
    if use == "listwise":
        values = values[~np.isnan(values).any(axis=1)]
    return len(keyed), len(values), moments(values, [str(c) for c in keyed.columns]), problems


def _merge_keyed(a: Keyed, b: Keyed) -> Keyed:
    from analysis.stats.moments import merge

    return a[0] + b[0], a[1] + b[1], merge(a[2], b[2]), a[3] + b[3]


def dask_item_correlation(
    instrument: Instrument, data: Any, use: str = "pairwise", **read: Unpack[ReadOptions]
) -> tuple[pd.DataFrame, int, int, Problems]:
    """The keyed items' correlation matrix of a Dask DataFrame of raw answers, its respondents
    (the rows kept, and those the correlations use: all of them pairwise, the complete ones
    listwise) and the answers' problems: each partition validated (:func:`read_responses_dask`, rows
    numbered in the whole frame, ids repeated across partitions quarantined as in memory),
    keyed and reduced to moments, merged pairwise in a tree on Dask's current scheduler. The
    correlations are those of :func:`analysis.stats.efa.correlation_matrix` of the whole table
    (pairwise: each pair's own means and sums of squares, the Chan/Pébay merge; ``listwise``:
    the rows with every item answered). One warning here for the problems, none in a worker.
    """
    import importlib

    from analysis.stats._reduce import tree_reduce
    from surveytool.engine.scoring import read_responses_dask

    check_read_options(read)
    dask = importlib.import_module("dask")
    form = read.get("form")
    parts = read_responses_dask(
        instrument,
        data,
        id_column=read.get("id_column"),
        form=form,
        group_columns=read.get("group_columns", ()),
        ignore_columns=read.get("ignore_columns", ()),
    )
    n_rows, n_used, reduced, problems = tree_reduce(
        [dask.delayed(_keyed_moments)(instrument, part, use, form) for part in parts],
        _merge_keyed,
    )
    warn_problems(problems)
    names = list(reduced.columns)
    r = pd.DataFrame(reduced.correlation(), index=names, columns=names)
    return r, n_rows, n_used, problems


def takes_responses(
    kind: Literal["items", "scores"],
    *,
    dask: FromCorrelation | None = None,
) -> Callable[[Callable[Concatenate[pd.DataFrame, P], R]], TakesResponses[P, R]]:
    """Give a statistic of an items (``kind="items"``) or scores table the instrument form.

    ``dask``: the statistic computed from a correlation matrix, called as
    ``dask(correlation, n_obs, *args, **kwargs)`` with the call's other arguments, when the
    answers are a Dask DataFrame (the matrix reduced over its partitions by
    :func:`dask_item_correlation`; ``use`` chooses pairwise or listwise as in memory; the
    reading options of :func:`analysis.reliability`, such as ``id_column=``, are taken too, since
    a Dask frame cannot be validated beforehand). Without it, a Dask DataFrame is refused with a
    message.
    """

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
            if kind == "items" and dask is not None and is_dask(responses):
                # the reading options (id_column, ...): on Dask the answers can only be read
                # here (in memory, read_responses(...) first and pass its Responses)
                read: Any = {
                    k: kwargs.pop(k) for k in list(kwargs) if k in ReadOptions.__annotations__
                }
                use = signature.bind_partial(None, *rest, **kwargs).arguments.get(
                    "use", signature.parameters["use"].default
                )
                check_option("use", use, Use)
                # n_obs: every kept row, as the in-memory statistics count (len(items))
                r, n_obs, _, problems = dask_item_correlation(inst, responses, use, **read)
                kwargs.pop("use", None)
                fitted: R = dask(r, n_obs, *rest, **kwargs)
                return dataclasses.replace(fitted, problems=problems + fitted.problems)
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
