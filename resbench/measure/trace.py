"""A kernel trace of a few steps: torch.profiler's Chrome/Perfetto trace and its top
operators by self time. It runs in its own pass after the timed runs, on a fresh copy
of the step, so the figures that `profile` reports are never measured under a profiler.

Open the file in https://ui.perfetto.dev (drag and drop) or in chrome://tracing.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass

import torch

from resbench.measure.steps import prepare, step_for
from resbench.measure.timing import ProfileConfig
from resbench.report.files import atomic_output
from resbench.runtime import autocast, num_threads, resolve_device, synchronize
from resbench.spec import NetSpec

TRACE_STEPS = 5  # traced steps, after WARMUP untraced ones
WARMUP = 2


@dataclass(frozen=True)
class OpTime:
    name: str
    calls: int
    self_cpu_ms: float  # per traced step
    self_device_ms: float | None  # per traced step, on the accelerator (None on CPU)

    def to_dict(self) -> dict:
        return {"name": self.name, "calls": self.calls, "self_cpu_ms": self.self_cpu_ms,
                "self_device_ms": self.self_device_ms}


@dataclass(frozen=True)
class Trace:
    path: str
    steps: int
    top: tuple[OpTime, ...]

    def to_dict(self) -> dict:
        return {"path": self.path, "steps": self.steps, "top": [o.to_dict() for o in self.top]}


# Lines the profiler's C++ side (Kineto) writes straight to file descriptor 2 on every run:
# start/stop markers, and a device count query that fails on a machine without a GPU.
_NOISE = re.compile(r"^(USDT:|ERROR:.*gpuGetDeviceCount|WARNING:.*kineto|STAGE:)")


@contextlib.contextmanager
def _native_noise_filtered():
    """Hold what native code writes to stderr during the block; pass on all but _NOISE."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines():
                if line.strip() and not _NOISE.match(line):
                    sys.stderr.write(line + "\n")


def trace(spec: NetSpec, cfg: ProfileConfig, batch: int, path: str, top: int = 15, model=None) -> Trace:
    """Trace TRACE_STEPS steps of ``spec`` at ``batch`` under ``cfg`` into ``path`` (JSON)."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    device = resolve_device(cfg.device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with num_threads(cfg.threads):
        net, x, _ = prepare(spec, cfg, device, batch, bool(cfg.channels_last), model)
        step = step_for(net, x, cfg, device)
        with torch.inference_mode() if cfg.mode == "infer" else torch.enable_grad(), autocast(device, cfg.dtype):
            for _ in range(WARMUP):
                step()
            synchronize(device)
            with _native_noise_filtered(), torch_profile(activities=activities, record_shapes=True) as prof:
                for _ in range(TRACE_STEPS):
                    step()
                synchronize(device)
    with atomic_output(path) as tmp:
        prof.export_chrome_trace(str(tmp))
    rows = []
    for e in prof.key_averages():
        device_us = getattr(e, "self_device_time_total", None)
        if device_us is None:
            device_us = getattr(e, "self_cuda_time_total", None)
        rows.append(OpTime(e.key, int(e.count) // TRACE_STEPS or 1, e.self_cpu_time_total / 1000 / TRACE_STEPS,
                           device_us / 1000 / TRACE_STEPS if device.type == "cuda" and device_us is not None else None))
    key = (lambda o: o.self_device_ms or 0.0) if device.type == "cuda" else (lambda o: o.self_cpu_ms)
    rows.sort(key=key, reverse=True)
    return Trace(str(path), TRACE_STEPS, tuple(rows[:top]))
