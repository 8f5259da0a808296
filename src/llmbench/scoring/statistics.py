"""The statistics behind ``summary.json``: intervals, pass@k, paired comparisons, percentiles.

Pure Python (``math``, ``statistics``, ``random``): no numpy or SciPy at run time. Each function
names the source of its formula. Functions over a sample return ``None`` when the sample is too
small for the figure to mean anything, so that the summary holds ``null`` rather than a number
that looks exact (or NaN). Resampling functions take a ``seed`` and give the same answer for the
same input every time.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

FALLBACK_SD_DIFF = 0.5
"""The sd of paired differences assumed by :func:`min_detectable_difference` when the sample
gives none (fewer than two pairs, or every difference equal). 0.5 is the largest sd of a single
pass/fail outcome; for paired differences it matches one disagreement in four, split evenly
between the two directions."""


def _z(probability: float) -> float:
    """The standard normal quantile at ``probability``."""
    return statistics.NormalDist().inv_cdf(probability)


def _check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval for a binomial proportion ``successes / n``.

    Wilson, E. B. (1927), "Probable inference, the law of succession, and statistical
    inference", JASA 22(158): with p = successes/n and z the normal quantile at
    1 - (1 - confidence)/2, the bounds are

        (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)

    (no continuity correction; the same as SciPy's ``proportion_ci(method="wilson")``).
    Returns ``None`` when ``n == 0``: with no trials there is no proportion to bound.
    """
    _check_probability("confidence", confidence)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: expected 0 <= successes <= n, got {successes}, {n}")
    if n == 0:
        return None
    z = _z(1.0 - (1.0 - confidence) / 2.0)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denominator
    # The bounds are 0 and 1 exactly at p = 0 and p = 1; rounding must not push them past.
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_se(values: Sequence[float]) -> float | None:
    """The standard error of the mean: sample sd (n - 1 denominator) over sqrt(n).

    The textbook estimator (e.g. Rice, "Mathematical Statistics and Data Analysis", 3rd ed.,
    2007). Returns ``None`` for fewer than two values, whose sd is undefined.
    """
    if len(values) < 2:
        return None
    return statistics.stdev(values) / math.sqrt(len(values))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (``q`` in [0, 100]) by linear interpolation between order statistics.

    Hyndman & Fan (1996), "Sample quantiles in statistical packages", The American Statistician
    50(4), definition 7: with x sorted and h = (n - 1)·q/100, the value is
    x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋ + 1] - x[⌊h⌋]). This is numpy's default (``method="linear"``).
    Returns ``None`` for no values.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile: expected q in [0, 100], got {q!r}")
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * q / 100.0
    low = math.floor(h)
    if low + 1 >= len(ordered):
        return float(ordered[-1])
    return ordered[low] + (h - low) * (ordered[low + 1] - ordered[low])


LARGE_SAMPLE = 5000
"""From this many values on, :func:`bootstrap_mean_interval` uses the normal interval."""


