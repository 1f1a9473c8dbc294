"""The check worker (resbench.check_worker): one JSON list of measurements for the entries given."""

import json
import subprocess
import sys


def test_the_worker_prints_one_json_list_naming_the_code_that_measured():
    entry = {"spec": "cifar-resnet8", "batch_size": 1, "timing": False}
    r = subprocess.run([sys.executable, "-m", "resbench.check_worker", json.dumps(entry)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)
    assert out["params"] == 75_290 and out["resbench_path"].endswith("resbench/__init__.py")
