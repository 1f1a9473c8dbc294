"""One arm, many seeds, on the real data: the spread of final test error at several epoch
counts (what the budget planner's prior claims) and the coverage of compare's interval on
real repeated cells (an A/A comparison, whose true difference is 0).

    python3 benchmarks/repeated_cells.py run DATA OUTDIR --epochs 2 --seeds 12 [--schedule linear] [--subset N] [--arm resnet20]
    python3 benchmarks/repeated_cells.py report OUTDIR PREFIX [--splits 2000]

`run` trains the seeds with `resbench train` in two lanes side by side, one thread each
(accuracy does not depend on it); every record (with its per-image answers) is stored in
OUTDIR/records, and a finished seed is found there, so the same command resumes. Run it once
per epoch count into the same OUTDIR.

`report` groups the stored records by configuration and writes PREFIX.txt and PREFIX.csv:
- per group: the seeds, mean test error, one arm's seed sd with its 95 % chi-square
  interval, and the sd the planner's prior (resbench.train.budget.one_arm_sd) gives there;
- per group with at least 4 seeds: compare's own interval (resbench.train.comparison's rule:
  the seed-and-image interval from 3 pairs, the paired t below) for random disjoint splits
  of the seeds into a "reference" and an "other" arm of k seeds each, and the share that
  holds the truth, 0 (diverged seeds left out first). The splits share seeds, so they are
  not independent: 12 seeds allow only 2 disjoint 3-vs-3 splits. The share says whether
  the intervals are roughly right on real runs; it is not a precise coverage figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent


def run(a) -> None:
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RESBENCH_RESULTS_DIR": str(out), "PYTHONPATH": str(HERE)}
    extra = ["--subset", str(a.subset)] if a.subset else []

    def train(seed: int) -> None:
        cmd = [sys.executable, "-m", "resbench", "train", a.arm, "--dataset", "cifar10", "--data-dir", a.data,
               "--no-download", "--epochs", str(a.epochs), "--schedule", a.schedule, "--seed", str(seed), "--dtype", "fp32",
               "--device", "cpu", "--threads", "1", *extra]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
        if r.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
        print(f"{a.arm} {a.epochs} epochs seed {seed}: done", flush=True)

    seeds = list(range(a.seeds))
    with ThreadPoolExecutor(2) as pool:  # two lanes; a failed seed fails the command, with its stderr
        for lane in [pool.submit(lambda part=seeds[i::2]: [train(s) for s in part]) for i in range(2)]:
            lane.result()


def groups(records_dir: Path) -> dict[tuple, dict[int, object]]:
    """Stored train records by configuration (everything but the seed): seed -> TrainResult."""
    from resbench.store import read_record

    out: dict[tuple, dict[int, object]] = defaultdict(dict)
    for path in sorted((records_dir / "records" / "train").glob("*.json")):
        rec = read_record(path)
        cfg = dict(rec.config)
        seed = cfg.pop("seed")
        key = tuple(sorted((k, json.dumps(v)) for k, v in cfg.items() if k not in ("data_dir", "device")))
        if seed in out[key]:
            print(f"warning: seed {seed} stored twice for one configuration ({path.name}); keeping the first", file=sys.stderr)
            continue
        out[key][seed] = rec.typed_result()
    return dict(out)


def sd_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Sample sd and its chi-square interval."""
    from scipy import stats

    n = len(values)
    sd = float(np.std(values, ddof=1))
    lo = sd * math.sqrt((n - 1) / stats.chi2.ppf(0.5 + level / 2, n - 1))
    hi = sd * math.sqrt((n - 1) / stats.chi2.ppf(0.5 - level / 2, n - 1))
    return sd, lo, hi


