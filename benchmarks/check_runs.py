"""What is a 'run' for `resbench check`? Between-run spread of the median latency when
each run is a fresh process versus a freshly built model in one process.

    python benchmarks/check_runs.py [--runs 6] [--specs cifar-resnet8:32,resnet20:8]

For each spec:batch, R runs of 30 timed iterations each (after 3 warm-up), both ways,
interleaved. Prints each way's run medians, their coefficient of variation (the
between-run noise the check's noise floor must cover), and the within-run spread for
comparison. `check` uses the way with the larger (more honest) between-run spread.
"""

import argparse
import json
import platform
import subprocess
import sys

import numpy as np

from resbench.check import Entry, measure_entry


def fresh_process(entry: Entry) -> float:
    out = subprocess.run([sys.executable, "-m", "resbench.check_worker", json.dumps(entry.to_dict())],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])[0]["timing"]["median_ms"]


def same_process(entry: Entry) -> tuple[float, float]:
    t = measure_entry(entry)["timing"]
    s = np.asarray(t["samples_ms"])
    return t["median_ms"], float((np.percentile(s, 75) - np.percentile(s, 25)) / np.median(s))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--specs", default="cifar-resnet8:32,resnet20:8")
    args = ap.parse_args()
    import torch

    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.runs} runs each way, 30 iterations per run")
    print("entry | way | run medians (ms) | between-run CV | within-run IQR/median (mean)")
    for item in args.specs.split(","):
        spec, batch = item.split(":")
        entry = Entry(spec=spec, batch_size=int(batch), iters=30, warmup=3)
        fresh, inproc, iqr = [], [], []
        for _ in range(args.runs):  # interleaved: drift hits both ways alike
            fresh.append(fresh_process(entry))
            m, q = same_process(entry)
            inproc.append(m)
            iqr.append(q)
        for way, xs in (("fresh process", fresh), ("fresh model, same process", inproc)):
            cv = float(np.std(xs, ddof=1) / np.mean(xs))
            print(f"{entry.id} | {way} | {' '.join(f'{x:.2f}' for x in xs)} | {cv:.1%} | {np.mean(iqr):.1%}")


if __name__ == "__main__":
    main()
