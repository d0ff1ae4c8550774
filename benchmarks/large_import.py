"""Step of ``make bench-large`` (:mod:`benchmarks.bench_large`): the cohort import on Dask.

The responses dataset of the run (``ctx.dataset``: ``respondent_id`` and the 58 PPAI items, one
Parquet file per partition) is imported by :func:`analysis.cohort.streaming.import_cohort_dask`
into a cohort dataset in ``ctx.work``, on the run's LocalCluster (``ctx.workers`` workers limited
to ``ctx.memory_limit`` each), then imported again (every row a duplicate: the ledger's hash join
on the whole cohort). Printed: the time and throughput of each, the peak memory of each process,
the counts line and the cohort's rows and files, each line as soon as it is known (a failure
of the second import is printed as such).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.bench_large import LargeRun


def run(ctx: LargeRun) -> list[str]:
    from analysis.cohort import open_cohort
    from analysis.cohort.streaming import import_cohort_dask

    keys = ctx.work / "keys"
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    out = ctx.work / "cohort"

    def once() -> Any:
        return import_cohort_dask(
            ctx.dataset,
            ctx.instrument,
            output=out,
            mapping={"id_column": "respondent_id"},
            key_file=keys / "cohort.key",
            partition_rows=ctx.partition_rows,
        )

    lines: list[str] = []

    def say(*texts: str) -> None:  # printed at once: a later failure does not lose them
        for text in texts:
            print(text, flush=True)
        lines.extend(texts)

    say(f"cohort import on Dask ({ctx.workers} workers, {ctx.memory_limit} each)")
    seconds, first = ctx.timed("cohort import", once)
    say(ctx.line("cohort import", seconds), *ctx.peak_lines(), f"    {first.report.counts_line()}")
    try:
        seconds, again = ctx.timed("cohort import again", once)
    except Exception as exc:  # e.g. KilledWorker: the figure is that it failed, and why
        say(
            f"  cohort import again (every row a duplicate): FAILED ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:300]})"
        )
    else:
        say(
            ctx.line("cohort import again (every row a duplicate)", seconds),
            *ctx.peak_lines(),
            f"    {again.report.counts_line()}",
        )
    cohort = open_cohort(out)
    say(
        f"    cohort: {cohort.rows:,} rows in {len(cohort.files)} files, ledger "
        f"{cohort.ledger.respondents:,} keys"
    )
    return []  # already printed, line by line
