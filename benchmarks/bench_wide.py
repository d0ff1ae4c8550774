"""Wide files: ``surveytool score`` and ``cohort import`` on 10**6 columns against the same cells
as a tall file (issue 12: "wide files handled in time linear in their cells").

Data: a CSV of an id column, the 52 items of the bundled PPAI (2.0.0) and ``extra`` columns that
match no item, over 5 rows of answers 1-5 (seeded); the baseline is a tall CSV of the same
number of cells, the id and the 52 items over as many rows as that takes. Linear in the cells,
the two cost about the same; a step that costs per column (a Series, a block, an insert, an issue
record, a mapping line each) shows as the ratio wide / tall.

Timed, each in a fresh process (its peak memory its own, from ``wait4``):

- ``surveytool score FILE --id-column pid`` on the wide file and on the tall one;
- ``surveytool cohort import FILE`` with a mapping naming the id column only (the 10**6 others
  are unmatched, reported by name), into a cohort file, on each.

Printed: seconds and peak memory of each, the ratios wide / tall (target: at most
:data:`TARGET_RATIO`), and the size of the files.

Usage: python -m benchmarks.bench_wide [--quick]   (--quick: 100,000 extra columns)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import run_fresh

TARGET_RATIO = 4.0
ROWS = 5


def _items() -> list[str]:
    from surveytool.instrument.registry import load_instrument

    return [item.id for item in load_instrument("ppai").items]


def write_csv(path: Path, names: list[str], answers: np.ndarray) -> Path:
    """A CSV of ``names`` over rows ``p0, p1, ...`` of ``answers`` (one column fewer: the id)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(names) + "\n")
        for r, row in enumerate(answers):
            handle.write(f"p{r}," + ",".join(map(str, row.tolist())) + "\n")
    return path


def make_sources(folder: Path, extra: int) -> tuple[Path, Path, int]:
    """The wide file, the tall file of the same cells, and that number of cells."""
    items = _items()
    rng = np.random.default_rng(12)
    width = 1 + len(items) + extra
    wide = write_csv(
        folder / "wide.csv",
        ["pid", *items, *(f"x{i}" for i in range(extra))],
        rng.integers(1, 6, size=(ROWS, width - 1)),
    )
    tall_rows = ROWS * width // (1 + len(items))
    tall = write_csv(
        folder / "tall.csv", ["pid", *items], rng.integers(1, 6, size=(tall_rows, len(items)))
    )
    return wide, tall, ROWS * width


def run(extra: int = 1_000_000) -> list[str]:
    exe = [sys.executable, "-m", "surveytool"]
    folder = Path(tempfile.mkdtemp(prefix="bench_wide_"))
    try:
        wide, tall, cells = make_sources(folder, extra)
        lines = [
            f"wide files: {ROWS} rows x {extra + 53:,} columns ({wide.stat().st_size / 2**20:,.0f}"
            f" MB) against {cells // 53:,} rows x 53 columns ({tall.stat().st_size / 2**20:,.0f}"
            f" MB), {cells:,} cells each, each command in a fresh process (target: wide at most "
            f"{TARGET_RATIO:g}x tall)"
        ]
        keys = folder / "keys"
        keys.mkdir(mode=0o700)
        mapping = folder / "mapping.yaml"
        mapping.write_text("instrument: ppai\nid_column: pid\n", "utf-8")

        def score(src: Path) -> list[str]:
            out = folder / f"{src.stem}.scores.csv"
            return [*exe, "score", str(src), "-i", "ppai", "--id-column", "pid", "-o", str(out)]

        def cohort_import(src: Path) -> list[str]:
            return [
                *exe, "cohort", "import", str(src), "-i", "ppai", "--map", str(mapping),
                "--key-file", str(keys / f"{src.stem}.key"), "--engine", "memory",
                "-o", str(folder / f"{src.stem}.cohort.parquet"),
            ]  # fmt: skip

        commands = {"score": score, "cohort import": cohort_import}
        for name, command in commands.items():
            base, base_peak = run_fresh(command(tall))
            seconds, peak = run_fresh(command(wide))
            ratio = seconds / base
            state = "within" if ratio <= TARGET_RATIO else "ABOVE"
            lines.append(
                f"  {name}: wide {seconds:.2f} s, peak {peak / 2**20:,.0f} MB; tall "
                f"{base:.2f} s, peak {base_peak / 2**20:,.0f} MB; wide/tall {ratio:.2f} "
                f"({state} the {TARGET_RATIO:g}x target), memory {peak / base_peak:.2f}x"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return lines


if __name__ == "__main__":
    for line in run(100_000 if "--quick" in sys.argv else 1_000_000):
        print(line)
