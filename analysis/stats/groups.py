"""Group comparisons of subscale scores, with effect sizes and Holm's correction.

For each score column, the respondents with a score and a group value are compared:

two groups (in ``levels`` order; differences are first − second)
    ``welch_t`` (default), ``student_t``, ``mann_whitney``;
two or more groups
    ``welch_anova`` (default with three or more), ``anova``, ``kruskal``.

Effect sizes: Hedges' g with a noncentral-t interval (t tests), rank-biserial r (Mann–Whitney),
η² and ω² (one-way ANOVA), ε² (Kruskal–Wallis). Holm's correction runs across the scales, per
test (:func:`analysis.stats._adjust.holm`, statsmodels' ``multipletests`` numbers). Tests come from
scipy and statsmodels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._adjust import holm
from analysis.stats._forms import takes_responses
from analysis.stats._options import check_option
from analysis.stats._result import Result
from analysis.stats.scores import scale_ids
from analysis.stats.tables import ValueCounts
from surveytool.instrument.model import Instrument


class _AddTest(Protocol):
    def __call__(self, test: str, statistic: float, df1: float, df2: float, p: float) -> None: ...


class _AddEffect(Protocol):
    def __call__(self, effect: str, estimate: float, lo: float = ..., hi: float = ...) -> None: ...


def _row_adders(
    scale: str, test_rows: list[dict[str, object]], effect_rows: list[dict[str, object]]
) -> tuple[_AddTest, _AddEffect]:
    """The two row makers of one scale's tests and effects (the rows and the counts forms
    of :func:`compare_groups` fill the same tables)."""

    def add_test(test: str, statistic: float, df1: float, df2: float, p: float) -> None:
        test_rows.append(
            {"scale": scale, "test": test, "statistic": statistic, "df1": df1, "df2": df2, "p": p}
        )

    def add_effect(effect: str, estimate: float, lo: float = np.nan, hi: float = np.nan) -> None:
        effect_rows.append(
            {
                "scale": scale,
                "effect": effect,
                "estimate": estimate,
                "ci_lower": lo,
                "ci_upper": hi,
            }
        )

    return add_test, add_effect


Test = Literal["welch_t", "student_t", "mann_whitney", "welch_anova", "anova", "kruskal"]
TWO_GROUP_TESTS = ("welch_t", "student_t", "mann_whitney")
MANY_GROUP_TESTS = ("welch_anova", "anova", "kruskal")


@dataclass(frozen=True, repr=False)
class GroupComparison(Result):
    """Results of :func:`compare_groups`.

    ``descriptives`` (index: scale, group): ``n``, ``mean``, ``sd``.
    ``tests`` (index: scale, test): ``statistic``, ``df1``, ``df2`` (NaN when not applicable),
    ``p``, ``p_holm`` (Holm across the scales, per test).
    ``effects`` (index: scale, effect): ``estimate``, ``ci_lower``, ``ci_upper``.
    """

    descriptives: pd.DataFrame
    tests: pd.DataFrame
    effects: pd.DataFrame
    group: str
    levels: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        """``tests``: one row per scale and test."""
        return self.tests


def hedges_g(x: np.ndarray, y: np.ndarray, *, level: float = 0.95) -> tuple[float, float, float]:
    """Hedges' g = J·(x̄ − ȳ)/s_pooled and its interval.

    s_pooled with n₁ + n₂ − 2 degrees of freedom; J = Γ(df/2)/(√(df/2)·Γ((df − 1)/2)) (exact).
    Interval: the noncentrality parameters λ with P(T ≤ t | λ) = 1 − α/2 and α/2 for the observed
    t of Student's test, times √(1/n₁ + 1/n₂), times J.
    In R: ``effectsize::hedges_g(x, y, ci = 0.95)``.
    """
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return (np.nan, np.nan, np.nan)
    return hedges_g_from_moments(
        n1,
        float(np.mean(x)),
        float(np.var(x, ddof=1)),
        n2,
        float(np.mean(y)),
        float(np.var(y, ddof=1)),
        level=level,
    )


def hedges_g_from_moments(
    n1: int, mean1: float, var1: float, n2: int, mean2: float, var2: float, *, level: float = 0.95
) -> tuple[float, float, float]:
    """:func:`hedges_g` from each group's n, mean and variance (divisor n − 1)."""
    from scipy import optimize, special, stats

    df = n1 + n2 - 2
    if n1 < 2 or n2 < 2:
        return (np.nan, np.nan, np.nan)
    pooled = np.sqrt(((n1 - 1) * var1 + (n2 - 1) * var2) / df)
    d = (mean1 - mean2) / pooled
    scale = np.sqrt(1 / n1 + 1 / n2)
    t = d / scale
    j = float(
        np.exp(special.gammaln(df / 2) - np.log(np.sqrt(df / 2)) - special.gammaln((df - 1) / 2))
    )
    alpha = 1 - level

    def ncp_for(prob: float) -> float:
        def f(ncp: float) -> float:
            return float(stats.nct.cdf(t, df, ncp)) - prob

        # the interval for λ is about t ± z·√(1 + t²/(2df)); bracket generously around it
        width = 2.0 * (stats.norm.ppf(1 - alpha / 2) + 1.0) * np.sqrt(1 + t * t / (2 * df))
        return float(optimize.brentq(f, t - width, t + width, xtol=1e-12, rtol=1e-12))

    lower = ncp_for(1 - alpha / 2) * scale
    upper = ncp_for(alpha / 2) * scale
    return float(d * j), float(lower * j), float(upper * j)


