"""``cohort import`` against ``surveytool score`` on the same Parquet file (target: at most 2x).

Data: ``n`` respondents of the bundled PPAI 1.0.0 (58 items), 2% missing answers, 3% careless
responders, a three-group ``site`` column, simulated in runs of 500,000 (different seeds, ids made
unique) and written as one Parquet file. Timed, each in a fresh process (so each pays the same
start-up and its peak memory is its own, from ``wait4``):

- ``surveytool score FILE --id-column respondent_id`` (the baseline);
- ``surveytool cohort import FILE`` into a cohort file (``.parquet``, the ledger in its metadata);
- ``surveytool cohort import FILE`` into a cohort dataset (a folder, the ledger as its own dataset).

Printed: seconds and peak memory of each, and the ratio import / score (at most 2 is the target of
issue 18).

Usage: python -m benchmarks.bench_import [--quick]   (--quick: 100,000 respondents)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.common import run_fresh

TARGET_RATIO = 2.0


def make_source(path: Path, n: int) -> Path:
    """``n`` simulated PPAI respondents with a ``site`` column, one Parquet file."""
    import pandas as pd

    from surveytool.instrument.registry import load_instrument
    from surveytool.io.tables import write_table
    from surveytool.scoring.simulate import SimulationSpec, simulate

    inst = load_instrument("ppai@1.0.0")
    parts = []
    left, seed = n, 3
    while left > 0:
        rows = min(left, 500_000)
        spec = SimulationSpec(
            n=rows,
            seed=seed,
            missing=0.02,
            careless=0.03,
            group_column="site",
            groups=("north", "south", "east"),
            group_shift=0.2,
        )
        frame = simulate(inst, spec)
        frame["respondent_id"] = frame["respondent_id"].astype(str) + f"-{seed}"
        parts.append(frame)
        left -= rows
        seed += 1
    write_table(pd.concat(parts, ignore_index=True), path)
    return path


def run(n: int = 1_000_000) -> list[str]:
    exe = [sys.executable, "-m", "surveytool"]
    lines = [
        f"cohort import vs score: {n:,} respondents x 58 items (PPAI 1.0.0), one Parquet file, "
        f"each in a fresh process (target: import at most {TARGET_RATIO:g}x score)"
    ]
    folder = Path(tempfile.mkdtemp(prefix="bench_import_"))
    try:
        source = make_source(folder / "responses.parquet", n)
        keys = folder / "keys"
        keys.mkdir(mode=0o700)
        mapping = folder / "mapping.yaml"
        mapping.write_text("id_column: respondent_id\ngroups: [site]\n", "utf-8")
        score = [
            *exe,
            "score",
            str(source),
            "-i",
            "ppai@1.0.0",
            "--id-column",
            "respondent_id",
            "-o",
            str(folder / "scores.parquet"),
        ]
        results = {"score": run_fresh(score)}
        for form, out in (("file", "cohort.parquet"), ("dataset", "cohort")):
            command = [
                *exe,
                "cohort",
                "import",
                str(source),
                "-i",
                "ppai@1.0.0",
                "--map",
                str(mapping),
                "--key-file",
                str(keys / f"{form}.key"),
                "--engine",
                "memory",
                "-o",
                str(folder / out),
            ]
            results[form] = run_fresh(command)
        base, base_peak = results["score"]
        lines.append(f"  surveytool score: {base:.2f} s, peak {base_peak / 2**20:,.0f} MB")
        for form in ("file", "dataset"):
            seconds, peak = results[form]
            ratio = seconds / base
            state = "within" if ratio <= TARGET_RATIO else "ABOVE"
            lines.append(
                f"  cohort import into a cohort {form}: {seconds:.2f} s, peak "
                f"{peak / 2**20:,.0f} MB; import/score {ratio:.2f} ({state} the {TARGET_RATIO:g}x "
                "target)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return lines


if __name__ == "__main__":
    for line in run(100_000 if "--quick" in sys.argv else 1_000_000):
        print(line)
