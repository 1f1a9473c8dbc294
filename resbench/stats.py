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
    """Mean of per-seed differences (other - reference) with a 95 % t interval."""

    mean: float
    ci95: tuple[float, float] | None  # None with fewer than two pairs: no interval can be given
    p_value: float | None  # paired t-test, two-sided
    n: int
    sd: float | None = None  # standard deviation of the per-seed differences (None with one pair)

    @property
    def significant(self) -> bool | None:
        if self.ci95 is None:
            return None
        return self.ci95[0] > 0 or self.ci95[1] < 0


def paired_difference(reference: dict, other: dict) -> PairedDifference | None:
    """``reference`` and ``other`` map seed -> value; only seeds present in both pair up."""
    from scipy import stats as st

    seeds = sorted(set(reference) & set(other))
    if not seeds:
        return None
    d = np.array([other[s] - reference[s] for s in seeds], dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return PairedDifference(mean, None, None, len(d))
    sd = float(d.std(ddof=1))
    sem = float(sd / np.sqrt(len(d)))
    if sem == 0:
        return PairedDifference(mean, (mean, mean), 0.0 if mean != 0 else 1.0, len(d), sd)
    half = float(st.t.ppf(0.975, len(d) - 1)) * sem
    p = float(2 * st.t.sf(abs(mean) / sem, len(d) - 1))
    return PairedDifference(mean, (mean - half, mean + half), p, len(d), sd)


# --- power of a paired comparison ------------------------------------------------------------
# The paired t-test's power for a true mean difference delta with n pairs whose
# differences have standard deviation sd: the two-sided test at alpha rejects when
# |T| > t_crit, and T follows a noncentral t with n - 1 degrees of freedom and
# noncentrality delta * sqrt(n) / sd (scipy.stats.nct).


def paired_power(delta: float, sd: float, n: int, alpha: float = 0.05) -> float:
    from scipy import stats as st

    df = n - 1
    t_crit = float(st.t.ppf(1 - alpha / 2, df))
    nc = abs(delta) * np.sqrt(n) / sd
    # The lower tail underflows (scipy returns NaN there) once nc is large: it is 0 then.
    upper, lower = (float(np.nan_to_num(v)) for v in (st.nct.sf(t_crit, df, nc), st.nct.cdf(-t_crit, df, nc)))
    return min(1.0, upper + lower)


def min_detectable_difference(sd: float | None, n: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest true difference that n pairs detect with the given power; None when it
    cannot be estimated (fewer than 2 pairs, or no spread measured)."""
    from scipy.optimize import brentq

    if sd is None or n < 2 or not sd > 0:
        return None
    from scipy import stats as st

    # Bracket: the normal approximation's difference, doubled, always has more power than asked.
    hi = 2 * (st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)) * sd / np.sqrt(n) * (1 + 10 / n)
    return float(brentq(lambda d: paired_power(d, sd, n, alpha) - power, 1e-9 * sd, hi))


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
    """Interval for the mean paired difference at look ``look``, valid under repeated looks
    (a t-interval at the spent level); None with fewer than two pairs."""
    from scipy import stats as st

    d = np.asarray(list(diffs), dtype=float)
    if len(d) < 2:
        return None
    a = spent_alpha(look, alpha)
    half = float(st.t.ppf(1 - a / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return float(d.mean() - half), float(d.mean() + half)


def resolved(interval: tuple[float, float] | None, effect: float) -> str | None:
    """'different' when the interval excludes 0; 'within effect' when it lies inside
    (-effect, +effect), so that a difference as large as ``effect`` is ruled out either way
    (an interval narrower than ``effect`` that holds 0 always does); None while neither holds."""
    if interval is None:
        return None
    lo, hi = interval
    if lo > 0 or hi < 0:
        return "different"
    if -effect < lo and hi < effect:
        return "within effect"
    return None