def _anova_effects(groups: Sequence[np.ndarray]) -> tuple[float, float]:
    """η² = SS_between/SS_total and ω² = (SS_between − df_b·MS_within)/(SS_total + MS_within).

    A negative ω² (no effect beyond chance) is reported as 0, as ``effectsize::omega_squared``.
    """
    values = np.concatenate(groups)
    grand = values.mean()
    ss_total = float(np.sum((values - grand) ** 2))
    ss_between = float(sum(len(g) * (g.mean() - grand) ** 2 for g in groups))
    df_between = len(groups) - 1
    df_within = len(values) - len(groups)
    ms_within = (ss_total - ss_between) / df_within
    eta2 = ss_between / ss_total
    omega2 = (ss_between - df_between * ms_within) / (ss_total + ms_within)
    return eta2, max(omega2, 0.0)


@takes_responses("scores")
def compare_groups(
    scores: pd.DataFrame,
    group: str,
    scales: Sequence[str] | Instrument | None = None,
    *,
    levels: Sequence[str] | None = None,
    tests: Sequence[Test] | None = None,
    level: float = 0.95,
) -> GroupComparison:
    """Compare the groups of ``group`` on every score column.

    Parameters
    ----------
    scores
        A scores table with the group column (``score_responses(..., group_columns=[...])``).
    group
        The group column.
    scales
        The score columns, or the instrument (its subscale and composite ids).
    levels
        The groups to compare, in order (default: every value, sorted). Two-group differences are
        ``levels[0] − levels[1]``.
    tests
        Default ``("welch_t", "mann_whitney")`` for two groups and ``("welch_anova", "anova",
        "kruskal")`` for more; see the module docstring.
    level
        Confidence level of the intervals.

    Returns
    -------
    GroupComparison

    Notes
    -----
    Welch's t: ``scipy.stats.ttest_ind(equal_var=False)`` (R ``t.test``); Student's t
    (``var.equal = TRUE``); Mann–Whitney U with the normal approximation, tie and continuity
    corrections: ``scipy.stats.mannwhitneyu(method="asymptotic")`` (R ``wilcox.test(exact =
    FALSE)``; U is the first group's), rank-biserial r = 2U/(n₁n₂) − 1
    (``effectsize::rank_biserial``); one-way ANOVA ``scipy.stats.f_oneway`` (R ``oneway.test(var.equal
    = TRUE)``), Welch's ANOVA ``statsmodels.stats.oneway.anova_oneway(use_var="unequal")``
    (R ``oneway.test``), η², ω² (``effectsize::eta_squared``, ``omega_squared``);
    Kruskal–Wallis ``scipy.stats.kruskal`` (R ``kruskal.test``), ε² = H/(n − 1)
    (``effectsize::rank_epsilon_squared``).
    """
    from scipy import stats
    from statsmodels.stats.oneway import anova_oneway  # type: ignore[import-untyped]

    names = scale_ids(scores, scales)
    if group not in scores.columns:
        raise AnalysisError(f"the scores table has no column {group!r}")
    labels = scores[group].astype("string")
    chosen = tuple(levels) if levels is not None else tuple(sorted(labels.dropna().unique()))
    wanted = _wanted(group, chosen, tests)

    desc_rows: list[dict[str, object]] = []
    test_rows: list[dict[str, object]] = []
    effect_rows: list[dict[str, object]] = []
    in_group = {g: (labels == g).fillna(False).to_numpy(dtype=bool) for g in chosen}  # once
    for scale in names:
        values = pd.to_numeric(scores[scale], errors="coerce").to_numpy(dtype=np.float64)
        samples = []
        for g in chosen:
            mask = in_group[g] & ~np.isnan(values)
            sample = values[mask]
            samples.append(sample)
            desc_rows.append(
                {
                    "scale": scale,
                    "group": g,
                    "n": len(sample),
                    "mean": float(sample.mean()) if len(sample) else np.nan,
                    "sd": float(sample.std(ddof=1)) if len(sample) > 1 else np.nan,
                }
            )
        enough = all(len(s) >= 2 for s in samples)

        add_test, add_effect = _row_adders(scale, test_rows, effect_rows)

        for test in wanted:
            if not enough:
                add_test(test, np.nan, np.nan, np.nan, np.nan)
                continue
            if test in ("welch_t", "student_t"):
                x, y = samples
                res = stats.ttest_ind(x, y, equal_var=test == "student_t")
                add_test(test, float(res.statistic), float(res.df), np.nan, float(res.pvalue))
                if not any(e["scale"] == scale and e["effect"] == "hedges_g" for e in effect_rows):
                    add_effect("hedges_g", *hedges_g(x, y, level=level))
            elif test == "mann_whitney":
                x, y = samples
                mwu = stats.mannwhitneyu(
                    x, y, alternative="two-sided", method="asymptotic", use_continuity=True
                )
                u = float(mwu.statistic)
                add_test(test, u, np.nan, np.nan, float(mwu.pvalue))
                add_effect("rank_biserial", 2.0 * u / (len(x) * len(y)) - 1.0)
            elif test == "anova":
                aov = stats.f_oneway(*samples)
                df1 = len(samples) - 1
                df2 = sum(len(s) for s in samples) - len(samples)
                add_test(test, float(aov.statistic), df1, df2, float(aov.pvalue))
                eta2, omega2 = _anova_effects(samples)
                add_effect("eta2", eta2)
                add_effect("omega2", omega2)
            elif test == "welch_anova":
                data = np.concatenate(samples)
                codes = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
                res = anova_oneway(data, codes, use_var="unequal", welch_correction=True)
                welch_df1, welch_df2 = (float(v) for v in res.df)
                add_test(test, float(res.statistic), welch_df1, welch_df2, float(res.pvalue))
            elif test == "kruskal":
                kw = stats.kruskal(*samples)
                n_total = sum(len(s) for s in samples)
                h = float(kw.statistic)
                add_test(test, h, len(samples) - 1, np.nan, float(kw.pvalue))
                add_effect("epsilon2", h / (n_total - 1))

    return _comparison(desc_rows, test_rows, effect_rows, wanted, group, chosen)


