"""Scoring: validated answers -> subscale and composite scores, norms, reliable change, simulation.

- :mod:`~surveytool.scoring.plan`: what the kernel needs, per instrument and form;
- :mod:`~surveytool.scoring.kernel`: the vectorised kernel (:func:`score_matrix`);
- :mod:`~surveytool.scoring.engine`: :func:`score_responses` and :func:`score`, the one path;
- :mod:`~surveytool.scoring.result`: :class:`ScoreResult`, :class:`PersonScores`,
  :class:`Provenance`;
- :mod:`~surveytool.scoring.norms`, :mod:`~surveytool.scoring.change`,
  :mod:`~surveytool.scoring.simulate`.
"""

from __future__ import annotations

from surveytool.safety.checks import CriticalHit
from surveytool.scoring.engine import score, score_responses, score_validated
from surveytool.scoring.result import (
    PersonScores,
    Provenance,
    ScaleScore,
    ScoreResult,
    Status,
)

__all__ = [
    "CriticalHit",
    "PersonScores",
    "Provenance",
    "ScaleScore",
    "ScoreResult",
    "Status",
    "score",
    "score_responses",
    "score_validated",
]
