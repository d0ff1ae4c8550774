"""The README's examples, run as a reader would copy them.

A reader copies the README's commands and code first; an example that names a scale the bundled
instrument lacks, an option that was renamed or a function that moved fails them at once (the
README once used a `fault_finding` scale that ppai 2.0.0 does not have). Here:

- every ``surveytool`` command line in a shell block names commands and options that exist
  (walked through the click groups, so a synopsis line such as ``accounts deactivate | ...``
  is checked for its first command);
- the researcher's workflow runs as written, in a fresh folder (the one edit it asks for, done
  as it says), and so do the Python blocks that follow it, on its files;
- the scoring block, the instrument example and the interchange commands run too.

The Spark and Ray blocks are checked for the names they use (neither library is a dependency);
the Dask block runs as the script it is (it starts a local cluster of its own).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
import yaml

from surveytool.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(lang: str | None = None) -> list[str]:
    found = [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text("utf-8"))]
    return [text for kind, text in found if lang is None or kind == lang]


def block_with(text: str, lang: str | None = None) -> str:
    """The one block that contains ``text`` (an example moved or renamed fails here)."""
    found = [b for b in blocks(lang) if text in b]
    assert len(found) == 1, f"README: {len(found)} block(s) contain {text!r}"
    return found[0]


def command_lines() -> list[str]:
    lines = []
    for text in blocks():
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if words and words[0] in ("surveytool", ".venv/bin/surveytool"):
                lines.append(line.split("#", 1)[0].strip())
    return lines


def test_every_command_line_names_commands_and_options_that_exist() -> None:
    lines = command_lines()
    assert len(lines) >= 25  # the README's shell examples are found at all
    for line in lines:
        words = shlex.split(line)[1:]
        command: click.Command = cli
        path = ["surveytool"]
        while isinstance(command, click.Group) and words:
            sub = command.get_command(click.Context(command), words[0])  # lazy groups too
            if sub is None:
                break
            command = sub
            path.append(words.pop(0))
        assert not isinstance(command, click.Group), f"README: {line!r}: no such command"
        known = {opt for param in command.params for opt in param.opts}
        for word in words:
            if word.startswith("--"):
                name = word.split("=", 1)[0]
                assert name in known, f"README: {line!r}: {' '.join(path)} has no {name}"


def run(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "surveytool", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def shell_commands(text: str) -> list[list[str]]:
    return [
        shlex.split(line.split("#", 1)[0])
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.fixture(scope="module")
def researcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The researcher's workflow, command by command, in a fresh folder."""
    folder = tmp_path_factory.mktemp("readme")
    text = block_with("surveytool cohort map-template", "sh")
    assert "edit mapping.yaml: list `site` under `groups:`" in text  # the edit done below
    for words in shell_commands(text):
        assert words[0] == "surveytool"
        run(words[1:], folder)
        if words[1:3] == ["cohort", "map-template"]:
            mapping = folder / "mapping.yaml"
            plan = yaml.safe_load(mapping.read_text("utf-8"))
            assert plan["drop"] == ["site"]  # as the README says: unknown columns under drop
            plan["groups"], plan["drop"] = ["site"], []
            mapping.write_text(yaml.safe_dump(plan, sort_keys=False), "utf-8")
    for name in ("cohort.parquet", "report/report.html", "norms.yaml"):
        assert (folder / name).exists(), name
    return folder


def test_the_researchers_python_runs_on_the_cohort_it_made(researcher: Path) -> None:
    import analysis
    import surveytool

    cohort_frame = analysis.open_cohort(researcher / "cohort.parquet").frame()
    namespace: dict[str, object] = {"cohort_frame": cohort_frame}
    exec(block_with("rel = analysis.reliability(instrument, responses)", "python"), namespace)
    rel = namespace["rel"]
    assert isinstance(rel, analysis.Reliability)
    assert rel.n_obs == len(cohort_frame) == 2000
    assert set(rel.summary().index) >= {s.id for s in surveytool.load_instrument("ppai").subscales}

    # the validation evidence: two waves of the same people for the longitudinal model
    again = pd.read_csv(researcher / "raw.csv", dtype=str)  # answers of wave 1 ...
    instrument = surveytool.load_instrument("ppai")
    later = surveytool.simulate(instrument, surveytool.SimulationSpec(n=len(cohort_frame), seed=2))
    items = [item.id for item in instrument.items]
    wave2 = cohort_frame.copy()
    wave2[items] = later[items].to_numpy()
    namespace["cohort_rows"] = pd.concat(
        [cohort_frame.assign(wave=1), wave2.assign(wave=2)], ignore_index=True
    )
    namespace["items_frame"] = again[items].head(5).astype(float)
    text = block_with("analysis.polychoric(instrument, responses)", "python")
    for statement in ast.parse(text).body:
        call = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None
        slow = _slow_call(call)
        if slow is None:
            exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
        else:  # minutes on 2,000 x 52: the call is checked to bind (its numbers: own tests)
            function, args, kwargs = slow
            evaluated = [
                eval(compile(ast.Expression(a), "README.md", "eval"), namespace) for a in args
            ]
            named = {
                k: eval(compile(ast.Expression(v), "README.md", "eval"), namespace)
                for k, v in kwargs.items()
            }
            inspect.signature(getattr(analysis, function)).bind(*evaluated, **named)
    fit = namespace["wlsmv"].fit  # type: ignore[attr-defined]
    assert {"chisq_scaled", "cfi_robust", "rmsea_robust"} <= set(fit.index)
    assert {"poly", "over_time", "grm"} <= set(namespace)


