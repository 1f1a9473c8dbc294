"""Reliability of `resbench check`'s timing verdict, simulated with between-run noise.

    python benchmarks/check_reliability.py [--trials 2000]

A run's latencies are drawn as level x exp(N(0, 10 %)) per iteration (30 iterations),
where each run's level is the true latency x exp(N(0, s)): s is the between-run noise
(5, 10, 20 %) that benchmarks/check_runs.py measures between processes (5-17 % on our
2-core CPU). Identical code (no slowdown) must give false alarms <= 1 %; a true 20 %
slowdown should be detected >= 95 % wherever the noise allows it.

Old design (before runs): one process per side, Mann-Whitney U on the pooled
iterations (alpha 0.01, tolerance 10 %). New design (resbench.check.verdict): R runs a
side, t-test on log run medians (alpha 0.01), threshold max(10 %, 2 x noise floor).
"""

import argparse

import numpy as np
from scipy.stats import mannwhitneyu

from resbench.check.verdict import timing_verdict

ITERS, WITHIN = 30, 0.10


def run_samples(rng, true_ms: float, between: float, runs: int) -> np.ndarray:
    levels = true_ms * np.exp(rng.normal(0, between, runs))
    return levels[:, None] * np.exp(rng.normal(0, WITHIN, (runs, ITERS)))


def old_verdict(base: np.ndarray, cur: np.ndarray) -> bool:
    b, c = base.ravel(), cur.ravel()
    ratio = np.median(c) / np.median(b)
    return ratio > 1.10 and mannwhitneyu(c, b, alternative="greater").pvalue < 0.01


def new_verdict(base: np.ndarray, cur: np.ndarray) -> bool:
    return timing_verdict(list(np.median(base, axis=1)), list(np.median(cur, axis=1))).verdict == "regressed"


def rate(rng, trials: int, between: float, slowdown: float, runs: int, judge) -> float:
    return float(np.mean([judge(run_samples(rng, 10, between, runs), run_samples(rng, 10 * slowdown, between, runs))
                          for _ in range(trials)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"# {args.trials} trials per cell; {ITERS} iterations per run, {WITHIN:.0%} within-run noise")
    print("design | runs/side | between-run noise | false alarms (identical) | detected (+20 %) | meets targets")
    rows = [("old: MWU on pooled iterations", 1, old_verdict)] + [("new: t-test on run medians", r, new_verdict) for r in (3, 5, 10)]
    for name, runs, judge in rows:
        for between in (0.05, 0.10, 0.20):
            fa = rate(rng, args.trials, between, 1.0, runs, judge)
            det = rate(rng, args.trials, between, 1.2, runs, judge)
            verdict = "yes" if fa <= 0.01 and det >= 0.95 else ("false alarms" if fa > 0.01 else "too noisy for +20 %")
            print(f"{name} | {runs} | {between:.0%} | {fa:.2%} | {det:.1%} | {verdict}")


if __name__ == "__main__":
    main()
