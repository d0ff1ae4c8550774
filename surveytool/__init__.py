"""surveytool: Likert instruments as data, exact scoring, and reports.

The public API::

    inst = surveytool.load_instrument("ppai")            # or a YAML path
    responses = surveytool.read_responses(inst, frame)   # Responses, with coded issues
    table = surveytool.score(inst, frame)                # a plain DataFrame of scores
    result = surveytool.score_responses(inst, frame)     # ScoreResult: table, issues, records
    batch = surveytool.score_frame(inst, frame)          # pandas in, pandas out (Spark, Ray)
    cohort = surveytool.simulate(inst, surveytool.SimulationSpec(n=500, seed=1))

Heavy libraries (pandas, numpy, scipy) load only when a name that needs them is used, so the
command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from surveytool.engine.scoring import score_frame
    from surveytool.errors import (
        InstrumentError,
        InstrumentNotFoundError,
        InvalidResponsesError,
        ResponsesError,
        ScoringError,
        SurveytoolError,
    )
    from surveytool.instrument.load import validate_path
    from surveytool.instrument.model import Instrument
    from surveytool.instrument.registry import load_instrument
    from surveytool.problems import Problem, Report
    from surveytool.responses import Responses, read_responses
    from surveytool.safety.checks import CriticalHit
    from surveytool.scoring.change import ReliableChange, reliable_change
    from surveytool.scoring.engine import score, score_responses, score_validated
    from surveytool.scoring.result import (
        PersonScores,
        Provenance,
        ScaleScore,
        ScoreResult,
        Status,
    )
    from surveytool.scoring.simulate import SimulationSpec, simulate

_LAZY = {
    "Instrument": "surveytool.instrument.model",
    "load_instrument": "surveytool.instrument.registry",
    "validate_path": "surveytool.instrument.load",
    "Problem": "surveytool.problems",
    "Report": "surveytool.problems",
    "Responses": "surveytool.responses",
    "read_responses": "surveytool.responses",
    "score": "surveytool.scoring.engine",
    "score_responses": "surveytool.scoring.engine",
    "score_validated": "surveytool.scoring.engine",
    "score_frame": "surveytool.engine.scoring",
    "ScoreResult": "surveytool.scoring.result",
    "PersonScores": "surveytool.scoring.result",
    "ScaleScore": "surveytool.scoring.result",
    "CriticalHit": "surveytool.safety.checks",
    "Provenance": "surveytool.scoring.result",
    "Status": "surveytool.scoring.result",
    "reliable_change": "surveytool.scoring.change",
    "ReliableChange": "surveytool.scoring.change",
    "simulate": "surveytool.scoring.simulate",
    "SimulationSpec": "surveytool.scoring.simulate",
    "SurveytoolError": "surveytool.errors",
    "InstrumentError": "surveytool.errors",
    "InstrumentNotFoundError": "surveytool.errors",
    "ResponsesError": "surveytool.errors",
    "InvalidResponsesError": "surveytool.errors",
    "ScoringError": "surveytool.errors",
}

__all__ = [
    "CriticalHit",
    "Instrument",
    "InstrumentError",
    "InstrumentNotFoundError",
    "InvalidResponsesError",
    "PersonScores",
    "Problem",
    "Provenance",
    "ReliableChange",
    "Report",
    "Responses",
    "ResponsesError",
    "ScaleScore",
    "ScoreResult",
    "ScoringError",
    "SimulationSpec",
    "Status",
    "SurveytoolError",
    "__version__",
    "load_instrument",
    "read_responses",
    "reliable_change",
    "score",
    "score_frame",
    "score_responses",
    "score_validated",
    "simulate",
    "validate_path",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'surveytool' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
