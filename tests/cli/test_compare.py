"""`resbench compare` on synthetic data: rows, resume, one seed, bad grids, three arms with adjusted p values."""

import json
import time

import numpy as np
import pytest

from tests.conftest import TINY_RUN


COMPARE = ["compare", "--specs", "cifar-resnet8,cifar-plain8", *TINY_RUN]


def test_compare_cli_json_rows_and_resume(cli, tmp_path):
    png = tmp_path / "curves.png"
    code, out, err = cli(*COMPARE, "--seeds", "2", "--json", "--results-dir", tmp_path, "--plot", png, "--csv", tmp_path / "t.csv")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["arm"] for r in rows] == ["cifar-resnet8", "cifar-plain8"]
    for key in ("arm", "spec", "shortcut", "block", "depth", "plain", "params", "macs", "seeds", "train_error_mean",
                "train_error_std", "test_error_mean", "test_error_std", "delta_test_error", "delta_ci"):
        assert key in rows[0]
    assert rows[0]["delta_ci"] is None and len(rows[1]["delta_ci"]) == 2
    assert png.stat().st_size > 10_000
    records = list((tmp_path / "records" / "train").glob("*.json"))
    assert len(records) == 4
    t = time.perf_counter()
    code, out2, _ = cli(*COMPARE, "--seeds", "2", "--json", "--results-dir", tmp_path)
    assert code == 0 and json.loads(out2) == rows  # everything came from the store
    assert len(list((tmp_path / "records" / "train").glob("*.json"))) == 4
    assert time.perf_counter() - t < 10
    # Power, from the same stored cells: the smallest detectable difference at 2 seeds and
    # the seeds for a 2-point effect, as stats' formulas give them from the paired spread.
    from resbench.stats import min_detectable_difference, seeds_needed

    code, out3, err3 = cli(*COMPARE, "--seeds", "2", "--json", "--results-dir", tmp_path, "--effect", "2",
                           "--target-error", "95")
    plain = json.loads(out3)[1]
    recs = [json.loads(p.read_text()) for p in (tmp_path / "records" / "train").glob("*.json")]
    err = {(r["config"]["spec"], r["config"]["seed"]): r["result"]["final_test_error"] for r in recs}
    d = [err[("cifar-plain8", s)] - err[("cifar-resnet8", s)] for s in (0, 1)]
    sd = float(np.std(d, ddof=1))
    assert plain["min_detectable_diff"] == pytest.approx(min_detectable_difference(sd, 2))
    assert plain["seeds_needed"] == seeds_needed(sd, 0.02) and plain["effect"] == 0.02
    ttt = plain["time_to_target"]
    assert ttt["target"] == 0.95 and ttt["seeds"] == 2 and ttt["reached"] == sum(e is not None for e in ttt["epochs"])
    code, table, _ = cli(*COMPARE, "--seeds", "2", "--results-dir", tmp_path, "--effect", "2")
    flat = " ".join(table.split())
    assert "only differences of" in flat and "telling 2 points apart needs about" in flat


def test_one_seed_says_no_interval(cli, tmp_path):
    code, out, _ = cli(*COMPARE, "--results-dir", tmp_path)
    assert code == 0 and "no CI" in out


@pytest.mark.parametrize("args, fragment", [
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--seeds", "99999999999999999999"], "--seeds must be at most 10000"),
    (["--seeds", "2147483648"], "--seeds must be at most 10000"),
    (["--seed", "4294967290", "--seeds", "10"], "runs past the largest seed"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--reference", "resnet56"], "not one of the arms"),
    (["--depths", "20"], "not both"),
])
def test_compare_usage_errors(cli, tmp_path, args, fragment):
    code, _, err = cli(*COMPARE, "--results-dir", tmp_path, *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) <= 2  # a progress header may precede


@pytest.mark.parametrize("args, fragment", [
    (["--depths", "21"], "6n+2"),
    (["--blocks", "wide"], "unknown block"),
    (["--shortcuts", "A,D"], "expected A, B or C"),
])
def test_compare_grid_errors(cli, tmp_path, args, fragment):
    code, _, err = cli("compare", *TINY_RUN, "--results-dir", tmp_path, *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) <= 2  # a progress header may precede


def test_three_arms_get_adjusted_p_values_named_intervals_and_say_what_they_answer(cli, tmp_path):
    png = tmp_path / "forest.png"
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8,cifar-resnet8:shortcut=B", *TINY_RUN, "--seeds", "3",
                         "--json", "--results-dir", tmp_path, "--plot", png)
    assert code == 0, err
    rows = json.loads(out)
    others = [r for r in rows if not r["reference"]]
    assert len(others) == 2
    for r in others:
        assert r["interval_method"] == "seed-and-image-bonferroni" and r["ci_level"] == pytest.approx(0.975)  # 3 seeds, per-image results
        assert r["p_adjust_method"] == "holm" and r["p_adjusted"] >= r["p_value"]
        assert r["significant"] == (r["p_adjusted"] < 0.05)
        assert r["pairs"] == 3
    assert all("1-epoch nets" in r["answers"] and "synthetic" in r["answers"] for r in rows)
    assert png.stat().st_size > 5_000 and not (tmp_path / "forest-curves.png").exists()  # one epoch: no curves
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8,cifar-resnet8:shortcut=B", *TINY_RUN, "--seeds", "3",
                         "--results-dir", tmp_path)
    assert code == 0 and "Bonferroni over 2 arms" in out and "answers: final test error of 1-epoch nets" in out
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8", *TINY_RUN, "--seeds", "2", "--json", "--results-dir", tmp_path)
    assert code == 0 and json.loads(out)[1]["interval_method"] == "paired-t"  # 2 seeds: over seeds alone
