"""Timing one step: timers, the step (inference, or forward + backward + SGD), the timed
loop and its raw figures (``StepTiming``). ``resbench.measure.timing`` makes a profile
of them; ``trace`` and ``breakdown`` reuse the same step. ``cfg`` is a
``resbench.measure.timing.ProfileConfig`` (not imported: timing builds on this module).
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from resbench.hooks import Progress
from resbench.errors import ConfigError
from resbench.runtime import autocast, grad_scaler, precision, synchronize
from resbench.spec import NetSpec
from resbench.measure.target import build_target, parse_target

MAX_ITERS = 10_000


# --- timers ---------------------------------------------------------------------------


class CpuTimer:
    """Host clock: on CPU every op has finished when it returns."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def mark(self):
        synchronize(self.device)  # a no-op on CPU; makes MPS honest
        return time.perf_counter()

    @staticmethod
    def ms(a, b) -> float:
        return (b - a) * 1e3


class CudaTimer:
    """CUDA events recorded on the stream: no host synchronization inside the loop."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def mark(self):
        e = torch.cuda.Event(enable_timing=True)
        e.record()
        return e

    @staticmethod
    def ms(a, b) -> float:
        return a.elapsed_time(b)


# --- the measurement ---------------------------------------------------------------------


def output_classes(model) -> int:
    """Classes of a model's output: resbench nets and torchvision keep them in ``fc``, timm
    models in ``num_classes``; otherwise run one tiny forward and read the output."""
    fc = getattr(model, "fc", None)
    if isinstance(fc, torch.nn.Linear):
        return fc.out_features
    if isinstance(getattr(model, "num_classes", None), int):
        return model.num_classes
    raise ConfigError("mode", "train needs to know the model's classes (no fc layer or num_classes attribute)")


def peak_rss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB


def _noop() -> None:
    pass


def make_step(model, x, device: torch.device, mode: str, dtype: str, graphs: bool = False):
    """The one step resbench times, traces and counts: ``step(mark)`` runs one iteration
    (inference; or forward, backward and SGD with loss scaling for fp16) and calls
    ``mark()`` after each phase. `profile`, `--trace`, `--breakdown` and the counters of
    `check` all build it here, so CI counts exactly the step `profile` times."""
    if mode == "infer":
        model.eval()
        if graphs:
            return graph_step(model, x, dtype, device)

        def infer(mark=_noop):
            with torch.inference_mode(), autocast(device, dtype):
                model(x)
            mark()

        return infer

    model.train()
    target = torch.randint(0, output_classes(model), (x.shape[0],), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    scaler = grad_scaler(device, enabled=dtype == "fp16")
    loss_fn = torch.nn.CrossEntropyLoss()

    def train(mark=_noop):
        opt.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            loss = loss_fn(model(x), target)
        mark()
        scaler.scale(loss).backward()
        mark()
        scaler.step(opt)
        scaler.update()
        mark()

    return train


STEP_PHASES = {"infer": ("forward",), "train": ("forward", "backward", "optimizer")}


def entry_step(entry: dict):
    """The step of a `check` entry (spec, device, batch_size, mode, dtype, channels_last),
    built as `profile` builds it, for the deterministic counters: ``(model, step, device)``.
    ``step(mark)`` runs under the same precision and grad mode as a timed step; a train
    step has run once, so every later one dispatches the same ops (momentum buffers exist)."""
    device = torch.device(entry.get("device", "cpu"))
    mode, dtype = entry.get("mode", "infer"), entry.get("dtype", "fp32")
    torch.manual_seed(0)
    model, x = place(parse_target(entry["spec"]), device, entry.get("batch_size", 1), bool(entry.get("channels_last")))
    inner = make_step(model, x, device, mode, dtype)

    def step(mark=_noop):
        with precision(device, dtype), torch.inference_mode() if mode == "infer" else torch.enable_grad():
            inner(mark)

    if mode == "train":
        step()
    return model, step, device


def graph_step(model, x, dtype: str, device: torch.device):
    # Warm up on a side stream before capture, as the CUDA-graphs docs require;
    # autocast's weight cache must be off inside a captured graph.
    s = torch.cuda.Stream(device)
    s.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(s), autocast(device, dtype, cache_enabled=False):
        for _ in range(3):
            model(x)
    torch.cuda.current_stream(device).wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), autocast(device, dtype, cache_enabled=False):
        model(x)

    def replay(mark=_noop):
        graph.replay()
        mark()

    return replay


def timed_loop(step, timer, device, iters: int, min_time: float, progress: Progress | None, label: str):
    """Time each iteration; returns (per-iteration marks, wall seconds)."""
    runs = []
    outside = 0.0  # seconds spent reporting progress: excluded from the wall clock
    synchronize(device)
    t0 = time.perf_counter()
    while len(runs) < MAX_ITERS and (len(runs) < iters or time.perf_counter() - t0 - outside < min_time):
        marks = [timer.mark()]
        step(lambda: marks.append(timer.mark()))
        runs.append(marks)
        if progress:
            t_report = time.perf_counter()
            progress(label, len(runs), iters)
            outside += time.perf_counter() - t_report
    synchronize(device)
    return runs, time.perf_counter() - t0 - outside


def place(spec: NetSpec, device: torch.device, batch: int, channels_last: bool, model=None):
    """The network on ``device`` in the layout asked for, and a random input batch for it."""
    model = (model if model is not None else build_target(spec)).to(device)
    x = torch.randn(batch, spec.in_channels, spec.input_size, spec.input_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    # Always set the layout: a model passed in may still be in the other one.
    return model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format), x


def prepare(spec: NetSpec, cfg, device: torch.device, batch: int, channels_last: bool, model=None):
    """``place``, then torch.compile when ``cfg`` asks for it; returns (model, x, the eager
    output the compiled one is checked against)."""
    model, x = place(spec, device, batch, channels_last, model)
    eager_out = None
    if cfg.compile:
        if cfg.mode == "infer":  # the reference for the compiled output: eager, same input
            model.eval()
            with torch.inference_mode(), autocast(device, cfg.dtype):
                eager_out = model(x).float()
        mode = cfg.compile_mode or ("reduce-overhead" if cfg.cuda_graphs else None)
        model = torch.compile(model, mode=None if mode == "default" else mode)
    return model, x, eager_out


def step_for(model, x, cfg, device: torch.device):
    """The step of a profile configuration (CUDA graphs only for an eager inference step)."""
    return make_step(model, x, device, cfg.mode, cfg.dtype, graphs=bool(cfg.cuda_graphs and not cfg.compile))


@dataclass(frozen=True)
class StepTiming:
    """One configuration warmed up and timed: the raw figures a ProfileResult is made of."""

    samples: list[float]  # ms per timed iteration
    wall: float  # seconds of the timed loop (throughput's denominator)
    phases: dict[str, float] | None  # train: median forward / backward / optimizer ms
    compile_s: float | None  # the first (compiling or exporting) call, timed on its own
    warmup_s: float
    peak_cuda: int | None  # bytes, CUDA only
    kernel_ms: float | None  # GPU kernel time per step (CUPTI), CUDA only
    max_abs_diff: float | None  # compiled/exported output against eager


def measure_step(spec, cfg, device, batch, channels_last, warmup, iters, min_time, progress, model=None) -> StepTiming:
    """Warm up and time one configuration (PyTorch eager or compiled; ONNX Runtime times its
    session in resbench.measure.onnx_backend)."""
    timer = CudaTimer(device) if device.type == "cuda" else CpuTimer(device)
    grad = contextlib.nullcontext() if cfg.mode == "train" else torch.inference_mode()
    with precision(device, cfg.dtype), grad:
        model, x, eager_out = prepare(spec, cfg, device, batch, channels_last, model)
        step = step_for(model, x, cfg, device)
        compile_s = diff = None
        t = time.perf_counter()
        if cfg.compile:
            step()  # the first call compiles: timed on its own, never inside the measurement
            synchronize(device)
            compile_s = time.perf_counter() - t
            if eager_out is not None:
                with torch.inference_mode(), autocast(device, cfg.dtype):
                    diff = float((model(x).float() - eager_out).abs().max())
        t_warm = time.perf_counter()
        for i in range(warmup):
            step()
            if progress:
                progress("warm-up", i + 1, warmup)
        synchronize(device)
        warmup_s = time.perf_counter() - t_warm
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        runs, wall = timed_loop(step, timer, device, iters, min_time, progress, "measure")
    samples = [timer.ms(m[0], m[-1]) for m in runs]
    phases = None
    if cfg.mode == "train":
        phases = {name: float(np.median([timer.ms(m[i], m[i + 1]) for m in runs])) for i, name in enumerate(("forward", "backward", "optimizer"))}
    peak_cuda = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    kernel_ms = kernel_ms_per_step(step, device) if device.type == "cuda" else None  # after timing: never inside it
    del model, x, step
    return StepTiming(samples, wall, phases, compile_s, warmup_s, peak_cuda, kernel_ms, diff)


def kernel_ms_per_step(step, device: torch.device, steps: int = 5) -> float | None:
    """GPU kernel time of one step, from torch.profiler's CUDA kernel events (CUPTI). With
    the step's median wall time this says how busy the GPU is; None when the profiler
    cannot see the device (no CUPTI, another profiler running). CPU activity is recorded
    too: without it kernel events can go missing (meta-pytorch/tritonbench#401), and on one
    H200 a CUDA-only pass read ResNet-50 at batch 128 as 49 % busy though CUDA graphs sped
    its step by only 2 % (results/benchmarks/gpu_check_h200_launch.log)."""
    try:
        from torch.profiler import ProfilerActivity, profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                step()
            synchronize(device)
        total_us = sum(e.time_range.elapsed_us() for e in prof.events()
                       if e.device_type == torch.autograd.DeviceType.CUDA)
        return total_us / 1000 / steps if total_us > 0 else None
    except Exception:  # the measurement is optional; its absence is reported as "not measured"
        return None


def is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()
