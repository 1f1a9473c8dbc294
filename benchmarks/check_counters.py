"""What each of `check`'s measures can see: wall time against the deterministic counters.

    python3 benchmarks/check_counters.py [--aa 10] [--runs 5] [--instr-aa 3] [--busy] > OUT.txt

Copies of this resbench are made in a temporary folder, three of them with a slowdown of
known kind injected into the model code:

* ``elementwise``: one extra elementwise op per block (``relu(out).mul(1.0)``);
* ``contiguous``: ``.contiguous()`` on every block's shortcut (the entry runs NHWC, so it copies);
* ``width17``: the CIFAR nets' first-stage width 16 -> 17.

Every copy is measured as `check --against` does, with the same engine
(resbench.check.run: fresh processes, interleaved) and the same verdict rules
(resbench.check.verdict, resbench.check.counter_verdict), ``--runs`` runs a side:

* A/A: the clean copy against itself ``--aa`` times (wall time, ops, memory) and
  ``--instr-aa`` times for instructions (each costs two callgrind runs);
* each injection against the clean copy, once (the counters are deterministic; wall time's
  detection rate at that size follows from the A/A noise, reported as the smallest
  slowdown it detects with 95 % power).

``--busy`` keeps one core busy with a second process (a Python spin loop) throughout.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from resbench.measure.env import cpu_model
from resbench.check.counter_verdict import counter_verdicts
from resbench.check.run import run_worker, measure_counters
from resbench.check.suite import Entry
from resbench.check.verdict import DEFAULT_ALPHA, DEFAULT_TOLERANCE, NOISE_K, timing_verdict

ENTRY = Entry(spec="resnet20", batch_size=8, channels_last=True, iters=30, warmup=3,
              counters=("ops", "memory", "instructions"))
CHEAP = Entry(**{**ENTRY.to_dict(), "counters": ("ops", "memory")})
BLOCKS = "resbench/model/blocks.py"
INJECTIONS = {
    "elementwise": (BLOCKS, "        return self.relu(out)\n", "        return self.relu(out).mul(1.0)\n"),
    "contiguous": (BLOCKS, "            out = out + self.downsample(x)\n", "            out = out + self.downsample(x).contiguous()\n"),
    "width17": ("resbench/spec.py", '"cifar": {"width": 16', '"cifar": {"width": 17'),
}


def make_copies(tmp: Path) -> dict[str, Path]:
    import resbench

    src = Path(resbench.__file__).resolve().parent
    copies = {}
    for name in ("clean", "clean2", *INJECTIONS):
        root = tmp / name
        shutil.copytree(src, root / "resbench", ignore=shutil.ignore_patterns("__pycache__"))
        if name in INJECTIONS:
            rel, old, new = INJECTIONS[name]
            f = root / rel
            text = f.read_text()
            if old not in text:
                sys.exit(f"cannot inject {name}: {old.strip()!r} not in {rel}")
            f.write_text(text.replace(old, new))
        copies[name] = root
    return copies


def timed_runs(base: Path, cand: Path, runs: int) -> tuple[list[float], list[float]]:
    b, c = [], []
    for _ in range(runs):  # interleaved A B A B, as check --against
        b.append(run_worker(base, CHEAP)["timing"])
        c.append(run_worker(cand, CHEAP)["timing"])
    return [t["median_ms"] for t in b], [t["median_ms"] for t in c]


def mde_95(sigma: float, runs: int, alpha: float = DEFAULT_ALPHA) -> float:
    """Smallest relative slowdown the timing rule detects with 95 % power at this
    between-run spread (log scale): beyond its threshold, and significant."""
    df = 2 * runs - 2
    t_needed = (stats.t.ppf(1 - alpha, df) + stats.t.ppf(0.95, df)) * sigma * math.sqrt(2 / runs)
    return max(math.exp(t_needed) - 1, DEFAULT_TOLERANCE, NOISE_K * sigma)


@contextlib.contextmanager
def busy(on: bool):
    if not on:
        yield
        return
    p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        p.kill()
        p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aa", type=int, default=10)
    ap.add_argument("--instr-aa", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--condition", default=None, help="what else the machine ran meanwhile, for the report's header")
    a = ap.parse_args()
    import torch

    say = lambda s="": print(s, flush=True)  # noqa: E731
    say(f"$ python3 benchmarks/check_counters.py --aa {a.aa} --instr-aa {a.instr_aa} --runs {a.runs}"
        + (" --busy" if a.busy else "") + (f" --condition '{a.condition}'" if a.condition else "")
        + f"   # {time.strftime('%Y-%m-%d %H:%M')}")
    say(f"# {platform.machine()} {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, Python {platform.python_version()}; "
        f"entry {ENTRY.id}; {a.runs} runs a side; "
        + (a.condition or ("ONE CORE KEPT BUSY by a second process" if a.busy else "no other work")))
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="resbench-counters-") as tmp, busy(a.busy):
        copies = make_copies(Path(tmp))
        clean = copies["clean"]
        # --- A/A -------------------------------------------------------------------------------
        say("\n## A/A: identical code on both sides")
        alarms = {"wall time": 0, "ops": 0, "memory": 0, "instructions": 0}
        sigmas, ratios = [], []
        t0 = time.perf_counter()
        for i in range(a.aa):
            bm, cm = timed_runs(clean, copies["clean2"], a.runs)
            tv = timing_verdict(bm, cm)
            sigmas.append(float(np.std(np.log(bm), ddof=1)))
            ratios.append(tv.ratio)
            cb = measure_counters(clean, [CHEAP])[CHEAP.id]
            cc = measure_counters(copies["clean2"], [CHEAP])[CHEAP.id]
            cv = {v.counter: v for v in counter_verdicts(cb, cc)}
            alarms["wall time"] += tv.verdict == "regressed"
            alarms["ops"] += cv["ops"].fails
            alarms["memory"] += cv["memory"].fails
            say(f"check {i + 1}: wall ratio {tv.ratio:.3f} (p {tv.p_value:.2g}, {tv.verdict}); ops {cv['ops'].verdict} "
                f"({cc['ops']['count']}); memory {cv['memory'].verdict} ({cc['memory']['total_bytes']:,} B)")
        per_check = (time.perf_counter() - t0) / max(1, a.aa)
        instr = []
        t0 = time.perf_counter()
        for i in range(a.instr_aa):
            ib = measure_counters(clean, [ENTRY])[ENTRY.id]["instructions"]
            ic = measure_counters(copies["clean2"], [ENTRY])[ENTRY.id]["instructions"]
            v = counter_verdicts({"instructions": ib}, {"instructions": ic})[0]
            alarms["instructions"] += v.fails
            instr += [ib["count"], ic["count"]]
            say(f"instructions check {i + 1}: {ib['count']:,} vs {ic['count']:,} ({v.relative_change:+.2e}, {v.verdict}); "
                f"repeat spreads {ib['spread']:.1e} / {ic['spread']:.1e}")
        instr_cost = (time.perf_counter() - t0) / max(1, 2 * a.instr_aa)
        sigma = float(np.sqrt(np.mean(np.square(sigmas))))
        between = (max(instr) - min(instr)) / min(instr) if instr else float("nan")
        say("false alarms: " + ", ".join(f"{k} {n}/{a.instr_aa if k == 'instructions' else a.aa}" for k, n in alarms.items()))
        say(f"wall time: between-run spread {sigma:.1%} (rms of log sd), A/A ratios {min(ratios):.3f}-{max(ratios):.3f}; "
            f"instructions: largest spread between processes {between:.1e}")
        # --- injections ----------------------------------------------------------------------------
        say("\n## injected slowdowns (candidate = injected copy, baseline = clean)")
        say("injection | instructions ratio (its size) | wall ratio (p, verdict) | ops | memory | instructions | named")
        base_counters = measure_counters(clean, [ENTRY])[ENTRY.id]
        for name in INJECTIONS:
            bm, cm = timed_runs(clean, copies[name], a.runs)
            tv = timing_verdict(bm, cm)
            cur = measure_counters(copies[name], [ENTRY])[ENTRY.id]
            cv = {v.counter: v for v in counter_verdicts(base_counters, cur)}
            size = cur["instructions"]["count"] / base_counters["instructions"]["count"]
            named = cv["ops"].differences[0] if cv["ops"].differences else "-"
            say(f"{name} | {size:.4f} | {tv.ratio:.3f} (p {tv.p_value:.2g}, {tv.verdict}) | {cv['ops'].verdict} "
                f"({base_counters['ops']['count']} -> {cur['ops']['count']}) | {cv['memory'].verdict} | "
                f"{cv['instructions'].verdict} ({cv['instructions'].relative_change:+.2%}) | {named}")
        # --- what each measure detects -------------------------------------------------------------
        say("\n## smallest slowdown detected with 95 % power, at these runs")
        say(f"wall time ({a.runs} runs a side, alpha {DEFAULT_ALPHA}, rule max(tolerance {DEFAULT_TOLERANCE:.0%}, "
            f"{NOISE_K:g} x spread)): {mde_95(sigma, a.runs):.1%}")
        say("instructions (tolerance 1 %; the counts repeat within "
            f"{between:.1e}): 1.0 % of the step's instructions")
        say("ops, memory: exact: any added op, or any added byte, whatever its time")
        say(f"\ncost per entry: wall time {a.runs}+{a.runs} runs and ops+memory both sides {per_check:.0f} s per check; "
            f"instructions {instr_cost:.0f} s per side (one callgrind run, 2 repeats); total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
