"""Cold start of ``surveytool --help`` (target: at most 0.3 s), against bare ``python -c pass``.

Each run is a new process, so nothing is cached in the interpreter; the figure is the fastest of
several runs, which is the least disturbed by other work on the machine.
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import best_of


def run(repeat: int = 7) -> list[str]:
    def help_cmd() -> None:
        subprocess.run(
            [sys.executable, "-m", "surveytool", "--help"], check=True, capture_output=True
        )

    def bare() -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)

    ours = best_of(help_cmd, repeat)
    base = best_of(bare, repeat)
    return [
        f"cold start: `surveytool --help` {ours:.3f} s (target <= 0.3 s); bare `python -c pass` "
        f"{base:.3f} s; surveytool adds {ours - base:.3f} s ({ours / base:.1f}x the bare start)"
    ]
