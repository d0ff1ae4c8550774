"""Additive statistics of partitions merged on Dask: pairwise, in a balanced tree.

The statistics here (:class:`~analysis.stats._matrix.ItemSums`, moments, score counts) add with
``+``; :func:`tree_reduce` merges the delayed parts of a Dask frame with one task per merge, so
memory is bounded by two merged parts, never the cohort. The cohort report
(:mod:`analysis.report.reduce`) and the statistics of a Dask frame use it alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def tree_reduce(level: list[Any], merge: Callable[[Any, Any], Any]) -> Any:
    """The ``merge`` of Dask delayed parts, pairwise in a balanced tree, computed on Dask's
    current scheduler (one task per merge: memory bounded by two merged parts)."""
    dask = importlib.import_module("dask")  # untyped: its calls go through Any
    while len(level) > 1:
        paired = [dask.delayed(merge)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    (out,) = dask.compute(level[0])
    return out
