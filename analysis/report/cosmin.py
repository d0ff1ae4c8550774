"""The COSMIN evidence table of the cohort report: each measurement property, its criterion, the
value found in this cohort and a rating (+ sufficient, − insufficient, ? indeterminate).

Criteria (Mokkink et al. 2018, COSMIN guideline; Prinsen et al. 2018; Terwee et al. 2007):

* structural validity: the instrument's own structure as an ordinal CFA (WLSMV); + when CFI or TLI
  > .95 and RMSEA < .06 and SRMR < .08 (robust indices where computable, else scaled);
* internal consistency: + when every subscale's alpha ≥ .70 *and* structural validity is +;
  ? when structural validity is not +; − when some alpha < .70 with a sufficient structure;
* measurement invariance (per group column): + when scalar invariance holds by Chen (2007);
  − when metric or scalar fails; across waves (the same people again), the longitudinal models of
  :mod:`analysis.stats.longitudinal` on the people seen at every wave (at most
  :data:`WAVE_SAMPLE` of them, seeded), rated the same way;
* differential item functioning (per group column): + when no item has moderate or large DIF
  (Jodoin & Gierl ΔR² ≥ .035 with a Holm-adjusted p < .01);
* test–retest reliability and measurement error: only with repeated measurements of the same
  people; otherwise ? (not assessable in this cohort).

The heavier analyses run on a seeded random sample when the cohort is large (the ordinal CFA on at
most :data:`CFA_SAMPLE` respondents, DIF on at most :data:`DIF_SAMPLE` per group), which the table
says; every number rests on at least the report's minimum cell of respondents.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.report.sections import TableBuilder
from analysis.stats.reliability import Reliability
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses

CFA_SAMPLE = 10_000
DIF_SAMPLE = 1_000
WAVE_SAMPLE = 2_000


def _sample(responses: Responses, limit: int, seed: int, by: pd.Series | None = None) -> np.ndarray:
    """Row positions of a seeded random sample (per group when ``by`` is given)."""
    rng = np.random.default_rng(seed)
    n = len(responses.ids)
    if by is None:
        return np.arange(n) if n <= limit else np.sort(rng.choice(n, limit, replace=False))
    out = []
    for value in pd.unique(by.dropna()):
        rows = np.flatnonzero((by == value).to_numpy())
        out.append(rows if len(rows) <= limit else rng.choice(rows, limit, replace=False))
    return np.sort(np.concatenate(out)) if out else np.arange(0)


def _subset(responses: Responses, rows: np.ndarray) -> Responses:
    import dataclasses

    return dataclasses.replace(
        responses,
        values=responses.values[rows],
        ids=responses.ids.iloc[rows].reset_index(drop=True),
        groups=responses.groups.iloc[rows].reset_index(drop=True),
        rows=responses.rows[rows],
    )


def _rating(ok: bool | None) -> str:
    return "?" if ok is None else ("+" if ok else "−")


def cosmin_table(
    b: TableBuilder,
    inst: Instrument,
    responses: Responses,
    rel: Reliability,
    groups: Sequence[str],
    *,
    waves: Sequence[str] = (),
    people: np.ndarray | None = None,
    min_cell: int = 1,
    seed: int = 0,
    keyed: pd.DataFrame | None = None,
) -> None:
    """Add the COSMIN evidence table (section ``cosmin``). Groups smaller than ``min_cell`` are
    left out of the invariance and DIF analyses, as out of the group comparisons. ``people``:
    each row's person (pseudonym), for the invariance across ``waves``. ``keyed``: the keyed
    scored items of ``responses`` (:func:`analysis.keyed_items`) when the caller has them."""
    from analysis.stats.cfa import subscale_factors
    from analysis.stats.dif import dif
    from analysis.stats.invariance import measurement_invariance
    from analysis.stats.items import keyed_items
    from analysis.stats.ordinal_cfa import ordinal_cfa_model

    rows: list[dict[str, object]] = []
    n = len(responses.ids)

    # structural validity
    structure_ok: bool | None = None
    try:
        sample = _sample(responses, CFA_SAMPLE, seed)
        # analysis.cfa(inst, the sample, ordered=True), on the keyed items already at hand
        items = keyed if keyed is not None else keyed_items(inst, responses)
        fitted = ordinal_cfa_model(items.iloc[sample], subscale_factors(inst))
        fit = fitted.fit
        robust = not np.isnan(float(fit["cfi_robust"]))
        cfi = float(fit["cfi_robust"] if robust else fit["cfi_scaled"])
        tli = float(fit["tli_robust"] if robust else fit["tli_scaled"])
        rmsea = float(fit["rmsea_robust"] if robust else fit["rmsea_scaled"])
        srmr = float(fit["srmr"])
        structure_ok = (cfi > 0.95 or tli > 0.95) and rmsea < 0.06 and srmr < 0.08
        kind = "robust" if robust else "scaled"
        value = f"CFI {cfi:.3f}, TLI {tli:.3f}, RMSEA {rmsea:.3f} ({kind}), SRMR {srmr:.3f}"
        basis = f"ordinal CFA (WLSMV), {fitted.n_obs} complete respondents"
        if len(sample) < n:
            basis += f" of a seeded sample of {len(sample)}"
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        value, basis = "not computable", f"ordinal CFA: {exc}"
    rows.append(
        {
            "property": "structural validity",
            "criterion": "CFI or TLI > .95, RMSEA < .06, SRMR < .08",
            "value": value,
            "rating": _rating(structure_ok),
            "basis": basis,
        }
    )

    # internal consistency
    alphas = rel.scales["raw_alpha"].astype(float)
    low = [str(s) for s, a in alphas.items() if not np.isnan(a) and a < 0.70]
    computed = alphas.dropna()
    if computed.empty:
        consistency: bool | None = None
        value = "not computable"
    else:
        value = f"alpha {computed.min():.2f} to {computed.max():.2f} over {len(computed)} subscales"
        consistency = None if structure_ok is not True else not low
    rows.append(
        {
            "property": "internal consistency",
            "criterion": "alpha ≥ .70 per subscale, given sufficient structural validity",
            "value": value + (f"; below .70: {', '.join(low)}" if low else ""),
            "rating": _rating(consistency),
            "basis": "Cronbach's alpha (psych::alpha, pairwise)",
        }
    )

    # invariance and DIF, per group column
    for group in groups:
        if group in waves or group not in responses.groups.columns:
            continue
        labels = responses.groups[group]
        sizes = labels.value_counts()
        kept = labels.isin(sizes[sizes >= min_cell].index).to_numpy()
        grouped = _subset(responses, np.flatnonzero(kept))
        left_out = int((~kept).sum())
        try:
            inv = measurement_invariance(
                inst, grouped, group, models=("configural", "metric", "scalar")
            )
            table = inv.table
            holds = bool(table.loc["metric", "holds_chen2007"]) and bool(
                table.loc["scalar", "holds_chen2007"]
            )
            cfi_diff = table["cfi_diff"].astype(float)
            rmsea_diff = table["rmsea_diff"].astype(float)
            value = (
                f"ΔCFI metric {cfi_diff['metric']:+.3f}, scalar {cfi_diff['scalar']:+.3f}; "
                f"ΔRMSEA scalar {rmsea_diff['scalar']:+.3f}"
            )
            inv_ok: bool | None = holds
            basis = f"multi-group ML CFA over {len(inv.groups)} groups of {group}"
            if left_out:
                basis += f" ({left_out} respondents of groups below the minimum cell left out)"
        except (AnalysisError, np.linalg.LinAlgError) as exc:
            value, inv_ok, basis = "not computable", None, str(exc)
        rows.append(
            {
                "property": f"measurement invariance ({group})",
                "criterion": "Chen (2007): ΔCFI ≥ −.010, ΔRMSEA ≤ .015, ΔSRMR ≤ .030/.010",
                "value": value,
                "rating": _rating(inv_ok),
                "basis": basis,
            }
        )
        flagged: list[str] = []
        tested = 0
        problems: list[str] = []
        sample = _sample(grouped, DIF_SAMPLE, seed, grouped.groups[group])
        subset = _subset(grouped, sample)
        for sub in inst.subscales:
            if len(sub.items) < 3:
                continue
            try:
                found = dif(inst, subset, group, scale=sub.id, matching="rest").items
            except (AnalysisError, np.linalg.LinAlgError) as exc:
                problems.append(f"{sub.id}: {exc}")
                continue
            tested += len(found)
            important = found[
                found["flagged"] & found["size_jodoin_gierl"].isin(["moderate", "large"])
            ]
            flagged.extend(str(i) for i in important.index)
        dif_ok: bool | None = None if tested == 0 else not flagged
        rows.append(
            {
                "property": f"differential item functioning ({group})",
                "criterion": "no item with moderate or large DIF (ΔR² ≥ .035, Holm p < .01)",
                "value": (
                    f"{len(flagged)} of {tested} items"
                    + (f": {', '.join(flagged)}" if flagged else "")
                    if tested
                    else "not computable"
                ),
                "rating": _rating(dif_ok),
                "basis": "ordinal logistic regression on the rest score"
                + (
                    f", a seeded sample of at most {DIF_SAMPLE} per group"
                    if len(sample) < n
                    else ""
                )
                + (f"; {'; '.join(problems)}" if problems else ""),
            }
        )
    for wave in waves:
        if people is None or wave not in responses.groups.columns:
            continue
        rows.append(_wave_invariance(inst, responses, wave, people, min_cell, seed))
    rows.append(
        {
            "property": "test–retest reliability, measurement error",
            "criterion": "ICC ≥ .70; SDC smaller than the minimal important change",
            "value": "not assessable" if not waves else "see the wave comparison",
            "rating": "?",
            "basis": "needs repeated measurements of the same people"
            if not waves
            else f"waves: {', '.join(waves)}",
        }
    )
    b.add(
        "cosmin",
        "COSMIN evidence table",
        "cosmin",
        pd.DataFrame(rows),
        "Ratings: + sufficient, − insufficient, ? indeterminate (COSMIN). A rating summarizes "
        "this cohort's evidence only; it is not a validation of the instrument.",
    )


def _wave_invariance(
    inst: Instrument,
    responses: Responses,
    wave: str,
    people: np.ndarray,
    min_cell: int,
    seed: int,
) -> dict[str, object]:
    """The COSMIN row of measurement invariance across the waves of ``wave`` (same people)."""
    from analysis.stats._matrix import keyed_matrix
    from analysis.stats.longitudinal import longitudinal_invariance_model
    from surveytool.scoring.plan import ScoringPlan

    row: dict[str, object] = {
        "property": f"measurement invariance over time ({wave})",
        "criterion": "Chen (2007): ΔCFI ≥ −.010, ΔRMSEA ≤ .015, ΔSRMR ≤ .030/.010",
    }
    plan = ScoringPlan.build(inst)
    frame = pd.DataFrame(keyed_matrix(plan, responses.values), columns=list(plan.item_ids))
    frame["__wave"] = responses.groups[wave].to_numpy()
    frame["__person"] = people
    complete = frame.dropna()
    n_waves = complete["__wave"].nunique()
    seen = complete.groupby("__person")["__wave"].nunique()
    everyone = seen.index[seen == n_waves].to_numpy()
    if len(everyone) < max(min_cell, 1):
        row.update(
            value="not computable",
            rating="?",
            basis=f"{len(everyone)} people answered every item at every wave, fewer than the "
            f"minimum cell of {min_cell}",
        )
        return row
    rng = np.random.default_rng(seed)
    chosen = (
        everyone
        if len(everyone) <= WAVE_SAMPLE
        else rng.choice(everyone, WAVE_SAMPLE, replace=False)
    )
    factors = {sub.id: [plan.item_ids[j] for j in sub.columns] for sub in plan.subscales}
    try:
        inv = longitudinal_invariance_model(
            complete[complete["__person"].isin(chosen)],
            factors,
            "__wave",
            "__person",
            models=("configural", "metric", "scalar"),
        )
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        row.update(value="not computable", rating="?", basis=f"longitudinal CFA: {exc}")
        return row
    table = inv.table
    cfi_diff = table["cfi_diff"].astype(float)
    rmsea_diff = table["rmsea_diff"].astype(float)
    holds = bool(table.loc["metric", "holds_chen2007"]) and bool(
        table.loc["scalar", "holds_chen2007"]
    )
    basis = (
        f"longitudinal ML CFA over {len(inv.groups)} waves of {wave}, residuals of each item "
        f"correlated across waves, {len(chosen)} people seen at every wave"
    )
    if len(chosen) < len(everyone):
        basis += f" (a seeded sample of the {len(everyone)})"
    srmr_diff = table["srmr_diff"].astype(float)
    row.update(
        value=(
            f"ΔCFI metric {cfi_diff['metric']:+.3f}, scalar {cfi_diff['scalar']:+.3f}; "
            f"ΔRMSEA scalar {rmsea_diff['scalar']:+.3f}; ΔSRMR metric "
            f"{srmr_diff['metric']:+.3f}, scalar {srmr_diff['scalar']:+.3f}"
        ),
        rating=_rating(holds),
        basis=basis,
    )
    return row
