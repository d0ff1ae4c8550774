"""surveytool: Likert instruments as data, exact scoring, and reports.

Heavy libraries (pandas, numpy, scipy) load only when a function that needs them is used, so the
command line starts fast. ``surveytool.score`` and ``surveytool.load_instrument`` are the entry points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from surveytool.registry import load_instrument
    from surveytool.scoring import ScoreResult, score, score_responses

__all__ = ["ScoreResult", "__version__", "load_instrument", "score", "score_responses"]

_LAZY = {
    "load_instrument": "surveytool.registry",
    "score": "surveytool.scoring",
    "score_responses": "surveytool.scoring",
    "ScoreResult": "surveytool.scoring",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'surveytool' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
