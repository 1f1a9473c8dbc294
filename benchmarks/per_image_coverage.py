"""Coverage of compare's per-image interval (resbench.stats.per_image_difference), simulated.

    python benchmarks/per_image_coverage.py [--reps 2000] [--out results/benchmarks/per_image_coverage.txt]

A generative model of a CIFAR-10-sized test: a pool of images, each with a logit of being
wrong for the reference arm (mean error about 8 % or 30 %, wide image-to-image spread)
and a per-image shift for the other arm (mean shift delta, its own spread). A run adds one
global logit offset g ~ N(0, sigma_g) to every image (one run is better overall), then
each image is an independent coin. The truth is the difference in expected error over
the pool and over runs (a large Monte Carlo). "d sprd" is the per-image shift's spread:
at 2.0 the arms disagree on many images, so the test set's own sampling matters. Each replicate draws N = 10,000 test images
from the pool and n seeds per arm, forms the 95 % interval, and checks whether it holds
the truth. Scenarios span converged runs (small sigma_g, as Jordan 2024 measures at 64
epochs) to short ones (large sigma_g), and 2-10 seeds. The seed-level paired t interval
is run on the same replicates for comparison (it targets the fixed test set, so it misses
the test-set sampling part of the truth).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from resbench.outputs import finish_report
from resbench.stats import paired_difference, per_image_difference

POOL = 200_000
N = 10_000
SEEDS = (3, 5, 10)  # compare uses the per-image interval from 3 seeds on (2 seeds: the seed-level t interval)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def scenario(rng, base: float, spread: float, delta: float, delta_spread: float, sigma_g: float):
    logit_r = rng.normal(np.log(base / (1 - base)) - 0.5 * spread, spread, POOL)  # skewed: most images easy
    logit_a = logit_r + rng.normal(delta, delta_spread, POOL)
    g = rng.normal(0, sigma_g, (400, 2))
    truth = float(np.mean([_sigmoid(logit_a + ga).mean() - _sigmoid(logit_r + gr).mean() for gr, ga in g]))
    return logit_r, logit_a, truth


def replicate(rng, logit_r, logit_a, sigma_g: float, seeds: int):
    idx = rng.integers(0, POOL, N)
    lr, la = logit_r[idx], logit_a[idx]
    ref, arm = {}, {}
    for s in range(seeds):
        gr, ga = rng.normal(0, sigma_g, 2)
        ref[s] = rng.random(N) >= _sigmoid(lr + gr)  # right answers
        arm[s] = rng.random(N) >= _sigmoid(la + ga)
    return ref, arm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--out")
    args = ap.parse_args()
    rng = np.random.default_rng(20261203)
    lines = [f"# {' '.join(sys.argv)}", f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
             f"numpy {np.__version__}; {args.reps} replicates per row, N = {N} test images from a pool of {POOL:,}",
             "# coverage of the nominal 95 % interval of (arm error - reference error) on the distribution",
             f"{'base err':>8} {'sigma_g':>7} {'delta':>6} {'d sprd':>6} {'seeds':>5} {'truth %':>8} {'per-image cov':>13} "
             f"{'mean half-width':>15} {'seed-t cov':>10} {'seed-t half-width':>17}"]
    t0 = time.time()
    for base, sigma_g, delta, spread in ((0.08, 0.02, 0.05, 0.5), (0.08, 0.10, 0.05, 0.5), (0.30, 0.30, 0.10, 0.5),
                                         (0.08, 0.02, 0.0, 0.5), (0.08, 0.02, 0.0, 2.0)):
        logit_r, logit_a, truth = scenario(rng, base, 2.5, delta, spread, sigma_g)
        for seeds in SEEDS:
            hit = hw = t_hit = t_hw = t_n = 0
            for _ in range(args.reps):
                ref, arm = replicate(rng, logit_r, logit_a, sigma_g, seeds)
                d = per_image_difference(ref, arm)
                hit += d.ci[0] <= truth <= d.ci[1]
                hw += (d.ci[1] - d.ci[0]) / 2
                t = paired_difference({s: 1 - r.mean() for s, r in ref.items()}, {s: 1 - a.mean() for s, a in arm.items()})
                if t.ci is not None:
                    t_n += 1
                    t_hit += t.ci[0] <= truth <= t.ci[1]
                    t_hw += (t.ci[1] - t.ci[0]) / 2
            lines.append(f"{base:>8.2f} {sigma_g:>7.2f} {delta:>6.2f} {spread:>6.1f} {seeds:>5} {100 * truth:>8.3f} {hit / args.reps:>13.3f} "
                         f"{100 * hw / args.reps:>14.3f}p {t_hit / max(1, t_n):>10.3f} {100 * t_hw / max(1, t_n):>16.3f}p")
            print(lines[-1], flush=True)
    lines.append(f"# {time.time() - t0:.0f} s")
    finish_report(lines, args.out)


if __name__ == "__main__":
    main()
