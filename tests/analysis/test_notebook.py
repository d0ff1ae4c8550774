"""notebooks/cohort_analysis.ipynb runs from top to bottom without an error (nbclient, real kernel).

The kernel is this interpreter: a kernelspec written to a temporary folder runs ``sys.executable
-m ipykernel_launcher``, so the notebook sees the same venv (the kernelspec ipykernel installs
says just ``python``, which depends on PATH). The notebook writes into its own working folder, a
temporary directory here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "cohort_analysis.ipynb"
KERNEL = "surveytool-test-python3"


def _kernel_manager(tmp_path: Path) -> KernelManager:
    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (surveytool test venv)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), "utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    # IPC sockets in the temporary folder: nothing listens on a TCP port while the test runs
    return KernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(tmp_path / "kernel-ipc"),
    )


def test_notebook_runs_without_errors(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]  # untyped upstream
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    work = tmp_path / "run"
    work.mkdir()
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path),
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors

    # it did what it says: a cohort, a norms-aware score table and a report
    assert (work / "cohort_analysis_output" / "cohort.parquet").is_file()
    assert (work / "cohort_analysis_output" / "report" / "report.html").is_file()
    text = "".join(
        str(out.get("text", "")) + json.dumps(out.get("data", {}))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "fault_finding_percentile" in text
    assert "parallel analysis suggests" in text
