"""`profile --trace`: a Chrome/Perfetto trace of a few steps, taken after the timed runs."""

import json

import pytest
import torch

from tests.conftest import assert_one_line_usage_error


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

    from resbench.outputs import write_text_atomic

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_text_atomic(fifo, "x")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        os.close(fd)


@pytest.fixture
def prof():
    from torch.profiler import profile

    with profile() as p:
        torch.ones(3) + 1
    return p


def test_a_link_to_a_fifo_is_written_through_and_both_are_kept(prof, tmp_path):
    import os
    import stat
    import threading
    import time

    from resbench.measure.trace import export_trace

    fifo, link = tmp_path / "fifo", tmp_path / "t.json"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    time.sleep(0.2)  # the reader is waiting in open() before the trace is written
    export_trace(prof, link)
    reader.join(30)
    assert json.loads(got[0])["traceEvents"] is not None
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "t.json"]


def test_a_link_to_a_file_keeps_the_link_and_replaces_the_target(prof, tmp_path):
    from resbench.measure.trace import export_trace

    target, link = tmp_path / "real.json", tmp_path / "t.json"
    target.write_text("old")
    link.symlink_to(target)
    export_trace(prof, link)
    assert link.is_symlink() and "traceEvents" in json.loads(target.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.json", "t.json"]


def test_a_fifo_nobody_reads_is_refused_not_waited_on(cli, tmp_path):
    import os
    import signal

    os.mkfifo(tmp_path / "t.json")
    signal.alarm(120)
    try:
        code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "1", "--min-time", "0",
                             "--no-save", "--trace", tmp_path / "t.json")
    finally:
        signal.alarm(0)
    assert_one_line_usage_error(code, err)
    assert "FIFO that nobody reads" in err


def test_a_failed_trace_write_is_exit_1_and_leaves_the_old_file(cli, tmp_path, monkeypatch):
    """A full disk under the exporter: it writes half a file and says so on fd 2, raising nothing."""
    import os

    import torch.profiler

    def full_disk(self, path):
        with open(path, "w") as f:
            f.write('{"traceEvents": [')
        os.write(2, b"Failed to write to log file!\n")

    monkeypatch.setattr(torch.profiler.profile, "export_chrome_trace", full_disk)
    path = tmp_path / "t.json"
    path.write_text("the old trace")
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "1", "--min-time", "0",
                         "--no-save", "--trace", path)
    lines = [line for line in err.splitlines() if line.strip() and " · " not in line]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("resbench: error: cannot write the trace"), err
    assert path.read_text() == "the old trace" and [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_a_name_that_is_not_utf8_is_a_valid_trace_name(cli, tmp_path):
    import os

    name = os.fsdecode(b"tr\xffce.json")
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "1", "--min-time", "0",
                         "--no-save", "--trace", str(tmp_path / name), "--json")
    assert code == 0, err
    assert os.listdir(os.fsencode(tmp_path)) == [b"tr\xffce.json"]
