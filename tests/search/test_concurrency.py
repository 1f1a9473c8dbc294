"""Two `resbench search` workers started at the same moment on a new SQLite study both
run (one creates the storage's tables while the other waits for it)."""

import subprocess
import sys


def test_two_workers_start_a_new_sqlite_study_together(tmp_path):
    db = tmp_path / "s.db"
    cmd = [sys.executable, "-m", "resbench", "search", "--dataset", "synthetic", "--device", "cpu", "--subset", "64",
           "--test-subset", "32", "--epochs", "1", "--trials", "1", "--max-macs", "20M", "--storage", f"sqlite:///{db}",
           "--results-dir", str(tmp_path / "r"), "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "UNIQUE constraint" not in err

