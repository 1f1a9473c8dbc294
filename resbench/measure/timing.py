"""Latency, throughput and memory of one network on one device: `resbench profile`.

Method (as torch.utils.benchmark and timm's benchmark.py, plus percentiles):
warm up (cuDNN autotuning, torch.compile, the caching allocator), then time every
iteration: CUDA events on CUDA (no host sync inside the loop), ``perf_counter``
around each step on CPU (where kernels run synchronously). The same loop, bracketed
by two synchronizations, gives the wall-clock throughput, so launch overlap counts.
"""

from __future__ import annotations

import gc
import time
import warnings
from dataclasses import dataclass, replace

import torch

from resbench import validate as v
from resbench.errors import ConfigError, DeviceError
from resbench.limits import check_fits
from resbench.measure.breakdown import stage_breakdown
from resbench.measure.busy import Meter
from resbench.measure.env import collect_env
from resbench.measure.onnx_backend import check_backend, measure_onnx
from resbench.measure.peaks import cpu_has_native_bf16, cpu_roofline, gpu_peak_tflops
from resbench.measure.steps import (
    MAX_ITERS,
    CpuTimer,
    Progress,
    StepTiming,
    is_oom,
    measure_step,
    peak_rss_bytes,
    prepare,
    timed_loop,
)
from resbench.measure.target import build_target, quick_complexity
from resbench.runtime import (
    nhwc_backward_crashes,
    num_threads,
    precision,
    resolve_device,
)
from resbench.spec import NetSpec
from resbench.results import ProfileResult, is_launch_bound
from resbench.stats import summarize

DTYPES = ("fp32", "tf32", "fp16", "bf16")
MODES = ("infer", "train")

# Per-device defaults: enough samples for stable percentiles without wasting minutes.
DEFAULTS = {
    "cpu": {"batch_size": 8, "warmup": 3, "iters": 20, "min_time": 2.0},
    "cuda": {"batch_size": 64, "warmup": 20, "iters": 100, "min_time": 1.0},
    "mps": {"batch_size": 32, "warmup": 10, "iters": 50, "min_time": 1.0},
}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")



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

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        """Every field, on construction; what they ask of the device is checked when it is known."""
        if self.mode not in MODES:
            raise ConfigError("mode", f"{self.mode!r} is unknown: expected infer or train")
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", f"{self.dtype!r} is unknown: expected fp32, tf32, fp16 or bf16")
        if self.cuda_graphs and self.mode != "infer":
            raise ConfigError("cuda_graphs", "captures the inference step only; use `mode='infer'`")
        if self.compile_mode is not None and self.compile_mode not in COMPILE_MODES:
            raise ConfigError("compile_mode", f"{self.compile_mode!r} is unknown: expected {', '.join(COMPILE_MODES)}")
        check_backend(self)
        if self.breakdown and (self.mode != "infer" or self.compile or self.compile_mode or self.cuda_graphs):
            raise ConfigError("breakdown", "times the stages of the eager forward pass: use `mode='infer'` without "
                              "`compile`, `compile_mode` or `cuda_graphs`")
        if self.batch_size is not None:
            v.whole(self.batch_size, "batch_size", 1, 1 << 20)
        if self.threads is not None:
            v.whole(self.threads, "threads", 1, 4096)
        if self.warmup is not None:
            v.whole(self.warmup, "warmup", 0, MAX_ITERS)
        if self.iters is not None:
            v.whole(self.iters, "iters", 1, MAX_ITERS)
        if self.min_time is not None:
            v.number(self.min_time, "min_time", 0, 3600)


def check_device(cfg: ProfileConfig, device: torch.device) -> None:
    """What the config asks of the device that runs it (the fields checked themselves)."""
    if cfg.dtype == "tf32" and device.type != "cuda":
        raise DeviceError(f"tf32 is a CUDA tensor-core mode; on {device.type} use fp32 (or bf16 autocast)")
    if cfg.dtype == "fp16" and device.type == "cpu":
        raise DeviceError("fp16 autocast is not supported on CPU by resbench (slow, emulated); use bf16 or fp32")
    if cfg.cuda_graphs and device.type != "cuda":
        raise DeviceError("`cuda_graphs` needs a CUDA device; drop it or use `device='cuda'`")


def profile(spec: NetSpec, cfg: ProfileConfig, progress: Progress | None = None,
            model: torch.nn.Module | None = None) -> ProfileResult:
    """Measure one spec at one batch size. On CUDA OOM: free the cache, halve the batch, retry.
    ``cfg.threads`` holds for this call only: the thread count is restored afterwards.
    ``model``: time this network (built from ``spec``) instead of building a fresh one."""
    device = resolve_device(cfg.device)
    check_device(cfg, device)
    if cfg.compile_mode is not None:
        cfg = replace(cfg, compile=True)  # a compile mode is a request to compile
    with num_threads(cfg.threads):
        return _profile(spec, cfg, device, progress, model)


