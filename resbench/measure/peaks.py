"""Peak compute of the device, for MFU (achieved / peak).

GPUs: the vendors' dense (no sparsity) peak TFLOP/s per dtype, matched on the device
name. CPUs: no published figure fits a given machine and thread count, so we
measure a large matmul once (the practical roofline) and cache it per machine,
threads, dtype and torch version.
"""

from __future__ import annotations

import json
import time

import torch

from resbench.runtime import cache_dir

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


def cpu_roofline_tflops(dtype: str, cpu_name: str, max_n: int = 2048) -> float:
    """Best of a few n x n matmuls at the current thread count (cached).

    n grows from 256 until one matmul takes 50 ms (or max_n), so that a slow (emulated)
    dtype costs a second, not minutes."""
    key = f"{cpu_name}|threads={torch.get_num_threads()}|{dtype}|torch={torch.__version__}"
    path = cache_dir() / "cpu_roofline.json"
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        return float(cached[key])
    tdtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    n = 256
    while True:
        a, b = torch.randn(n, n, dtype=tdtype), torch.randn(n, n, dtype=tdtype)
        t = time.perf_counter()
        torch.mm(a, b)
        if n >= max_n or time.perf_counter() - t > 0.05:
            break
        n *= 2
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    tflops = 2 * n**3 / best / 1e12
    cached[key] = tflops
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from resbench.store import write_json_atomic

        write_json_atomic(path, cached)
    except OSError:
        pass  # a read-only home only costs a re-measure next time
    return tflops
