import numpy as np
import pytest

from resbench.stats import summarize


def test_percentiles_on_known_samples():
    s = summarize(range(1, 101))  # 1..100
    assert s.median == 50.5
    assert s.mean == 50.5
    assert (s.min, s.max, s.n) == (1, 100, 100)
    assert s.p90 == pytest.approx(90.1)  # linear interpolation: 1 + 0.9 * 99
    assert s.p99 == pytest.approx(99.01)
    assert s.iqr == pytest.approx(75.25 - 25.75)
    assert s.std == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_noise_flag():
    assert not summarize([10, 10.1, 9.9, 10.05, 9.95]).noisy
    assert summarize([10, 14, 6, 13, 7]).noisy


def test_single_sample_and_empty():
    s = summarize([3.0])
    assert (s.median, s.std, s.iqr) == (3.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        summarize([])


def test_paired_power_matches_a_monte_carlo_of_the_paired_t_test():
    from scipy import stats as st

    from resbench.stats import paired_power

    rng = np.random.default_rng(0)
    n, sd, delta, trials = 6, 1.0, 1.2, 4000
    d = rng.normal(delta, sd, (trials, n))
    hits = np.mean(st.ttest_1samp(d, 0, axis=1).pvalue < 0.05)
    assert paired_power(delta, sd, n) == pytest.approx(hits, abs=0.025)


def test_min_detectable_difference_and_seeds_needed():
    from resbench.stats import min_detectable_difference, paired_power, seeds_needed

    # The textbook value (G*Power / statsmodels TTestPower): 30 pairs, alpha 0.05, power 0.8 -> d = 0.529.
    assert min_detectable_difference(1.0, 30) == pytest.approx(0.5292, abs=5e-4)
    assert paired_power(min_detectable_difference(0.02, 4), 0.02, 4) == pytest.approx(0.8, abs=1e-6)
    n = seeds_needed(1.0, 0.5)
    assert n == 34 and paired_power(0.5, 1.0, n) >= 0.8 > paired_power(0.5, 1.0, n - 1)
    # large n: the normal approximation (z_0.975 + z_0.8) * sd / sqrt(n)
    assert min_detectable_difference(1.0, 2000) == pytest.approx((1.959964 + 0.841621) / np.sqrt(2000), rel=2e-3)
    assert min_detectable_difference(None, 5) is None and min_detectable_difference(1.0, 1) is None
    assert seeds_needed(0.0, 0.5) is None
