"""`train` as a job: two identical runs into one results folder train once."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from filelock import FileLock, Timeout


def _held(lock_dir) -> bool:
    for path in lock_dir.glob("train-*.lock") if lock_dir.exists() else ():
        try:
            FileLock(str(path)).acquire(timeout=0).lock.release()
        except Timeout:
            return True
    return False


def test_two_identical_train_runs_train_once(tmp_path):
    cmd = [sys.executable, "-m", "resbench", "train", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu",
           "--subset", "256", "--test-subset", "32", "--epochs", "2", "--results-dir", str(tmp_path), "--json"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock_dir = tmp_path / "records" / ".locks"
    deadline = time.time() + 120
    while not _held(lock_dir) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGSTOP)  # the first holds its claim: keep it held while the second starts
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(second.stderr), daemon=True)
    reader.start()
    while not any("another run is training" in line for line in lines) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGCONT)
    out1, err1 = first.communicate(timeout=600)
    second.wait(timeout=600)
    reader.join(timeout=10)
    out2, err2 = second.stdout.read(), "".join(lines)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert len(list((tmp_path / "records" / "train").glob("*.json"))) == 1
    assert "another run is training this configuration" in err2
    assert json.loads(out1)["final_test_error"] == json.loads(out2)["final_test_error"]

