"""Profiling end to end on CPU (small nets, few iterations), JSON shape, errors, CUDA paths (per-stage times: test_breakdown.py)."""

import json

import pytest
import torch

from resbench.errors import DeviceError, UsageError
from resbench.measure.timing import ProfileConfig, profile
from resbench.spec import parse_spec

FAST = dict(warmup=1, iters=3, min_time=0.0)
SPEC = parse_spec("cifar-resnet8")


def test_cpu_infer_end_to_end():
    r = profile(SPEC, ProfileConfig(device="cpu", batch_size=4, **FAST))
    assert r.latency.n == len(r.samples_ms) >= 3
    assert all(s > 0 for s in r.samples_ms)
    assert r.latency.min <= r.latency.median <= r.latency.max
    assert r.throughput > 0 and r.achieved_tflops > 0
    assert r.phases_ms is None
    assert r.alt_layout is not None and r.alt_layout["channels_last"] is True
    assert r.peak_tflops and 0 < r.mfu
    assert r.env["threads"] == r.threads and r.env["torch"] == torch.__version__
    # throughput is from the synchronized wall clock: it cannot beat the per-iteration times
    assert r.throughput <= 4 / (r.latency.min / 1e3) * 1.01


def test_cpu_train_splits_phases():
    r = profile(SPEC, ProfileConfig(device="cpu", batch_size=4, mode="train", compare_layouts=False, **FAST))
    assert set(r.phases_ms) == {"forward", "backward", "optimizer"}
    assert sum(r.phases_ms.values()) <= r.latency.max * 1.01
    assert r.alt_layout is None


def test_min_time_extends_the_run():
    r = profile(SPEC, ProfileConfig(device="cpu", batch_size=1, warmup=0, iters=1, min_time=0.3, compare_layouts=False))
    assert r.latency.n > 1 and r.measure_s >= 0.3


@pytest.mark.parametrize(
    "cfg, exc, fragment",
    [
        (dict(device="cuda:7" if torch.cuda.is_available() else "cuda"), DeviceError, "CUDA"),
        (dict(device="cpu", dtype="fp16"), DeviceError, "bf16 or fp32"),
        (dict(device="cpu", dtype="tf32"), DeviceError, "CUDA"),
        (dict(device="cpu", cuda_graphs=True), DeviceError, "CUDA device"),
        (dict(device="cpu", batch_size=0), UsageError, "at least 1"),
        (dict(device="cpu", mode="fly"), UsageError, "infer or train"),
        (dict(device="tpu"), DeviceError, "expected auto, cpu"),
    ],
)
def test_bad_configs(cfg, exc, fragment):
    with pytest.raises(exc, match=fragment):
        profile(SPEC, ProfileConfig(**cfg))


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
@pytest.mark.parametrize("opts", [dict(), dict(dtype="tf32"), dict(dtype="bf16", channels_last=True), dict(dtype="fp16", mode="train"),
                                  dict(cuda_graphs=True), dict(cuda_graphs=True, dtype="bf16")])
def test_cuda_paths(opts):
    r = profile(parse_spec("resnet50"), ProfileConfig(device="cuda", batch_size=8, warmup=3, iters=5, min_time=0, **opts))
    assert r.peak_memory_bytes and r.peak_memory_bytes > 0
    assert r.memory_method == "cuda_max_memory_allocated"
    assert r.env["device_name"] and r.env["cudnn"]
    assert r.latency.n >= 5


def test_p99_needs_100_samples_and_cpu_has_no_gpu_busy():
    from resbench.report.tables import profile_notes, profile_table
    from rich.console import Console

    r = profile(parse_spec("cifar-resnet8"), ProfileConfig(device="cpu", batch_size=1, iters=5, warmup=0, min_time=0,
                                                           compare_layouts=False))
    assert r.latency.n < 100 and not r.p99_estimable and r.gpu_busy is None and not r.launch_bound
    d = r.to_dict()
    assert d["p99_estimable"] is False and d["n_samples"] == r.latency.n
    console = Console(width=200, record=True)
    console.print(profile_table([r]))
    assert "–" in console.export_text()
    assert "p99 not shown" in profile_notes([r])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_launch_bound_detection_on_cuda():
    """A tiny net at batch 1 leaves an H100 idle most of the step; a big batch of ResNet-50 does not."""
    small = profile(parse_spec("cifar-resnet8"), ProfileConfig(device="cuda", batch_size=1, iters=50, warmup=10))
    assert small.gpu_busy is not None and small.launch_bound
    assert any("launch-bound" in n for n in small.notes)
    big = profile(parse_spec("resnet50"), ProfileConfig(device="cuda", batch_size=128, iters=20, warmup=5))
    assert big.gpu_busy is not None and not big.launch_bound


