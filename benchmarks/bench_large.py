"""``make bench-large``: a cohort larger than memory on Dask, with every process's peak memory.

Usage: python -m benchmarks.bench_large [--n 10000000] [--workers 2] [--memory-limit 2GB]
       [--partition-rows 250000] [--folder PATH] [--keep]     (make bench-large N=1000000)

Steps, on one dataset and one LocalCluster (``--workers`` processes, one thread each, limited to
``--memory-limit`` each), each printed with its time and the peak resident memory of each process
(the client, which also runs the LocalCluster's scheduler, and each worker) during that step:

1. *generate*: ``--n`` respondents of ``ppai@1.0.0`` (58 items), simulated partition by partition
   on the workers (:func:`surveytool.scoring.simulate.simulate`, seed 1000 + partition, ids
   ``R00000001`` ... numbered across partitions), each partition written as one Parquet file of
   ``--partition-rows`` rows: the cohort is never whole in memory;
2. *score on Dask*: :func:`surveytool.engine.scoring.write_scores` with the id column (the
   ``surveytool score --engine dask`` path): a scored Parquet dataset and its quarantine;
3. *in memory at 1M*: the first million rows as one Parquet file, read, scored and written by the
   in-memory path (``read_source``, ``score_responses``, ``write_table``) in a fresh process, for
   the throughput ratio (respondents per second on Dask / in memory);
4. further steps from other modules, when present: ``benchmarks/large_import.py`` (the cohort
   import on Dask), ``benchmarks/large_report.py`` (the cohort report on Dask) and
   ``benchmarks/large_norms.py`` (the cohort norms on Dask).

A further step is a module ``benchmarks/large_<name>.py`` (listed in :data:`STEPS`) with::

    def run(ctx: LargeRun) -> list[str]:
        seconds, result = ctx.timed("cohort import", lambda: ...)   # resets and reads peaks
        return [ctx.line("cohort import", seconds), *ctx.peak_lines()]

where ``ctx`` (:class:`LargeRun`) holds ``client`` (the :class:`distributed.Client`, Dask's
default scheduler during the step), ``dataset`` (the responses folder: ``respondent_id`` and
the 58 items, ``partition_rows`` rows per file), ``scores`` (the scored dataset of step 2),
``work`` (a scratch folder for the step's outputs), ``n``, ``instrument`` (``"ppai@1.0.0"``),
``workers``, ``memory_limit`` and ``partition_rows``; ``ctx.timed(name, fn)`` runs ``fn`` with
the peaks reset and records them, ``ctx.peak_lines()`` prints the last step's peaks,
``ctx.line(name, seconds)`` its time and throughput.

Peaks are Linux's ``VmHWM`` (the high-water mark of resident memory), reset before each step
through ``/proc/self/clear_refs``; elsewhere the lifetime peak (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTRUMENT = "ppai@1.0.0"
#: The modules of further steps, run in this order when present.
STEPS = ("benchmarks.large_import", "benchmarks.large_report", "benchmarks.large_norms")
BASELINE_ROWS = 1_000_000


def reset_peak() -> bool:
    """Reset this process's peak resident memory (Linux); False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_bytes() -> int:
    """This process's peak resident memory since the last :func:`reset_peak` (or its start)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


@dataclass
class LargeRun:
    """What a step of the large benchmark gets (see the module docstring)."""

    client: Any
    dataset: Path
    scores: Path
    work: Path
    n: int
    instrument: str
    workers: int
    memory_limit: str
    partition_rows: int
    last_peaks: dict[str, int] = field(default_factory=dict)

    def timed(self, name: str, fn: Callable[[], Any]) -> tuple[float, Any]:
        """Run ``fn`` with every process's peak reset; (seconds, its result)."""
        self.client.run(reset_peak)
        reset_peak()
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        peaks = {"client + scheduler": peak_bytes()}
        for i, (_, value) in enumerate(sorted(self.client.run(peak_bytes).items())):
            peaks[f"worker {i + 1}"] = int(value)
        self.last_peaks = peaks
        return seconds, result

    def peak_lines(self) -> list[str]:
        return [f"    peak memory, {who}: {_mb(value)}" for who, value in self.last_peaks.items()]

    def line(self, name: str, seconds: float, rows: int | None = None) -> str:
        rows = self.n if rows is None else rows
        return f"  {name}: {seconds:.1f} s, {rows / seconds:,.0f} respondents/s"


