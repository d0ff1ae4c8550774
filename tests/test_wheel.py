"""The wheel: built from the source tree, installed in a fresh venv, used from another folder.

Slow (it installs numpy, pandas, scipy... into a new venv, about a minute), but part of the default
suite: it is the only test that sees the package as users get it, with the bundled instruments
inside ``surveytool/_bundled_instruments`` rather than in the checkout's ``instruments/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Bundled files: ``<id>.yaml`` or ``<id>@<version>.yaml`` (older versions kept for re-scoring).
BUNDLED_FILES = sorted(p.stem for p in (ROOT / "instruments").glob("*.yaml"))
BUNDLED_IDS = sorted({stem.partition("@")[0] for stem in BUNDLED_FILES})

pytestmark = pytest.mark.slow


def _run(
    args: list[str | Path], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["COLUMNS"] = "200"
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT], cwd=out)
    (built,) = out.glob("surveytool-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv with the wheel (and its pinned dependencies) installed."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True, clear=True)
    bin_dir = env_dir / "bin"
    _run(
        [
            bin_dir / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            ROOT / "constraints.txt",
            wheel,
        ],
        cwd=env_dir,
    )
    return bin_dir


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "surveytool/cli/__init__.py" in names
    assert "surveytool/instrument/model.py" in names
    for stem in BUNDLED_FILES:
        assert f"surveytool/_bundled_instruments/{stem}.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "instruments/", "benchmarks/"))]
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    )
    assert b"surveytool = surveytool.entry:main" in entry_points


def test_installed_help(installed, tmp_path):
    proc = _run([installed / "surveytool", "--help"], cwd=tmp_path)
    assert "Usage: surveytool" in proc.stdout
    assert "instruments" in proc.stdout
    proc = _run([installed / "surveytool", "--version"], cwd=tmp_path)
    assert "surveytool" in proc.stdout


def test_installed_list_shows_bundled_instruments(installed, tmp_path):
    if "ppai" not in BUNDLED_IDS:
        pytest.skip("instruments/ppai.yaml is not written yet (it is being added in parallel)")
    proc = _run([installed / "surveytool", "instruments", "list"], cwd=tmp_path)
    for ident in BUNDLED_IDS:
        assert f"│ {ident} " in proc.stdout, proc.stdout
    proc = _run([installed / "surveytool", "instruments", "show", "ppai"], cwd=tmp_path)
    assert "R = reverse-keyed item" in proc.stdout


def test_installed_package_uses_its_own_bundled_folder(installed, tmp_path):
    code = (
        "from surveytool.instrument.registry import bundled_dir, bundled_paths; "
        "print(bundled_dir()); print(','.join(bundled_paths()))"
    )
    proc = _run([installed / "python", "-c", code], cwd=tmp_path)
    folder, ids = proc.stdout.strip().splitlines()
    assert Path(folder).name == "_bundled_instruments"
    assert "site-packages" in Path(folder).parts
    assert not Path(folder).is_relative_to(ROOT)
    assert ids.split(",") == (BUNDLED_IDS or [""])


def test_installed_validate_and_schema(installed, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        (ROOT / "tests" / "fixtures" / "instruments" / "minimal.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    proc = _run([installed / "surveytool", "instruments", "validate", good.name], cwd=tmp_path)
    assert proc.stdout.strip() == "good.yaml: ok"
    proc = _run([installed / "surveytool", "instruments", "schema"], cwd=tmp_path)
    assert '"$schema"' in proc.stdout
