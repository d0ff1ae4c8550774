"""The full cohort report for 100,000 respondents (target ≤ 5 s, issue 18).

Data: ``surveytool simulate`` of the bundled PPAI 1.0.0 (58 items, 14 subscales, 2 composites), 2%
missing answers, 3% careless responders, a three-group ``site`` column; imported into a cohort
with :func:`analysis.import_cohort` (setup, not timed). Timed: ``build_cohort_report`` +
``write_report`` as ``surveytool cohort report COHORT --group site`` runs them: reading the
cohort, scoring, every table, suppression, the figures and the atomic write.

Each report runs in a fresh interpreter, timed from the outside, so the time includes what a
user of the command pays: starting Python and importing scipy, statsmodels, matplotlib. Besides
the wall time, the CPU time of that process (user + system, from ``getrusage`` of the finished
child): on a machine shared with other work the wall time measures the neighbours too, the CPU
time only the report (the report runs on one BLAS thread, so it is close to an idle machine's
wall time).

Baseline, in the same run: the same report without figures (``--no-figures``). The
statistics under the report have their own baselines against plain pandas (bench_scoring,
bench_analysis); what the report adds is layout, suppression and matplotlib, and the figures are
the one part whose cost does not shrink with a faster analysis API (it does not grow with N
either). The ratio says how much the figures add to the tables-only report.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_DEFAULT = 100_000
TARGET_SECONDS = 5.0


def _make_cohort(folder: Path, n: int) -> Path:
    import analysis
    from surveytool.instrument.registry import load_instrument
    from surveytool.io.tables import write_table
    from surveytool.scoring.simulate import SimulationSpec, simulate

    inst = load_instrument("ppai@1.0.0")
    spec = SimulationSpec(
        n=n,
        seed=3,
        missing=0.02,
        careless=0.03,
        group_column="site",
        groups=("north", "south", "east"),
        group_shift=0.2,
    )
    source = folder / "export.csv"
    write_table(simulate(inst, spec), source)
    cohort = folder / "cohort.parquet"
    analysis.import_cohort(
        source,
        inst,
        output=cohort,
        mapping={"id_column": "respondent_id", "groups": ["site"]},
        key_file=folder / "cohort.key",
    )
    return cohort


def _one_report(cohort: Path, output: Path, figures: bool) -> dict[str, object]:
    """Build and write one report in this process; the step times (what --progress shows)."""
    from analysis.report import build_cohort_report, write_report

    steps: dict[str, float] = {}
    current: list[tuple[str, float]] = []

    def progress(name: str) -> None:
        now = time.perf_counter()
        if current:
            steps[current[-1][0]] = now - current[-1][1]
        current.append((name, now))

    report = build_cohort_report(
        cohort, "ppai@1.0.0", groups=["site"], figures=figures, progress=progress
    )
    progress("writing")
    write_report(report, output)
    progress("done")
    return {"steps": steps, "tables": len(report.tables)}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fresh_process(
    cohort: Path, output: Path, *, figures: bool
) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU time of one report in a new interpreter (imports included, as the CLI pays
    them), and its steps."""
    command = [sys.executable, "-m", "benchmarks.bench_report", "--one", str(cohort), str(output)]
    if not figures:
        command.append("--no-figures")
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    return elapsed, _children_cpu() - cpu, json.loads(done.stdout.strip().splitlines()[-1])["steps"]


def run(n: int = N_DEFAULT) -> list[str]:
    lines = [
        f"cohort report: {n:,} respondents x 58 items (PPAI 1.0.0), one group column "
        f"(target <= {TARGET_SECONDS:.0f} s; each run in a fresh process, imports included)"
    ]
    with tempfile.TemporaryDirectory(prefix="surveytool-bench-report-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        cohort = _make_cohort(folder, n)
        lines.append(f"  setup (simulate + import, not timed): {time.perf_counter() - start:.1f} s")
        full, full_cpu, steps = _fresh_process(cohort, folder / "full", figures=True)
        baseline, baseline_cpu, _ = _fresh_process(cohort, folder / "tables", figures=False)
    verdict = "met" if full <= TARGET_SECONDS else "MISSED"
    lines.append(
        f"  full report (tables + figures): {full:.2f} s; baseline, the same without figures: "
        f"{baseline:.2f} s; ratio {full / baseline:.2f} (figures add "
        f"{full - baseline:.2f} s); target {verdict}"
    )
    lines.append(
        f"  CPU time (user + system): full report {full_cpu:.2f} s, without figures "
        f"{baseline_cpu:.2f} s; ratio {full_cpu / baseline_cpu:.2f}; target by CPU time "
        + ("met" if full_cpu <= TARGET_SECONDS else "MISSED")
    )
    lines.append(
        "  steps of the full report: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())
    )
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        result = _one_report(Path(sys.argv[2]), Path(sys.argv[3]), "--no-figures" not in sys.argv)
        print(json.dumps(result))
    else:
        size = int(sys.argv[1]) if len(sys.argv) > 1 else N_DEFAULT
        for line in run(size):
            print(line)