def _profile(spec: NetSpec, cfg: ProfileConfig, device: torch.device, progress: Progress | None, model) -> ProfileResult:
    t_start = time.perf_counter()
    d = DEFAULTS[device.type]
    requested = cfg.batch_size or d["batch_size"]
    warmup = d["warmup"] if cfg.warmup is None else cfg.warmup
    iters = cfg.iters or d["iters"]
    min_time = d["min_time"] if cfg.min_time is None else cfg.min_time

    own = isinstance(spec, NetSpec)  # a resbench spec, not a torchvision:/timm: model
    if own:  # the memory estimate needs the spec's stage shapes; CUDA backs off on OOM, so batch 1 must fit there
        check_fits(spec, batch=requested if device.type != "cuda" else 1, train=cfg.mode == "train", device=device)
    if own and cfg.channels_last and cfg.mode == "train" and device.type == "cpu" and nhwc_backward_crashes(spec):
        raise DeviceError(f"training {spec.name} channels-last on CPU would crash: oneDNN's backward of a stride-2 1x1 conv "
                          "with fewer than 8 input channels corrupts memory in NHWC; drop `channels_last` or widen the net")
    rss_before = peak_rss_bytes()
    meter = Meter().start()
    raw, batch = _measure_backing_off(spec, cfg, device, requested, warmup, iters, min_time, progress, model)
    contention = meter.share()
    peak_mem, mem_method = _peak_memory(device, raw, rss_before)

    notes = []
    crash = own and cfg.mode == "train" and device.type == "cpu" and nhwc_backward_crashes(spec)
    if crash:
        notes.append("channels-last not timed: training this net in NHWC on CPU crashes oneDNN (stride-2 1x1 conv, < 8 channels)")
    alt = None
    if device.type == "cpu" and cfg.compare_layouts and not cfg.compile and not crash and cfg.backend == "eager":
        alt = _other_layout(spec, cfg, device, batch, raw, (warmup, iters, min_time), progress, model)

    c = quick_complexity(spec)  # analytic for specs (equal to fvcore's count, tested); FlopCounterMode for references
    stages, rest = (), None
    if cfg.breakdown:
        # Pairs of passes (marked, unmarked): half the whole pass's iterations keep the cost near one pass.
        stages, rest = _breakdown(spec, cfg, device, batch, warmup, max(10, len(raw.samples) // 2), model,
                                  {s.name: s.macs for s in c.stages}, progress)
    env = collect_env(device)
    throughput = len(raw.samples) * batch / raw.wall
    achieved = c.flops * throughput * (3 if cfg.mode == "train" else 1) / 1e12
    peak, source = _peak(cfg.dtype, device, env)
    summary = summarize(raw.samples)
    mfu = achieved / peak if peak else None
    if mfu is not None and mfu > 1:
        # A roofline is an upper bound or it is wrong: never print a utilisation above 100 %.
        notes.append(f"achieved {achieved:.3g} TFLOP/s exceeds the roofline ({peak:.3g}, {source}): MFU not shown")
        mfu = None
    gpu_busy = min(1.0, raw.kernel_ms / summary.median) if raw.kernel_ms and summary.median > 0 else None
    notes += _notes(cfg, device, batch, requested, summary, gpu_busy)
    return ProfileResult(
        spec=spec.name, device=str(device), device_name=env["device_name"] or str(device), dtype=cfg.dtype, mode=cfg.mode,
        batch_size=batch, batch_size_requested=requested, channels_last=cfg.channels_last, compiled=cfg.compile,
        cuda_graphs=cfg.cuda_graphs, threads=torch.get_num_threads(), params=c.params, macs=c.macs, flops=c.flops,
        latency=summary, samples_ms=tuple(raw.samples), throughput=throughput, phases_ms=raw.phases,
        peak_memory_bytes=peak_mem, memory_method=mem_method, achieved_tflops=achieved,
        peak_tflops=peak, peak_source=source if peak else None, mfu=mfu,
        compile_s=raw.compile_s, warmup_s=raw.warmup_s, measure_s=raw.wall,
        total_s=time.perf_counter() - t_start, alt_layout=alt, notes=tuple(notes), env=env, gpu_busy=gpu_busy,
        breakdown=stages, breakdown_rest_ms=rest, compile_mode=cfg.compile_mode, max_abs_diff_vs_eager=raw.max_abs_diff,
        backend=cfg.backend, contention=contention,
    )


def _peak_memory(device: torch.device, raw: StepTiming, rss_before: int) -> tuple[int | None, str]:
    """The step's peak memory and how it was measured (CUDA's allocator, or the growth of the process's peak RSS)."""
    if device.type == "cuda":
        return raw.peak_cuda, "cuda_max_memory_allocated"
    grew = peak_rss_bytes() - rss_before
    if grew > 0:
        return grew, "cpu_peak_rss_increase"
    return None, "not measured (process peak RSS did not rise above an earlier peak)"


def _other_layout(spec, cfg: ProfileConfig, device, batch: int, raw: StepTiming, budget: tuple, progress, model) -> dict:
    """The same step timed in the other memory layout (CPU), against the main one."""
    warmup, iters, min_time = budget
    alt_raw = measure_step(spec, cfg, device, batch, not cfg.channels_last, warmup, iters, min_time, progress, model)
    main_med, alt_med = summarize(raw.samples).median, summarize(alt_raw.samples).median
    return {"channels_last": not cfg.channels_last, "median_ms": alt_med, "speedup": main_med / alt_med,
            "warmup_s": alt_raw.warmup_s, "measure_s": alt_raw.wall}


def _peak(dtype: str, device: torch.device, env: dict) -> tuple[float | None, str | None]:
    """The roofline MFU is measured against, and where it comes from."""
    if device.type == "cuda":
        return gpu_peak_tflops(env["device_name"], dtype), "vendor dense peak"
    if device.type == "cpu":
        return cpu_roofline(dtype, env["cpu"], warn=lambda m: warnings.warn(m, stacklevel=2))
    return None, None


def _measure_backing_off(spec, cfg: ProfileConfig, device: torch.device, requested: int, warmup: int, iters: int,
                         min_time: float, progress, model) -> tuple[StepTiming, int]:
    """``measure_step`` at ``requested``; on CUDA out-of-memory, free the cache and halve the batch."""
    batch = requested
    while True:
        try:
            measure = _measure_onnx if cfg.backend == "onnxruntime" else measure_step
            return measure(spec, cfg, device, batch, cfg.channels_last, warmup, iters, min_time, progress, model), batch
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
            if device.type != "cuda" or not is_oom(e):
                raise
            if not cfg.backoff:
                raise DeviceError(f"{spec.name} ran out of CUDA memory at batch {batch} (back-off is off: `backoff=False`)") from None
            gc.collect()
            torch.cuda.empty_cache()
            if batch == 1:
                raise DeviceError(f"{spec.name} does not fit in {torch.cuda.get_device_name(device)} memory even at batch size 1") from None
            batch //= 2


def _measure_onnx(spec, cfg: ProfileConfig, device: torch.device, batch: int, channels_last: bool, warmup: int,
                  iters: int, min_time: float, progress, model) -> StepTiming:
    return measure_onnx(spec, model if model is not None else build_target(spec), batch, device, warmup, iters,
                        min_time, timed_loop, CpuTimer(device), progress)


def _notes(cfg: ProfileConfig, device: torch.device, batch: int, requested: int, summary, gpu_busy) -> list[str]:
    """What a reader of one profile should know beside its figures."""
    notes = []
    if batch != requested:
        notes.append(f"CUDA out of memory at batch {requested}: measured batch {batch}")
    if cfg.backend == "onnxruntime" and device.type == "cuda":
        notes.append("onnxruntime on CUDA: each step includes the host<->device copies of input and output")
    if device.type == "cpu" and cfg.dtype == "bf16" and not cpu_has_native_bf16():
        notes.append("this CPU has no native bf16 (no AVX512-BF16/AMX): bf16 is emulated and usually slower than fp32")
    if is_launch_bound(gpu_busy):
        hint = "; try `cuda_graphs=True`" if cfg.mode == "infer" and not cfg.cuda_graphs else ""
        notes.append(f"launch-bound: the profiler's kernel time covers {gpu_busy:.0%} of each step (kernel time / wall "
                     f"time); a step that CUDA graphs do not speed up was not launch-bound, and its kernel time is undercounted{hint}")
    if summary.noisy:
        notes.append(f"noisy: IQR is {summary.iqr / summary.median:.0%} of the median (> 10%); close other work or raise `min_time`")
    return notes


def _breakdown(spec, cfg, device, batch, warmup, iters, model, stage_macs, progress):
    """The per-stage pass: same layout, batch and dtype as the whole-model pass, after it.
    Returns the stages and the rest: the pass's own whole-model median minus their sum."""
    if progress:
        progress("breakdown", 0, 1)
    with precision(device, cfg.dtype):
        m, x, _ = prepare(spec, cfg, device, batch, cfg.channels_last, model)
        stages, whole = stage_breakdown(m, x, device, cfg.dtype, iters=iters, warmup=warmup, stage_macs=stage_macs)
    return tuple(stages), whole - sum(s.median_ms for s in stages)
