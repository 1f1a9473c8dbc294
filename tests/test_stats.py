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
    with pytest.raises(ValueError, match="no samples"):
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


# --- several arms, sequential looks ---------------------------------------------------------------

def test_holm_adjusts_step_down_in_the_order_given():
    from resbench.stats import holm

    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    with_none = holm([0.5, None, 0.001])
    assert with_none[1] is None and with_none[0] == pytest.approx(0.5) and with_none[2] == pytest.approx(0.002)
    assert holm([0.9, 0.8]) == [1.0, 1.0] and holm([0.02, 0.3]) == pytest.approx([0.04, 0.3])  # capped at 1, monotone
    assert holm([]) == []


def test_holm_and_bonferroni_hold_the_familywise_error_that_plain_tests_do_not():
    """Three arms beside one reference, no true difference, 5 seeds: plain tests at 0.05
    reject somewhere far more often than 5 %; Holm's adjusted p-values and the Bonferroni
    intervals at 1 - 0.05/3 keep it at or under 5 % (2,000 simulated comparisons)."""
    from resbench.stats import familywise_level, holm, paired_difference

    rng = np.random.default_rng(7)
    plain = holm_any = ci_any = 0
    sims = 2000
    for _ in range(sims):
        seed_effect = rng.normal(0, 1, 5)  # shared per seed: the pairing
        ref = dict(enumerate(seed_effect + rng.normal(0, 1, 5)))
        diffs = [paired_difference(ref, dict(enumerate(seed_effect + rng.normal(0, 1, 5))), familywise_level(3)) for _ in range(3)]
        ps = [d.p_value for d in diffs]
        plain += any(p < 0.05 for p in ps)
        holm_any += any(p < 0.05 for p in holm(ps))
        ci_any += any(d.significant for d in diffs)
    assert plain / sims > 0.09
    assert holm_any / sims < 0.065 and ci_any / sims < 0.065


def test_zero_spread_is_no_estimate_never_resolved():
    from resbench.stats import equivalence_interval, paired_difference, resolved, sequential_interval

    d = paired_difference({0: 0.5, 1: 0.5, 2: 0.5}, {0: 0.5, 1: 0.5, 2: 0.5})
    assert d.ci is None and d.p_value is None and d.significant is None and d.sd == 0
    assert sequential_interval([0.0, 0.0, 0.0], 1) is None and equivalence_interval([0.01] * 4, 2) is None
    assert resolved(None, 0.005) is None


def test_tost_within_the_spending_rule_is_narrower_than_the_two_sided_interval():
    from resbench.stats import equivalence_interval, resolved, sequential_interval

    diffs = [0.001, -0.002, 0.0015, 0.0, -0.001, 0.0005, 0.002, -0.0015]
    two, tost = sequential_interval(diffs, 3), equivalence_interval(diffs, 3)
    assert tost[0] > two[0] and tost[1] < two[1]
    effect = (max(abs(tost[0]), abs(tost[1])) + max(abs(two[0]), abs(two[1]))) / 2  # between the two widths
    assert resolved(two, effect) is None and resolved(two, effect, tost) == "within effect"


def test_sequential_p_agrees_with_the_look_interval():
    from scipy import stats as st

    from resbench.stats import sequential_interval, sequential_p, spent_alpha

    rng = np.random.default_rng(3)
    for _ in range(200):
        d = rng.normal(0.5, 1, 6)
        look, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        p = float(st.ttest_1samp(d, 0).pvalue)
        ci = sequential_interval(d, look, 0.05 / m)
        excludes = ci[0] > 0 or ci[1] < 0
        assert (sequential_p(p, look, m) < 0.05) == excludes
        assert spent_alpha(look, 0.05 / m) == pytest.approx(0.05 / m * 6 / (np.pi ** 2 * look ** 2))


def test_per_image_interval_reduces_to_the_seed_mean_and_sees_both_parts():
    from resbench.stats import per_image_difference

    rng = np.random.default_rng(1)
    ref = {s: rng.random(2000) > 0.1 for s in range(4)}
    arm = {s: rng.random(2000) > 0.12 for s in range(4)}
    d = per_image_difference(ref, arm)
    seed_means = [(1 - arm[s].mean()) - (1 - ref[s].mean()) for s in range(4)]
    assert d.mean == pytest.approx(np.mean(seed_means)) and d.n == 4
    assert d.ci[0] < d.mean < d.ci[1] and d.p_value < 0.05  # a 2-point difference on 8,000 paired answers
    # a run-wide offset (every image of one seed worse) widens the interval
    shifted = {s: (a if s else a & (rng.random(2000) > 0.2)) for s, a in arm.items()}
    wide = per_image_difference(ref, shifted)
    assert wide.ci[1] - wide.ci[0] > d.ci[1] - d.ci[0]
    same = {s: np.ones(50, dtype=bool) for s in range(3)}
    assert per_image_difference(same, same).ci is None  # no spread: no estimate yet
    assert per_image_difference(ref, {9: ref[0]}) is None


def test_differences_equal_up_to_rounding_are_no_estimate_of_a_spread():
    """Errors are k/N: differences equal in decimal can differ by 1e-17 in floating point.
    That is zero spread (no interval, no verdict), never a zero-width 'significant' one."""
    from resbench.stats import flat, paired_difference, sequential_interval

    ref = {s: k / 10_000 for s, k in enumerate((3012, 2987, 3101, 2950))}
    arm = {s: (k + 2) / 10_000 for s, k in enumerate((3012, 2987, 3101, 2950))}
    d = [arm[s] - ref[s] for s in ref]
    assert np.std(d, ddof=1) > 0  # floating point sees a spread of about 3e-17 here
    assert flat(d)
    pd_ = paired_difference(ref, arm)
    assert pd_.ci is None and pd_.p_value is None and pd_.sd == 0.0 and pd_.significant is None
    assert sequential_interval(d, look=1) is None
    assert not flat([0.0, 1 / 10_000])  # one image apart is a real spread


def test_the_detectable_difference_follows_the_intervals_degrees_of_freedom():
    """Three seeds whose runs differ by no more than per-image flips explain: the interval is on
    the images' N - 1 df, and so is the detectable difference (smaller than a t over 2 df)."""
    from resbench.stats import min_detectable_difference, per_image_difference

    rng = np.random.default_rng(1)  # a draw whose seeds show no run component (seed 0's shows one)
    hard = rng.random(10_000) < 0.17  # images both arms tend to miss
    ref = {s: ~(hard ^ (rng.random(10_000) < 0.03)) for s in range(3)}
    other = {s: ~(hard ^ (rng.random(10_000) < 0.04)) for s in range(3)}
    diff = per_image_difference(ref, other)
    assert diff.df == 9_999
    on_images = min_detectable_difference(diff.sd, diff.n, 0.05, df=diff.df)
    on_seeds = min_detectable_difference(diff.sd, diff.n, 0.05)
    assert on_images < 0.5 * on_seeds
    half = diff.ci[1] - diff.mean  # about (1.96 + 0.84) / 1.96 of the interval's half-width
    assert on_images == pytest.approx(half * (1.96 + 0.84) / 1.96, rel=0.02)
    # the df=None default is the seeds' t, as before
    assert min_detectable_difference(0.01, 3) == min_detectable_difference(0.01, 3, df=2)
