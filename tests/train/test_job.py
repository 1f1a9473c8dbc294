"""`train` as a job: two identical runs into one results folder train once."""

import json
import subprocess
import sys
import time


def test_two_identical_train_runs_train_once(tmp_path):
    cmd = [sys.executable, "-m", "resbench", "train", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu",
           "--subset", "256", "--test-subset", "32", "--epochs", "2", "--results-dir", str(tmp_path), "--json"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock_dir = tmp_path / "records" / ".locks"
    deadline = time.time() + 120
    while not (lock_dir.exists() and any(lock_dir.iterdir())) and time.time() < deadline:
        time.sleep(0.2)  # start the second once the first holds its claim
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (out1, err1), (out2, err2) = first.communicate(timeout=600), second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert len(list((tmp_path / "records" / "train").glob("*.json"))) == 1
    assert "another run is training this configuration" in err2
    assert json.loads(out1)["final_test_error"] == json.loads(out2)["final_test_error"]
