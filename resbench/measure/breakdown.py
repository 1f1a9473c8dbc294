"""Where the time goes inside one forward pass: per-stage latency (`profile --breakdown`).

Measured in a pass of its own, after the whole-model timing, so that number is untouched.
Forward hooks mark the start of each stage's first module and the end of its last:
``perf_counter`` on CPU (ops have finished when they return), CUDA events on CUDA (no
host synchronisation inside the pass). A stage is stem / layer1..N / head for resbench's
nets, and each top-level child for any other model (torchvision:, timm:).

The pass alternates a forward with the marks on and one with them off: the second gives
the whole-model time under the same conditions, so that machine drift between passes
(+-10 % between consecutive passes on our 2-core CPU) does not land in the comparison.
The stage times still do not add up exactly to that whole: ops between stages that
belong to no module (a flatten, an addition written in forward) and the hooks' own cost
make the rest, which the report states. A test holds the sum within 10 % on CPU.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from resbench.model.net import ResNet
from resbench.results import StageTime
from resbench.runtime import autocast, synchronize


def stage_groups(model) -> list[tuple[str, list[torch.nn.Module]]]:
    """(name, modules run in order) for each stage."""
    if isinstance(model, ResNet):
        return ([("stem", [model.conv1, model.bn1, model.relu, model.maxpool])]
                + [(n, [getattr(model, n)]) for n in model.stage_names] + [("head", [model.avgpool, model.fc])])
    return [(n, [m]) for n, m in model.named_children()]


class _Marks:
    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: dict[tuple[str, str], object] = {}

    def mark(self, key) -> None:
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            self.marks[key] = e
        else:
            self.marks[key] = time.perf_counter()

    def ms(self, a, b) -> float:
        x, y = self.marks[a], self.marks[b]
        return x.elapsed_time(y) if self.cuda else (y - x) * 1e3


def stage_breakdown(model, x: torch.Tensor, device: torch.device, dtype: str, iters: int, warmup: int,
                    stage_macs: dict[str, int] | None = None) -> tuple[list[StageTime], float]:
    """Median time of each stage over ``iters`` forward passes (after ``warmup``), and the
    median whole-model time of the unmarked passes interleaved with them."""
    groups = stage_groups(model)
    marks = _Marks(device)
    active = [False]

    def start(name):
        if active[0]:
            marks.mark((name, "start"))

    def end(name):
        if active[0]:
            marks.mark((name, "end"))

    handles = []
    for name, mods in groups:
        handles.append(mods[0].register_forward_pre_hook(lambda m, a, n=name: start(n)))
        handles.append(mods[-1].register_forward_hook(lambda m, a, o, n=name: end(n)))
    times: dict[str, list[float]] = {n: [] for n, _ in groups}
    whole: list[float] = []
    model.eval()
    try:
        with torch.inference_mode(), autocast(device, dtype):
            for i in range(warmup + iters):
                active[0] = False
                marks.marks.clear()
                marks.mark(("whole", "start"))
                model(x)
                marks.mark(("whole", "end"))
                active[0] = True
                model(x)
                synchronize(device)
                if i < warmup:
                    continue
                whole.append(marks.ms(("whole", "start"), ("whole", "end")))
                for n, _ in groups:
                    if (n, "start") in marks.marks and (n, "end") in marks.marks:
                        times[n].append(marks.ms((n, "start"), (n, "end")))
    finally:
        active[0] = False
        for h in handles:
            h.remove()

    medians = {n: float(np.median(t)) for n, t in times.items() if t}
    total = sum(medians.values()) or 1.0
    batch = x.shape[0]
    out = []
    for n, med in medians.items():
        macs = (stage_macs or {}).get(n)
        tflops = 2 * macs * batch / (med / 1e3) / 1e12 if macs and med > 0 else None
        out.append(StageTime(n, med, med / total, tflops, macs))
    return out, float(np.median(whole))
