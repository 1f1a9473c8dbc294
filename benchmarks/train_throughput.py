"""Training throughput of resbench's loop vs a plain hand-written PyTorch loop, and of
members packed into one pass (and, on CUDA, CUDA-graph steps).

    python benchmarks/train_throughput.py [--data-dir DIR] [--steps 60] [--workers 2] [--device cpu|cuda] [--out FILE]
    python benchmarks/train_throughput.py --data-dir DIR --steps 25 --against REF --against-only   # REF: a checkout

--against REF: this code's CPU training against REF's, each in a long-lived process of its own,
alternating short runs in balanced order; the ratio is the geometric mean of the pairs' ratios
with its 95 % interval (one process's runs drift by up to 47 % on a shared 2-core machine, so
best-of figures from separate processes cannot resolve a few per cent).

CUDA (run by benchmarks/gpu_check.sh): the reference is a plain loop with the data already
on the device (fp32, NCHW: the yardstick is 9.4 ms/step on an H100 with torch 2.11); resbench runs
its default (NCHW fp32), --cuda-graphs, and 8 members packed; the output states img/s per
member and members on lines of their own, the full CIFAR-10 epoch time and the paper's
164-epoch schedule (64k steps) extrapolated from it. Targets there: >= 50k img/s for one
member, 8 packed members <= 2x the time of one, the schedule <= 3 minutes.

Both train CIFAR ResNet-20 (option A) with batch 128, SGD momentum 0.9, wd 1e-4, lr 0.1,
random crop (pad 4) + flip, fp32, on CPU, over the same images (CIFAR-10 from
--data-dir if given, else the synthetic set), back to back in this run. The reference
is what people write by hand: a Dataset yielding one image at a time through
torchvision transforms, a DataLoader with worker processes, the model in the default
(contiguous) layout. Targets: resbench >= 1.3x the reference; data pipeline overhead
(epoch time outside the training steps) <= 5 %.
"""

import argparse
import math
import os
import platform
import subprocess
import sys
import time

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms import v2

from resbench.measure.env import collect_env
from resbench.model import build_model
from resbench.spec import parse_spec
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import train
from resbench.train.loader import channel_stats


class Images(TorchDataset):
    def __init__(self, x, y, mean, std):
        self.x, self.y = x, y
        self.t = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(),
                             v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean.tolist(), std.tolist())])

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.t(self.x[i]), self.y[i]


def reference_images_per_s(data, steps: int, workers: int) -> float:
    torch.manual_seed(0)
    model = build_model("resnet20").train()
    mean, std = channel_stats(data.train_x)
    loader = DataLoader(Images(data.train_x, data.train_y, mean, std), batch_size=128, shuffle=True,
                        num_workers=workers, drop_last=True, persistent_workers=workers > 0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    it = iter(loader)
    for _ in range(3):  # warm-up (workers start, allocator)
        x, y = next(it)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    t = time.perf_counter()
    for _ in range(steps):
        x, y = next(it)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return steps * 128 / (time.perf_counter() - t)


def resbench_run(data, steps: int, channels_last: bool):
    from dataclasses import replace

    sub = replace(data, train_x=data.train_x[: steps * 128], train_y=data.train_y[: steps * 128])
    cfg = TrainConfig(dataset=data.name, epochs=1, batch_size=128, device="cpu", channels_last=channels_last)
    r = train(parse_spec("resnet20"), cfg, sub)
    return r.images_per_second, r.data_fraction


def packed_images_per_s(data, steps: int, members: int, device: str, **kw) -> float:
    """img/s per member with ``members`` seeds trained together (resbench.train.engine)."""
    from dataclasses import replace

    from resbench.train.engine import train_packed

    sub = replace(data, train_x=data.train_x[: steps * 128], train_y=data.train_y[: steps * 128])
    cfgs = [TrainConfig(dataset=data.name, epochs=1, batch_size=128, device=device, seed=s, **kw) for s in range(members)]
    rs = train_packed(parse_spec("resnet20"), cfgs, [sub] * members)
    return rs[0].images_per_second / members


def plain_device_loop_images_per_s(data, steps: int, device: str) -> float:
    """The CUDA reference: data on the device, random batches, fp32 NCHW, no augmentation."""
    torch.manual_seed(0)
    model = build_model("resnet20").to(device).train()
    x_all = (data.train_x[: steps * 128].to(device).float() / 255)
    y_all = data.train_y[: steps * 128].to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(n):
        for i in range(n):
            idx = torch.randint(0, len(y_all), (128,), device=device)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x_all[idx]), y_all[idx]).backward()
            opt.step()

    run(10)
    torch.cuda.synchronize()
    t = time.perf_counter()
    run(steps)
    torch.cuda.synchronize()
    return steps * 128 / (time.perf_counter() - t)


