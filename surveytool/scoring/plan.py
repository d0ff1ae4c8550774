"""The scoring plan: what :func:`~surveytool.scoring.kernel.score_matrix` needs, per instrument and form.

Built once per instrument and short form: item order, each item's declared range and keying, and
per subscale its item positions, weights, method and the answers it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surveytool.instrument.model import Instrument, Method, required_count


@dataclass(frozen=True)
class _SubscalePlan:
    id: str
    columns: np.ndarray  # positions in the item matrix
    weights: np.ndarray
    method: Method
    needed: int
    k_full: int


@dataclass(frozen=True)
class ScoringPlan:
    """What :func:`score_matrix` needs, precomputed once per instrument and form."""

    instrument: Instrument
    form: str | None
    item_ids: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    reverse: np.ndarray
    subscales: tuple[_SubscalePlan, ...]

    @classmethod
    def build(cls, instrument: Instrument, form: str | None = None) -> ScoringPlan:
        chosen = instrument.form_items(form)
        position = {item_id: j for j, item_id in enumerate(chosen)}
        subs = []
        for sub in instrument.subscales:
            members = [i for i in sub.items if i in position]
            if not members:
                continue  # a short form may leave a subscale out entirely
            subs.append(
                _SubscalePlan(
                    id=sub.id,
                    columns=np.array([position[i] for i in members], dtype=np.intp),
                    weights=np.array([instrument.item_by_id[i].weight for i in members]),
                    method=sub.method,
                    needed=min(required_count(sub.min_answered, len(members)), len(members)),
                    k_full=len(sub.items),
                )
            )
        scales = [instrument.scale_of(i) for i in chosen]
        return cls(
            instrument=instrument,
            form=form,
            item_ids=tuple(chosen),
            low=np.array([s.min for s in scales], dtype=np.float64),
            high=np.array([s.max for s in scales], dtype=np.float64),
            reverse=np.array([instrument.item_by_id[i].reverse for i in chosen], dtype=bool),
            subscales=tuple(subs),
        )