def bootstrap_mean_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean of ``values``.

    Efron, B. & Tibshirani, R. J. (1993), "An Introduction to the Bootstrap", ch. 13: draw
    ``resamples`` samples of size n with replacement, take each one's mean, and report the
    (1 - confidence)/2 and 1 - (1 - confidence)/2 percentiles of those means (linear
    interpolation, :func:`percentile`). Deterministic for a given ``seed``. Values that are all
    equal give the degenerate interval (v, v). Returns ``None`` for fewer than two values: one
    value says nothing about spread.

    From :data:`LARGE_SAMPLE` values on, the bootstrap distribution of the mean is normal to
    well within its own resampling noise (central limit theorem; Efron & Tibshirani ch. 12-13),
    so the interval is ``mean ± z * SE`` (clipped to the values' range) instead: the same figure
    without 2,000 passes over a large sample, which cost seconds per agent at 100k results.
    """
    _check_probability("confidence", confidence)
    if resamples < 1:
        raise ValueError(f"resamples: expected a number >= 1, got {resamples!r}")
    n = len(values)
    if n < 2:
        return None
    if all(v == values[0] for v in values):
        return float(values[0]), float(values[0])
    if n >= LARGE_SAMPLE:
        mean = statistics.fmean(values)
        se = mean_se(values)
        assert se is not None  # n >= 2
        half = _z(0.5 + confidence / 2.0) * se
        return max(min(values), mean - half), min(max(values), mean + half)
    rng = random.Random(seed)
    means = [math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples)]
    tail = (1.0 - confidence) / 2.0 * 100.0
    low = percentile(means, tail)
    high = percentile(means, 100.0 - tail)
    assert low is not None and high is not None  # means is never empty
    return low, high


def paired_bootstrap_diff(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, tuple[float, float] | None]:
    """The mean of ``a[i] - b[i]`` and its paired percentile bootstrap interval.

    Efron & Tibshirani (1993), as :func:`bootstrap_mean_interval`, resampling whole pairs
    (i.e. the differences), so that what both samples share (the test's difficulty) cancels.
    The interval is ``None`` for fewer than two pairs. Raises ``ValueError`` when the samples
    differ in length or are empty.
    """
    if len(a) != len(b):
        raise ValueError(f"paired_bootstrap_diff: {len(a)} values in a, {len(b)} in b")
    if not a:
        raise ValueError("paired_bootstrap_diff: no pairs")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    return statistics.fmean(diffs), bootstrap_mean_interval(diffs, confidence, resamples, seed)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from ``n`` samples of which ``c`` passed.

    Chen et al. (2021), "Evaluating Large Language Models Trained on Code", eq. 1:
    1 - C(n - c, k) / C(n, k), computed as 1 - ∏_{i = n-c+1}^{n} (1 - k/i) (their numerically
    stable form, fig. 3), and 1 when n - c < k (every draw of k holds a pass).
    """
    _check_counts("pass_at_k", n, c, k)
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k samples drawn without replacement from ``n`` all pass.

    Yao et al. (2024), "τ-bench: A Benchmark for Tool-Agent-User Interaction in Real-World
    Domains": C(c, k) / C(n, k), computed as ∏_{i=0}^{k-1} (c - i)/(n - i); 0 when c < k.
    """
    _check_counts("pass_hat_k", n, c, k)
    if c < k:
        return 0.0
    product = 1.0
    for i in range(k):
        product *= (c - i) / (n - i)
    return product


def _check_counts(name: str, n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"{name}: expected 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")


def agreement(outcomes: Sequence[bool]) -> float | None:
    """The share of ``outcomes`` equal to the majority outcome (in [0.5, 1]).

    A plain consistency measure over repeats of one test: max(passes, fails) / n. 1 means every
    repeat gave the same verdict. ``None`` for no outcomes.
    """
    if not outcomes:
        return None
    passes = sum(1 for o in outcomes if o)
    return max(passes, len(outcomes) - passes) / len(outcomes)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """The two-sided exact McNemar p-value from the discordant pair counts.

    McNemar, Q. (1947), "Note on the sampling error of the difference between correlated
    proportions or percentages", Psychometrika 12(2); exact form: under the null each of the
    m = a_only + b_only discordant pairs goes either way with probability 1/2, so
    p = min(1, 2·P(X <= min(a_only, b_only))) with X ~ Binomial(m, 1/2), summed exactly in
    integers. 1.0 when there are no discordant pairs.
    """
    if a_only < 0 or b_only < 0:
        raise ValueError(f"mcnemar_exact: expected counts >= 0, got {a_only}, {b_only}")
    m = a_only + b_only
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(a_only, b_only) + 1))
    return min(1.0, 2 * tail / (1 << m))


def min_detectable_difference(
    n_pairs: int, sd_diff: float | None, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The smallest true mean difference ``n_pairs`` pairs would detect with this power.

    The normal-approximation power formula for a paired (one-sample) mean difference,
    n = ((z_{1-α/2} + z_{power})·σ_d / δ)² (e.g. Chow, Shao & Wang, "Sample Size Calculations
    in Clinical Research", 2nd ed., 2008), solved for δ:
    δ = (z_{1-α/2} + z_{power})·σ_d / sqrt(n). For pass/fail, pass the sd of the paired
    differences of the 0/1 outcomes. When ``sd_diff`` is ``None`` or 0 (fewer than two pairs,
    or all differences equal) :data:`FALLBACK_SD_DIFF` is used instead, so the figure stays
    conservative rather than claiming perfect sensitivity. ``None`` when there are no pairs.
    """
    _check_probability("alpha", alpha)
    _check_probability("power", power)
    if n_pairs < 1:
        return None
    sd = sd_diff if sd_diff else FALLBACK_SD_DIFF
    return (_z(1.0 - alpha / 2.0) + _z(power)) * sd / math.sqrt(n_pairs)
