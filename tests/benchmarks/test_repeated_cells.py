"""Repeated cells (benchmarks/repeated_cells.py): the spread's interval, the Wilson interval,
and compare's interval on A/A splits of one arm's seeds, from stored records, no training."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from resbench.results import EpochStats, TrainResult, pack_correct
from resbench.store import Store

_SPEC = importlib.util.spec_from_file_location("repeated_cells", Path(__file__).parents[2] / "benchmarks" / "repeated_cells.py")
rc = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rc)


def _result(right: np.ndarray) -> TrainResult:
    error = float(1 - right.mean())
    return TrainResult(spec="resnet20", params=1, macs=1, epochs=1, history=(EpochStats(1, 0.1, 1.0, error, error, 1.0, 0.5),),
                       final_train_error=error, final_test_error=error, diverged=False, diverged_at=None, seconds=1.0,
                       images_per_second=1.0, data_fraction=0.0, test_split="test", effective_batch_size=128, lr=0.1,
                       test_correct=pack_correct(right), test_images=len(right))


def _store_seeds(root: Path, n: int, epochs: int = 2, images: int = 2000) -> None:
    """n seeds of one arm: each run a global shift (seed noise), then each image a coin."""
    rng = np.random.default_rng(7)
    p_wrong = 1 / (1 + np.exp(-rng.normal(-1.0, 1.5, images)))
    store = Store(root)
    for seed in range(n):
        shift = rng.normal(0, 0.2)
        right = rng.random(images) >= 1 / (1 + np.exp(-(np.log(p_wrong / (1 - p_wrong)) + shift)))
        config = {"spec": "resnet20", "epochs": epochs, "schedule": "linear", "subset": None, "dataset": "cifar10",
                  "dtype": "fp32", "seed": seed}
        store.put("train", config=config, result=_result(right).to_dict(), env={})


def test_the_sd_interval_is_the_chi_square_one():
    values = [10.0, 11.0, 12.5, 9.5, 10.5]
    sd, lo, hi = rc.sd_interval(values)
    assert sd == pytest.approx(np.std(values, ddof=1))
    assert lo ** 2 == pytest.approx(4 * sd ** 2 / stats.chi2.ppf(0.975, 4)) and hi ** 2 == pytest.approx(4 * sd ** 2 / stats.chi2.ppf(0.025, 4))


def test_a_a_splits_use_compares_own_interval_and_hold_zero_about_95_percent(tmp_path):
    _store_seeds(tmp_path, 12)
    (results,) = rc.groups(tmp_path).values()
    assert sorted(results) == list(range(12))
    three = rc.aa_coverage(results, 3, 200)
    two = rc.aa_coverage(results, 2, 200)
    assert three["method"] == "seed-and-image" and two["method"] == "paired-t"
    assert three["disjoint_splits"] == 2 and two["disjoint_splits"] == 3
    assert 0.85 <= three["covered"] <= 0.99 and 0.85 <= two["covered"] <= 0.99
    assert three["no_interval"] == 0 and two["no_interval"] < 10  # two equal differences (errors in steps of 1/2000): no interval, counted


def test_diverged_seeds_are_left_out_before_splitting(tmp_path):
    import dataclasses

    _store_seeds(tmp_path, 7)
    (results,) = rc.groups(tmp_path).values()
    results[6] = dataclasses.replace(results[6], diverged=True, diverged_at="epoch 1, step 3")
    c = rc.aa_coverage(results, 3, 50)
    assert c["disjoint_splits"] == 1 and c["method"] == "seed-and-image" and c["splits"] == 50
    assert rc.aa_coverage({s: results[s] for s in range(5)}, 3, 50)["covered"] is None  # too few seeds: no figure


def test_the_report_states_spread_prior_and_coverage(tmp_path):
    _store_seeds(tmp_path, 6)
    rc.report(type("A", (), {"outdir": str(tmp_path), "prefix": str(tmp_path / "rep"), "splits": 50})())
    text = (tmp_path / "rep.txt").read_text()
    assert "resnet20 2 epochs (linear, subset all): 6 seeds" in text and "the planner's prior says" in text
    assert "A/A, 3 vs 3 seeds (seed-and-image)" in text and "(1 disjoint)" in text and "not a precise coverage figure" in text
    header = (tmp_path / "rep.csv").read_text().splitlines()[0].split(",")
    assert {"sd", "sd_low", "sd_high", "prior_sd", "aa_k2_covered", "aa_k3_covered"} <= set(header)
