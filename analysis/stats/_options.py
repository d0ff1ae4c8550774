"""Options of the statistics: ``Literal`` choices checked at run time, and random states.

Type checkers catch a wrong option in typed code; :func:`check_option` catches it at run time
too (notebooks, configuration files), with a message that names the parameter.
"""

from __future__ import annotations

from typing import Any, get_args

import numpy as np

from analysis.errors import AnalysisError

RandomState = int | np.random.Generator | None
"""A seed (the same seed gives the same numbers), a numpy Generator, or None (fresh entropy)."""


def choices(literal: Any) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` type."""
    return tuple(str(v) for v in get_args(literal))


def check_option(name: str, value: object, literal: Any) -> None:
    """Raise :class:`AnalysisError` unless ``value`` is one of the ``Literal`` type's values.

    ``name`` is the parameter's name, as the caller wrote it.
    """
    allowed = choices(literal)
    if value not in allowed:
        listed = ", ".join(repr(v) for v in allowed)
        raise AnalysisError(f"unknown {name} {value!r}: the parameter {name} takes {listed}")


def generator(random_state: RandomState) -> np.random.Generator:
    """A numpy Generator from a ``random_state`` (scikit-learn's convention)."""
    if random_state is not None and not isinstance(random_state, int | np.random.Generator):
        raise AnalysisError(
            "random_state must be an int, a numpy Generator or None, "
            f"not {type(random_state).__name__}"
        )
    return np.random.default_rng(random_state)
