"""train_throughput --against's protocol (benchmarks/train_throughput.py), with stand-in workers
that train nothing: balanced alternation, the pairs' ratio and its interval, a dying worker."""

import importlib.util
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

_SPEC = importlib.util.spec_from_file_location("train_throughput", Path(__file__).parents[2] / "benchmarks" / "train_throughput.py")
tt = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tt)

# a stand-in worker: REF (a folder named "ref") answers 100 img/s, this code 110 +- 1 by turns
FAKE = """
import os, sys
print("ready", flush=True)
n = 0
for _ in sys.stdin:
    n += 1
    print(100.0 if os.path.basename(os.getcwd()) == "ref" else 110.0 + (-1) ** n, flush=True)
"""


def test_pairs_alternate_and_the_ratio_is_their_geometric_mean(tmp_path, monkeypatch):
    (tmp_path / "ref").mkdir()
    monkeypatch.setattr(tt, "AGAINST_WORKER", FAKE)
    lines = tt.against_rows(SimpleNamespace(against=str(tmp_path / "ref"), steps=2, data_dir=None), rounds=4)
    ratios = [float(x) for x in lines[1].split(";")[0].split()[2:]]
    assert ratios == [1.09, 1.11] * 4  # 109 and 111 by turns: each side's runs alternate with the other's
    expected = math.exp(sum(math.log(r) for r in (1.09, 1.11)) / 2)
    assert f"ratio {expected:.3f}" in lines[2] and "95 % CI [" in lines[2]
    lo, hi = (float(x) for x in lines[2].split("[")[1].split("]")[0].split(", "))
    assert lo < expected < hi


def test_a_dying_worker_is_one_clear_error_and_odd_rounds_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tt, "AGAINST_WORKER", 'print("ready", flush=True)\nimport sys; sys.exit(3)\n')
    with pytest.raises(RuntimeError, match=r"stopped or misspoke \(exit 3\)"):
        tt.against_rows(SimpleNamespace(against=str(tmp_path), steps=2, data_dir=None), rounds=2)
    with pytest.raises(SystemExit, match="even number"):
        tt.against_rows(SimpleNamespace(against=str(tmp_path), steps=2, data_dir=None), rounds=3)
