"""Fidelity and overhead of `resbench profile` on CPU, against torch.utils.benchmark.

    python benchmarks/profile_fidelity.py [--min-time 3]

For resnet18 (batch 1) and resnet50 (batch 8), fp32 inference: resbench's median
latency vs torch.utils.benchmark.Timer(...).blocked_autorange() median on the same
model, input and thread count, measured back to back in this run. Target: ratio
within 5 %. Also the profiling overhead: the share of a full `profile()` call spent
outside warm-up and measurement (target < 10 %), and the channels_last comparison
that `profile` makes on CPU.
"""

import argparse
import platform

import torch
import torch.utils.benchmark as tb

from resbench.measure.env import collect_env
from resbench.measure.timing import ProfileConfig, profile
from resbench.model import build_model
from resbench.spec import parse_spec


def reference_median_ms(spec, batch: int, min_time: float) -> float:
    model = build_model(spec).eval()
    x = torch.randn(batch, 3, spec.input_size, spec.input_size)
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        t = tb.Timer("model(x)", globals={"model": model, "x": x}, num_threads=torch.get_num_threads())
        with torch.inference_mode():
            m = t.blocked_autorange(min_run_time=min_time)
    return m.median * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-time", type=float, default=3.0)
    args = ap.parse_args()
    env = collect_env(torch.device("cpu"))
    print(f"# {env['cpu']}, {env['threads']} threads, torch {env['torch']}, Python {platform.python_version()}")
    worst = 0.0
    for name, batch in (("resnet18", 1), ("resnet50", 8)):
        spec = parse_spec(name)
        ref = reference_median_ms(spec, batch, args.min_time)
        r = profile(spec, ProfileConfig(device="cpu", batch_size=batch, min_time=args.min_time))
        ref2 = reference_median_ms(spec, batch, args.min_time)  # bracket resbench: drift shows up as ref != ref2
        ref_mid = (ref + ref2) / 2
        ratio = r.latency.median / ref_mid
        worst = max(worst, abs(ratio - 1))
        inside = r.warmup_s + r.measure_s + (r.alt_layout["warmup_s"] + r.alt_layout["measure_s"] if r.alt_layout else 0)
        overhead = 1 - inside / r.total_s
        print(f"{name} b{batch}: resbench median {r.latency.median:.2f} ms (n={r.latency.n}, IQR {r.latency.iqr / r.latency.median:.1%}); "
              f"torch.utils.benchmark {ref:.2f} / {ref2:.2f} ms; ratio {ratio:.3f}")
        print(f"  profile() wall {r.total_s:.1f} s, outside warm-up+measurement {overhead:.1%}; "
              f"channels_last speedup {r.alt_layout['speedup']:.2f}x -> suggestion: {r.suggestion or 'none'}")
    print(f"worst |ratio - 1| = {worst:.3f} (target <= 0.05)")


if __name__ == "__main__":
    main()
