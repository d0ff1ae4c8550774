"""``make bench``: every benchmark, printed as times and ratios against a baseline run here.

Usage: python -m benchmarks [--quick]   (--quick: 100,000 respondents instead of 1,000,000)
"""

from __future__ import annotations

import platform
import sys

from benchmarks import (
    bench_analysis,
    bench_import,
    bench_ordinal,
    bench_report,
    bench_scoring,
    bench_startup,
    bench_web,
    bench_wide,
)


def main(argv: list[str]) -> int:
    n = 100_000 if "--quick" in argv else 1_000_000
    print(f"surveytool benchmarks on {platform.machine()}, Python {platform.python_version()}")
    for line in bench_startup.run():
        print(line)
    for line in bench_scoring.run(n):
        print(line)
    for line in bench_analysis.run(n):
        print(line)
    for line in bench_import.run(n):
        print(line)
    for line in bench_wide.run(100_000 if "--quick" in argv else 1_000_000):
        print(line)
    for line in bench_ordinal.run(100_000):
        print(line)
    print("\n".join(bench_report.run(100_000)))  # the report's target is for 100,000 in both modes
    print("\n".join(bench_web.run()))  # 50 concurrent clients per kind, SQLite, one worker
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
