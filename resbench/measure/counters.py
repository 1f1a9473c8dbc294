"""Deterministic counters of one benchmark step, for CI gates that wall time cannot give
on a shared runner: what the step dispatches, allocates and executes, not how long it took.

* ``ops``: every ATen op one step dispatches (forward for infer; forward, backward and
  the SGD step for train), with its input shapes and dtypes and the module it ran in,
  counted below autograd by a ``TorchDispatchMode``, plus the step's FLOPs from
  ``torch.utils.flop_counter``. Exact on every device.
* ``memory``: bytes of the new tensors that the step's ops create (total) and the most
  of them alive at once (peak), counted at the dispatcher, so the allocator's caching
  does not blur them. Exact.
* ``instructions``: CPU instructions of one step on one thread under Valgrind's
  callgrind (``torch._C._valgrind_toggle``), repeated, with the spread of the repeats.
* ``kernels``: CUDA kernels launched per step with their names (exact), and the sum of
  their times from torch.profiler as a low-noise time beside the wall time.

This file is also a script: ``python counters.py ENTRY_JSON...`` prints one JSON list
of counters. `check --against REF` runs it with REF's resbench first on the path, so
REF's network and step are counted by this counting code, whatever REF's own version is.
It therefore imports nothing from resbench at the top; the step it counts is the one the
resbench on the path times (``resbench.measure.steps``), never a copy of its own.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run as a script: this folder's modules must not shadow anything
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import collections
import json
import platform
import re
import shutil
import subprocess
import tempfile
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode

COUNTERS = ("ops", "memory", "instructions", "kernels")
INSTRUCTION_REPEATS = 2
VALGRIND_HINT = "install Valgrind (Debian/Ubuntu: apt-get install valgrind; macOS: not supported) or drop \"instructions\""


# --- building the step -------------------------------------------------------------------------------


def counted_step(entry: dict):
    """``(model, step, device)``: the step `profile` times, built by the resbench on the
    path (``resbench.measure.steps.entry_step``); a resbench from before that builder is
    counted with the step its own counters built. ``step(mark)`` calls ``mark()`` after
    each phase (the older step called ``mark(name)`` before each)."""
    try:
        from resbench.measure.steps import entry_step
    except ImportError:
        from resbench.measure.counters import make_step as entry_step  # REF's own module
    return entry_step(entry)


# --- ops and memory ----------------------------------------------------------------------------------


def _signature(args) -> str:
    parts = []
    for a in args:
        if isinstance(a, torch.Tensor):
            parts.append("(" + ",".join(map(str, a.shape)) + ")" + str(a.dtype).replace("torch.", ""))
        elif isinstance(a, (list, tuple)) and a and all(isinstance(t, torch.Tensor) for t in a):
            parts.append("[" + " ".join(_signature([t]) for t in a) + "]")
    return " ".join(parts)


class _Recorder(TorchDispatchMode):
    """Counts every op dispatched below autograd, and the bytes of the storages it creates."""

    def __init__(self, scope) -> None:
        super().__init__()
        self.scope = scope
        self.ops: collections.Counter = collections.Counter()
        self.total_bytes = self.live_bytes = self.peak_bytes = 0
        self._holders: dict[int, int] = {}  # storage address -> live tensors using it

    def _release(self, key: int, nbytes: int) -> None:
        self._holders[key] -= 1
        if not self._holders[key]:
            del self._holders[key]
            self.live_bytes -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = "aten::" + func.overloadpacket.__name__
        self.ops[(self.scope(), name, _signature(args))] += 1
        inputs = {t.untyped_storage().data_ptr() for t in _tensors((args, kwargs))}
        for t in _tensors(out):
            storage = t.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
            if not nbytes or key in inputs:
                continue  # a view or an in-place result: nothing new
            if key not in self._holders:
                self.total_bytes += nbytes
                self.live_bytes += nbytes
                self.peak_bytes = max(self.peak_bytes, self.live_bytes)
                self._holders[key] = 0
            self._holders[key] += 1
            weakref.finalize(t, self._release, key, nbytes)
        return out


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def count_ops_and_memory(model, step) -> dict:
    """One step's ops (with the module each ran in) and FLOPs, and its memory counters."""
    from torch.utils.flop_counter import FlopCounterMode

    names = {m: n for n, m in model.named_modules()}
    stack: list[str] = []
    phase = {"now": "forward"}
    after = iter(("backward", "optimizer", "done"))

    def mark(name: str | None = None) -> None:
        phase["now"] = name if name is not None else next(after, "done")

    def push(module, _inputs):
        stack.append(names.get(module, "?"))

    def pop(module, _inputs, _output):
        if stack:
            stack.pop()

    def scope() -> str:
        if phase["now"] != "forward":
            return phase["now"]
        return (stack[-1] or "model") if stack else "model"

    hooks = [m.register_forward_pre_hook(push) for m in names] + [m.register_forward_hook(pop) for m in names]
    try:
        flops = FlopCounterMode(display=False)
        recorder = _Recorder(scope)
        with flops, recorder:
            step(mark)
    finally:
        for h in hooks:
            h.remove()
    ops = {" | ".join(k): n for k, n in sorted(recorder.ops.items())}
    return {
        "ops": {"count": sum(recorder.ops.values()), "flops": int(flops.get_total_flops()), "detail": ops},
        "memory": {"total_bytes": recorder.total_bytes, "peak_bytes": recorder.peak_bytes},
    }


# --- CUDA kernels --------------------------------------------------------------------------------------


