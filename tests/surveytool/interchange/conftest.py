"""Shared pieces of the interchange tests: simulated respondents with missing answers and
missing codes, our scores for them, and HL7's fhirpath.js run with Node as an independent oracle."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.scoring.engine import score
from surveytool.scoring.simulate import SimulationSpec, simulate

HERE = Path(__file__).parent
FIXTURES = HERE.parent.parent / "fixtures" / "interchange"
ORACLE = HERE / "fhirpath"
EVERY_FEATURE = FIXTURES / "every_feature.yaml"
#: The bundled inventory and the fixture that uses every feature of the format.
INSTRUMENTS = ("ppai", str(EVERY_FEATURE))


def answers(instrument: Instrument, n: int = 1000, seed: int = 7) -> pd.DataFrame:
    """``n`` simulated respondents: 25% of answers missing, 5% a declared missing code."""
    frame = simulate(instrument, SimulationSpec(n=n, seed=seed, missing=0.25))
    items = frame[[i.id for i in instrument.items]].astype("Float64")
    rng = np.random.default_rng(seed)
    for item in instrument.items:
        codes = list(instrument.response_scales[item.scale].missing_codes)
        if codes:
            pick = rng.random(n) < 0.05
            items.loc[pick, item.id] = rng.choice(codes, size=int(pick.sum()))
    return items


def our_scores(instrument: Instrument, items: pd.DataFrame) -> pd.DataFrame:
    return score(instrument, items)


def answer_dicts(items: pd.DataFrame) -> list[dict[str, int | None]]:
    return [
        {str(k): (None if pd.isna(v) else int(v)) for k, v in row.items()}
        for row in items.to_dict(orient="records")
    ]


def assert_same_scores(
    instrument: Instrument, ours: pd.DataFrame, theirs: list[dict[str, float | None]]
) -> None:
    """Their score is empty exactly where ours is insufficient, and equal elsewhere.

    Equal means within 1e-12 relative: fhirpath.js computes in decimal arithmetic and REDCap's
    formulas add in a different order than our matrix products, so the last binary digit may
    differ; in these fixtures (binary-fraction weights) every value turns out bit-identical,
    which the exact count checks.
    """
    assert len(theirs) == len(ours)
    insufficient = 0
    for scale_id in instrument.scored_ids():
        mine = ours[scale_id].to_numpy(dtype=float)
        other = np.array([np.nan if r[scale_id] is None else r[scale_id] for r in theirs])
        assert np.array_equal(np.isnan(mine), np.isnan(other)), scale_id
        both = ~np.isnan(mine)
        assert both.any(), f"{scale_id}: no respondent has a score; the test proves nothing"
        np.testing.assert_allclose(other[both], mine[both], rtol=1e-12, atol=0, err_msg=scale_id)
        insufficient += int(np.isnan(mine).sum())
    assert insufficient, "no score is insufficient anywhere; the test proves nothing about empties"


@pytest.fixture(scope="session")
def fhirpath_js() -> Path:
    """The oracle's script, with fhirpath.js installed from the lock file when it is missing."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are needed for the FHIRPath oracle: run `make fhirpath`")
    if not (ORACLE / "node_modules" / "fhirpath").is_dir():
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=ORACLE,
            check=True,
            capture_output=True,
        )
    return ORACLE / "evaluate.js"


def evaluate_fhirpath(
    script: Path, questionnaire: dict[str, object], responses: list[dict[str, object]]
) -> list[dict[str, list[float]]]:
    """Every calculated item of ``questionnaire`` over each response, evaluated by fhirpath.js."""
    done = subprocess.run(
        ["node", str(script)],
        input=json.dumps({"questionnaire": questionnaire, "responses": responses}),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, list[float]]] = json.loads(done.stdout)
    return result


@pytest.fixture(params=INSTRUMENTS, ids=["ppai", "every_feature"])
def instrument(request: pytest.FixtureRequest) -> Instrument:
    return load_instrument(request.param)
