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