#: Calls of the README that take minutes here (they have golden tests of their own): the
#: function and the keyword that makes them slow.
SLOW = {("cfa", "missing"), ("measurement_invariance", "ordered")}


def _slow_call(node: ast.expr | None) -> tuple[str, list[ast.expr], dict[str, ast.expr]] | None:
    """``analysis.f(...)`` with a keyword of :data:`SLOW`, as (f, args, keywords), else None."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    kwargs = {k.arg: k.value for k in node.keywords if k.arg is not None}
    name = node.func.attr
    if not any((name, key) in SLOW for key in kwargs):
        return None
    return name, list(node.args), kwargs


def test_the_scoring_block_runs(tmp_path: Path) -> None:
    import surveytool

    raw = tmp_path / "raw.csv"
    run(["simulate", "ppai", "--n", "200", "--seed", "3", "-o", str(raw)], tmp_path)
    namespace: dict[str, object] = {"responses_frame": pd.read_csv(raw, dtype=str)}
    exec(block_with("result.counts_line()", "python"), namespace)
    assert len(namespace["scores"]) == 200  # type: ignore[arg-type]
    person = namespace["person"]
    assert isinstance(person, surveytool.PersonScores)
    assert {scale.id for scale in person.scales} >= {
        s.id for s in surveytool.load_instrument("ppai").subscales
    }


def test_the_instrument_example_is_valid_and_the_interchange_commands_run(tmp_path: Path) -> None:
    example = tmp_path / "example.yaml"
    example.write_text(block_with("id: example", "yaml"), "utf-8")
    run(["instruments", "validate", str(example)], tmp_path)

    text = block_with("instruments export ppai --to fhir", "sh")
    for words in shell_commands(text):
        if words[1:3] == ["instruments", "import"]:
            # someone else's file: here, our own exports of the lines above
            source = "ppai.json" if words[3].endswith(".json") else "ppai.csv"
            form = ["--form", "ppai"] if "--form" in words else []
            run(["instruments", "import", source, *form, "-o", words[-1]], tmp_path)
            run(["instruments", "validate", words[-1]], tmp_path)
        else:
            run(words[1:], tmp_path)
    for name in ("ppai.json", "ppai.csv", "ppai.xlsx", "theirs.yaml", "mood.yaml"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_the_dask_script_runs_as_written(tmp_path: Path) -> None:
    from surveytool.engine import cluster, read_dataset  # noqa: F401 - the names it imports

    folder = tmp_path / "responses"
    folder.mkdir()
    for part in range(2):
        raw = tmp_path / f"r{part}.csv"
        run(["simulate", "ppai", "--n", "300", "--seed", str(part), "-o", str(raw)], tmp_path)
        frame = pd.read_csv(raw, dtype=str)
        frame["respondent_id"] = frame["respondent_id"] + f"-{part}"
        frame.to_parquet(folder / f"part-{part}.parquet", index=False)
    script = tmp_path / "script.py"
    script.write_text(block_with('if __name__ == "__main__":', "python"), "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    assert done.returncode == 0, done.stderr
    scores = pd.read_parquet(tmp_path / "scores")
    assert len(scores) == 600


@pytest.mark.parametrize("needle", ["mapInPandas", "map_batches"])
def test_the_spark_and_ray_blocks_use_what_exists(needle: str) -> None:
    import surveytool

    text = block_with(needle, "python")
    assert "surveytool.score_frame(inst, " in text
    assert "surveytool.load_instrument(" in text
    frame = surveytool.simulate(surveytool.load_instrument("ppai"), surveytool.SimulationSpec(n=3))
    out = surveytool.score_frame(
        surveytool.load_instrument("ppai"), frame, id_column="respondent_id"
    )
    assert isinstance(out, pd.DataFrame) and len(out) == 3
