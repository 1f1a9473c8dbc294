"""Where and how a network runs: device resolution, precision and threads, the CPU NHWC
guard, and the machine-local cache folder.

Profiling (`measure/timing.py`) and training (`train/engine.py`) both need these; they
live here so neither imports the other. Every context manager restores the global
state it changes (TF32 flags, cuDNN autotuning, torch's thread count), so a library
call leaves the process as it found it.
"""

from __future__ import annotations

import contextlib

import torch

from resbench.errors import DeviceError

AMP_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}

# Training defaults per device type, each chosen by a measurement:
# * cpu: NHWC, fp32. benchmarks/train_throughput.py on our AMD EPYC (2 threads): ResNet-20
#   training 441 img/s in NHWC vs 343 in NCHW (1.29x); bf16 is emulated there (no AVX512-BF16).
# * cuda: NCHW, fp32. A plain loop on an H100 (torch 2.11): ResNet-20 batch 128,
#   9.4 ms/step fp32 NCHW vs 11.8 NHWC vs 12.0 bf16 NHWC. resbench on an H200
#   (benchmarks/train_throughput.py, results/benchmarks/train_throughput_cuda.txt): 10,993 img/s
#   NCHW fp32, 11,241 NHWC (one run each, 2 % apart), 9,604 bf16: fp32 NCHW stays.
# * mps: NCHW, fp32 (not measured: PyTorch's default).
TRAIN_DEFAULTS = {
    "cpu": {"channels_last": True, "dtype": "fp32"},
    "cuda": {"channels_last": False, "dtype": "fp32"},
    "mps": {"channels_last": False, "dtype": "fp32"},
}


def train_defaults(device_type: str) -> dict:
    return TRAIN_DEFAULTS.get(device_type, TRAIN_DEFAULTS["cpu"])


def resolve_device(name: str) -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"`device={name!r}`: CUDA is not available here (torch {torch.__version__}); use `device='cpu'`")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"`device={name!r}`: only {torch.cuda.device_count()} CUDA device(s) here (cuda:0..)")
    elif device.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise DeviceError("`device='mps'`: Apple MPS is not available on this machine; use `device='cpu'`")
    elif device.type != "cpu":
        raise DeviceError(f"unsupported device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    return device


@contextlib.contextmanager
def precision(device: torch.device, dtype: str):
    """fp32 is strict (TF32 off: unlike timm, we never turn it on silently); tf32 turns it
    on; cuDNN autotuning on for CUDA. Restores the global flags afterwards."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = dtype == "tf32"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved


@contextlib.contextmanager
def num_threads(threads: int | None):
    """torch's intra-op thread count for the block (None: leave it), restored afterwards."""
    saved = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads and torch.get_num_threads() != saved:
            torch.set_num_threads(saved)


def autocast(device: torch.device, dtype: str, cache_enabled: bool = True):
    if dtype in AMP_DTYPES:
        return torch.autocast(device.type, dtype=AMP_DTYPES[dtype], cache_enabled=cache_enabled)
    return contextlib.nullcontext()


def grad_scaler(device: torch.device, enabled: bool):
    """fp16 training needs loss scaling; torch.amp.GradScaler is torch >= 2.3."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device.type, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled and device.type == "cuda")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def nhwc_backward_crashes(spec) -> bool:
    """True when training ``spec`` channels-last on CPU would crash the process: oneDNN's
    weight gradient of a stride-2 1x1 conv with fewer than 8 input channels corrupts the
    heap in NHWC (reproduced with torch 2.14.1 on AVX2: 1-7 channels crash, 8+ do not).
    Such convs are the projection shortcuts (B, C) and the paper-placement bottleneck's
    first 1x1 at the start of a stage, after a stage narrower than 8 channels."""
    chans = (spec.stem_width,) + spec.out_channels
    strided_1x1 = spec.shortcut in ("B", "C") or (spec.block == "bottleneck" and spec.stride_on == "1x1")
    return strided_1x1 and any(chans[i] < 8 for i in range(1, len(spec.stages)))
