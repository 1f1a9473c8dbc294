"""The CPU roofline's cache: a damaged file or entry is said once, dropped and measured
again; a special file there is never waited on."""

import json
import os
import signal

import pytest

from resbench.measure import peaks


@pytest.fixture
def measured(tmp_path, monkeypatch):
    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(peaks, "measured_roofline", lambda dtype: calls.append(dtype) or (0.25, True))
    monkeypatch.setattr(peaks, "cpu_isa_peak", lambda dtype, threads: None)
    return calls


@pytest.mark.parametrize("text", ['{"k": Infinity}', '{"k": true}', '{"k": 1e300}', '{"k": -3}', "[" * 100_000 + "]" * 100_000,
                                  "{", '["a list"]'])
def test_a_damaged_roofline_cache_is_said_once_and_measured_again(tmp_path, measured, text):
    path = tmp_path / "cpu_roofline.json"
    path.write_text(text)
    warned = []
    tflops, what = peaks.cpu_roofline("fp32", "test cpu", warn=warned.append)
    assert tflops == 0.25 and measured == ["fp32"] and "measured" in what
    assert len(warned) == 1 and str(path) in warned[0] and "measured again" in warned[0]
    assert list(json.loads(path.read_text()).values()) == [0.25]  # the damage gone, the new figure kept
    assert peaks.cpu_roofline("fp32", "test cpu", warn=warned.append)[0] == 0.25
    assert measured == ["fp32"] and len(warned) == 1  # read back from the cache, nothing more said


def test_a_fifo_as_roofline_cache_is_not_waited_on(tmp_path, measured):
    os.mkfifo(tmp_path / "cpu_roofline.json")
    warned = []
    signal.alarm(30)
    try:
        assert peaks.cpu_roofline("fp32", "test cpu", warn=warned.append)[0] == 0.25
    finally:
        signal.alarm(0)
    assert len(warned) == 1 and "not a regular file (a FIFO)" in warned[0]
    assert (tmp_path / "cpu_roofline.json").is_fifo()  # left alone, not replaced