def _wanted(group: str, chosen: Sequence[str], tests: Sequence[Test] | None) -> tuple[str, ...]:
    if len(chosen) < 2:
        raise AnalysisError(f"column {group!r} needs at least two groups to compare")
    default = ("welch_t", "mann_whitney") if len(chosen) == 2 else MANY_GROUP_TESTS
    wanted: tuple[str, ...] = tuple(tests) if tests is not None else default
    for name in wanted:
        check_option("tests", name, Test)
        if name in TWO_GROUP_TESTS and len(chosen) != 2:
            raise AnalysisError(f"{name} compares exactly two groups; {group!r} has {len(chosen)}")
    return wanted


def _comparison(
    desc_rows: list[dict[str, object]],
    test_rows: list[dict[str, object]],
    effect_rows: list[dict[str, object]],
    wanted: Sequence[str],
    group: str,
    chosen: tuple[str, ...],
) -> GroupComparison:
    tests_table = pd.DataFrame(test_rows, columns=["scale", "test", "statistic", "df1", "df2", "p"])
    tests_table["p_holm"] = np.nan
    for test in wanted:
        rows = (tests_table["test"] == test) & tests_table["p"].notna()
        if rows.any():
            tests_table.loc[rows, "p_holm"] = holm(
                tests_table.loc[rows, "p"].to_numpy(dtype=np.float64)
            )
    effects_table = pd.DataFrame(
        effect_rows, columns=["scale", "effect", "estimate", "ci_lower", "ci_upper"]
    )
    return GroupComparison(
        descriptives=pd.DataFrame(desc_rows).set_index(["scale", "group"]),
        tests=tests_table.set_index(["scale", "test"]),
        effects=effects_table.set_index(["scale", "effect"]),
        group=group,
        levels=chosen,
    )


