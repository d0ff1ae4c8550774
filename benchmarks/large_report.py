"""Step of ``make bench-large`` (:mod:`benchmarks.bench_large`): the cohort report on Dask.

The cohort that the import step wrote (``ctx.work / "cohort"``, :mod:`benchmarks.large_import`)
is reported with :func:`analysis.report.build_cohort_report` (``engine="dask"``, figures on) and
written with :func:`analysis.report.write_report`, as ``surveytool cohort report COHORT --engine
dask`` does, on the run's LocalCluster (``ctx.workers`` workers limited to ``ctx.memory_limit``
each). The reliability and item sums and the items' moments are reduced over the partitions;
the row-level sections run on a seeded sample (:data:`analysis.report.reduce.SAMPLE_ROWS`), which
the report's note says and this step prints. Printed: the time and throughput, the peak memory
of each process, the note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.report import CohortReport
    from benchmarks.bench_large import LargeRun


def run(ctx: LargeRun) -> list[str]:
    from analysis.report import build_cohort_report, write_report

    cohort = ctx.work / "cohort"
    lines = [f"cohort report on Dask ({ctx.workers} workers, {ctx.memory_limit} each)"]
    if not cohort.exists():
        return [*lines, f"  skipped: no cohort at {cohort} (the import step writes it)"]

    def once() -> CohortReport:
        report = build_cohort_report(cohort, ctx.instrument, engine="dask")
        write_report(report, ctx.work / "report")
        return report

    seconds, report = ctx.timed("cohort report", once)
    lines += [ctx.line("cohort report", seconds), *ctx.peak_lines()]
    lines.append(f"    {report.respondents:,} respondents, {len(report.tables)} tables")
    lines += [f"    note: {n}" for n in report.notes if "Dask" in n]
    return lines