def count_kernels(step, device: torch.device, steps: int = 3) -> dict:
    """Kernels launched per step, by name, and their summed time (ms) from torch.profiler.
    The events are read as ``resbench.measure.steps.kernel_ms_per_step`` reads them for
    ``profile`` (CPU activity recorded too, or kernel events can go missing:
    meta-pytorch/tritonbench#401); the reading is written here again, not imported, because
    under `check --against REF` the counting code must be this file's (tests hold the two alike)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize(device)
    names: collections.Counter = collections.Counter()
    total_us = 0.0
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            names[e.name] += 1
            total_us += e.time_range.elapsed_us()
    per_step = {n: c // steps for n, c in sorted(names.items())}
    return {"count": sum(per_step.values()), "kernel_ms": total_us / 1000 / steps, "detail": per_step}


# --- instructions under callgrind ----------------------------------------------------------------------


def valgrind_missing() -> str | None:
    """None when callgrind can run here, else the reason in one sentence."""
    if shutil.which("valgrind") is None:
        return f"the instructions counter needs Valgrind, which is not installed: {VALGRIND_HINT}"
    if not getattr(torch._C, "_valgrind_supported_platform", lambda: False)():
        return f"this torch build ({torch.__version__}) has no Valgrind bindings; drop \"instructions\""
    return None


def _instructions_in_this_process(entry: dict, repeats: int) -> None:
    torch.set_num_threads(1)
    _, step, _ = counted_step(entry)
    step()
    step()
    for _ in range(repeats):
        torch._C._valgrind_toggle()
        step()
        torch._C._valgrind_toggle_and_dump_stats()


def count_instructions(entry: dict, root: str | None = None, repeats: int = INSTRUCTION_REPEATS) -> dict:
    """Instructions of one step on one thread, ``repeats`` times, each under callgrind in a
    Python started for it (``root``: whose resbench builds the network)."""
    why = valgrind_missing()
    if why:
        raise RuntimeError(why)
    with tempfile.TemporaryDirectory(prefix="resbench-callgrind-") as tmp:
        out = os.path.join(tmp, "cg.out")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if root:
            env["PYTHONPATH"] = root + os.pathsep + os.environ.get("PYTHONPATH", "")
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}",
               sys.executable, os.path.abspath(__file__), "--instructions-inside", json.dumps(entry), str(repeats)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root or None)
        if r.returncode != 0:
            last = [line for line in r.stderr.splitlines() if not line.startswith("==")][-1:] or ["no output"]
            raise RuntimeError(f"callgrind run failed: {last[0]}")
        dumps = sorted((f for f in os.listdir(tmp) if re.fullmatch(r"cg\.out\.\d+", f)), key=lambda f: int(f.rsplit(".", 1)[1]))
        counts = []
        for f in dumps:
            with open(os.path.join(tmp, f)) as fh:
                m = re.search(r"^summary:\s*(\d+)", fh.read(), re.M)
            if m:
                counts.append(int(m.group(1)))
    if len(counts) != repeats:
        raise RuntimeError(f"callgrind wrote {len(counts)} of {repeats} dumps")
    lo, hi = min(counts), max(counts)
    return {"count": int(sorted(counts)[len(counts) // 2]), "repeats": counts, "spread": (hi - lo) / lo if lo else 0.0}


# --- where they were counted ------------------------------------------------------------------------------

# What each counter depends on besides the code: counts taken where these differ are not
# compared (the same ops run other kernels under another torch; oneDNN picks other
# instructions on another CPU).
# How kernel events are read: counts read another way are "not compared", never a regression.
KERNEL_READING = "CUDA kernel events with CPU activity recorded"
DEPENDS_ON = {"ops": ("torch",), "memory": ("torch",), "kernels": ("torch", "gpu", "kernel_reading"),
              "instructions": ("torch", "python", "cpu", "isa")}
ISA_FLAGS = ("avx512_bf16", "amx_bf16", "avx512f", "avx2", "fma", "neon", "asimd")


def counting_env(device: torch.device) -> dict:
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        m = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
        flags = set(m.group(1).split()) if m else set()
    except OSError:
        pass
    return {"torch": torch.__version__, "python": platform.python_version(), "cpu": cpu,
            "isa": " ".join(f for f in ISA_FLAGS if f in flags),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "kernel_reading": KERNEL_READING}


# --- all of them -----------------------------------------------------------------------------------------


def measure_counters(entry: dict, root: str | None = None) -> dict:
    """The counters ``entry["counters"]`` asks for, each a dict, or {"unavailable": why}."""
    wanted = list(entry.get("counters") or ())
    out: dict = {}
    cheap = [c for c in wanted if c in ("ops", "memory")]
    if cheap or "kernels" in wanted:
        model, step, device = counted_step(entry)
        if cheap:
            both = count_ops_and_memory(model, step)
            out.update({c: both[c] for c in cheap})
        if "kernels" in wanted:
            out["kernels"] = (count_kernels(step, device) if device.type == "cuda"
                              else {"unavailable": f"CUDA kernels are counted on a CUDA device, not {device.type}"})
    if "instructions" in wanted:
        out["instructions"] = count_instructions(entry, root)
    env = counting_env(torch.device(entry.get("device", "cpu")))
    return {c: {**out[c], "env": {k: env[k] for k in DEPENDS_ON[c]}} for c in wanted}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--instructions-inside"]:
        _instructions_in_this_process(json.loads(argv[1]), int(argv[2]))
        return
    results = [measure_counters(json.loads(a), root=os.getcwd()) for a in argv]
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