@dataclass(frozen=True)
class _Counted:
    """One group's scores as exact sums of its counted values (rational, so exactly rounded)."""

    values: np.ndarray
    counts: np.ndarray
    n: int
    total: Fraction
    mean: float
    var: float  # divisor n − 1
    centred: Fraction  # Σ (x − x̄)², exact

    @classmethod
    def of(cls, counted: ValueCounts) -> _Counted:
        weights = [int(c) for c in counted.counts]
        exact = [Fraction(float(v)) for v in counted.values]
        n = sum(weights)
        total = sum((c * v for c, v in zip(weights, exact, strict=True)), Fraction(0))
        mean = total / n if n else Fraction(0)
        square = sum(
            (c * (v - mean) ** 2 for c, v in zip(weights, exact, strict=True)), Fraction(0)
        )
        return cls(
            np.asarray(counted.values, dtype=np.float64),
            np.asarray(counted.counts, dtype=np.int64),
            n,
            total,
            float(mean) if n else np.nan,
            float(square / (n - 1)) if n > 1 else np.nan,
            square,
        )


def _midrank_sums(groups: Sequence[_Counted]) -> tuple[list[Fraction], int]:
    """Each group's sum of midranks in the pooled sample, and Σ (t³ − t) over the tied values."""
    pooled = np.unique(np.concatenate([g.values for g in groups]))
    per_group = np.zeros((len(groups), len(pooled)), dtype=np.int64)
    for k, g in enumerate(groups):
        per_group[k, np.searchsorted(pooled, g.values)] = g.counts
    ties = [int(t) for t in per_group.sum(axis=0)]
    before = 0
    twice_rank = []  # 2 × the midrank of each pooled value: 2·(before) + t + 1, an integer
    for t in ties:
        twice_rank.append(2 * before + t + 1)
        before += t
    sums = [
        Fraction(sum(int(c) * r for c, r in zip(row, twice_rank, strict=True)), 2)
        for row in per_group
    ]
    return sums, sum(t**3 - t for t in ties)