AGAINST_WORKER = """
import json, sys
from dataclasses import replace
from resbench.spec import parse_spec
from resbench.train.data import load_dataset
from resbench.train.engine import train
try:  # TrainConfig in its own module
    from resbench.train.config import TrainConfig
except ImportError:  # a REF from before it
    from resbench.train.recipe import TrainConfig
steps, data_dir = int(sys.argv[1]), sys.argv[2] or None
data = load_dataset("cifar10", data_dir) if data_dir else load_dataset("synthetic", synthetic_size=(steps * 128 + 512, 256))
sub = replace(data, train_x=data.train_x[: steps * 128], train_y=data.train_y[: steps * 128],
              test_x=data.test_x[:256], test_y=data.test_y[:256])
cfg = TrainConfig(dataset=data.name, epochs=1, batch_size=128, device="cpu", channels_last=True)
train(parse_spec("resnet20"), cfg, sub)  # warm-up: allocator, kernels' first calls
print("ready", flush=True)
for _ in sys.stdin:
    print(json.dumps(train(parse_spec("resnet20"), cfg, sub).images_per_second), flush=True)
"""


class _Worker:
    """One resbench checkout's training in a long-lived process: each ``run()`` trains a fresh
    ResNet-20 (NHWC) for ``steps`` steps of batch 128 and returns its training images/s."""

    def __init__(self, root: str, steps: int, data_dir: str | None):
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, "-c", AGAINST_WORKER, str(steps), data_dir or ""], cwd=root, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._expect("ready")

    def _expect(self, what: str | None = None) -> str:
        line = self.proc.stdout.readline().strip()
        if not line or (what and line != what):
            code = self.proc.wait(timeout=30) if not line else self.proc.poll()
            raise RuntimeError(f"the training worker stopped or misspoke (exit {code}); its line: {line!r}")
        return line

    def run(self) -> float:
        try:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"the training worker stopped or misspoke (exit {self.proc.wait(timeout=30)}); "
                               "it took no more work") from None
        line = self._expect()
        try:
            return float(line)
        except ValueError:
            raise RuntimeError(f"the training worker answered {line!r}, not images/s") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def against_rows(args, rounds: int = 8, sessions: int = 2) -> list[str]:
    """This code vs REF's (a resbench checkout). Each side trains in its own long-lived process;
    the two alternate short runs (balanced order: A B, B A, ...), so that the machine's slow
    drifts hit both sides of a pair alike, and each pair gives one ratio. The workers are
    started afresh for each of ``sessions`` so that no one process's luck decides. The ratio is
    the geometric mean of the pairs' ratios with its 95 % t-interval."""
    from pathlib import Path

    from scipy import stats

    if rounds < 2 or rounds % 2:
        raise SystemExit(f"--rounds {rounds}: give an even number of at least 2 (the order is balanced in pairs of rounds)")
    here = str(Path(__file__).resolve().parent.parent)
    data_dir = os.path.abspath(args.data_dir) if args.data_dir else None  # the workers run in their checkouts
    ref, cur, by_session = [], [], []
    for _ in range(sessions):
        workers = {}
        try:
            workers = {args.against: _Worker(args.against, args.steps, data_dir), here: _Worker(here, args.steps, data_dir)}
            start = len(ref)
            for i in range(rounds):
                for root, out in ((args.against, ref), (here, cur))[:: 1 if i % 2 == 0 else -1]:
                    out.append(workers[root].run())
            by_session.append(math.exp(sum(math.log(c / r) for r, c in zip(ref[start:], cur[start:])) / rounds))
        finally:
            for w in workers.values():
                w.close()
    logs = [math.log(c / r) for r, c in zip(ref, cur)]
    lo, hi = stats.t.interval(0.95, len(logs) - 1, loc=sum(logs) / len(logs), scale=stats.sem(logs))
    ratio = math.exp(sum(logs) / len(logs))
    return [f"against {args.against}: median {sorted(ref)[len(ref) // 2]:.0f} img/s; this code: median "
            f"{sorted(cur)[len(cur) // 2]:.0f} img/s ({len(logs)} alternating pairs of {args.steps} steps, "
            f"{sessions} pairs of processes)",
            f"per-pair ratios {' '.join(f'{c / r:.2f}' for r, c in zip(ref, cur))}; per pair of processes "
            f"{' '.join(f'{s:.3f}' for s in by_session)}",
            f"ratio {ratio:.3f}, 95 % CI [{math.exp(lo):.3f}, {math.exp(hi):.3f}] (target >= 0.98; the interval takes "
            "the pairs as independent, which holds if the processes differ less than the drift between runs)"]


