"""How busy the machine was while measuring (resbench.measure.busy)."""

import subprocess
import sys
import time

import pytest

from resbench.measure.busy import CONTENTION_WARN, Meter, all_cpu_seconds, warning


@pytest.mark.skipif(all_cpu_seconds() is None, reason="needs Linux /proc/stat")
def test_another_busy_process_shows_as_contention_and_own_work_does_not():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        meter = Meter().start()
        time.sleep(1.0)
        busy = meter.share()
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy > CONTENTION_WARN  # one spinning core of the machine's
    meter = Meter().start()
    t = time.perf_counter()
    while time.perf_counter() - t < 0.5:  # this process's own work is not contention
        pass
    own = meter.share()
    assert own is not None and own < busy


def test_the_warning_is_one_line_above_the_threshold_only():
    assert warning(None, "x was timed") is None and warning(CONTENTION_WARN, "x was timed") is None
    line = warning(0.43, "resnet20 was timed")
    assert "43%" in line and "resnet20 was timed" in line and "\n" not in line


def test_a_busy_side_of_check_says_so():
    from resbench.check.verdict import _timing_rows

    base = {"runs": [{"median_ms": m} for m in (10.0, 10.1, 9.9)], "median_ms": 10.0, "throughput": 100.0}
    cur = {**base, "contention": 0.5}
    rows = _timing_rows("e", base, cur, 0.1, 0.05, False)
    assert "the current was timed while other processes used 50% of the cores" in rows[0].note
    assert "timed while" not in _timing_rows("e", base, base, 0.1, 0.05, False)[0].note
    assert rows[0].contention == 0.5 and _timing_rows("e", base, base, 0.1, 0.05, False)[0].contention is None


@pytest.mark.parametrize("share", [0.5, 0.0])
def test_every_timed_command_records_contention_and_warns_once_when_busy(cli, tmp_path, monkeypatch, share):
    """profile and train: the share in JSON, and one warning line on stderr exactly when it
    is over 10 %."""
    import json

    from resbench.measure import busy

    monkeypatch.setattr(busy.Meter, "share", lambda self: share)
    busy_line = "warning: the machine was busy"
    code, out, err = cli("profile", "cifar-resnet8", "-b", "2", "--device", "cpu", "--iters", "3", "--warmup", "1",
                         "--min-time", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["contention"] == share and err.count(busy_line) == (share > 0.1)
    code, out, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--subset", "32", "--test-subset", "16",
                         "--epochs", "1", "--device", "cpu", "--json", "--results-dir", tmp_path / "r")
    assert code == 0, err
    assert json.loads(out)["contention"] == share and err.count(busy_line) == (share > 0.1)
