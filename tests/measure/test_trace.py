"""`profile --trace`: a Chrome/Perfetto trace of a few steps, taken after the timed runs."""

import json

import pytest
import torch


def test_trace_writes_a_chrome_trace_and_lists_top_operators(cli, tmp_path):
    path = tmp_path / "t.json"
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "4", "--iters", "3", "--min-time", "0.1",
                         "--no-save", "--trace", path, "--json")
    assert code == 0, err
    doc = json.loads(out)
    events = json.loads(path.read_text())["traceEvents"]
    assert any("convolution" in e.get("name", "") for e in events)
    top = doc["trace"]["top"]
    assert top and "convolution" in top[0]["name"] and top[0]["self_cpu_ms"] > 0
    assert all(a["self_cpu_ms"] >= b["self_cpu_ms"] for a, b in zip(top, top[1:]))  # sorted by self time
    assert "USDT" not in err and "gpuGetDeviceCount" not in err  # the profiler's native noise is filtered


def test_the_trace_runs_after_the_timed_runs(monkeypatch, tmp_path):
    """The timed figures never run under the profiler: trace() is called once, after profile()."""
    from resbench.measure import runs, timing, trace
    from resbench.spec import parse_spec

    calls = []
    real_profile, real_trace = runs.profile, runs.trace
    monkeypatch.setattr(runs, "profile", lambda *a, **k: calls.append("profile") or real_profile(*a, **k))
    monkeypatch.setattr(runs, "trace", lambda *a, **k: calls.append("trace") or real_trace(*a, **k))
    cfg = timing.ProfileConfig(device="cpu", iters=2, warmup=0, min_time=0, compare_layouts=False)
    r = runs.profile_runs(parse_spec("cifar-resnet8"), cfg, [2, 4], save=False, trace_path=str(tmp_path / "t.json"))
    assert calls == ["profile", "profile", "trace"] and r.trace.steps == trace.TRACE_STEPS


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trace_on_cuda_has_device_times(cli, tmp_path):
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cuda", "-b", "8", "--no-save", "--trace",
                         tmp_path / "t.json", "--json")
    assert code == 0, err
    assert json.loads(out)["trace"]["top"][0]["self_device_ms"] > 0


def test_an_output_that_is_a_device_is_written_in_place_not_replaced(tmp_path):
    """`--trace /dev/null` (or a FIFO) must never turn the device into a regular file."""
    import os
    import stat

    from resbench.report.files import write_text_atomic

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_text_atomic(fifo, "x")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        os.close(fd)