def test_compile_mode_reports_compile_time_and_difference_to_eager(cli):
    """torch.compile (inductor, CPU): compile time apart from the timings, output equal to eager within float error."""
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "2", "--compile-mode", "default",
                         "--iters", "5", "--min-time", "0", "--no-compare-layouts", "--no-save", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["compiled"] and r["compile_mode"] == "default" and r["compile_s"] > 0
    assert 0 <= r["max_abs_diff_vs_eager"] < 1e-3


def test_cpu_roofline_is_an_upper_bound_from_the_isa(monkeypatch):
    from resbench.measure import peaks

    monkeypatch.setattr(peaks, "_cpu_facts", lambda: ({"fma", "avx2", "avx512f"}, 3.0))
    tflops, what = peaks.cpu_isa_peak("fp32", 2)
    assert tflops == pytest.approx(2 * 64 * 3.0e9 / 1e12) and "avx512f" in what
    monkeypatch.setattr(peaks, "_cpu_facts", lambda: ({"avx2", "avx512_bf16", "avx512f"}, 2.0))
    assert peaks.cpu_isa_peak("bf16", 1)[0] == pytest.approx(128 * 2.0e9 / 1e12)
    monkeypatch.setattr(peaks, "_cpu_facts", lambda: (set(), None))
    assert peaks.cpu_isa_peak("fp32", 2) is None


def test_a_roofline_measured_under_contention_is_never_cached(monkeypatch, tmp_path):
    from resbench.measure import peaks

    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(peaks, "cpu_isa_peak", lambda dtype, threads: None)
    monkeypatch.setattr(peaks, "measured_roofline", lambda dtype: (0.1, False))
    assert peaks.cpu_roofline("fp32", "cpu") == (0.1, "fastest measured fp32 kernel (matmul or 3x3 conv)")
    assert not (tmp_path / "cpu_roofline.json").exists()
    monkeypatch.setattr(peaks, "measured_roofline", lambda dtype: (0.2, True))
    assert peaks.cpu_roofline("fp32", "cpu")[0] == 0.2
    monkeypatch.setattr(peaks, "measured_roofline", lambda dtype: (0.05, True))
    assert peaks.cpu_roofline("fp32", "cpu")[0] == 0.2  # the quiet figure, from the cache
    monkeypatch.setattr(peaks, "cpu_isa_peak", lambda dtype, threads: (0.5, "isa"))
    assert peaks.cpu_roofline("fp32", "cpu") == (0.5, "fp32 ISA peak: isa")  # the larger bound wins


def test_mfu_is_never_shown_above_100_percent(monkeypatch):
    from resbench.measure import timing

    monkeypatch.setattr(timing, "cpu_roofline", lambda dtype, cpu, warn=None: (1e-9, "a roofline far too low"))
    r = timing.profile(parse_spec("cifar-resnet8"), timing.ProfileConfig(device="cpu", batch_size=2, iters=3, warmup=1,
                                                                       compare_layouts=False))
    assert r.mfu is None and any("exceeds the roofline" in n for n in r.notes)
    monkeypatch.setattr(timing, "cpu_roofline", lambda dtype, cpu, warn=None: (1e6, "generous"))
    r = timing.profile(parse_spec("cifar-resnet8"), timing.ProfileConfig(device="cpu", batch_size=2, iters=3, warmup=1,
                                                                       compare_layouts=False))
    assert 0 < r.mfu <= 1 and r.peak_source == "generous"


@pytest.mark.skipif(not __import__("os").path.exists("/proc/stat"), reason="reads /proc/stat")
def test_a_second_busy_process_marks_the_roofline_contended():
    """Steady contention slows every repeat alike; the other processes' CPU time shows it."""
    import subprocess
    import sys
    import time

    from resbench.measure.peaks import measured_roofline

    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        _, quiet = measured_roofline("fp32", max_n=512)
    finally:
        spin.kill()
        spin.wait()
    assert quiet is False
