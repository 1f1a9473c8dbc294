"""Peak compute of the device, for MFU (achieved / peak).

GPUs: the vendors' dense (no sparsity) peak TFLOP/s per dtype, matched on the device
name. CPUs: no published figure fits a given machine and thread count, so we
measure a large matmul once (the practical roofline) and cache it per machine,
threads, dtype and torch version.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from resbench.cache import cache_dir
from resbench.measure.busy import all_cpu_seconds
from resbench.store import read_cache_table, write_cache_table

# Dense peak TFLOP/s from NVIDIA's data sheets: fp32 (CUDA cores), tf32/fp16/bf16
# (tensor cores, without sparsity). First matching name wins, so specific names first.
GPU_PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [
    ("H200", {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4}),
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "fp16": 756.0, "bf16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4}),
    ("A100", {"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0}),
    ("L40S", {"fp32": 91.6, "tf32": 183.0, "fp16": 362.0, "bf16": 362.0}),
    ("L4", {"fp32": 30.3, "tf32": 60.0, "fp16": 121.0, "bf16": 121.0}),
    ("A10", {"fp32": 31.2, "tf32": 62.5, "fp16": 125.0, "bf16": 125.0}),
    ("RTX 4090", {"fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "bf16": 165.2}),
    ("RTX 3090", {"fp32": 35.6, "tf32": 35.6, "fp16": 71.0, "bf16": 71.0}),
    ("V100", {"fp32": 15.7, "fp16": 125.0}),
    ("T4", {"fp32": 8.1, "fp16": 65.0}),
]


def gpu_peak_tflops(device_name: str, dtype: str) -> float | None:
    for key, peaks in GPU_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peaks.get(dtype)
    return None




def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: without them CPU bf16 is emulated (measured ~50x slower than
    fp32 on an AVX2-only EPYC) and bf16 autocast is a pessimisation."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# FLOPs per cycle per core of the widest fp32 FMA path (two FMA pipes, as on every x86
# server core since Haswell / Zen 2): an upper bound; a core with one pipe, or one that
# splits 512-bit work in two, only makes the bound looser, never wrong.
ISA_FP32_FLOPS_PER_CYCLE = (("avx512f", 64), ("avx2", 32), ("asimd", 16), ("neon", 16), ("sse2", 16))
BF16_FACTOR = {"amx_bf16": 16, "avx512_bf16": 2}  # bf16 FLOPs per fp32 FLOP on those units


def _cpu_facts() -> tuple[set[str], float | None]:
    """The CPU's feature flags, and its highest clock (GHz) where the kernel knows it
    (cpufreq's cpuinfo_max_freq). /proc/cpuinfo's "cpu MHz" is not used: it is the clock
    now, and on virtual machines the base clock, which turbo exceeds (measured here: ONNX
    Runtime ran above a 2.45 GHz bound), so it would not bound anything."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    flags = set(value.split())
                    break
    except OSError:
        pass
    ghz = []
    for path in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"):
        try:
            ghz.append(int(path.read_text()) / 1e6)
        except (OSError, ValueError):
            pass
    return flags, max(ghz) if ghz else None


def cpu_isa_peak(dtype: str, threads: int) -> tuple[float, str] | None:
    """Cores x FLOPs per cycle x clock, from the CPU's own flags and clock; None when Linux
    does not tell them."""
    flags, ghz = _cpu_facts()
    per_cycle = next((n for flag, n in ISA_FP32_FLOPS_PER_CYCLE if flag in flags), None)
    if not per_cycle or not ghz:
        return None
    isa = next(flag for flag, n in ISA_FP32_FLOPS_PER_CYCLE if n == per_cycle and flag in flags)
    if dtype == "bf16":
        unit = next((u for u in BF16_FACTOR if u in flags), None)
        if unit:
            per_cycle, isa = per_cycle * BF16_FACTOR[unit], unit
    cores = max(1, min(threads, os.cpu_count() or threads))
    return cores * per_cycle * ghz * 1e9 / 1e12, f"{cores} core(s) x {per_cycle} FLOP/cycle ({isa}) x {ghz:.2f} GHz"


def _best_seconds(fn, repeats: int) -> tuple[float, float]:
    """(fastest, median) of ``repeats`` timed calls."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]


def measured_roofline(dtype: str, max_n: int = 2048, repeats: int = 5) -> tuple[float, bool]:
    """The fastest of a large matmul and a large 3x3 convolution (TFLOP/s), and whether
    the machine was quiet while measuring: other processes used under 10 % of the cores
    (from /proc/stat against this process's own CPU time; steady contention slows every
    repeat alike, so agreeing repeats alone do not show it) and the repeats agree within 25 %."""
    busy0, own0, wall0 = all_cpu_seconds(), time.process_time(), time.perf_counter()
    tdtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    n = 256
    while True:  # grow until one matmul takes 50 ms: an emulated dtype costs a second, not minutes
        a, b = torch.randn(n, n, dtype=tdtype), torch.randn(n, n, dtype=tdtype)
        t = time.perf_counter()
        torch.mm(a, b)
        if n >= max_n or time.perf_counter() - t > 0.05:
            break
        n *= 2
    mm_best, mm_median = _best_seconds(lambda: torch.mm(a, b), repeats)
    x = torch.randn(1, 128, 56, 56, dtype=tdtype)
    w = torch.randn(128, 128, 3, 3, dtype=tdtype)
    conv = lambda: torch.nn.functional.conv2d(x, w, padding=1)  # noqa: E731
    conv()
    conv_best, conv_median = _best_seconds(conv, repeats)
    rates = [2 * n ** 3 / mm_best, 2 * 128 * 128 * 9 * 56 * 56 / conv_best]
    quiet = mm_median / mm_best < 1.25 and conv_median / conv_best < 1.25
    busy1 = all_cpu_seconds()
    if busy0 is not None and busy1 is not None:
        others = (busy1 - busy0) - (time.process_time() - own0)
        quiet = quiet and others < 0.1 * (time.perf_counter() - wall0) * (os.cpu_count() or 1)
    return max(rates) / 1e12, quiet


ROOFLINE_TFLOPS = (1e-4, 1e4)  # what any CPU's fastest kernel can be: a cached figure outside is damage


def cpu_roofline(dtype: str, cpu_name: str, warn=None) -> tuple[float, str]:
    """An upper bound on what this CPU can compute (TFLOP/s) at the current thread count,
    and what it is: the ISA peak (cores x FLOPs per cycle x clock) or, when that is
    unknown or lower, the fastest of a matmul and a convolution measured here.

    A measurement is cached per machine, threads, dtype and torch only when the machine
    looked quiet; a contended one (a second process on the cores) is used once and
    measured again next time, so it never stands in for the machine for good."""
    threads = torch.get_num_threads()
    isa = cpu_isa_peak(dtype, threads)
    key = f"v2|{cpu_name}|threads={threads}|{dtype}|torch={torch.__version__}"
    path = cache_dir() / "cpu_roofline.json"
    cached = read_cache_table(path, *ROOFLINE_TFLOPS,
                              f"ignored: roofline entries must be TFLOP/s between {ROOFLINE_TFLOPS[0]:g} and "
                              f"{ROOFLINE_TFLOPS[1]:g}, and this one is measured again", warn)
    measured = cached.get(key)
    if measured is None:
        measured, quiet = measured_roofline(dtype)
        if quiet:
            write_cache_table(path, {**cached, key: measured})
    if isa and isa[0] >= measured:
        return isa[0], f"{dtype} ISA peak: {isa[1]}"
    return float(measured), f"fastest measured {dtype} kernel (matmul or 3x3 conv)"