def _generate_part(index: int, rows: int, offset: int, folder: str) -> int:
    """Simulate one partition (its own seed) and write it as ``part-NNNNN.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.simulate import SimulationSpec, simulate

    inst = load_instrument(INSTRUMENT)
    frame = simulate(inst, SimulationSpec(n=rows, seed=1000 + index, missing=0.02))
    frame["respondent_id"] = [f"R{offset + k:08d}" for k in range(1, rows + 1)]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, Path(folder) / f"part-{index:05d}.parquet", row_group_size=rows)
    return rows


def generate(ctx: LargeRun) -> list[str]:
    sizes = []
    left = ctx.n
    while left > 0:
        sizes.append(min(ctx.partition_rows, left))
        left -= sizes[-1]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    ctx.dataset.mkdir(parents=True, exist_ok=True)

    def run() -> int:
        futures = ctx.client.map(
            _generate_part,
            range(len(sizes)),
            sizes,
            offsets,
            [str(ctx.dataset)] * len(sizes),
            pure=False,
        )
        return sum(ctx.client.gather(futures))

    seconds, rows = ctx.timed("generate", run)
    size = sum(p.stat().st_size for p in ctx.dataset.iterdir())
    return [
        ctx.line(f"generate {rows:,} x 58 in {len(sizes)} Parquet files ({_mb(size)})", seconds),
        *ctx.peak_lines(),
    ]


def score_on_dask(ctx: LargeRun) -> tuple[list[str], float]:
    from surveytool.engine import read_dataset
    from surveytool.engine.scoring import write_scores

    def run() -> Any:
        data = read_dataset(ctx.dataset, text_columns=["respondent_id"])
        return write_scores(ctx.instrument, data, ctx.scores, id_column="respondent_id")

    seconds, written = ctx.timed("score", run)
    return [
        ctx.line(f"score on Dask ({written.counts_line()}, {written.parts} parts)", seconds),
        *ctx.peak_lines(),
    ], seconds


def baseline(ctx: LargeRun) -> tuple[list[str], float]:
    """The in-memory path at 1M rows, in a fresh process (its own peak)."""
    rows = min(BASELINE_ROWS, ctx.n)
    parts = sorted(ctx.dataset.iterdir())
    need, total = [], 0
    for part in parts:
        if total >= rows:
            break
        need.append(str(part))
        total += ctx.partition_rows
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_large",
            "--baseline",
            str(rows),
            str(ctx.work),
            *need,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    seconds = float(found["seconds"])
    return [
        f"  in memory, {rows:,} rows (read_source, score_responses, write_table): {seconds:.1f} s, "
        f"{rows / seconds:,.0f} respondents/s",
        f"    peak memory, its process: {_mb(int(found['peak']))}",
    ], rows / seconds


def _baseline_child(rows: int, work: Path, parts: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from surveytool.instrument.registry import load_instrument
    from surveytool.io.sources import read_source
    from surveytool.io.tables import write_table
    from surveytool.scoring.engine import score_responses

    path = work / "baseline-1m.parquet"
    table = pa.concat_tables([pq.read_table(p) for p in parts]).slice(0, rows)
    pq.write_table(table, path)
    del table
    inst = load_instrument(INSTRUMENT)
    reset_peak()
    start = time.perf_counter()
    source = read_source(path, text_columns=["respondent_id"])
    result = score_responses(inst, source.frame, id_column="respondent_id")
    write_table(result.scores, work / "baseline-scores.parquet", result.provenance.as_metadata())
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak": peak_bytes(), "rows": result.rows_read}))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--baseline"]:
        _baseline_child(int(argv[1]), Path(argv[2]), argv[3:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_large")
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--partition-rows", type=int, default=250_000)
    parser.add_argument("--folder", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args(argv)
    from surveytool.engine import cluster

    work = Path(args.folder or tempfile.mkdtemp(prefix="surveytool-bench-large-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"bench-large: {args.n:,} respondents x 58 items ({INSTRUMENT}), {args.workers} workers "
        f"of 1 thread limited to {args.memory_limit} each, partitions of "
        f"{args.partition_rows:,} rows; work folder {work}"
    )
    try:
        with cluster(workers=args.workers, memory_limit=args.memory_limit) as client:
            ctx = LargeRun(
                client=client,
                dataset=work / "responses",
                scores=work / "scores.parquet",
                work=work,
                n=args.n,
                instrument=INSTRUMENT,
                workers=args.workers,
                memory_limit=args.memory_limit,
                partition_rows=args.partition_rows,
            )
            for line in generate(ctx):
                print(line, flush=True)
            lines, dask_seconds = score_on_dask(ctx)
            print("\n".join(lines), flush=True)
            lines, memory_rate = baseline(ctx)
            print("\n".join(lines), flush=True)
            dask_rate = args.n / dask_seconds
            print(
                f"  throughput, Dask at {args.n:,} / in memory at {min(args.n, BASELINE_ROWS):,}: "
                f"{dask_rate / memory_rate:.2f} (above 1: Dask scores more respondents per "
                "second)",
                flush=True,
            )
            for name in STEPS:
                if importlib.util.find_spec(name) is None:
                    print(f"  ({name} not present: step skipped)")
                    continue
                module = importlib.import_module(name)
                for line in module.run(ctx):
                    print(line, flush=True)
    finally:
        if not args.keep and args.folder is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main(sys.argv[1:]))
