"""The safety data files ship in the wheel and are found through importlib.resources there.

Slow: builds the wheel (no install; the dependencies come from the running environment).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ("surveytool/safety/resources.yaml", "surveytool/safety/support.yaml")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("surveytool-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in DATA:
        assert name in names, name
    target = tmp_path_factory.mktemp("site")
    zipfile.ZipFile(wheel).extractall(target)
    return target


def test_the_installed_package_finds_its_data(unpacked_wheel, tmp_path):
    code = (
        "import surveytool.safety as s, sys;"
        "assert s.__file__.startswith(sys.argv[1]), s.__file__;"
        "print(s.entry_for('GB').name, len(s.countries_for_chooser()),"
        " len(s.load_support_texts().right_now.steps))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["PYTHONPATH"] = str(unpacked_wheel)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(unpacked_wheel)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("United Kingdom ")
