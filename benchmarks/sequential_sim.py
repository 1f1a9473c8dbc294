"""Is `--until-resolved` valid however often it looks? A simulation of its rule.

    python3 benchmarks/sequential_sim.py > results/benchmarks/sequential_sim.txt

Paired differences are drawn one seed at a time (normal, sd 0.5 points); at each look
(2, 3, 5, 8, 12, ... seeds: resbench.stats.look_seeds) the interval of
resbench.stats.sequential_interval (a t-interval at the alpha spent at that look) is
computed and the run stops as `compare --until-resolved` does: when the
interval excludes 0 ("different"), when the TOST interval at the same spent alpha
(resbench.stats.equivalence_interval: 1 - 2 alpha_k) lies inside the effect ("within
effect"), or at the seed cap. Coverage: the share of sequences whose interval at the
look where they stopped holds the true difference. Under no difference, stopping on "different" is a false
positive. For contrast: the same sequences with a plain 95 % t-interval at every look,
and alpha spent at every seed instead of in rounds. With a real difference, it reports
the seeds used against a fixed design that reaches the same power
(resbench.stats.seeds_needed), which would also need the spread known in advance.
"""

from __future__ import annotations

import platform
import sys

import numpy as np
import scipy
from scipy import stats as st

from resbench.stats import look_seeds, seeds_needed, spent_alpha

SD = 0.005  # 0.5 points of test error between paired seeds
ALPHA = 0.05
CAP = 40
N_SEQ = 10_000


def run(delta: float, effect: float, spending: bool, rng, rounds: bool = True,
        coverage: list | None = None) -> tuple[float, float, float]:
    """(share stopped on 'different', mean seeds used, share stopped 'within effect');
    ``coverage`` receives the share whose interval at the stop holds ``delta``."""
    d = rng.normal(delta, SD, size=(N_SEQ, CAP))
    n = np.arange(1, CAP + 1)
    mean = np.cumsum(d, 1) / n
    var = (np.cumsum(d ** 2, 1) - n * mean ** 2) / np.maximum(n - 1, 1)
    se = np.sqrt(np.maximum(var, 0) / n)
    stopped = np.zeros(N_SEQ, bool)
    different = np.zeros(N_SEQ, bool)
    within = np.zeros(N_SEQ, bool)
    used = np.full(N_SEQ, CAP)
    holds = np.zeros(N_SEQ, bool)
    looks = list(look_seeds(CAP) if rounds else range(2, CAP + 1))
    for k, m in enumerate(looks, start=1):
        a = spent_alpha(k, ALPHA) if spending else ALPHA
        half = st.t.ppf(1 - a / 2, m - 1) * se[:, m - 1]
        tost = st.t.ppf(1 - a, m - 1) * se[:, m - 1]
        lo, hi = mean[:, m - 1] - half, mean[:, m - 1] + half
        diff_now = ~stopped & ((lo > 0) | (hi < 0))
        within_now = ~stopped & ~diff_now & (mean[:, m - 1] - tost > -effect) & (mean[:, m - 1] + tost < effect)
        different |= diff_now
        within |= within_now
        now = diff_now | within_now | (~stopped & (m == looks[-1]))
        holds[now] = ((lo <= delta) & (delta <= hi))[now]
        used[now & (diff_now | within_now)] = m
        stopped |= now
    if coverage is not None:
        coverage.append(holds.mean())
    return different.mean(), used.mean(), within.mean()


def main() -> None:
    rng = np.random.default_rng(0)
    print(__doc__.split("\n\n")[0])
    print(f"# python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
          f"{N_SEQ} sequences per row, sd {100 * SD:.2f} points, seed cap {CAP}, alpha {ALPHA}")
    print(f"# command: {' '.join(['python3', *sys.argv])}")
    print("\nno difference (false positives: share of sequences that ever stop on 'different'):")
    for effect in (0.005, 0.0025):
        fp, used, _ = run(0.0, effect, True, rng)
        every, _, _ = run(0.0, effect, True, rng, rounds=False)
        naive, used_n, _ = run(0.0, effect, False, rng, rounds=False)
        print(f"  effect {100 * effect:.2f} points: alpha spending in rounds {100 * fp:.2f} % (mean seeds {used:.1f}); "
              f"spending at every seed {100 * every:.2f} %; plain 95 % t-interval at every seed {100 * naive:.2f} % "
              f"(mean seeds {used_n:.1f})")
    print("\nno difference, seeds until 'within effect' (a difference as large as the effect ruled out):")
    for effect in (0.005, 0.0075):
        _, used, within = run(0.0, effect, True, rng)
        print(f"  effect {100 * effect:.2f} points: resolved within the cap {100 * within:.1f} %, mean seeds {used:.1f}")
    print("\na real difference (stop on 'different' = detected):")
    for delta in (0.005, 0.0075, 0.01):
        power, used, _ = run(delta, 0.001, True, rng)
        _, used_every, _ = run(delta, 0.001, True, rng, rounds=False)
        fixed = seeds_needed(SD, delta, power=min(power, 0.999))
        fixed80 = seeds_needed(SD, delta)
        print(f"  delta {100 * delta:.2f} points: detected {100 * power:.1f} % by the cap, mean seeds {used:.1f} "
              f"(spending at every seed: {used_every:.1f}); a fixed design needs {fixed} seeds for the same power, "
              f"{fixed80} for 80 %")
    print("\ncoverage: share of sequences whose interval at the stopping look holds the true difference:")
    for delta in (0.0, 0.0025, 0.005):
        seq, plain = [], []
        run(delta, 0.005, True, rng, coverage=seq)
        run(delta, 0.005, False, rng, coverage=plain)
        print(f"  delta {100 * delta:.2f} points, effect 0.50: sequential interval {100 * seq[0]:.1f} %; "
              f"plain 95 % t-interval at every look {100 * plain[0]:.1f} %")


if __name__ == "__main__":
    main()
