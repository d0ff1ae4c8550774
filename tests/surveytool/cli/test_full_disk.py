"""A full disk: ``surveytool score -o`` on a real 64 KiB file system (a tmpfs in a private
mount namespace, :mod:`tests.tiny_disk`). The command says, in one line, which target could not
be written and why (no space left), exit status 1, and leaves no partial file, neither under the
target's name nor as a hidden temporary. ``clinic export`` is tested the same way in
``tests/surveytool/clinic/test_cli.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveytool.cli import cli
from tests.tiny_disk import SKIP_REASON, on_tiny_disk, tiny_disk_prefix

SURVEYTOOL = [sys.executable, "-m", "surveytool"]


def assert_no_space_reported(stderr: str, target: Path) -> None:
    """One ``error:`` line naming the target (not a temporary) and the lack of space."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {target}: "), stderr
    assert "no space left" in lines[0].lower(), stderr
    assert ".tmp" not in lines[0] and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("fill", [False, True], ids=["fills-up-while-writing", "already-full"])
def test_score_on_a_full_disk_says_so_and_leaves_nothing(tmp_path: Path, fill: bool) -> None:
    if tiny_disk_prefix() is None:
        pytest.skip(SKIP_REASON)
    responses = tmp_path / "r.csv"
    made = CliRunner().invoke(cli, ["simulate", "ppai", "--n", "3000", "-o", str(responses)])
    assert made.exit_code == 0, made.output  # the scores of 3000: about 800 KB, > 64 KiB
    disk = tmp_path / "disk"
    target = disk / "out.csv"
    run = on_tiny_disk(
        disk, [*SURVEYTOOL, "score", "-i", "ppai", str(responses), "-o", str(target)], fill=fill
    )
    assert run.code == 1, run.stderr
    assert_no_space_reported(run.stderr, target)
    assert run.files == {}  # no partial scores, no hidden temporary, no side file
