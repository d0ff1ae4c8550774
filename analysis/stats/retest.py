"""Repeated measures: within-person comparisons across waves and test–retest reliability.

The same people answer in several waves, so waves are no independent groups. For each pair of
consecutive waves (in ``levels`` order, differences later − earlier) and each score column, the
people with a score in both waves are compared:

- the paired t test (``scipy.stats.ttest_rel``; R ``t.test(x, y, paired = TRUE)``) and the
  Wilcoxon signed-rank test with the normal approximation and continuity correction
  (``scipy.stats.wilcoxon(method="approx", correction=True)``; R ``wilcox.test(y, x, paired =
  TRUE, exact = FALSE)``), zero differences dropped as R does;
- repeated-measures effect sizes: d_z = mean(d)/sd(d), and d_av = mean(d)/((sd₁ + sd₂)/2)
  (Lakens 2013), with the mean difference and its 95% t interval;
- test–retest reliability as intraclass correlations of the two waves (Shrout & Fleiss 1979, as
  ``psych::ICC``): ICC(A,1), two-way random, absolute agreement, single measure (psych's ICC2),
  and ICC(C,1), two-way mixed, consistency (psych's ICC3); and the standard error of
  measurement SEM = sd₁·√(1 − ICC(A,1)), in the scale's own units.

Holm's correction runs across the scales, per test and wave pair.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._adjust import holm
from analysis.stats._forms import takes_responses
from analysis.stats._result import Result
from analysis.stats.scores import scale_ids
from surveytool.instrument.model import Instrument


@dataclass(frozen=True, repr=False)
class WaveComparison(Result):
    """Results of :func:`compare_waves`.

    ``tests`` (index: scale, waves, test): ``n`` (people in both waves), ``statistic``, ``df``,
    ``p``, ``p_holm``. ``effects`` (index: scale, waves): ``n``, ``mean_first``, ``mean_second``,
    ``mean_diff``, ``ci_lower``, ``ci_upper``, ``d_z``, ``d_av``. ``retest`` (index: scale, waves):
    ``n``, ``icc_a1`` (absolute agreement), ``icc_c1`` (consistency), ``sem``.
    """

    tests: pd.DataFrame
    effects: pd.DataFrame
    retest: pd.DataFrame
    wave: str
    levels: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        """``tests``: one row per scale, wave pair and test."""
        return self.tests


def icc(ratings: np.ndarray) -> tuple[float, float]:
    """ICC(A,1) and ICC(C,1) of an n × k table of complete ratings (people × waves).

    From the two-way ANOVA mean squares: rows (people) MSR, columns (waves) MSC, residual MSE:
    ICC(A,1) = (MSR − MSE) / (MSR + (k − 1)·MSE + k·(MSC − MSE)/n) and
    ICC(C,1) = (MSR − MSE) / (MSR + (k − 1)·MSE). In R: ``psych::ICC(x)`` rows ICC2 and ICC3.
    """
    x = np.asarray(ratings, dtype=np.float64)
    n, k = x.shape
    if n < 2 or k < 2:
        return float("nan"), float("nan")
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_error = float(((x - grand) ** 2).sum()) - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    agreement = msr + (k - 1) * mse + k * (msc - mse) / n
    consistency = msr + (k - 1) * mse
    a1 = (msr - mse) / agreement if agreement > 0 else float("nan")
    c1 = (msr - mse) / consistency if consistency > 0 else float("nan")
    return float(a1), float(c1)


@takes_responses("scores")
def compare_waves(
    scores: pd.DataFrame,
    person: str,
    wave: str,
    scales: Sequence[str] | Instrument | None = None,
    *,
    levels: Sequence[str] | None = None,
    level: float = 0.95,
) -> WaveComparison:
    """Compare consecutive waves within person on every score column (see the module docstring).

    Parameters
    ----------
    scores
        One row per person and wave: the ``person`` column (pseudonyms), the ``wave`` column and
        the score columns.
    person, wave
        The columns that say who and when.
    scales
        The score columns, or the instrument (its subscale and composite ids).
    levels
        The waves in time order (default: every value, sorted).
    level
        Confidence level of the mean difference's interval.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"who": list("abcdab"), "wave": ["1"] * 4 + ["2"] * 2,
    ...                        "calm": [1.0, 2.0, 3.0, 4.0, 2.0, 2.5]})
    >>> compare_waves(scores, "who", "wave", ["calm"]).effects["n"].tolist()
    [2]
    """
    from scipy import stats

    for col in (person, wave):
        if col not in scores.columns:
            raise AnalysisError(f"the scores table has no column {col!r}")
    chosen = scale_ids(scores, scales)
    text = scores[wave].astype("string")
    waves = list(levels) if levels is not None else sorted(text.dropna().unique().tolist())
    if len(waves) < 2:
        raise AnalysisError(f"{wave!r} has fewer than two waves to compare")
    test_rows: list[dict[str, object]] = []
    effect_rows: list[dict[str, object]] = []
    retest_rows: list[dict[str, object]] = []
    for first, second in itertools.pairwise(waves):
        pair = f"{first} -> {second}"
        for scale in chosen:
            a = scores.loc[(text == first).fillna(False).to_numpy(), [person, scale]]
            b = scores.loc[(text == second).fillna(False).to_numpy(), [person, scale]]
            both = (
                a.dropna()
                .drop_duplicates(person)
                .merge(b.dropna().drop_duplicates(person), on=person, suffixes=("_1", "_2"))
            )
            x = both[f"{scale}_1"].to_numpy(dtype=np.float64)
            y = both[f"{scale}_2"].to_numpy(dtype=np.float64)
            n = len(x)
            d = y - x
            base: dict[str, object] = {"scale": scale, "waves": pair}
            t = df = p_t = w = p_w = np.nan
            mean_d = float(d.mean()) if n else np.nan
            sd_d = float(d.std(ddof=1)) if n > 1 else np.nan
            lower = upper = np.nan
            if n > 1 and sd_d > 0:
                result = stats.ttest_rel(y, x)
                t, p_t, df = float(result.statistic), float(result.pvalue), float(n - 1)
                half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd_d / np.sqrt(n)
                lower, upper = mean_d - half, mean_d + half
            if np.count_nonzero(d) > 0:
                signed = stats.wilcoxon(y, x, method="approx", correction=True)
                w, p_w = float(signed.statistic), float(signed.pvalue)
            test_rows.append(
                {**base, "test": "paired_t", "n": n, "statistic": t, "df": df, "p": p_t}
            )
            test_rows.append(
                {**base, "test": "wilcoxon", "n": n, "statistic": w, "df": np.nan, "p": p_w}
            )
            sd_x = float(x.std(ddof=1)) if n > 1 else np.nan
            sd_y = float(y.std(ddof=1)) if n > 1 else np.nan
            average_sd = (sd_x + sd_y) / 2
            effect_rows.append(
                {
                    **base,
                    "n": n,
                    "mean_first": float(x.mean()) if n else np.nan,
                    "mean_second": float(y.mean()) if n else np.nan,
                    "mean_diff": mean_d,
                    "ci_lower": lower,
                    "ci_upper": upper,
                    "d_z": mean_d / sd_d if n > 1 and sd_d > 0 else np.nan,
                    "d_av": mean_d / average_sd if n > 1 and average_sd > 0 else np.nan,
                }
            )
            a1, c1 = icc(np.column_stack([x, y])) if n > 1 else (np.nan, np.nan)
            sem = sd_x * np.sqrt(1.0 - a1) if n > 1 and 0.0 <= a1 <= 1.0 else np.nan
            retest_rows.append({**base, "n": n, "icc_a1": a1, "icc_c1": c1, "sem": sem})
    return _wave_comparison(test_rows, effect_rows, retest_rows, wave, waves)


def _wave_comparison(
    test_rows: list[dict[str, object]],
    effect_rows: list[dict[str, object]],
    retest_rows: list[dict[str, object]],
    wave: str,
    waves: Sequence[str],
) -> WaveComparison:
    tests = pd.DataFrame(test_rows)
    tests["p_holm"] = np.nan
    for _, part in tests.groupby(["test", "waves"], sort=False):
        ok = part["p"].notna()
        if ok.any():
            adjusted = holm(part.loc[ok, "p"].to_numpy(dtype=np.float64))
            tests.loc[part.index[ok.to_numpy()], "p_holm"] = adjusted
    return WaveComparison(
        tests=tests.set_index(["scale", "waves", "test"]),
        effects=pd.DataFrame(effect_rows).set_index(["scale", "waves"]),
        retest=pd.DataFrame(retest_rows).set_index(["scale", "waves"]),
        wave=wave,
        levels=tuple(waves),
    )


@dataclass(frozen=True)
class PairedCounts:
    """Exact counts of the distinct (earlier, later) score pairs of the people seen in two
    waves; add with ``+`` (parts of a cohort whose people each lie in one part add up).

    ``values``: m x 2, the distinct pairs (rows in increasing order); ``counts``: people each.
    """

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> PairedCounts:
        pairs = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
        values, counts = np.unique(pairs.reshape(-1, 2), axis=0, return_counts=True)
        return cls(values.reshape(-1, 2), counts.astype(np.int64))

    def __add__(self, other: PairedCounts) -> PairedCounts:
        pairs = np.concatenate([self.values, other.values]).reshape(-1, 2)
        merged, where = np.unique(pairs, axis=0, return_inverse=True)
        counts = np.bincount(
            np.ravel(where), weights=np.concatenate([self.counts, other.counts]),
            minlength=len(merged),
        )  # fmt: skip
        return PairedCounts(merged.reshape(-1, 2), counts.astype(np.int64))


def paired_scores(
    scores: pd.DataFrame, person: str, text: pd.Series, first: str, second: str, scale: str
) -> tuple[np.ndarray, np.ndarray]:
    """The (earlier, later) scores of the people with ``scale`` in both waves, as
    :func:`compare_waves` pairs them (each person's first row of a wave)."""
    a = scores.loc[(text == first).fillna(False).to_numpy(), [person, scale]]
    b = scores.loc[(text == second).fillna(False).to_numpy(), [person, scale]]
    both = (
        a.dropna()
        .drop_duplicates(person)
        .merge(b.dropna().drop_duplicates(person), on=person, suffixes=("_1", "_2"))
    )
    return (
        both[f"{scale}_1"].to_numpy(dtype=np.float64),
        both[f"{scale}_2"].to_numpy(dtype=np.float64),
    )


def _exact(values: np.ndarray, weights: Sequence[int]) -> tuple[Fraction, Fraction]:
    """(Σ w·v, Σ w·(v − mean)²) exactly."""
    n = sum(weights)
    exact = [Fraction(float(v)) for v in values]
    total = sum((w * v for w, v in zip(weights, exact, strict=True)), Fraction(0))
    mean = total / n
    return total, sum(
        (w * (v - mean) ** 2 for w, v in zip(weights, exact, strict=True)), Fraction(0)
    )


def compare_waves_from_counts(
    pairs: Mapping[tuple[str, str], PairedCounts],
    wave: str,
    levels: Sequence[str],
    *,
    level: float = 0.95,
) -> WaveComparison:
    """:func:`compare_waves` from the exact counts of each wave pair's and scale's score pairs.

    ``pairs[(scale, "first -> second")]`` for consecutive ``levels``. Everything the tests need
    is a function of the counted pairs: the paired t and the effects from exactly rounded
    moments of x, y and d = y − x; the Wilcoxon signed-rank test from the midranks with ties of
    |d| (zeros dropped); the ICCs from the exact two-way sums of squares.
    """
    from scipy import stats

    test_rows: list[dict[str, object]] = []
    effect_rows: list[dict[str, object]] = []
    retest_rows: list[dict[str, object]] = []
    scales = list(dict.fromkeys(scale for scale, _ in pairs))
    empty = PairedCounts(np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
    for first, second in itertools.pairwise(levels):
        pair = f"{first} -> {second}"
        for scale in scales:
            counted = pairs.get((scale, pair), empty)
            weights = [int(c) for c in counted.counts]
            n = sum(weights)
            x, y = counted.values[:, 0], counted.values[:, 1]
            d = y - x
            base: dict[str, object] = {"scale": scale, "waves": pair}
            t = df = p_t = w = p_w = np.nan
            lower = upper = np.nan
            mean_d = sd_d = sd_x = sd_y = mean_x = mean_y = np.nan
            if n:
                sum_x, ss_x = _exact(x, weights)
                sum_y, ss_y = _exact(y, weights)
                sum_d, ss_d = _exact(d, weights)
                mean_x, mean_y, mean_d = float(sum_x / n), float(sum_y / n), float(sum_d / n)
                if n > 1:
                    sd_x, sd_y = (
                        float(np.sqrt(float(ss_x / (n - 1)))),
                        float(np.sqrt(float(ss_y / (n - 1)))),
                    )
                    sd_d = float(np.sqrt(float(ss_d / (n - 1))))
            if n > 1 and sd_d > 0:
                t = mean_d / (sd_d / np.sqrt(n))
                df = float(n - 1)
                p_t = float(2 * stats.t.sf(abs(t), n - 1))
                half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd_d / np.sqrt(n)
                lower, upper = mean_d - half, mean_d + half
            w, p_w = _signed_rank(d, np.asarray(weights, dtype=np.int64))
            test_rows.append(
                {**base, "test": "paired_t", "n": n, "statistic": t, "df": df, "p": p_t}
            )
            test_rows.append(
                {**base, "test": "wilcoxon", "n": n, "statistic": w, "df": np.nan, "p": p_w}
            )
            average_sd = (sd_x + sd_y) / 2
            effect_rows.append(
                {
                    **base,
                    "n": n,
                    "mean_first": mean_x,
                    "mean_second": mean_y,
                    "mean_diff": mean_d,
                    "ci_lower": lower,
                    "ci_upper": upper,
                    "d_z": mean_d / sd_d if n > 1 and sd_d > 0 else np.nan,
                    "d_av": mean_d / average_sd if n > 1 and average_sd > 0 else np.nan,
                }
            )
            a1, c1 = _icc_of(counted) if n > 1 else (np.nan, np.nan)
            sem = sd_x * np.sqrt(1.0 - a1) if n > 1 and 0.0 <= a1 <= 1.0 else np.nan
            retest_rows.append({**base, "n": n, "icc_a1": a1, "icc_c1": c1, "sem": sem})
    return _wave_comparison(test_rows, effect_rows, retest_rows, wave, levels)


def _signed_rank(d: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Wilcoxon's signed-rank statistic min(R+, R−) and its two-sided p (normal approximation
    with tie and continuity corrections, zeros dropped), as ``scipy.stats.wilcoxon``."""
    from scipy import stats

    keep = (d != 0) & (weights > 0)
    if not keep.any():
        return np.nan, np.nan
    size, sign = np.abs(d[keep]), np.sign(d[keep])
    order = np.unique(size)
    at = np.searchsorted(order, size)
    ties = np.bincount(at, weights=weights[keep], minlength=len(order)).astype(np.int64)
    through = np.cumsum(ties) - ties
    twice_rank = 2 * through + ties + 1  # 2 × the midrank of each |d|
    plus = Fraction(int((weights[keep] * twice_rank[at] * (sign > 0)).sum()), 2)
    minus = Fraction(int((weights[keep] * twice_rank[at] * (sign < 0)).sum()), 2)
    n = int(ties.sum())
    mn = Fraction(n * (n + 1), 4)
    tie_term = sum(int(t) ** 3 - int(t) for t in ties)
    se = float(np.sqrt(float(Fraction(n * (n + 1) * (2 * n + 1)) - Fraction(tie_term, 2)) / 24))
    z = float(plus - mn) / se
    z -= np.sign(z) * 0.5 / se
    return float(min(plus, minus)), float(2 * stats.norm.sf(abs(z)))


def _icc_of(counted: PairedCounts) -> tuple[float, float]:
    """:func:`icc` of the counted (x, y) ratings, from exact sums of squares."""
    weights = [int(c) for c in counted.counts]
    n, k = sum(weights), 2
    xs = [Fraction(float(v)) for v in counted.values[:, 0]]
    ys = [Fraction(float(v)) for v in counted.values[:, 1]]
    pairs = list(zip(weights, xs, ys, strict=True))
    mean_x = sum((w * x for w, x, _ in pairs), Fraction(0)) / n
    mean_y = sum((w * y for w, _, y in pairs), Fraction(0)) / n
    grand = (mean_x + mean_y) / 2
    ss_rows = k * sum((w * ((x + y) / 2 - grand) ** 2 for w, x, y in pairs), Fraction(0))
    ss_cols = n * ((mean_x - grand) ** 2 + (mean_y - grand) ** 2)
    ss_total = sum((w * ((x - grand) ** 2 + (y - grand) ** 2) for w, x, y in pairs), Fraction(0))
    ss_error = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    agreement = msr + (k - 1) * mse + k * (msc - mse) / n
    consistency = msr + (k - 1) * mse
    a1 = float((msr - mse) / agreement) if agreement > 0 else float("nan")
    c1 = float((msr - mse) / consistency) if consistency > 0 else float("nan")
    return a1, c1
