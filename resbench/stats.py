"""Statistics shared by profile, check and compare: summaries, tests, intervals."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
    sem = float(d.std(ddof=1) / np.sqrt(len(d)))
    if sem == 0:
        return PairedDifference(mean, (mean, mean), 0.0 if mean != 0 else 1.0, len(d))
    half = float(st.t.ppf(0.975, len(d) - 1)) * sem
    p = float(2 * st.t.sf(abs(mean) / sem, len(d) - 1))
    return PairedDifference(mean, (mean - half, mean + half), p, len(d))
