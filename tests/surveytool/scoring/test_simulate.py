"""Synthetic respondents (surveytool.simulate and ``surveytool simulate``).

Instrument: tests/fixtures/scoring/cli.yaml: alpha = Q1..Q4 (Q4 reversed), beta = Q5..Q7 (Q7
reversed), all on a 1..5 scale with labels.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import surveytool
from surveytool.cli import cli
from surveytool.errors import ScoringError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.scoring.simulate import SimulationSpec, simulate
from tests.frames import num

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scoring"
INSTRUMENT = FIXTURES / "cli.yaml"
ITEMS = [f"Q{k}" for k in range(1, 8)]


@pytest.fixture(scope="module")
def inst() -> Instrument:
    return load_instrument(INSTRUMENT)


def run(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_same_seed_same_table_other_seed_differs(inst):
    spec = SimulationSpec(
        n=200, seed=11, missing=0.05, careless=0.1, group_column="g", groups=("a", "b")
    )
    a = simulate(inst, spec)
    b = simulate(inst, spec)
    pd.testing.assert_frame_equal(a, b)
    c = simulate(
        inst,
        SimulationSpec(
            n=200, seed=12, missing=0.05, careless=0.1, group_column="g", groups=("a", "b")
        ),
    )
    assert not a[ITEMS].equals(c[ITEMS])


def test_cli_same_seed_same_bytes(tmp_path):
    paths = {}
    for name, seed in (("one", 5), ("two", 5), ("other", 6)):
        out = tmp_path / f"{name}.csv"
        result = run(
            "simulate",
            INSTRUMENT,
            "--n",
            "300",
            "--seed",
            str(seed),
            "--missing",
            "0.05",
            "-o",
            out,
        )
        assert result.exit_code == 0, result.output
        paths[name] = out.read_bytes()
    assert paths["one"] == paths["two"]
    assert paths["one"] != paths["other"]


def test_columns_and_ids(inst):
    frame = simulate(inst, SimulationSpec(n=12, seed=1))
    assert list(frame.columns) == ["respondent_id", *ITEMS]
    assert frame["respondent_id"].tolist()[:2] == ["R0000001", "R0000002"]
    assert frame["respondent_id"].is_unique


def test_reverse_keyed_items_run_against_their_subscale(inst):
    frame = simulate(inst, SimulationSpec(n=4000, seed=2))
    r = frame[ITEMS].astype(float).corr()
    # raw answers: the reversed item correlates negatively with the other items of its subscale
    for other in ("Q1", "Q2", "Q3"):
        assert num(r, "Q4", other) < -0.1, (other, num(r, "Q4", other))
    for other in ("Q5", "Q6"):
        assert num(r, "Q7", other) < -0.1, (other, num(r, "Q7", other))
    # forward items of a subscale correlate positively
    assert num(r, "Q1", "Q2") > 0.1
    assert num(r, "Q5", "Q6") > 0.1
    # once reverse-scored (6 - x), the reversed item runs with its subscale
    keyed = frame[ITEMS].astype(float)
    keyed["Q4"] = 6 - keyed["Q4"]
    assert keyed.corr().loc["Q4", ["Q1", "Q2", "Q3"]].min() > 0.1


def test_answers_within_the_scale(inst):
    frame = simulate(inst, SimulationSpec(n=2000, seed=3, careless=0.3, careless_kind="mixed"))
    values = frame[ITEMS].astype(float).to_numpy()
    assert np.nanmin(values) >= 1 and np.nanmax(values) <= 5
    assert np.all(values == np.round(values))
    assert not np.isnan(values).any()  # no missing asked for
    # every point of the scale occurs
    assert set(np.unique(values)) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_missing_share_close_to_requested(inst):
    for share in (0.02, 0.2):
        frame = simulate(inst, SimulationSpec(n=3000, seed=4, missing=share))
        got = frame[ITEMS].isna().to_numpy().mean()
        # 21,000 cells: the binomial SD is at most 0.003; allow ±0.015
        assert abs(got - share) < 0.015, (share, got)


def test_careless_share_with_mark_careless(inst):
    frame = simulate(inst, SimulationSpec(n=3000, seed=5, careless=0.25, mark_careless=True))
    assert frame["simulated_careless"].dtype == bool
    assert abs(frame["simulated_careless"].mean() - 0.25) < 0.03
    assert "simulated_careless" not in simulate(inst, SimulationSpec(n=10, seed=5, careless=0.25))


def test_straightliners_answer_the_same_everywhere(inst):
    frame = simulate(
        inst,
        SimulationSpec(
            n=500, seed=6, careless=0.3, careless_kind="straightline", mark_careless=True
        ),
    )
    careless = frame[frame["simulated_careless"]]
    assert len(careless) > 50
    assert (careless[ITEMS].nunique(axis=1) == 1).all()
    # attentive respondents rarely give one answer to seven items, some of them reversed
    attentive = frame[~frame["simulated_careless"]]
    assert (attentive[ITEMS].nunique(axis=1) == 1).mean() < 0.2


def test_group_shift_moves_the_mean_in_its_direction(inst):
    for shift in (0.8, -0.8):
        frame = simulate(
            inst,
            SimulationSpec(
                n=3000, seed=7, group_column="grp", groups=("a", "b"), group_shift=shift
            ),
        )
        assert set(frame["grp"]) == {"a", "b"}
        scores = surveytool.score(inst, frame, id_column="respondent_id", group_columns=["grp"])
        means = scores.groupby("grp")[["alpha", "beta"]].mean()
        diff = means.loc["b"].astype(float) - means.loc["a"].astype(float)
        # keyed scores (reversed items reverse-scored) rise with the trait in group b
        assert (np.sign(diff) == np.sign(shift)).all(), (shift, diff.to_dict())
        assert (diff.abs() > 0.1).all()


def test_labels_option_scores_like_codes(inst):
    codes = simulate(inst, SimulationSpec(n=300, seed=8, missing=0.1))
    labels = simulate(inst, SimulationSpec(n=300, seed=8, missing=0.1, labels=True))
    assert set(labels["Q1"].dropna()) <= set(inst.response_scales["agree5"].labels.values())
    a = surveytool.score_responses(inst, codes, id_column="respondent_id")
    b = surveytool.score_responses(inst, labels, id_column="respondent_id")
    assert len(a.issues) == 0 and len(b.issues) == 0
    pd.testing.assert_frame_equal(a.scores, b.scores)


def test_short_form_simulation(inst):
    frame = simulate(inst, SimulationSpec(n=20, seed=9, form="short"))
    assert list(frame.columns) == ["respondent_id", "Q1", "Q2", "Q5", "Q6", "Q7"]


@pytest.mark.parametrize(
    "spec",
    [
        SimulationSpec(n=0),
        SimulationSpec(n=5, missing=1.0),
        SimulationSpec(n=5, careless=1.5),
        SimulationSpec(n=5, trait_correlation=1.0),
        SimulationSpec(n=5, trait_correlation=-1.0),  # 2 traits: must exceed -1/(2-1) = -1
        SimulationSpec(n=5, group_column="g", groups=("only",)),
    ],
)
def test_bad_specs_are_refused(inst, spec):
    with pytest.raises(ScoringError):
        simulate(inst, spec)


def test_cli_simulate_writes_the_file(tmp_path, inst):
    out = tmp_path / "sim.csv"
    result = run(
        "simulate", INSTRUMENT, "--n", "150", "--seed", "3", "--missing", "0.1",
        "--careless", "0.2", "--mark-careless", "--group-column", "arm", "--groups", "x,y,z",
        "--group-shift", "0.5", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote 150 simulated respondents of clifix 0.3.1 to {out}" in result.stdout
    frame = pd.read_csv(out)
    assert len(frame) == 150
    assert list(frame.columns) == ["respondent_id", "arm", *ITEMS, "simulated_careless"]
    assert set(frame["arm"]) == {"x", "y", "z"}
    # the file is what the library makes with the same options
    expected = simulate(
        inst,
        SimulationSpec(
            n=150, seed=3, missing=0.1, careless=0.2, mark_careless=True, group_column="arm",
            groups=("x", "y", "z"), group_shift=0.5,
        ),
    )  # fmt: skip
    np.testing.assert_array_equal(
        frame[ITEMS].to_numpy(dtype=float), expected[ITEMS].astype(float).to_numpy()
    )
    # and it scores through the CLI with no invalid cell
    scored = tmp_path / "scores.csv"
    result = run(
        "score", "-i", INSTRUMENT, out, "--id-column", "respondent_id", "--group-columns", "arm",
        "--ignore-columns", "simulated_careless", "-o", scored,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows read 150 = rows scored 150 + rows quarantined 0" in result.stdout
    assert not (tmp_path / "scores.quarantine.csv").exists()


@pytest.mark.parametrize("name", ["sim.parquet", "sim.jsonl", "sim.json", "sim.tsv"])
def test_cli_simulate_other_formats(tmp_path, name):
    out = tmp_path / name
    result = run("simulate", INSTRUMENT, "--n", "10", "--labels", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.stat().st_size > 0


def test_cli_simulate_errors_are_one_line(tmp_path):
    for args in (
        ["--trait-correlation", "1.5"],
        ["--form", "nope"],
    ):
        result = run("simulate", INSTRUMENT, "--n", "10", *args, "-o", tmp_path / "s.csv")
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ")
    assert not (tmp_path / "s.csv").exists()


def test_cli_simulate_subprocess(tmp_path):
    out = tmp_path / "sim.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "surveytool", "simulate", str(INSTRUMENT), "--n", "40", "--seed", "9",
         "-o", str(out)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 40


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--seed", "-1"], "seed"),
        (["--n", "2000000000"], "at most"),
        (["--group-column", "respondent_id"], "respondent_id"),
        (["--group-column", "Q3"], "Q3"),
        (["--group-column", "g", "--group-shift", "nan"], "group shift"),
        (["--group-column", "g", "--group-shift", "inf"], "group shift"),
        (["--trait-correlation", "nan"], "trait correlation"),
    ],
)
def test_cli_simulate_refuses_bad_arguments_before_any_work(tmp_path, args, says):
    # issue 12, findings 12 and 13: a negative seed was a numpy traceback, 2e9 respondents a
    # 209 GiB allocation, a group column named like the id column replaced the ids, and a NaN
    # shift made every answer 1
    out = tmp_path / "s.csv"
    result = run("simulate", INSTRUMENT, "--n", "10", *args, "-o", out)
    assert result.exit_code != 0, (args, result.output)
    assert "Traceback" not in result.output
    assert says in result.output, result.output
    assert len(result.output.strip().splitlines()) <= 3, result.output
    assert not out.exists()


def test_simulate_refuses_a_group_column_named_like_another_column(inst):
    for name in ("respondent_id", "Q1", "simulated_careless"):
        with pytest.raises(ScoringError, match=name):
            simulate(
                inst,
                SimulationSpec(n=5, group_column=name, groups=("a", "b"), mark_careless=True),
            )
