"""Statistics shared by profile, check and compare: summaries, tests, intervals."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import math

import numpy as np

NOISE_THRESHOLD = 0.10  # IQR / median above this flags a measurement as noisy


@dataclass(frozen=True)
class Summary:
    """Latency summary in milliseconds (percentiles by linear interpolation, numpy's default)."""

    median: float
    mean: float
    min: float
    max: float
    p90: float
    p99: float
    iqr: float
    std: float
    n: int

    @property
    def noisy(self) -> bool:
        return self.median > 0 and self.iqr / self.median > NOISE_THRESHOLD

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(samples) -> Summary:
    x = np.asarray(samples, dtype=float)
    if x.size == 0:
        raise ValueError("no samples to summarize")
    q25, q50, q75, q90, q99 = np.percentile(x, [25, 50, 75, 90, 99])
    return Summary(
        median=float(q50), mean=float(x.mean()), min=float(x.min()), max=float(x.max()),
        p90=float(q90), p99=float(q99), iqr=float(q75 - q25), std=float(x.std(ddof=1)) if x.size > 1 else 0.0, n=int(x.size),
    )


@dataclass(frozen=True)
class PairedDifference:
    """Mean of per-seed differences (other - reference) with a t interval at ``level``.

    With zero spread (every difference equal, e.g. errors quantised by a small test set)
    there is no estimate of the spread yet: no interval, no p-value."""

    mean: float
    ci: tuple[float, float] | None  # None with fewer than two pairs or zero spread: no interval can be given
    p_value: float | None  # paired t-test, two-sided, unadjusted
    n: int
    sd: float | None = None  # standard deviation of the per-seed differences (None with one pair)
    level: float = 0.95  # the interval's confidence level
    df: int | None = None  # the interval's degrees of freedom (None: n - 1, a t over seeds)

    @property
    def significant(self) -> bool | None:
        if self.ci is None:
            return None
        return self.ci[0] > 0 or self.ci[1] < 0


def flat(values) -> bool:
    """At least two values, all equal up to rounding: no estimate of a spread. Errors are
    k/N, so differences that are equal in decimal can differ by 1e-17 in floating point;
    the smallest real gap between two errors (1/N, N at most 10^6 images) is far above 1e-12."""
    d = np.asarray(list(values), dtype=float)
    return len(d) >= 2 and float(np.ptp(d)) <= 1e-12


def paired_difference(reference: dict, other: dict, level: float = 0.95) -> PairedDifference | None:
    """``reference`` and ``other`` map seed -> value; only seeds present in both pair up."""
    seeds = sorted(set(reference) & set(other))
    return mean_difference([other[s] - reference[s] for s in seeds], level) if seeds else None


def mean_difference(diffs, level: float = 0.95) -> PairedDifference:
    """The mean of paired differences with its t interval and two-sided p (one-sample t-test
    against 0); no interval from fewer than two, no spread from differences all equal."""
    from scipy import stats as st

    d = np.asarray(diffs, dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return PairedDifference(mean, None, None, len(d), level=level)
    if flat(d):
        return PairedDifference(mean, None, None, len(d), 0.0, level)
    sd = float(d.std(ddof=1))
    sem = float(sd / np.sqrt(len(d)))
    half = float(st.t.ppf(0.5 + level / 2, len(d) - 1)) * sem
    p = float(2 * st.t.sf(abs(mean) / sem, len(d) - 1))
    return PairedDifference(mean, (mean - half, mean + half), p, len(d), sd, level)


# --- several arms against one reference ---------------------------------------------------------
# m arms compared with one reference are m tests. Each at alpha gives a familywise error
# near 1 - (1 - alpha)^m (9.75 % for two arms at 0.05). Holm's step-down adjustment keeps
# the familywise error at alpha under any dependence between the tests (Holm 1979), and
# is never less powerful than Bonferroni. The intervals shown beside the adjusted p-values
# are Bonferroni's, each at level 1 - alpha/m: together they cover all m true differences
# with probability at least 1 - alpha (the union bound). Holm can call a difference
# significant whose Bonferroni interval still touches 0 only for the arms tested after
# the first, where it spends the alpha the first test left.


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the order given (None stays None and is not counted)."""
    given = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(given)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(given):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out


def familywise_level(comparisons: int, alpha: float = 0.05) -> float:
    """The confidence level of each of ``comparisons`` intervals that hold together at 1 - alpha."""
    return 1 - alpha / max(1, comparisons)


# --- power of a paired comparison ------------------------------------------------------------
# The paired t-test's power for a true mean difference delta with n pairs whose
# differences have standard deviation sd: the two-sided test at alpha rejects when
# |T| > t_crit, and T follows a noncentral t with n - 1 degrees of freedom and
# noncentrality delta * sqrt(n) / sd (scipy.stats.nct).


def paired_power(delta: float, sd: float, n: int, alpha: float = 0.05, df: int | None = None) -> float:
    """The power of a two-sided t test of n pairs at spread ``sd`` (se = sd / sqrt(n)) on
    ``df`` degrees of freedom (default n - 1: a t over seeds)."""
    from scipy import stats as st

    df = n - 1 if df is None else df
    t_crit = float(st.t.ppf(1 - alpha / 2, df))
    nc = abs(delta) * np.sqrt(n) / sd
    # The lower tail underflows (scipy returns NaN there) once nc is large: it is 0 then.
    upper, lower = (float(np.nan_to_num(v)) for v in (st.nct.sf(t_crit, df, nc), st.nct.cdf(-t_crit, df, nc)))
    return min(1.0, upper + lower)


def min_detectable_difference(sd: float | None, n: int, alpha: float = 0.05, power: float = 0.8,
                              df: int | None = None) -> float | None:
    """The smallest true difference that n pairs detect with the given power, by the test on
    ``df`` degrees of freedom that made the interval (default n - 1); None when it cannot be
    estimated (fewer than 2 pairs, or no spread measured)."""
    from scipy.optimize import brentq

    if sd is None or n < 2 or not sd > 0:
        return None
    from scipy import stats as st

    # Bracket: the normal approximation's difference, doubled, always has more power than asked.
    hi = 2 * (st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)) * sd / np.sqrt(n) * (1 + 10 / n)
    return float(brentq(lambda d: paired_power(d, sd, n, alpha, df) - power, 1e-9 * sd, hi))


def seeds_needed(sd: float | None, effect: float, alpha: float = 0.05, power: float = 0.8, most: int = 100_000) -> int | None:
    """The fewest pairs (seeds) whose paired t-test detects ``effect`` with the given power,
    assuming the differences' spread stays ``sd``; None without a spread estimate."""
    if sd is None or not sd > 0:
        return None
    lo, hi = 2, 2
    while paired_power(effect, sd, hi, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > most:
            return None
    while lo < hi:  # the power grows with n: bisect to the first n that reaches it
        mid = (lo + hi) // 2
        if paired_power(effect, sd, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return hi


# Sequential looks. A plain t-interval recomputed after every new seed is not a 95 %
# interval any more: the chance that some look excludes 0 under no difference grows with
# the number of looks. Alpha spending keeps it: look k (k = 1, 2, ...) uses level
# alpha_k = alpha * 6 / (pi^2 k^2), whose sum over all k is alpha, so by the union bound
# the chance that any look ever excludes a true difference is at most alpha, however many
# looks are taken and whenever one stops (benchmarks/sequential_sim.py simulates it).


def look_seeds(cap: int, first: int = 2, growth: float = 1.5) -> list[int]:
    """Seed counts at which a sequential comparison looks: 2, 3, 5, 8, 12, 18, 27, ...
    (each round half as large again as what came before), ending at ``cap``. Geometric
    rounds spend alpha over few looks, so each look keeps more of it than a look per seed
    would (benchmarks/sequential_sim.py compares the two)."""
    out = [min(first, cap)]
    while out[-1] < cap:
        out.append(min(cap, max(out[-1] + 1, math.ceil(out[-1] * growth))))
    return out


def spent_alpha(look: int, alpha: float = 0.05) -> float:
    """The level that look ``look`` (1-based) may spend."""
    if look < 1:
        raise ValueError("looks are numbered from 1")
    return alpha * 6 / (np.pi ** 2 * look ** 2)


def sequential_interval(diffs, look: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """Two-sided interval for the mean paired difference at look ``look``, valid under
    repeated looks (a t-interval at level 1 - alpha_k); None with fewer than two pairs or
    zero spread (no estimate of the spread yet). ``alpha``: this comparison's share of the
    familywise alpha (alpha / m for m arms)."""
    return _t_interval(diffs, spent_alpha(look, alpha))


def equivalence_interval(diffs, look: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """TOST within the spending rule: the 1 - 2 alpha_k interval, which lies inside
    (-E, +E) exactly when both one-sided tests at alpha_k reject a difference of E or more."""
    return _t_interval(diffs, 2 * spent_alpha(look, alpha))


def _t_interval(diffs, a: float) -> tuple[float, float] | None:
    from scipy import stats as st

    d = np.asarray(list(diffs), dtype=float)
    if len(d) < 2 or flat(d):
        return None
    sd = float(d.std(ddof=1))
    half = float(st.t.ppf(1 - a / 2, len(d) - 1) * sd / np.sqrt(len(d)))
    return float(d.mean() - half), float(d.mean() + half)


def sequential_p(p_value: float | None, look: int, comparisons: int = 1, alpha: float = 0.05) -> float | None:
    """The adjusted p-value of look ``look`` among ``comparisons`` arms: below ``alpha``
    exactly when the look's interval at level 1 - alpha_k / m excludes 0."""
    if p_value is None:
        return None
    return min(1.0, p_value * comparisons * alpha / spent_alpha(look, alpha))


def resolved(interval: tuple[float, float] | None, effect: float,
             equivalence: tuple[float, float] | None = None) -> str | None:
    """'different' when the two-sided ``interval`` excludes 0; 'within effect' when the
    TOST interval ``equivalence`` (default: ``interval``, which is wider) lies inside
    (-effect, +effect), so that a difference as large as ``effect`` is ruled out; None
    while neither holds, and always without an interval (too few pairs, zero spread)."""
    if interval is None:
        return None
    lo, hi = interval
    if lo > 0 or hi < 0:
        return "different"
    elo, ehi = equivalence if equivalence is not None else interval
    if -effect < elo and ehi < effect:
        return "within effect"
    return None


# --- evidence per test image -------------------------------------------------------------------
# With a record of which test images each run got right, a difference in error between two
# arms over n paired seeds and N test images is D = mean_s d_s, d_s = mean_i x_si, where
# x_si = (arm wrong) - (reference wrong) on image i in seed s (-1, 0 or +1). Its variance
# as an estimate of the difference on the data distribution (runs AND test images drawn
# anew) has two parts (a variance-components estimate, as in Jordan 2024, "On the Variance
# of Neural Network Training with respect to Test Sets and Distributions"):
#   * test images: Var_i(m_i) / N, where m_i = mean_s x_si. It holds how the difference
#     varies from image to image and the per-image coin flips of the n runs; N - 1 df.
#   * runs: a component shared by every image of a run (one run is better overall). The
#     seed-to-seed variance of d_s less what independent per-image flips explain,
#     S_d^2 - sum_i s_i^2 / N^2 (s_i^2: image i's variance over seeds), floored at 0,
#     over n; n - 1 df.
# When the seeds show no run component (S_d^2 at or below what the flips explain) the
# interval is a t interval on the image part's N - 1 df; when they show one, it takes the
# seeds' n - 1 df, as a seed-level interval does (Satterthwaite's df covers only 88 % at
# 3 seeds when the run component is as large as the flips).
# Unlike a seed-level t interval, which is about this fixed test set, it also holds the
# test-set sampling part: it is about the data distribution. Coverage, simulated from
# converged to short runs at 3-10 seeds: results/benchmarks/per_image_coverage.txt.


def per_image_difference(reference: dict, other: dict, level: float = 0.95) -> PairedDifference | None:
    """``reference`` and ``other`` map seed -> bool array of right answers per test image
    (the same images in the same order); only seeds present in both pair up. The mean
    difference in error (other - reference) with a variance-components t interval."""
    from scipy import stats as st

    seeds = sorted(set(reference) & set(other))
    if not seeds:
        return None
    x = np.stack([np.asarray(reference[s], dtype=float) - np.asarray(other[s], dtype=float) for s in seeds])  # n, N
    n, images = x.shape
    d = x.mean(1)
    mean = float(d.mean())
    if n < 2 or images < 2:
        return PairedDifference(mean, None, None, n, level=level)
    v_img = float(x.mean(0).var(ddof=1)) / images
    v_run = (float(d.var(ddof=1)) - float(x.var(0, ddof=1).sum()) / images ** 2) / n
    var = v_img + max(0.0, v_run)
    if not var > 0:
        return PairedDifference(mean, None, None, n, 0.0, level)
    df = n - 1 if v_run > 0 else images - 1
    se = math.sqrt(var)
    half = float(st.t.ppf(0.5 + level / 2, df)) * se
    p = float(2 * st.t.sf(abs(mean) / se, df))
    return PairedDifference(mean, (mean - half, mean + half), p, n, se * math.sqrt(n), level, df)
