"""The fidelity test's statistics (benchmarks/fidelity_tost.py): TOST against scipy, its power, the report."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

_SPEC = importlib.util.spec_from_file_location("fidelity_tost", Path(__file__).parents[2] / "benchmarks" / "fidelity_tost.py")
ft = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ft)


def test_tost_is_two_one_sided_t_tests():
    d = np.random.default_rng(1).normal(0.3, 0.8, 10)
    t = ft.tost(d, 1.0)
    low = stats.ttest_1samp(d, -1.0, alternative="greater").pvalue
    high = stats.ttest_1samp(d, 1.0, alternative="less").pvalue
    assert t["p_tost"] == pytest.approx(max(low, high), rel=1e-9)
    assert t["equivalent"] == (t["p_tost"] < 0.05)  # the 90 % interval inside the margin is the same decision


def test_the_power_grows_with_pairs_and_matches_the_issues_estimate():
    assert ft.tost_power(1.2, 14, 1.0) >= 0.8 > ft.tost_power(1.2, 8, 1.0)
    assert ft.seeds_for_power(1.2, 1.0) == 14
    assert ft.tost_power(0.84, 2, 1.0) < 0.2  # the committed 2-seed check could not have shown equivalence


def test_the_report_states_margin_interval_power_and_verdict(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(6):
        base = 0.10 + rng.normal(0, 0.005)
        doc = {"spec": "resnet20", "final_test_error": base + rng.normal(0, 0.002)}
        ref = {"final_test_error": base, "arch": "resnet20", "shortcut": "A", "schedule": "step", "epochs": 6,
               "subset": None, "torch": "2.x", "torchvision": "0.x"}
        (tmp_path / f"resbench-s{seed}.json").write_text(json.dumps(doc))
        (tmp_path / f"reference-s{seed}.json").write_text(json.dumps(ref))
    ft.main(["report", str(tmp_path), str(tmp_path / "out" / "tost")])
    text = (tmp_path / "out" / "tost.txt").read_text()
    assert "pairs (same seed on both sides): 6" in text and "+-1 points" in text and "verdict: equivalent" in text
    assert len((tmp_path / "out" / "tost.csv").read_text().splitlines()) == 7
