"""Shared pieces of the benchmarks: timing and the synthetic 40-item, 8-subscale instrument."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from surveytool.instrument.model import Instrument


def best_of(fn: Callable[[], Any], repeat: int = 3, *, warmup: bool = True) -> float:
    """Fastest wall time of ``repeat`` runs (seconds): the least disturbed by other processes.

    With ``warmup`` one untimed run comes first, so the first timed run does not pay for the
    process's first large allocations (page faults of fresh memory, which on a 1M-row table cost
    more than the work itself and made a best of two runs depend on which function ran first).
    """
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_fresh(command: list[str]) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes) of ``command`` in a fresh process (from
    ``wait4``, so the peak is the command's own); its error output on a failure."""
    with tempfile.TemporaryFile() as errors:  # not a pipe: a full pipe would block the command
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {err[-2000:]}")
    return seconds, int(usage.ru_maxrss) * 1024


def bench_instrument(n_subscales: int = 8, per_subscale: int = 5) -> Instrument:
    """8 subscales x 5 items on a 1-5 scale, every other subscale with a reverse-keyed item,
    mean method, min_answered 0.6 (3 of 5)."""
    items = []
    subscales = []
    for s in range(n_subscales):
        ids = [f"S{s}I{i}" for i in range(per_subscale)]
        for i, item_id in enumerate(ids):
            items.append(
                {"id": item_id, "text": f"Item {item_id}", "scale": "likert5", "reverse": i == 0}
            )
        subscales.append(
            {
                "id": f"s{s}",
                "label": f"Subscale {s}",
                "items": ids,
                "method": "mean",
                "min_answered": 0.6,
            }
        )
    return Instrument.model_validate(
        {
            "id": "bench",
            "version": "1.0.0",
            "title": "Benchmark instrument",
            "response_scales": {"likert5": {"min": 1, "max": 5}},
            "items": items,
            "subscales": subscales,
        }
    )


def report(name: str, ours: float, baseline: float, baseline_name: str) -> str:
    ratio = baseline / ours if ours > 0 else float("inf")
    return (
        f"{name}: {ours:.3f} s; {baseline_name}: {baseline:.3f} s; "
        f"ratio baseline/ours {ratio:.2f} (above 1: faster than the baseline)"
    )
