"""Reliability of `resbench check`'s timing verdict on synthetic samples.

    python benchmarks/check_reliability.py [--trials 2000]

Per-iteration latencies are drawn log-normally (noise sigma 5 %, 10 %, 20 %), 30
samples per side, fixed seeds. Targets: false-alarm rate <= 1 % on identical
distributions; a true 20 % slowdown detected >= 95 % of the time (tolerance 10 %,
one-sided Mann-Whitney U at alpha 0.01, as `check` does).
"""

import argparse

import numpy as np

from resbench.check import timing_verdict


def rate(rng, trials: int, slowdown: float, sigma: float, n: int = 30) -> float:
    hits = 0
    for _ in range(trials):
        base = 10 * np.exp(rng.normal(0, sigma, n))
        cur = 10 * slowdown * np.exp(rng.normal(0, sigma, n))
        hits += timing_verdict(list(base), list(cur), 0.10)[2] == "regressed"
    return hits / trials


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"# {args.trials} trials per cell, 30 samples per side, tolerance 10 %, alpha 0.01")
    print("noise sigma | false alarms (identical) | detected (true +20 %) | detected (true +12 %)")
    for sigma in (0.05, 0.10, 0.20):
        fa = rate(rng, args.trials, 1.0, sigma)
        d20 = rate(rng, args.trials, 1.2, sigma)
        d12 = rate(rng, args.trials, 1.12, sigma)
        print(f"{sigma:11.0%} | {fa:24.2%} | {d20:21.2%} | {d12:21.2%}")


if __name__ == "__main__":
    main()
