"""Step of ``make bench-large`` (:mod:`benchmarks.bench_large`): cohort norms on Dask.

The cohort that the import step wrote (``ctx.work / "cohort"``, :mod:`benchmarks.large_import`)
is normed with :func:`analysis.report.cohort_norms` (``engine="dask"``) and the block written
with :func:`analysis.norms_yaml`, as ``surveytool cohort norms COHORT --engine dask`` does, on
the run's LocalCluster. Each partition is scored and reduced to the exact counts of every score
value and the reliability sums (:func:`analysis.report.reduce.reduce_norms`); the people are
counted by a shuffle of the pseudonyms. Printed: the time and throughput, the peak memory of
each process, the entries and the most distinct values of a scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis import NormsResult
    from benchmarks.bench_large import LargeRun


def run(ctx: LargeRun) -> list[str]:
    from analysis import norms_yaml
    from analysis.report import cohort_norms

    cohort = ctx.work / "cohort"
    lines = [f"cohort norms on Dask ({ctx.workers} workers, {ctx.memory_limit} each)"]
    if not cohort.exists():
        return [*lines, f"  skipped: no cohort at {cohort} (the import step writes it)"]

    def once() -> NormsResult:
        result = cohort_norms(cohort, ctx.instrument, engine="dask")
        (ctx.work / "norms.yaml").write_text(norms_yaml(result.norms), "utf-8")
        return result

    seconds, result = ctx.timed("cohort norms", once)
    lines += [ctx.line("cohort norms", seconds), *ctx.peak_lines()]
    widest = max(len(e.percentiles) for e in result.norms.entries)
    lines.append(
        f"    {len(result.norms.entries)} entries, n = {result.norms.entries[0].n:,}; "
        f"at most {widest} percentile points per entry"
    )
    return lines
