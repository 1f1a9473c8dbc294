"""Latency, throughput and memory of one network on one device: `resbench profile`.

Method (as torch.utils.benchmark and timm's benchmark.py, plus percentiles):
warm up (cuDNN autotuning, torch.compile, the caching allocator), then time every
iteration: CUDA events on CUDA (no host sync inside the loop), ``perf_counter``
around each step on CPU (where kernels run synchronously). The same loop, bracketed
by two synchronizations, gives the wall-clock throughput, so launch overlap counts.
"""

from __future__ import annotations

import contextlib
import gc
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from resbench.errors import DeviceError, UsageError
from resbench.measure.env import collect_env
from resbench.measure.peaks import cpu_has_native_bf16, cpu_roofline, gpu_peak_tflops
from resbench.runtime import (autocast, grad_scaler, nhwc_backward_crashes, num_threads, precision, resolve_device,  # noqa: F401
                              synchronize)
from resbench.spec import NetSpec
from resbench.stats import Summary, summarize
from resbench.store import register_result

DTYPES = ("fp32", "tf32", "fp16", "bf16")
MODES = ("infer", "train")

# Per-device defaults: enough samples for stable percentiles without wasting minutes.
DEFAULTS = {
    "cpu": {"batch_size": 8, "warmup": 3, "iters": 20, "min_time": 2.0},
    "cuda": {"batch_size": 64, "warmup": 20, "iters": 100, "min_time": 1.0},
    "mps": {"batch_size": 32, "warmup": 10, "iters": 50, "min_time": 1.0},
}
MAX_ITERS = 10_000
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
P99_MIN_SAMPLES = 100  # fewer samples cannot place a 99th percentile (it would be the max or an interpolation of it)
LAUNCH_BOUND_BUSY = 0.5  # GPU busy for less than this share of the step: launch-bound

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class ProfileConfig:
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    batch_size: int | None = None  # None: the device's default (DEFAULTS)
    mode: str = "infer"  # infer: eval + inference_mode; train: forward + backward + SGD step
    dtype: str = "fp32"  # fp32 strict (TF32 off), tf32, or fp16/bf16 autocast
    channels_last: bool = False
    compile: bool = False  # torch.compile; its first call is timed apart (compile_s)
    cuda_graphs: bool = False  # capture the inference step in a CUDA graph and replay it
    warmup: int | None = None  # untimed iterations before measuring
    iters: int | None = None  # at least this many timed iterations...
    min_time: float | None = None  # ...and at least this many seconds of them
    threads: int | None = None  # CPU threads (torch.set_num_threads); recorded either way
    compare_layouts: bool = True  # CPU: also time the other memory layout and suggest the faster
    backoff: bool = True  # CUDA: on out-of-memory halve the batch and retry (the measured batch is reported)
    breakdown: bool = False  # also time each stage in a separate pass (resbench.measure.breakdown)
    compile_mode: str | None = None  # torch.compile mode: default | reduce-overhead | max-autotune (implies compile)
    backend: str = "eager"  # eager PyTorch, or onnxruntime (the exported graph; resbench.measure.onnx_backend)