def cpu_rows(data, args) -> list[str]:
    ref = reference_images_per_s(data, args.steps, args.workers)
    ours, frac = resbench_run(data, args.steps, channels_last=False)
    ours_cl, frac_cl = resbench_run(data, args.steps, channels_last=True)
    one = packed_images_per_s(data, args.steps, 1, "cpu", channels_last=True)
    four = packed_images_per_s(data, args.steps, 4, "cpu", channels_last=True)
    ref2 = reference_images_per_s(data, args.steps, args.workers)  # bracket: drift shows as ref != ref2
    ref_mid = (ref + ref2) / 2
    return [f"reference DataLoader loop ({args.workers} workers): {ref:.0f} / {ref2:.0f} img/s",
            f"resbench, contiguous:    {ours:.0f} img/s  ratio {ours / ref_mid:.2f}  data overhead {frac:.1%}",
            f"resbench, channels_last: {ours_cl:.0f} img/s  ratio {ours_cl / ref_mid:.2f}  data overhead {frac_cl:.1%}",
            f"packed, 1 member:  {one:.0f} img/s per member",
            f"packed, 4 members: {four:.0f} img/s per member  ({four / one:.2f}x one member: the CPU default packs 1)"]


def cuda_rows(data, args) -> list[str]:
    from dataclasses import replace

    sub = replace(data, train_x=data.train_x[: args.steps * 128], train_y=data.train_y[: args.steps * 128])
    spec = parse_spec("resnet20")
    ref = plain_device_loop_images_per_s(data, args.steps, "cuda")
    rows = [f"reference plain loop, data on the GPU (fp32 NCHW): {ref:.0f} img/s"]
    for label, kw in (("resbench default (NCHW fp32)", {}), ("resbench --cuda-graphs", {"cuda_graphs": True}),
                      ("resbench channels_last", {"channels_last": True}), ("resbench bf16", {"dtype": "bf16"})):
        kw = {"channels_last": False, **kw}
        r = train(spec, TrainConfig(dataset=data.name, epochs=2, batch_size=128, device="cuda", **kw), sub)
        rows.append(f"{label}: {r.images_per_second:.0f} img/s ({r.images_per_second / ref:.2f}x the reference)")
    one = packed_images_per_s(data, args.steps, 1, "cuda", channels_last=False)
    eight = packed_images_per_s(data, args.steps, 8, "cuda", channels_last=False)
    epoch_s = 50_000 / one
    rows += [f"img/s per member: {one:.0f}", "members: 1",
             f"img/s per member: {eight:.0f}", "members: 8",
             f"8 packed members take {one / eight:.2f}x the time of one (target <= 2)",
             f"full CIFAR-10 epoch, one member: {epoch_s:.2f} s (target <= 1.0 s); the paper's 64k steps (164 epochs): "
             f"{164 * epoch_s / 60:.1f} min (target <= 3)"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--out", help="also write the output to this file")
    ap.add_argument("--against", help="CPU: also time this code's training against a resbench checkout (e.g. a git worktree of main)")
    ap.add_argument("--against-only", action="store_true", help="with --against: only those rows")
    ap.add_argument("--rounds", type=int, default=8, help="with --against: alternating pairs per pair of processes (two pairs)")
    args = ap.parse_args()
    if args.against_only:
        lines = against_rows(args, args.rounds)
        print("\n".join(lines))
        return
    data = load_dataset("cifar10", args.data_dir) if args.data_dir else load_dataset("synthetic", synthetic_size=(args.steps * 128 + 512, 100))
    env = collect_env(torch.device(args.device))
    head = (f"# {env['device_name'] if args.device == 'cuda' else env['cpu']}, {env['threads']} threads, torch {env['torch']}, "
            f"Python {platform.python_version()}; data {data.name}; {args.steps} steps of batch 128")
    lines = [head] + (cuda_rows(data, args) if args.device == "cuda" else cpu_rows(data, args))
    if args.against and args.device == "cpu":
        lines += against_rows(args, args.rounds)
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            f.write("$ python benchmarks/train_throughput.py " + " ".join(a for a in __import__("sys").argv[1:]) + "\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