def compare_groups_from_counts(
    counts: Mapping[str, Mapping[str, ValueCounts]],
    group: str,
    levels: Sequence[str],
    *,
    tests: Sequence[Test] | None = None,
    level: float = 0.95,
) -> GroupComparison:
    """:func:`compare_groups` from the exact counts of each group's score values.

    ``counts[scale][level]``: the :class:`~analysis.stats.tables.ValueCounts` of the scores of
    the respondents of that group (merged over partitions: the whole cohort's). Scores take few
    distinct values, so the counts hold everything the tests need: means and variances exactly
    rounded (rational sums) for the t tests, the ANOVAs and Hedges' g; the midranks with ties of
    the pooled values for Mann–Whitney and Kruskal–Wallis (rank sums exact). The numbers equal
    those of :func:`compare_groups` on the rows within rounding (its sums are floating point).
    """
    from scipy import stats
    from statsmodels.stats.oneway import anova_generic

    chosen = tuple(levels)
    wanted = _wanted(group, chosen, tests)
    empty = ValueCounts(np.zeros(0), np.zeros(0, dtype=np.int64))
    desc_rows: list[dict[str, object]] = []
    test_rows: list[dict[str, object]] = []
    effect_rows: list[dict[str, object]] = []
    for scale, by_level in counts.items():
        groups = [_Counted.of(by_level.get(g, empty)) for g in chosen]
        for g, c in zip(chosen, groups, strict=True):
            desc_rows.append(
                {"scale": scale, "group": g, "n": c.n, "mean": c.mean, "sd": np.sqrt(c.var)}
            )
        enough = all(c.n >= 2 for c in groups)
        n_total = sum(c.n for c in groups)

        add_test, add_effect = _row_adders(scale, test_rows, effect_rows)

        for test in wanted:
            if not enough:
                add_test(test, np.nan, np.nan, np.nan, np.nan)
                continue
            if test in ("welch_t", "student_t"):
                x, y = groups
                res = stats.ttest_ind_from_stats(
                    x.mean, np.sqrt(x.var), x.n, y.mean, np.sqrt(y.var), y.n,
                    equal_var=test == "student_t",
                )  # fmt: skip
                df = _t_df(x, y, test == "student_t")
                add_test(test, float(res.statistic), df, np.nan, float(res.pvalue))
                if not any(e["scale"] == scale and e["effect"] == "hedges_g" for e in effect_rows):
                    add_effect("hedges_g", *hedges_g_from_moments(
                        x.n, x.mean, x.var, y.n, y.mean, y.var, level=level
                    ))  # fmt: skip
            elif test == "mann_whitney":
                x, y = groups
                (r1, _), tie = _midrank_sums(groups)
                u1 = r1 - Fraction(x.n * (x.n + 1), 2)
                u = max(u1, x.n * y.n - u1)
                n = x.n + y.n
                spread = np.sqrt(x.n * y.n / 12 * ((n + 1) - tie / (n * (n - 1))))
                with np.errstate(invalid="ignore", divide="ignore"):
                    z = float(u - Fraction(x.n * y.n, 2) - Fraction(1, 2)) / spread
                p = float(np.clip(2.0 * stats.norm.sf(z), 0.0, 1.0))
                add_test(test, float(u1), np.nan, np.nan, p)
                add_effect("rank_biserial", float(2 * u1 / (x.n * y.n) - 1))
            elif test == "anova":
                between, total = _sums_of_squares(groups)
                df1 = len(groups) - 1
                df2 = n_total - len(groups)
                with np.errstate(invalid="ignore", divide="ignore"):
                    within = total - between
                    f = (
                        float((between / df1) / (within / df2))
                        if within
                        else (np.inf if between else np.nan)
                    )
                add_test(test, f, df1, df2, float(stats.f.sf(f, df1, df2)))
                ms_within = (total - between) / df2
                eta2 = float(between / total) if total else np.nan
                omega2 = (
                    float((between - df1 * ms_within) / (total + ms_within)) if total else np.nan
                )
                add_effect("eta2", eta2)
                add_effect("omega2", max(omega2, 0.0) if not np.isnan(omega2) else omega2)
            elif test == "welch_anova":
                res = anova_generic(
                    np.array([c.mean for c in groups]),
                    np.array([c.var for c in groups]),
                    np.array([c.n for c in groups], dtype=np.float64),
                    use_var="unequal",
                    welch_correction=True,
                )
                welch_df1, welch_df2 = (float(v) for v in res.df)
                add_test(test, float(res.statistic), welch_df1, welch_df2, float(res.pvalue))
            elif test == "kruskal":
                sums, tie = _midrank_sums(groups)
                n = n_total
                h_raw = Fraction(12, n * (n + 1)) * sum(
                    (r * r / c.n for r, c in zip(sums, groups, strict=True)), Fraction(0)
                ) - 3 * (n + 1)
                correction = 1 - Fraction(tie, n**3 - n)
                h = float(h_raw / correction) if correction else np.nan
                add_test(test, h, len(groups) - 1, np.nan, float(stats.chi2.sf(h, len(groups) - 1)))
                add_effect("epsilon2", h / (n - 1))
    return _comparison(desc_rows, test_rows, effect_rows, wanted, group, chosen)


def _t_df(x: _Counted, y: _Counted, equal_var: bool) -> float:
    """The degrees of freedom of Student's (n₁ + n₂ − 2) or Welch's t (Welch–Satterthwaite)."""
    if equal_var:
        return float(x.n + y.n - 2)
    vx, vy = x.var / x.n, y.var / y.n
    with np.errstate(invalid="ignore", divide="ignore"):
        return float((vx + vy) ** 2 / (vx**2 / (x.n - 1) + vy**2 / (y.n - 1)))


def _sums_of_squares(groups: Sequence[_Counted]) -> tuple[Fraction, Fraction]:
    """(SS_between, SS_total) of the groups, exact."""
    n = sum(c.n for c in groups)
    grand = sum((c.total for c in groups), Fraction(0)) / n
    between = sum((c.n * (c.total / c.n - grand) ** 2 for c in groups), Fraction(0))
    within = sum((c.centred for c in groups), Fraction(0))
    return between, between + within