@dataclass(frozen=True)
class ProfileResult:
    spec: str
    device: str
    device_name: str
    dtype: str
    mode: str
    batch_size: int  # the batch actually measured (smaller than requested after an OOM back-off)
    batch_size_requested: int
    channels_last: bool
    compiled: bool
    cuda_graphs: bool
    threads: int
    params: int
    macs: int  # per image
    flops: int  # per image, 2 x MACs (forward)
    latency: Summary  # per iteration (one batch), ms
    samples_ms: tuple[float, ...]
    throughput: float  # samples/s from the synchronized wall-clock of the timed loop
    phases_ms: dict | None  # train: median forward / backward / optimizer ms
    peak_memory_bytes: int | None
    memory_method: str
    achieved_tflops: float  # flops x throughput (x3 for a train step: forward + 2x backward)
    peak_tflops: float | None
    peak_source: str | None
    mfu: float | None  # achieved / peak
    compile_s: float | None
    warmup_s: float
    measure_s: float
    total_s: float
    alt_layout: dict | None = None  # CPU: {"channels_last", "median_ms", "speedup"} of the other layout
    notes: tuple[str, ...] = ()  # caveats the reader must see next to the numbers
    env: dict = field(default_factory=dict)
    gpu_busy: float | None = None  # CUDA: kernel time / wall time of a step (None on CPU or when not measured)
    breakdown: tuple = ()  # StageTime per stage (profile --breakdown), in forward order
    breakdown_rest_ms: float | None = None  # whole-model median minus the sum of the stage medians
    compile_mode: str | None = None
    max_abs_diff_vs_eager: float | None = None  # compiled/exported output vs eager, same input
    backend: str = "eager"

    @property
    def launch_bound(self) -> bool:
        """The GPU sits idle most of each step: the host cannot launch kernels fast enough."""
        return self.gpu_busy is not None and self.gpu_busy < LAUNCH_BOUND_BUSY

    @property
    def p99_estimable(self) -> bool:
        return self.latency.n >= P99_MIN_SAMPLES

    @property
    def suggestion(self) -> str | None:
        if self.alt_layout and self.alt_layout["speedup"] > 1.05:
            flag = "--channels-last" if self.alt_layout["channels_last"] else "the default (contiguous) layout"
            return f"{flag} is {self.alt_layout['speedup']:.2f}x faster here (median {self.alt_layout['median_ms']:.3f} ms)"
        return None

    def to_dict(self) -> dict:
        d = asdict(self)
        lat = d.pop("latency")
        d["latency_ms"] = {k: lat[k] for k in ("median", "mean", "min", "max", "p90", "p99", "iqr", "std")}
        d["n_samples"] = lat["n"]
        d["noisy"] = self.latency.noisy
        d["samples_ms"] = list(self.samples_ms)
        d["suggestion"] = self.suggestion
        d["launch_bound"] = self.launch_bound
        d["p99_estimable"] = self.p99_estimable
        d["breakdown"] = [s.to_dict() for s in self.breakdown]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ProfileResult":
        """The inverse of ``to_dict``: a stored profile record's result, typed again."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k not in ("launch_bound", "p99_estimable")}
        fields["latency"] = Summary(**d["latency_ms"], n=d["n_samples"])
        fields["samples_ms"] = tuple(d["samples_ms"])
        fields["notes"] = tuple(d.get("notes", ()))
        from resbench.measure.breakdown import StageTime

        fields["breakdown"] = tuple(StageTime(**s) for s in d.get("breakdown") or ())
        return cls(**fields)


register_result("profile", ProfileResult.from_dict)


def check_config(cfg: ProfileConfig, device: torch.device) -> None:
    if cfg.mode not in MODES:
        raise UsageError(f"unknown mode {cfg.mode!r}: expected infer or train")
    if cfg.dtype not in DTYPES:
        raise UsageError(f"unknown dtype {cfg.dtype!r}: expected fp32, tf32, fp16 or bf16")
    if cfg.dtype == "tf32" and device.type != "cuda":
        raise DeviceError(f"tf32 is a CUDA tensor-core mode; on {device.type} use fp32 (or bf16 autocast)")
    if cfg.dtype == "fp16" and device.type == "cpu":
        raise DeviceError("fp16 autocast is not supported on CPU by resbench (slow, emulated); use bf16 or fp32")
    if cfg.cuda_graphs and device.type != "cuda":
        raise DeviceError("--cuda-graphs needs a CUDA device; drop it or use --device cuda")
    if cfg.cuda_graphs and cfg.mode != "infer":
        raise UsageError("--cuda-graphs captures the inference step only; use --mode infer")
    if cfg.compile_mode is not None and cfg.compile_mode not in COMPILE_MODES:
        raise UsageError(f"unknown --compile-mode {cfg.compile_mode!r}: expected {', '.join(COMPILE_MODES)}")
    from resbench.measure.onnx_backend import check_backend

    check_backend(cfg)
    if cfg.breakdown and (cfg.mode != "infer" or cfg.compile or cfg.compile_mode or cfg.cuda_graphs):
        raise UsageError("--breakdown times the stages of the eager forward pass: use --mode infer without "
                         "--compile/--compile-mode/--cuda-graphs")
    from resbench import validate as v

    if cfg.batch_size is not None:
        v.whole(cfg.batch_size, "--batch-size", 1, 1 << 20)
    if cfg.threads is not None:
        v.whole(cfg.threads, "--threads", 1, 4096)
    if cfg.warmup is not None:
        v.whole(cfg.warmup, "--warmup", 0, MAX_ITERS)
    if cfg.iters is not None:
        v.whole(cfg.iters, "--iters", 1, MAX_ITERS)
    if cfg.min_time is not None:
        v.number(cfg.min_time, "--min-time (seconds)", 0, 3600)


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
    raise UsageError("--mode train needs to know the model's classes (no fc layer or num_classes attribute)")


def _peak_rss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB


def _make_step(model, x, cfg: ProfileConfig, device: torch.device):
    """A callable step(mark) that runs one iteration and calls mark() after each phase."""
    if cfg.mode == "infer":
        model.eval()
        if cfg.cuda_graphs and not cfg.compile:
            return _graph_step(model, x, cfg, device)

        def infer(mark):
            with autocast(device, cfg.dtype):
                model(x)
            mark()

        return infer

    model.train()
    target = torch.randint(0, output_classes(model), (x.shape[0],), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    scaler = grad_scaler(device, enabled=cfg.dtype == "fp16")
    loss_fn = torch.nn.CrossEntropyLoss()

    def train(mark):
        opt.zero_grad(set_to_none=True)
        with autocast(device, cfg.dtype):
            loss = loss_fn(model(x), target)
        mark()
        scaler.scale(loss).backward()
        mark()
        scaler.step(opt)
        scaler.update()
        mark()

    return train


def _graph_step(model, x, cfg: ProfileConfig, device: torch.device):
    # Warm up on a side stream before capture, as the CUDA-graphs docs require;
    # autocast's weight cache must be off inside a captured graph.
    s = torch.cuda.Stream(device)
    s.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(s), autocast(device, cfg.dtype, cache_enabled=False):
        for _ in range(3):
            model(x)
    torch.cuda.current_stream(device).wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), autocast(device, cfg.dtype, cache_enabled=False):
        model(x)

    def replay(mark):
        graph.replay()
        mark()

    return replay


def _timed_loop(step, timer, device, iters: int, min_time: float, progress: Progress | None, label: str):
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


def _prepare(spec: NetSpec, cfg: ProfileConfig, device: torch.device, batch: int, channels_last: bool, model=None):
    from resbench.target import build_target

    model = (model if model is not None else build_target(spec)).to(device)
    x = torch.randn(batch, spec.in_channels, spec.input_size, spec.input_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    # Always set the layout: a model passed in may still be in the other one.
    model = model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    eager_out = None
    if cfg.compile:
        if cfg.mode == "infer":  # the reference for the compiled output: eager, same input
            model.eval()
            with torch.inference_mode(), autocast(device, cfg.dtype):
                eager_out = model(x).float()
        mode = cfg.compile_mode or ("reduce-overhead" if cfg.cuda_graphs else None)
        model = torch.compile(model, mode=None if mode == "default" else mode)
    return model, x, eager_out


def _measure(spec, cfg, device, batch, channels_last, warmup, iters, min_time, progress, model=None):
    """Warm up and time one configuration. Returns a dict of raw measurements."""
    if cfg.backend == "onnxruntime":
        from resbench.measure.onnx_backend import measure_onnx
        from resbench.target import build_target

        return measure_onnx(spec, model if model is not None else build_target(spec), batch, device, warmup, iters,
                            min_time, _timed_loop, CpuTimer(device), progress)
    timer = CudaTimer(device) if device.type == "cuda" else CpuTimer(device)
    grad = contextlib.nullcontext() if cfg.mode == "train" else torch.inference_mode()
    with precision(device, cfg.dtype), grad:
        model, x, eager_out = _prepare(spec, cfg, device, batch, channels_last, model)
        step = _make_step(model, x, cfg, device)
        noop = lambda: None  # noqa: E731
        compile_s = diff = None
        t = time.perf_counter()
        if cfg.compile:
            step(noop)  # the first call compiles: timed on its own, never inside the measurement
            synchronize(device)
            compile_s = time.perf_counter() - t
            if eager_out is not None:
                with torch.inference_mode(), autocast(device, cfg.dtype):
                    diff = float((model(x).float() - eager_out).abs().max())
        t_warm = time.perf_counter()
        for i in range(warmup):
            step(noop)
            if progress:
                progress("warm-up", i + 1, warmup)
        synchronize(device)
        warmup_s = time.perf_counter() - t_warm
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        runs, wall = _timed_loop(step, timer, device, iters, min_time, progress, "measure")
    samples = [timer.ms(m[0], m[-1]) for m in runs]
    phases = None
    if cfg.mode == "train":
        import numpy as np

        phases = {name: float(np.median([timer.ms(m[i], m[i + 1]) for m in runs])) for i, name in enumerate(("forward", "backward", "optimizer"))}
    peak_cuda = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    kernel_ms = _kernel_ms_per_step(step, device) if device.type == "cuda" else None  # after timing: never inside it
    del model, x, step
    return {"samples": samples, "wall": wall, "phases": phases, "compile_s": compile_s, "warmup_s": warmup_s, "peak_cuda": peak_cuda,
            "kernel_ms": kernel_ms, "max_abs_diff": diff}


def _kernel_ms_per_step(step, device: torch.device, steps: int = 5) -> float | None:
    """GPU kernel time of one step, from torch.profiler's CUDA kernel events (CUPTI). With
    the step's median wall time this says how busy the GPU is; None when the profiler
    cannot see the device (no CUPTI, another profiler running)."""
    try:
        from torch.profiler import ProfilerActivity, profile as torch_profile

        noop = lambda: None  # noqa: E731
        with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                step(noop)
            synchronize(device)
        total_us = sum(e.time_range.elapsed_us() for e in prof.events()
                       if e.device_type == torch.autograd.DeviceType.CUDA)
        return total_us / 1000 / steps if total_us > 0 else None
    except Exception:  # the measurement is optional; its absence is reported as "not measured"
        return None


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()


def profile(spec: NetSpec, cfg: ProfileConfig, progress: Progress | None = None,
            model: torch.nn.Module | None = None) -> ProfileResult:
    """Measure one spec at one batch size. On CUDA OOM: free the cache, halve the batch, retry.
    ``cfg.threads`` holds for this call only: the thread count is restored afterwards.
    ``model``: time this network (built from ``spec``) instead of building a fresh one."""
    device = resolve_device(cfg.device)
    if cfg.compile_mode is not None:
        from dataclasses import replace

        cfg = replace(cfg, compile=True)  # a compile mode is a request to compile
    check_config(cfg, device)
    with num_threads(cfg.threads):
        return _profile(spec, cfg, device, progress, model)


def _profile(spec: NetSpec, cfg: ProfileConfig, device: torch.device, progress: Progress | None, model) -> ProfileResult:
    t_start = time.perf_counter()
    d = DEFAULTS[device.type]
    requested = cfg.batch_size or d["batch_size"]
    warmup = d["warmup"] if cfg.warmup is None else cfg.warmup
    iters = cfg.iters or d["iters"]
    min_time = d["min_time"] if cfg.min_time is None else cfg.min_time

    from resbench.limits import check_fits

    own = isinstance(spec, NetSpec)  # a resbench spec, not a torchvision:/timm: model
    if own:  # the memory estimate needs the spec's stage shapes; CUDA backs off on OOM, so batch 1 must fit there
        check_fits(spec, batch=requested if device.type != "cuda" else 1, train=cfg.mode == "train", device=device)
    if own and cfg.channels_last and cfg.mode == "train" and device.type == "cpu" and nhwc_backward_crashes(spec):
        raise DeviceError(f"training {spec.name} channels-last on CPU would crash: oneDNN's backward of a stride-2 1x1 conv "
                          "with fewer than 8 input channels corrupts memory in NHWC; drop --channels-last or widen the net")
    rss_before = _peak_rss_bytes()
    raw, batch = _measure_backing_off(spec, cfg, device, requested, warmup, iters, min_time, progress, model)
    if device.type == "cuda":
        peak_mem, mem_method = raw["peak_cuda"], "cuda_max_memory_allocated"
    else:
        grew = _peak_rss_bytes() - rss_before
        peak_mem = grew if grew > 0 else None
        mem_method = "cpu_peak_rss_increase" if grew > 0 else "not measured (process peak RSS did not rise above an earlier peak)"

    alt = None
    notes = []
    crash = own and cfg.mode == "train" and device.type == "cpu" and nhwc_backward_crashes(spec)
    if crash:
        notes.append("channels-last not timed: training this net in NHWC on CPU crashes oneDNN (stride-2 1x1 conv, < 8 channels)")
    if device.type == "cpu" and cfg.compare_layouts and not cfg.compile and not crash and cfg.backend == "eager":
        alt_raw = _measure(spec, cfg, device, batch, not cfg.channels_last, warmup, iters, min_time, progress, model)
        main_med, alt_med = summarize(raw["samples"]).median, summarize(alt_raw["samples"]).median
        alt = {"channels_last": not cfg.channels_last, "median_ms": alt_med, "speedup": main_med / alt_med,
               "warmup_s": alt_raw["warmup_s"], "measure_s": alt_raw["wall"]}

    from resbench.target import quick_complexity

    c = quick_complexity(spec)  # analytic for specs (equal to fvcore's count, tested); FlopCounterMode for references
    stages, rest = (), None
    if cfg.breakdown:
        # Pairs of passes (marked, unmarked): half the whole pass's iterations keep the cost near one pass.
        stages, rest = _breakdown(spec, cfg, device, batch, warmup, max(10, len(raw["samples"]) // 2), model,
                                  {s.name: s.macs for s in c.stages}, progress)
    env = collect_env(device)
    throughput = len(raw["samples"]) * batch / raw["wall"]
    achieved = c.flops * throughput * (3 if cfg.mode == "train" else 1) / 1e12
    peak_dtype = cfg.dtype
    if device.type == "cuda":
        peak, source = gpu_peak_tflops(env["device_name"], peak_dtype), "vendor dense peak"
    elif device.type == "cpu":
        peak, source = cpu_roofline(peak_dtype, env["cpu"])
    else:
        peak, source = None, None
    summary = summarize(raw["samples"])
    mfu = achieved / peak if peak else None
    if mfu is not None and mfu > 1:
        # A roofline is an upper bound or it is wrong: never print a utilisation above 100 %.
        notes.append(f"achieved {achieved:.3g} TFLOP/s exceeds the roofline ({peak:.3g}, {source}): MFU not shown")
        mfu = None
    gpu_busy = min(1.0, raw["kernel_ms"] / summary.median) if raw.get("kernel_ms") and summary.median > 0 else None
    notes += _notes(cfg, device, batch, requested, summary, gpu_busy)
    return ProfileResult(
        spec=spec.name, device=str(device), device_name=env["device_name"] or str(device), dtype=cfg.dtype, mode=cfg.mode,
        batch_size=batch, batch_size_requested=requested, channels_last=cfg.channels_last, compiled=cfg.compile,
        cuda_graphs=cfg.cuda_graphs, threads=torch.get_num_threads(), params=c.params, macs=c.macs, flops=c.flops,
        latency=summary, samples_ms=tuple(raw["samples"]), throughput=throughput, phases_ms=raw["phases"],
        peak_memory_bytes=peak_mem, memory_method=mem_method, achieved_tflops=achieved,
        peak_tflops=peak, peak_source=source if peak else None, mfu=mfu,
        compile_s=raw["compile_s"], warmup_s=raw["warmup_s"], measure_s=raw["wall"],
        total_s=time.perf_counter() - t_start, alt_layout=alt, notes=tuple(notes), env=env, gpu_busy=gpu_busy,
        breakdown=stages, breakdown_rest_ms=rest, compile_mode=cfg.compile_mode, max_abs_diff_vs_eager=raw.get("max_abs_diff"),
        backend=cfg.backend,
    )


def _measure_backing_off(spec, cfg: ProfileConfig, device: torch.device, requested: int, warmup: int, iters: int,
                         min_time: float, progress, model) -> tuple[dict, int]:
    """``_measure`` at ``requested``; on CUDA out-of-memory, free the cache and halve the batch."""
    batch = requested
    while True:
        try:
            return _measure(spec, cfg, device, batch, cfg.channels_last, warmup, iters, min_time, progress, model), batch
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
            if device.type != "cuda" or not _is_oom(e):
                raise
            if not cfg.backoff:
                raise DeviceError(f"{spec.name} ran out of CUDA memory at batch {batch} (back-off is off: --no-backoff)") from None
            gc.collect()
            torch.cuda.empty_cache()
            if batch == 1:
                raise DeviceError(f"{spec.name} does not fit in {torch.cuda.get_device_name(device)} memory even at batch size 1") from None
            batch //= 2


def _notes(cfg: ProfileConfig, device: torch.device, batch: int, requested: int, summary, gpu_busy) -> list[str]:
    """What a reader of one profile should know beside its figures."""
    notes = []
    if batch != requested:
        notes.append(f"CUDA out of memory at batch {requested}: measured batch {batch}")
    if cfg.backend == "onnxruntime" and device.type == "cuda":
        notes.append("onnxruntime on CUDA: each step includes the host<->device copies of input and output")
    if device.type == "cpu" and cfg.dtype == "bf16" and not cpu_has_native_bf16():
        notes.append("this CPU has no native bf16 (no AVX512-BF16/AMX): bf16 is emulated and usually slower than fp32")
    if gpu_busy is not None and gpu_busy < LAUNCH_BOUND_BUSY:
        hint = "; try --cuda-graphs" if cfg.mode == "infer" and not cfg.cuda_graphs else ""
        notes.append(f"launch-bound: the GPU is busy {gpu_busy:.0%} of each step (kernel time / wall time){hint}")
    if summary.noisy:
        notes.append(f"noisy: IQR is {summary.iqr / summary.median:.0%} of the median (> 10%); close other work or raise --min-time")
    return notes


def _breakdown(spec, cfg, device, batch, warmup, iters, model, stage_macs, progress):
    """The per-stage pass: same layout, batch and dtype as the whole-model pass, after it.
    Returns the stages and the rest: the pass's own whole-model median minus their sum."""
    from resbench.measure.breakdown import stage_breakdown

    if progress:
        progress("breakdown", 0, 1)
    with precision(device, cfg.dtype):
        m, x, _ = _prepare(spec, cfg, device, batch, cfg.channels_last, model)
        stages, whole = stage_breakdown(m, x, device, cfg.dtype, iters=iters, warmup=warmup, stage_macs=stage_macs)
    return tuple(stages), whole - sum(s.median_ms for s in stages)
