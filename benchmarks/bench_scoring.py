"""Scoring 1,000,000 respondents x 40 items in 8 subscales (issue: at most 0.3 s in memory).

Data: the graded response model of ``surveytool.simulate`` (2% missing, reverse keys), scored with
mean, min_answered 0.6. Three figures, each with a baseline run in the same process:

1. the kernel ``score_matrix`` on the validated matrix, against a straightforward pandas
   implementation (per subscale: reverse with ``min + max - x``, ``count``, ``mean(axis=1)``);
2. the whole public path ``surveytool.score_responses`` on a DataFrame (validation of every cell,
   bands, status, critical flags), against the same pandas baseline;
3. a 1,000,000-row Parquet file to a written Parquet result (read, validate, score, write),
   against pandas reading and writing the same file without scoring.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import bench_instrument, best_of, report
from surveytool.instrument.model import Instrument
from surveytool.io.sources import read_source
from surveytool.io.tables import write_table
from surveytool.responses import read_responses
from surveytool.scoring.engine import score_responses
from surveytool.scoring.kernel import score_matrix
from surveytool.scoring.plan import ScoringPlan
from surveytool.scoring.simulate import SimulationSpec, simulate


def pandas_baseline(inst: Instrument, frame: pd.DataFrame) -> pd.DataFrame:
    """The straightforward pandas way: per subscale, reverse, count answered, mean."""
    out = {}
    for sub in inst.subscales:
        block = frame[list(sub.items)].astype("float64")
        for item_id in sub.items:
            item = inst.item_by_id[item_id]
            if item.reverse:
                scale = inst.response_scales[item.scale]
                block[item_id] = scale.min + scale.max - block[item_id]
        count = block.count(axis=1)
        needed = int(np.ceil(0.6 * len(sub.items)))
        out[sub.id] = block.mean(axis=1).where(count >= needed)
    return pd.DataFrame(out)


def run(n: int = 1_000_000) -> list[str]:
    inst = bench_instrument()
    frame = simulate(inst, SimulationSpec(n=n, seed=1, missing=0.02))
    items = frame[[i.id for i in inst.items]].astype("float64")
    lines = [
        f"scoring: {n:,} respondents x {len(inst.items)} items, {len(inst.subscales)} "
        "subscales (mean, min_answered 0.6, reverse keys, 2% missing)"
    ]

    plan = ScoringPlan.build(inst)
    validated = read_responses(inst, items)
    ours = best_of(lambda: score_matrix(plan, validated.values))
    base = best_of(lambda: pandas_baseline(inst, items), repeat=5)
    lines.append("  " + report("kernel score_matrix", ours, base, "pandas baseline"))

    # agreement of the two, so the comparison is of equal work
    kernel = score_matrix(plan, validated.values).score
    baseline = pandas_baseline(inst, items)
    worst = max(
        float(np.nanmax(np.abs(kernel[s.id] - baseline[s.id].to_numpy()))) for s in inst.subscales
    )
    lines.append(f"  max |kernel - pandas| = {worst:.3g}")

    full = best_of(lambda: score_responses(inst, items), repeat=5)
    lines.append(
        "  " + report("score_responses (validate + score + table)", full, base, "pandas baseline")
    )

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "responses.parquet"
        target = Path(tmp) / "scores.parquet"
        write_table(frame, source)

        def file_to_file() -> None:
            result = score_responses(
                inst,
                read_source(source, text_columns=["respondent_id"]).frame,
                id_column="respondent_id",
            )
            write_table(result.scores, target, metadata=result.provenance.as_metadata())

        def copy_only() -> None:
            pd.read_parquet(source).to_parquet(Path(tmp) / "copy.parquet")

        ours_file = best_of(file_to_file, repeat=2)
        base_file = best_of(copy_only, repeat=2)
        ratio = ours_file / base_file
        lines.append(
            f"  Parquet file -> scored Parquet file: {ours_file:.3f} s; pandas read+write of "
            f"the same file without scoring: {base_file:.3f} s (scoring adds {ratio:.2f}x)"
        )
    return lines
