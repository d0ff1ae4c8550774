"""Score descriptives, intercorrelations and group comparisons against R.

Scores: surveytool's ``mean`` scores of the simulated instrument (= psych::scoreItems, see
tests/test_scoring_vs_r.py). Expected numbers: ``Rscript tests/golden/make_golden_analysis.R``
(tests/golden/analysis/sim_score_*.csv, sim_groups_*.csv). Tolerance 1e-4 for correlations and
group tests (achieved ~1e-10), 1e-6 for the descriptives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
import surveytool
from analysis.errors import AnalysisError
from analysis.stats.groups import hedges_g
from surveytool.instrument.load import load_path
from tests.frames import num

ANALYSIS = Path(__file__).resolve().parents[2] / "golden" / "analysis"
SCALES = ["calm", "drive", "ease"]
TOL = 1e-4


def test_describe_scores_matches_psych(sim_scored: surveytool.ScoreResult) -> None:
    scored = sim_scored
    got = analysis.describe_scores(scored.scores, SCALES)
    # R: psych::describe(scores, type = 3)
    expected = pd.read_csv(ANALYSIS / "sim_score_describe.csv", index_col="id")
    for column in expected.columns:
        np.testing.assert_allclose(
            got[column].to_numpy(float),
            expected[column].to_numpy(float),
            rtol=1e-6,
            atol=1e-6,
            err_msg=f"psych::describe(scores, type = 3)${column}",
        )
    # R: psych::describe(scores)["calm", "mean"] -> 4.1358585858585855
    assert got.loc["calm", "mean"] == pytest.approx(4.1358585858585855, abs=1e-12)


def test_score_correlations_match_corr_test(sim_scored: surveytool.ScoreResult) -> None:
    scored = sim_scored
    inst = load_path(ANALYSIS / "sim.yaml")
    rel = analysis.reliability(inst, scored.responses)
    got = analysis.score_correlations(scored.scores, SCALES, reliabilities=rel)
    expected = pd.read_csv(ANALYSIS / "sim_score_correlations.csv")
    assert got.pairs[["scale_x", "scale_y"]].values.tolist() == (
        expected[["scale_x", "scale_y"]].values.tolist()
    )
    calls = {
        "r": "psych::corr.test(scores, adjust = 'holm')$r",
        "n": "psych::corr.test(scores)$n",
        "p": "psych::corr.test(scores)$p (below the diagonal: unadjusted)",
        "p_holm": "psych::corr.test(scores, adjust = 'holm')$p (above the diagonal)",
        "ci_lower": "psych::corr.test(scores)$ci$lower",
        "ci_upper": "psych::corr.test(scores)$ci$upper",
        "disattenuated": "r / sqrt(alpha_x * alpha_y), alpha = psych::alpha(x)$total$raw_alpha",
    }
    for column, call in calls.items():
        # R: see calls[column]
        np.testing.assert_allclose(
            got.pairs[column].to_numpy(float),
            expected[column].to_numpy(float),
            rtol=TOL,
            atol=1e-12,
            err_msg=call,
        )
    # R: psych::corr.test(scores)$r["calm", "drive"] -> 0.35614...; the matrix is symmetric
    assert num(got.matrix, "calm", "drive") == num(got.matrix, "drive", "calm")
    assert got.disattenuated.loc["calm", "calm"] == 1.0


def test_two_groups_match_r(sim_scored: surveytool.ScoreResult) -> None:
    scored = sim_scored
    got = analysis.compare_groups(
        scored.scores, "sex", SCALES, tests=["welch_t", "student_t", "mann_whitney"]
    )
    assert got.levels == ("f", "m")
    expected = pd.read_csv(ANALYSIS / "sim_groups_two.csv", index_col="scale")
    tests = got.tests
    effects = got.effects

    def col(test: str, field: str) -> np.ndarray:
        out: np.ndarray = tests.xs(test, level="test").loc[SCALES, field].to_numpy(float)
        return out

    def eff(effect: str, field: str) -> np.ndarray:
        out: np.ndarray = effects.xs(effect, level="effect").loc[SCALES, field].to_numpy(float)
        return out

    checks = [
        # (ours, R's column, the R call)
        (col("welch_t", "statistic"), "welch_t", "t.test(y ~ sex)$statistic"),
        (col("welch_t", "df1"), "welch_df", "t.test(y ~ sex)$parameter"),
        (col("welch_t", "p"), "welch_p", "t.test(y ~ sex)$p.value"),
        (col("welch_t", "p_holm"), "welch_p_holm", "p.adjust(welch_p, 'holm')"),
        (col("student_t", "statistic"), "student_t", "t.test(y ~ sex, var.equal = TRUE)"),
        (col("student_t", "p"), "student_p", "t.test(y ~ sex, var.equal = TRUE)$p.value"),
        (col("mann_whitney", "statistic"), "mw_u", "wilcox.test(y ~ sex, exact = FALSE)$statistic"),
        (col("mann_whitney", "p"), "mw_p", "wilcox.test(y ~ sex, exact = FALSE)$p.value"),
        (col("mann_whitney", "p_holm"), "mw_p_holm", "p.adjust(mw_p, 'holm')"),
        (eff("hedges_g", "estimate"), "hedges_g", "effectsize::hedges_g(y ~ sex)$Hedges_g"),
        (eff("hedges_g", "ci_lower"), "g_ci_lower", "effectsize::hedges_g(y ~ sex)$CI_low"),
        (eff("hedges_g", "ci_upper"), "g_ci_upper", "effectsize::hedges_g(y ~ sex)$CI_high"),
        (
            eff("rank_biserial", "estimate"),
            "rank_biserial",
            "effectsize::rank_biserial(y ~ sex)$r_rank_biserial",
        ),
    ]
    for ours, column, call in checks:
        # R: see call
        np.testing.assert_allclose(
            ours, expected[column].to_numpy(float), rtol=TOL, atol=1e-10, err_msg=call
        )
    desc = got.descriptives
    # R: table(sex[!is.na(score)])
    assert num(desc, ("drive", "f"), "n") == num(expected, "drive", "n_f") == 424
    # R: t.test(drive ~ sex)$statistic -> -4.3821734992112589
    assert tests.loc[("drive", "welch_t"), "statistic"] == pytest.approx(
        -4.3821734992112589, abs=1e-9
    )


def test_many_groups_match_r(sim_scored: surveytool.ScoreResult) -> None:
    scored = sim_scored
    got = analysis.compare_groups(scored.scores, "site", SCALES)
    assert got.levels == ("north", "south", "west")
    assert [t for t in got.tests.xs("calm").index] == ["welch_anova", "anova", "kruskal"]
    expected = pd.read_csv(ANALYSIS / "sim_groups_many.csv", index_col="scale")
    tests = got.tests
    effects = got.effects

    def col(test: str, field: str) -> np.ndarray:
        out: np.ndarray = tests.xs(test, level="test").loc[SCALES, field].to_numpy(float)
        return out

    def eff(effect: str) -> np.ndarray:
        out: np.ndarray = effects.xs(effect, level="effect").loc[SCALES, "estimate"].to_numpy(float)
        return out

    checks = [
        (col("anova", "statistic"), "anova_f", "oneway.test(y ~ site, var.equal = TRUE)$statistic"),
        (col("anova", "df2"), "anova_df2", "oneway.test(y ~ site, var.equal = TRUE)$parameter[2]"),
        (col("anova", "p"), "anova_p", "oneway.test(y ~ site, var.equal = TRUE)$p.value"),
        (col("anova", "p_holm"), "anova_p_holm", "p.adjust(anova_p, 'holm')"),
        (col("welch_anova", "statistic"), "welch_f", "oneway.test(y ~ site)$statistic"),
        (col("welch_anova", "df1"), "welch_df1", "oneway.test(y ~ site)$parameter[1]"),
        (col("welch_anova", "df2"), "welch_df2", "oneway.test(y ~ site)$parameter[2]"),
        (col("welch_anova", "p"), "welch_p", "oneway.test(y ~ site)$p.value"),
        (col("welch_anova", "p_holm"), "welch_p_holm", "p.adjust(welch_p, 'holm')"),
        (col("kruskal", "statistic"), "kw_h", "kruskal.test(y ~ site)$statistic"),
        (col("kruskal", "df1"), "kw_df", "kruskal.test(y ~ site)$parameter"),
        (col("kruskal", "p"), "kw_p", "kruskal.test(y ~ site)$p.value"),
        (col("kruskal", "p_holm"), "kw_p_holm", "p.adjust(kw_p, 'holm')"),
        (eff("eta2"), "eta2", "effectsize::eta_squared(aov(y ~ site), partial = FALSE)$Eta2"),
        (eff("omega2"), "omega2", "effectsize::omega_squared(aov(y ~ site), partial = FALSE)"),
        (eff("epsilon2"), "epsilon2", "effectsize::rank_epsilon_squared(y ~ site)"),
    ]
    for ours, column, call in checks:
        # R: see call
        np.testing.assert_allclose(
            ours, expected[column].to_numpy(float), rtol=TOL, atol=1e-10, err_msg=call
        )
    # R: aggregate(scores, list(site = site), mean, na.rm = TRUE)
    means = pd.read_csv(ANALYSIS / "sim_groups_site_means.csv", index_col="site")
    for scale in SCALES:
        np.testing.assert_allclose(
            got.descriptives.xs(scale, level="scale").loc[means.index, "mean"],
            means[scale],
            rtol=1e-12,
        )


def test_hedges_g_by_formula() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.5, 1, 40)
    y = rng.normal(0.0, 1, 35)
    g, lower, upper = hedges_g(x, y)
    df = 73
    pooled = np.sqrt((39 * x.var(ddof=1) + 34 * y.var(ddof=1)) / df)
    j = 1 - 3 / (4 * df - 1)  # the usual approximation of the exact J
    assert g == pytest.approx((x.mean() - y.mean()) / pooled * j, rel=1e-3)
    assert lower < g < upper


def test_group_errors_are_explained(sim_scored: surveytool.ScoreResult) -> None:
    scored = sim_scored
    with pytest.raises(AnalysisError, match="no column"):
        analysis.compare_groups(scored.scores, "nope", SCALES)
    with pytest.raises(AnalysisError, match="exactly two groups"):
        analysis.compare_groups(scored.scores, "site", SCALES, tests=["welch_t"])
    with pytest.raises(AnalysisError, match="at least two groups"):
        analysis.compare_groups(scored.scores, "site", SCALES, levels=["north"])
    with pytest.raises(AnalysisError, match="none of the scales"):
        analysis.describe_scores(scored.scores, ["absent"])


def test_holm_gives_statsmodels_numbers_with_ties_nan_and_ones() -> None:
    """The shared Holm adjustment (groups, score correlations, waves, DIF) is statsmodels'
    ``multipletests(method="holm")`` to the last digit, NaN kept out of m and in place."""
    from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

    from analysis.stats._adjust import holm

    rng = np.random.default_rng(5)
    for size in (1, 2, 7, 40):
        p = rng.uniform(0, 0.2, size) ** 2
        p[: size // 3] = p[0]  # ties
        if size > 2:
            p[-1] = 0.9  # adjusted beyond 1: clipped
        np.testing.assert_array_equal(holm(p), multipletests(p, method="holm")[1])
        with_nan = np.concatenate([[np.nan], p, [np.nan]])
        got = holm(with_nan)
        assert np.isnan(got[[0, -1]]).all()
        np.testing.assert_array_equal(got[1:-1], multipletests(p, method="holm")[1])
    assert holm(np.array([])).shape == (0,)
    assert np.isnan(holm(np.array([np.nan]))).all()
