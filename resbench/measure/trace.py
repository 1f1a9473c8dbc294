"""A kernel trace of a few steps: torch.profiler's Chrome/Perfetto trace and its top
operators by self time. It runs in its own pass after the timed runs, on a fresh copy
of the step, so the figures that `profile` reports are never measured under a profiler.

Open the file in https://ui.perfetto.dev (drag and drop) or in chrome://tracing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from resbench.measure.steps import prepare, step_for
from resbench.measure.timing import ProfileConfig
from resbench.errors import WriteFailed
from resbench.store import atomic_output
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
def _native_noise_filtered(echo: bool = True):
    """Hold what native code writes to stderr during the block; pass on all but _NOISE
    (none, without ``echo``). Yields a list that holds those lines once the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    kept: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield kept
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept += [line for line in held.read().decode(errors="replace").splitlines()
                     if line.strip() and not _NOISE.match(line)]
            for line in kept if echo else ():
                sys.stderr.write(line + "\n")


def export_trace(prof, path: str | os.PathLike) -> None:
    """Write the profiler's trace to ``path`` whole, or raise WriteFailed and leave what was
    there as it was. The exporter removes and renames over the name it is given, so it is
    only ever given a fresh temporary name (ASCII, in a private folder beside the target);
    the trace is read back before it replaces a regular file, or is copied into a device
    in place. Links are followed, so a link's target is written, never the link replaced."""
    target = Path(os.path.realpath(path))
    beside = target.parent if not target.exists() or target.is_file() else None  # a device's folder is not written
    folder = tempfile.mkdtemp(dir=beside, prefix=".resbench-trace-")
    try:
        tmp = Path(folder) / "trace.json"
        with _native_noise_filtered(echo=False) as said:
            prof.export_chrome_trace(str(tmp))
        why = _unwritten(tmp, said)
        if why:
            raise WriteFailed(f"cannot write the trace {path} ({why}): free space or send it elsewhere; "
                              "a file that was there is left as it was")
        with atomic_output(target) as out:
            shutil.move(tmp, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unwritten(tmp: Path, said: list[str]) -> str | None:
    """Why the exporter's file is not a whole trace (None: it is)."""
    failed = next((line for line in said if "fail" in line.lower()), None)
    if failed:
        return failed.strip()[:120]
    try:
        doc = json.loads(tmp.read_bytes())
    except (OSError, ValueError) as e:
        return f"the written trace does not read back: {type(e).__name__}"
    if not isinstance(doc, dict) or "traceEvents" not in doc:
        return "the written trace holds no events"
    return None


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
    export_trace(prof, path)
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