def aa_coverage(results: dict[int, object], k: int, splits: int, seed: int = 0) -> dict:
    """compare's interval for random disjoint k-vs-k splits of one arm's finished seeds (the
    diverged left out first): the share that holds 0 (the true difference of an arm with
    itself), and how many splits gave no interval."""
    from resbench.train.comparison import arm_difference

    seeds = sorted(s for s, r in results.items() if not r.diverged)
    rng = np.random.default_rng(seed)
    hits = total = none = 0
    methods = set()
    for _ in range(splits if len(seeds) >= 2 * k else 0):
        pick = rng.permutation(seeds)[: 2 * k]
        # pair the two halves seed by seed: relabel both to 0..k-1 (compare pairs by seed number)
        ref = {i: results[int(s)] for i, s in enumerate(pick[:k])}
        other = {i: results[int(s)] for i, s in enumerate(pick[k:])}
        d = arm_difference(ref, other, 1, 0.01)
        if not d.get("delta_ci"):
            none += 1
            continue
        lo, hi = d["delta_ci"]
        hits += lo <= 0 <= hi
        total += 1
        methods.add(d["interval_method"])
    return {"k": k, "splits": total, "no_interval": none, "covered": hits / total if total else None,
            "disjoint_splits": len(seeds) // (2 * k), "method": "/".join(sorted(methods))}


def report(a) -> None:
    import torch

    from resbench.measure.env import cpu_model
    from resbench.train.budget import full_epochs, one_arm_sd

    out = Path(a.outdir)
    lines = [f"# benchmarks/repeated_cells.py report {a.outdir} {a.prefix}",
             f"# {cpu_model()} ({platform.machine()}), torch {torch.__version__}, Python {platform.python_version()}; "
             f"records in {out / 'records'}"]
    rows = []
    for key, results in sorted(groups(out).items(), key=lambda kv: str(kv[0])):
        cfg = {k: json.loads(v) for k, v in key}
        errs = [100 * r.final_test_error for r in results.values() if not r.diverged]
        if len(errs) < 2:
            continue
        sd, lo, hi = sd_interval(errs)
        fe = full_epochs(cfg["epochs"], cfg.get("subset") or 50_000)
        prior = 100 * one_arm_sd(fe)
        row = {**cfg, "seeds": len(errs), "mean_test_error": float(np.mean(errs)), "sd": sd, "sd_low": lo, "sd_high": hi,
               "prior_sd": prior, "full_epochs": fe}
        lines.append(f"$ python3 benchmarks/repeated_cells.py run DATA OUTDIR --arm {cfg['spec']} --epochs {cfg['epochs']} "
                     f"--seeds {len(results)} --schedule {cfg.get('schedule')}"
                     + (f" --subset {cfg['subset']}" if cfg.get("subset") else "") + "   # DATA: the JPEG CIFAR-10 copy")
        lines.append(f"{cfg['spec']} {cfg['epochs']} epochs ({cfg.get('schedule')}, subset {cfg.get('subset') or 'all'}): "
                     f"{len(errs)} seeds, test error {row['mean_test_error']:.2f} %, one-arm sd {sd:.2f} points "
                     f"[{lo:.2f}, {hi:.2f}] (95 %, chi-square); the planner's prior says {prior:.2f}")
        for k in (2, 3):
            c = aa_coverage(results, k, a.splits)
            if c["covered"] is None:
                continue
            row[f"aa_k{k}_covered"] = c["covered"]
            lines.append(f"  A/A, {k} vs {k} seeds ({c['method']}): {c['covered']:.1%} of {c['splits']} random splits "
                         f"hold 0 (nominal 95 %)" + (f", {c['no_interval']} gave no interval" if c["no_interval"] else "")
                         + f"; the splits share seeds ({c['disjoint_splits']} disjoint): a check that the intervals "
                         "are roughly right on real runs, not a precise coverage figure")
        rows.append(row)
    Path(f"{a.prefix}.txt").write_text("\n".join(lines) + "\n")
    import csv

    with open(f"{a.prefix}.csv", "w", newline="") as f:
        fields = sorted({k for r in rows for k in r})
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("data")
    r.add_argument("outdir")
    r.add_argument("--arm", default="resnet20")
    r.add_argument("--epochs", type=int, required=True)
    r.add_argument("--seeds", type=int, required=True)
    r.add_argument("--schedule", default="linear", choices=["step", "linear", "cosine"])
    r.add_argument("--subset", type=int)
    p = sub.add_parser("report")
    p.add_argument("outdir")
    p.add_argument("prefix")
    p.add_argument("--splits", type=int, default=2000)
    a = ap.parse_args()
    run(a) if a.cmd == "run" else report(a)


if __name__ == "__main__":
    main()
