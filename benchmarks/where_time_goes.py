"""Costs of the "where the time goes" features, each against its reference in one run.

    python benchmarks/where_time_goes.py [--spec resnet50] [--batch 8] [--repeat 3]

Targets: `profile --breakdown` costs <= 2 x a plain `profile` (same spec, batch and
defaults, wall clock of the whole call); its stage times add up to within 10 % of the
whole-model time; `show --depth layer resnet152` takes <= `show resnet152` + 1 s
(separate processes, best of N).
"""

import argparse
import platform
import subprocess
import sys
import time

import torch

from resbench.measure.timing import ProfileConfig, profile
from resbench.spec import parse_spec


def best(cmd: list[str], repeat: int) -> float:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="resnet50")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"best of {args.repeat}")
    spec = parse_spec(args.spec)
    plain_s, bd_s, ratios = [], [], []
    for _ in range(args.repeat):  # interleaved: drift hits both alike
        t = time.perf_counter()
        profile(spec, ProfileConfig(device="cpu", batch_size=args.batch))
        plain_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = profile(spec, ProfileConfig(device="cpu", batch_size=args.batch, breakdown=True))
        bd_s.append(time.perf_counter() - t)
        total = sum(s.median_ms for s in r.breakdown)
        ratios.append(total / (total + r.breakdown_rest_ms))
    cost = min(bd_s) / min(plain_s)
    print(f"profile {spec.name} -b {args.batch}: plain {min(plain_s):.2f} s, --breakdown {min(bd_s):.2f} s, "
          f"ratio {cost:.2f} (target <= 2.00) {'ok' if cost <= 2 else 'OVER'}")
    worst = max(abs(1 - x) for x in ratios)
    print(f"stage sum / whole-model time: {', '.join(f'{x:.3f}' for x in ratios)} (target within 10 %) "
          f"{'ok' if worst <= 0.10 else 'OVER'}")
    py = sys.executable
    show = best([py, "-m", "resbench", "show", "resnet152"], args.repeat)
    layer = best([py, "-m", "resbench", "show", "resnet152", "--depth", "layer"], args.repeat)
    print(f"show resnet152: {show:.2f} s; --depth layer: {layer:.2f} s; extra {layer - show:+.2f} s (target <= +1.00 s) "
          f"{'ok' if layer <= show + 1 else 'OVER'}")


if __name__ == "__main__":
    main()
