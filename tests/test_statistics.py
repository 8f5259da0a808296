"""llmbench.scoring.statistics: each figure against arithmetic done by hand and against SciPy/numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from llmbench.scoring.statistics import (
    FALLBACK_SD_DIFF,
    agreement,
    bootstrap_mean_interval,
    mcnemar_exact,
    mean_se,
    min_detectable_difference,
    paired_bootstrap_diff,
    pass_at_k,
    pass_hat_k,
    percentile,
    wilson_interval,
)

Z975 = 1.959963984540054  # the normal quantile at 0.975
Z80 = 0.8416212335729143  # the normal quantile at 0.8

# --- wilson_interval ---------------------------------------------------------------------------


def test_wilson_by_hand() -> None:
    # 8 of 10, z = 1.959964, z² = 3.841459; p = 0.8
    # denominator = 1 + z²/n = 1.3841459
    # centre = (0.8 + z²/20) / 1.3841459 = 0.9920729 / 1.3841459 = 0.7167401
    # half = z * sqrt(0.8*0.2/10 + z²/400) / 1.3841459 = z * sqrt(0.0256036) / 1.3841459
    #      = 1.959964 * 0.1600113 / 1.3841459 = 0.2265777
    low, high = wilson_interval(8, 10) or (math.nan, math.nan)
    assert low == pytest.approx(0.7167401 - 0.2265777, abs=1e-6)
    assert high == pytest.approx(0.7167401 + 0.2265777, abs=1e-6)


def test_wilson_with_no_success_starts_at_zero() -> None:
    # p = 0: low = 0, high = (z²/2n + z·z/2n) / (1 + z²/n) = z² / (n + z²) = 3.841459 / 7.841459
    assert wilson_interval(0, 4) == (0.0, pytest.approx(Z975**2 / (4 + Z975**2)))


def test_wilson_with_no_trials_is_none() -> None:
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(0, 1, 0.95), (1, 1, 0.95), (3, 5, 0.95), (17, 40, 0.9), (99, 100, 0.99), (250, 1000, 0.95)],
)
def test_wilson_matches_scipy(successes: int, n: int, confidence: float) -> None:
    expected = scipy.stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    low, high = wilson_interval(successes, n, confidence) or (math.nan, math.nan)
    assert (low, high) == (pytest.approx(expected.low), pytest.approx(expected.high))


@pytest.mark.parametrize(
    ("successes", "n", "message"),
    [
        (3, 2, "wilson_interval: expected 0 <= successes <= n, got 3, 2"),
        (-1, 2, "wilson_interval: expected 0 <= successes <= n, got -1, 2"),
    ],
)
def test_wilson_rejects_impossible_counts(successes: int, n: int, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        wilson_interval(successes, n)
    assert str(caught.value) == message


def test_wilson_rejects_a_confidence_outside_0_1() -> None:
    with pytest.raises(ValueError, match=r"^confidence: expected a number in \(0, 1\), got 95$"):
        wilson_interval(1, 2, 95)


# --- mean_se -----------------------------------------------------------------------------------


def test_mean_se_by_hand() -> None:
    # [1, 2, 3, 4]: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, variance 5/3,
    # sd = 1.2909944, se = sd / sqrt(4) = 0.6454972
    assert mean_se([1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.6454972, abs=1e-7)


def test_mean_se_matches_scipy() -> None:
    values = [0.0, 1.0, 1.0, 0.5, 0.25, 1.0, 0.0]
    assert mean_se(values) == pytest.approx(float(scipy.stats.sem(values)))


@pytest.mark.parametrize("values", [[], [0.7]])
def test_mean_se_of_fewer_than_two_values_is_none(values: list[float]) -> None:
    assert mean_se(values) is None


# --- percentile --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0, 1.0),
        (50, 2.5),  # h = 3 * 0.5 = 1.5: 2 + 0.5 * (3 - 2)
        (95, 3.85),  # h = 3 * 0.95 = 2.85: 3 + 0.85 * (4 - 3)
        (99, 3.97),  # h = 2.97
        (100, 4.0),
    ],
)
def test_percentile_by_hand(q: float, expected: float) -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], q) == pytest.approx(expected)


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 95) == 7.0


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [0, 1, 2.5, 25, 50, 73.3, 95, 97.5, 99, 100])
@pytest.mark.parametrize("size", [2, 3, 10, 101])
def test_percentile_matches_numpy(q: float, size: int) -> None:
    values = [float(v) for v in np.random.default_rng(size).exponential(2.0, size)]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12)


def test_percentile_rejects_q_outside_0_100() -> None:
    with pytest.raises(ValueError, match=r"^percentile: expected q in \[0, 100\], got 190$"):
        percentile([1.0], 190)


# --- bootstrap_mean_interval -------------------------------------------------------------------


def test_bootstrap_of_two_values_spans_both() -> None:
    # Resampling [0, 1] twice gives a mean of 0, 0.5 or 1 with chances 1/4, 1/2, 1/4: about 500
    # of 2000 means are 0 and 500 are 1, so the 2.5th and 97.5th percentiles are 0 and 1.
    assert bootstrap_mean_interval([0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_of_equal_values_is_degenerate() -> None:
    assert bootstrap_mean_interval([0.1, 0.1, 0.1]) == (0.1, 0.1)


@pytest.mark.parametrize("values", [[], [0.5]])
def test_bootstrap_of_fewer_than_two_values_is_none(values: list[float]) -> None:
    assert bootstrap_mean_interval(values) is None


def test_bootstrap_is_deterministic_with_its_seed() -> None:
    # values off any coarse lattice, so that two seeds cannot land on the same percentiles
    values = [0.13, 0.57, 0.91, 0.22, 0.68, 0.35, 0.04, 0.79]
    assert bootstrap_mean_interval(values, seed=3) == bootstrap_mean_interval(values, seed=3)
    assert bootstrap_mean_interval(values, seed=3) != bootstrap_mean_interval(values, seed=4)


def test_bootstrap_contains_the_mean_and_narrows_with_confidence() -> None:
    values = [0.0, 1.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75]  # mean 4.5 / 8 = 0.5625
    low95, high95 = bootstrap_mean_interval(values) or (math.nan, math.nan)
    low80, high80 = bootstrap_mean_interval(values, confidence=0.8) or (math.nan, math.nan)
    assert low95 <= low80 < 0.5625 < high80 <= high95


@pytest.mark.parametrize("seed", [1, 2])
def test_bootstrap_matches_scipy_roughly(seed: int) -> None:
    values = [float(v) for v in np.random.default_rng(seed).integers(0, 2, 40)]
    expected = scipy.stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=0.95,
        n_resamples=20000,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    low, high = bootstrap_mean_interval(values, seed=seed) or (math.nan, math.nan)
    # Monte Carlo error of a 2.5% quantile from 2000 resamples is about 0.01 here.
    assert low == pytest.approx(expected.low, abs=0.03)
    assert high == pytest.approx(expected.high, abs=0.03)


# --- paired_bootstrap_diff ---------------------------------------------------------------------


def test_paired_diff_is_the_bootstrap_of_the_differences() -> None:
    a = [1.0, 1.0, 0.0, 0.5, 1.0]
    b = [0.0, 1.0, 0.0, 1.0, 1.0]
    # differences 1, 0, 0, -0.5, 0: mean 0.5 / 5 = 0.1
    diff, interval = paired_bootstrap_diff(a, b)
    assert diff == pytest.approx(0.1)
    assert interval == bootstrap_mean_interval([1.0, 0.0, 0.0, -0.5, 0.0])


def test_paired_diff_of_equal_samples_is_zero() -> None:
    assert paired_bootstrap_diff([0.2, 0.8], [0.2, 0.8]) == (0.0, (0.0, 0.0))


def test_paired_diff_of_one_pair_has_no_interval() -> None:
    assert paired_bootstrap_diff([1.0], [0.0]) == (1.0, None)


def test_paired_diff_matches_scipy_roughly() -> None:
    rng = np.random.default_rng(5)
    a = [float(v) for v in rng.integers(0, 2, 50)]
    b = [float(v) for v in rng.integers(0, 2, 50)]
    expected = scipy.stats.bootstrap(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        paired=True,
        n_resamples=20000,
        method="percentile",
        rng=np.random.default_rng(5),
    ).confidence_interval
    _, interval = paired_bootstrap_diff(a, b)
    low, high = interval or (math.nan, math.nan)
    assert low == pytest.approx(expected.low, abs=0.04)
    assert high == pytest.approx(expected.high, abs=0.04)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1.0, 0.0], [1.0], "paired_bootstrap_diff: 2 values in a, 1 in b"),
        ([], [], "paired_bootstrap_diff: no pairs"),
    ],
)
def test_paired_diff_rejects_unpaired_samples(a: list[float], b: list[float], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        paired_bootstrap_diff(a, b)
    assert str(caught.value) == message


# --- pass_at_k and pass_hat_k ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (3, 1, 1, 1 / 3),  # 1 - C(2,1)/C(3,1) = 1 - 2/3
        (3, 1, 2, 2 / 3),  # 1 - C(2,2)/C(3,2) = 1 - 1/3
        (3, 2, 2, 1.0),  # n - c = 1 < k: every pair holds a pass
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (4, 0, 2, 0.0),  # no pass at all
        (3, 3, 3, 1.0),
    ],
)
def test_pass_at_k_by_hand(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (3, 2, 1, 2 / 3),  # C(2,1)/C(3,1)
        (3, 2, 2, 1 / 3),  # C(2,2)/C(3,2) = 1/3
        (3, 2, 3, 0.0),  # c < k
        (5, 4, 3, 0.4),  # C(4,3)/C(5,3) = 4/10
        (3, 3, 3, 1.0),
    ],
)
def test_pass_hat_k_by_hand(n: int, c: int, k: int, expected: float) -> None:
    assert pass_hat_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_and_pass_hat_k_match_math_comb() -> None:
    for n in range(1, 21):
        for c in range(n + 1):
            for k in range(1, n + 1):
                at = 1 - math.comb(n - c, k) / math.comb(n, k)
                hat = math.comb(c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(at, abs=1e-12), (n, c, k)
                assert pass_hat_k(n, c, k) == pytest.approx(hat, abs=1e-12), (n, c, k)


def test_pass_at_k_stays_accurate_for_large_n() -> None:
    # C(1000, 500) overflows a float; the product form does not need it.
    expected = 1 - math.comb(997, 500) / math.comb(1000, 500)  # exact integers, then one division
    assert pass_at_k(1000, 3, 500) == pytest.approx(expected, rel=1e-12)
    assert pass_hat_k(1000, 997, 500) == pytest.approx(
        math.comb(997, 500) / math.comb(1000, 500), rel=1e-12
    )


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)],
)
def test_pass_at_k_rejects_impossible_counts(n: int, c: int, k: int) -> None:
    message = f"pass_at_k: expected 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}"
    with pytest.raises(ValueError) as caught:
        pass_at_k(n, c, k)
    assert str(caught.value) == message


# --- agreement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([True, True, False], 2 / 3),
        ([False, False, True], 2 / 3),
        ([True, False], 0.5),
        ([True, True, True], 1.0),
        ([False], 1.0),
    ],
)
def test_agreement_by_hand(outcomes: list[bool], expected: float) -> None:
    assert agreement(outcomes) == pytest.approx(expected)


def test_agreement_of_nothing_is_none() -> None:
    assert agreement([]) is None


# --- mcnemar_exact -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a_only", "b_only", "expected"),
    [
        (5, 1, 14 / 64),  # m = 6: P(X <= 1) = (1 + 6)/64, doubled
        (1, 5, 14 / 64),
        (10, 0, 2 / 1024),  # m = 10: P(X <= 0) = 1/1024, doubled
        (3, 3, 1.0),  # 2 * P(X <= 3 | m = 6) = 2 * 42/64 > 1: capped
        (0, 0, 1.0),  # no discordant pair: no evidence either way
    ],
)
def test_mcnemar_by_hand(a_only: int, b_only: int, expected: float) -> None:
    assert mcnemar_exact(a_only, b_only) == pytest.approx(expected)


def test_mcnemar_matches_scipy_binomtest() -> None:
    for a_only in range(16):
        for b_only in range(16):
            if a_only + b_only == 0:
                continue
            expected = scipy.stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
            assert mcnemar_exact(a_only, b_only) == pytest.approx(expected), (a_only, b_only)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=r"^mcnemar_exact: expected counts >= 0, got -1, 2$"):
        mcnemar_exact(-1, 2)


# --- min_detectable_difference -----------------------------------------------------------------


def test_min_detectable_difference_by_hand() -> None:
    # (z_0.975 + z_0.8) * sd / sqrt(n) = (1.959964 + 0.841621) * 0.3 / sqrt(36) = 2.801585 * 0.05
    assert min_detectable_difference(36, 0.3) == pytest.approx(0.1400793, abs=1e-7)


def test_min_detectable_difference_uses_scipy_quantiles() -> None:
    z = scipy.stats.norm.ppf(1 - 0.01 / 2) + scipy.stats.norm.ppf(0.9)
    assert min_detectable_difference(50, 0.4, alpha=0.01, power=0.9) == pytest.approx(
        z * 0.4 / math.sqrt(50)
    )


def test_min_detectable_difference_has_the_power_asked_for() -> None:
    # A true difference of delta is found (two-sided z test) with power
    # Φ(delta·sqrt(n)/sd - z_0.975) + Φ(-delta·sqrt(n)/sd - z_0.975); the second term is tiny.
    delta = min_detectable_difference(40, 0.6) or math.nan
    shift = delta * math.sqrt(40) / 0.6
    power = scipy.stats.norm.cdf(shift - Z975) + scipy.stats.norm.cdf(-shift - Z975)
    assert power == pytest.approx(0.8, abs=1e-4)


@pytest.mark.parametrize("sd_diff", [0.0, None])
def test_min_detectable_difference_falls_back_when_the_sample_has_no_spread(
    sd_diff: float | None,
) -> None:
    # fallback sd 0.5: (1.959964 + 0.841621) * 0.5 / sqrt(4) = 0.7003963
    assert FALLBACK_SD_DIFF == 0.5
    assert min_detectable_difference(4, sd_diff) == pytest.approx((Z975 + Z80) * 0.5 / 2)


def test_min_detectable_difference_of_no_pairs_is_none() -> None:
    assert min_detectable_difference(0, 0.5) is None


@pytest.mark.parametrize(
    ("alpha", "power", "message"),
    [
        (0.0, 0.8, r"^alpha: expected a number in \(0, 1\), got 0.0$"),
        (0.05, 80, r"^power: expected a number in \(0, 1\), got 80$"),
    ],
)
def test_min_detectable_difference_rejects_bad_levels(
    alpha: float, power: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        min_detectable_difference(10, 0.5, alpha=alpha, power=power)


def test_a_large_sample_gets_the_normal_interval_which_matches_the_bootstrap() -> None:
    import random as _random

    from llmbench.scoring import statistics as st

    rng = _random.Random(3)
    values = [float(rng.random() < 0.3) for _ in range(st.LARGE_SAMPLE)]
    fast = st.bootstrap_mean_interval(values)
    # the percentile bootstrap itself, on the same data, just under the threshold
    slow = st.bootstrap_mean_interval(values[:-1], resamples=500)
    assert fast is not None and slow is not None
    assert abs(fast[0] - slow[0]) < 0.005 and abs(fast[1] - slow[1]) < 0.005
