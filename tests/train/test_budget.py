"""Budgeted comparisons: durations, plans, sequential looks, and the commands that use them."""

import json

import numpy as np
import pytest
from scipy import stats as st

from resbench.errors import UsageError
from resbench.stats import resolved, sequential_interval, spent_alpha
from resbench.train.budget import ArmCost, choose, prior_sd, stored_sd
from resbench.validate import duration

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "96", "--test-subset", "32", "--batch-size", "32"]
ARMS = ["--specs", "cifar-resnet8,cifar-plain8"]


@pytest.mark.parametrize("text,seconds", [("45m", 2700), ("2h", 7200), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400)])
def test_durations_with_units(text, seconds):
    assert duration(text, "--budget") == seconds


@pytest.mark.parametrize("text", ["45", "-1h", "1e99s", "nan", "", "0m", "31d", "1h 30m", "٤٥m", "inf", "45M5"])
def test_malformed_durations_are_usage_errors(text):
    with pytest.raises(UsageError, match="--budget"):
        duration(text, "--budget")


def test_the_plan_is_the_least_detectable_difference_that_fits():
    from resbench.stats import min_detectable_difference

    costs = [ArmCost("a", 10.0, "calibrated"), ArmCost("b", 30.0, "calibrated")]
    plan = choose(["a", "b"], costs, 3600, lambda e: prior_sd(e, 50_000), 1000, "prior")
    assert plan.estimated_seconds <= 3600 and plan.seeds >= 2
    # No other (seeds, epochs) that fits does better.
    for epochs in range(1, 60):
        seeds = int(3600 // (epochs * 40))
        if seeds >= 2:
            assert min_detectable_difference(prior_sd(epochs, 50_000), seeds) >= plan.expected_detectable_diff - 1e-12


def test_a_budget_below_one_epoch_of_two_seeds_names_the_smallest_that_fits():
    with pytest.raises(UsageError, match="too small.*give `budget` at least 2m"):
        choose(["a", "b"], [ArmCost("a", 30.0, "x"), ArmCost("b", 30.0, "x")], 60, lambda e: 0.01, 1000, "prior")


def test_the_seed_cap_bounds_the_plan():
    plan = choose(["a", "b"], [ArmCost("a", 1.0, "x"), ArmCost("b", 1.0, "x")], 3600, lambda e: 0.05 / e ** 0.5, 3, "p")
    assert plan.seeds <= 3


def test_stored_spread_is_scaled_to_the_planned_epochs_by_the_priors_shape():
    from resbench.train.budget import one_arm_sd

    sd = stored_sd({10: [0.01, 0.03, 0.02], 40: [0.5]}, 40, 50_000)  # 40 has one difference: 10's spread is used
    assert sd == pytest.approx(np.std([0.01, 0.03, 0.02], ddof=1) * one_arm_sd(40) / one_arm_sd(10))
    assert stored_sd({3: [0.01, 0.01, 0.01]}, 3, 50_000) is None  # all equal: no estimate, never zero spread
    # scaled in full-data epochs: 10 epochs of a 5k subset are one full epoch's worth of steps
    sub = stored_sd({10: [0.01, 0.03, 0.02]}, 40, train_images=5_000)
    assert sub == pytest.approx(0.01 * one_arm_sd(4.0) / one_arm_sd(1.0))


def test_the_prior_falls_faster_than_one_over_root_epochs_to_a_floor_of_flips():
    from resbench.train.budget import FLOOR_SD, SD_AT_1, one_arm_sd

    assert one_arm_sd(1) == pytest.approx((SD_AT_1 ** 2 + FLOOR_SD ** 2) ** 0.5)
    assert one_arm_sd(4) < SD_AT_1 / 4 ** 0.5 / 1.5  # much faster than 1/sqrt(E)
    assert one_arm_sd(10_000) == pytest.approx(FLOOR_SD, rel=1e-3)  # converged: test-image flips


def test_expected_error_passes_its_anchors_and_sets_the_floor():
    from resbench.train.budget import (
        ERROR_ANCHORS,
        FLOOR_RATIO,
        epochs_floor,
        expected_error,
    )

    for e, err in ERROR_ANCHORS:
        assert expected_error(e) == pytest.approx(err)
    assert all(expected_error(e) > expected_error(e + 1) for e in range(1, 163))
    floor = epochs_floor()
    assert expected_error(floor) <= FLOOR_RATIO * 0.0875 < expected_error(floor - 1)
    # the measured 13-epoch ResNet-20s (results/experiments/abc_13ep) put the floor at 12
    assert (13, 0.1675) in ERROR_ANCHORS and floor == 12


def test_a_plan_respects_the_floor_and_fixed_epochs():
    costs = [ArmCost("a", 10.0, "x"), ArmCost("b", 10.0, "x")]
    sd = lambda e: prior_sd(e, 50_000)  # noqa: E731
    free = choose(["a", "b"], costs, 36_000, sd, 1000, "p")
    floored = choose(["a", "b"], costs, 36_000, sd, 1000, "p", floor=13)
    fixed = choose(["a", "b"], costs, 36_000, sd, 1000, "p", floor=13, epochs=20)
    assert floored.epochs >= 13 and fixed.epochs == 20 and fixed.seeds == 36_000 // (20 * 20)
    assert free.expected_detectable_diff <= floored.expected_detectable_diff
    with pytest.raises(UsageError, match="13 epochs .the floor.*allow_short.*at least 9m"):
        choose(["a", "b"], costs, 500, sd, 1000, "p", floor=13)
    with pytest.raises(UsageError, match="`epochs` 5 is below the floor of 13.*allow_short"):
        choose(["a", "b"], costs, 36_000, sd, 1000, "p", floor=13, epochs=5)
    assert choose(["a", "b"], costs, 36_000, sd, 1000, "p", epochs=5).epochs == 5  # no floor: a short question accepted


def test_alpha_spending_sums_to_at_most_alpha_and_widens_intervals():
    assert sum(spent_alpha(k) for k in range(1, 100_000)) < 0.05
    d = [0.01, 0.02, 0.015, 0.03, 0.012]
    lo, hi = sequential_interval(d, look=1)
    t = st.t.interval(0.95, len(d) - 1, loc=np.mean(d), scale=st.sem(d))
    assert lo < t[0] and hi > t[1]  # the price of looking more than once
    assert sequential_interval(d, look=5)[1] - sequential_interval(d, look=5)[0] > hi - lo


def test_resolution_words():
    assert resolved((0.001, 0.02), 0.005) == "different"
    assert resolved((-0.001, 0.002), 0.005) == "within effect"
    assert resolved((-0.004, 0.0045), 0.005) == "within effect"  # wider than the effect, yet rules it out
    assert resolved((-0.01, 0.002), 0.005) is None and resolved(None, 0.005) is None


def test_plan_json_has_the_documented_fields(cli, tmp_path):
    code, out, err = cli("compare", *ARMS, *SYN, "--budget", "30m", "--plan", "--json", "--results-dir", tmp_path)
    assert code == 0, err
    plan = json.loads(out)["plan"]
    assert {"arms", "seeds", "epochs", "estimated_seconds", "expected_detectable_diff"} <= set(plan)
    assert plan["estimated_seconds"] <= 1800 and plan["arms"] == ["cifar-resnet8", "cifar-plain8"]
    assert not list(tmp_path.rglob("*.json"))  # a plan trains nothing


def test_a_budgeted_compare_trains_the_plan_and_reports_its_time(cli, tmp_path, monkeypatch):
    from resbench.train import budgeted

    # a machine where an epoch takes 4 s: the 20 s budget buys 2 seeds x 1 epoch per arm
    monkeypatch.setattr(budgeted, "calibrate", lambda spec, cfg, data, warn=None: ArmCost(spec.name, 4.0, "calibrated"))
    code, out, err = cli("compare", *ARMS, *SYN, "--budget", "20s", "--seeds", "2", "--json", "--results-dir", tmp_path)
    assert code == 0, err
    doc = json.loads(out)
    assert all(r["seeds"] == doc["plan"]["seeds"] for r in doc["rows"]) and doc["actual_seconds"] > 0
    assert "plan:" in err and "(linear schedule)" in err
    records = [json.loads(p.read_text()) for p in (tmp_path / "records" / "train").glob("*.json")]
    assert records and {r["config"]["schedule"] for r in records} == {"linear"}  # what the budget trains with


def test_a_given_schedule_is_kept_under_a_budget(cli, tmp_path, monkeypatch):
    from resbench.train import budgeted
    from resbench.train.budget import BUDGET_SCHEDULE

    monkeypatch.setattr(budgeted, "calibrate", lambda spec, cfg, data, warn=None: ArmCost(spec.name, 4.0, "calibrated"))
    code, out, err = cli("compare", *ARMS, *SYN, "--budget", "30m", "--plan", "--json", "--results-dir", tmp_path)
    assert code == 0 and json.loads(out)["plan"]["schedule"] == BUDGET_SCHEDULE == "linear"
    code, out, err = cli("compare", *ARMS, *SYN, "--budget", "30m", "--plan", "--json", "--schedule", "step",
                         "--results-dir", tmp_path)
    assert code == 0 and json.loads(out)["plan"]["schedule"] == "step"


def test_sequential_rows_agree_everywhere_for_three_arms(cli, tmp_path):
    """After --until-resolved every non-reference row's adjusted p, interval and verdict
    are the sequential ones, in the JSON, the CSV and the Markdown alike."""
    three = ("--specs", "cifar-resnet8,cifar-plain8,cifar-resnet8:shortcut=B")
    csv, md = tmp_path / "t.csv", tmp_path / "t.md"
    code, out, err = cli("compare", *three, *SYN, "--epochs", "1", "--until-resolved", "--seeds", "3", "--effect", "0.01",
                         "--json", "--csv", csv, "--markdown", md, "--results-dir", tmp_path)
    assert code == 0, err
    rows = [r for r in json.loads(out)["rows"] if not r["reference"]]
    assert len(rows) == 2
    for r in rows:
        assert r["interval_method"] == "sequential" and r["p_adjust_method"] == "alpha-spending"
        if r["delta_ci"] is not None:
            assert (r["p_adjusted"] < 0.05) == r["significant"] == (r["delta_ci"][0] > 0 or r["delta_ci"][1] < 0)
    import pandas as pd

    frame = pd.read_csv(csv)
    assert set(frame.loc[~frame["reference"], "interval_method"]) == {"sequential"}
    assert "sequential" in md.read_text() and "alpha-spending" in md.read_text()


def test_until_resolved_stops_at_the_seed_cap_with_intervals(cli, tmp_path):
    code, out, err = cli("compare", *ARMS, *SYN, "--epochs", "1", "--until-resolved", "--seeds", "3", "--effect", "0.01",
                         "--json", "--results-dir", tmp_path)
    assert code == 0, err
    doc = json.loads(out)
    other = [r for r in doc["rows"] if not r["reference"]][0]
    assert doc["looks"] in (1, 2) and doc["stopped_because"] in ("seed cap", "all resolved")
    assert other["delta_ci"] is not None and other["interval_method"] == "sequential" and other["look"] == doc["looks"]


@pytest.mark.parametrize("args,fragment", [
    (["--until-resolved"], "needs a limit"),
    (["--plan"], "give --budget too"),
    (["--budget", "45"], "duration with units"),
    (["--budget", "1s"], "too small"),
])
def test_budget_usage_errors(cli, tmp_path, args, fragment, monkeypatch):
    from resbench.train import budgeted

    # a machine where one epoch takes 30 s, whatever this one measures
    monkeypatch.setattr(budgeted, "calibrate", lambda spec, cfg, data, warn=None: ArmCost(spec.name, 30.0, "calibrated"))
    code, out, err = cli("compare", *ARMS, *SYN, *args, "--results-dir", tmp_path)
    assert code == 2 and fragment in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # the plan line of progress, then one error line


def test_degradation_plans_too(cli, tmp_path):
    code, out, err = cli("degradation", "--depths", "8", *SYN, "--budget", "1h", "--plan", "--json", "--results-dir", tmp_path)
    assert code == 0, err
    assert json.loads(out)["plan"]["arms"] == ["cifar-resnet8", "cifar-plain8"]


def test_the_sequential_rule_keeps_its_false_positive_rate_under_repeated_looks():
    """The real functions, 2,000 null sequences with a fixed seed: at most alpha stop on
    'different' (a plain 95 % interval at every look would stop on it about 20 % of the time)."""
    from resbench.stats import look_seeds

    rng = np.random.default_rng(1)
    false = 0
    for _ in range(2000):
        d = rng.normal(0, 0.005, 40)
        for k, n in enumerate(look_seeds(40), start=1):
            state = resolved(sequential_interval(d[:n], look=k), 0.005)
            if state:
                false += state == "different"
                break
    assert false / 2000 <= 0.05


@pytest.mark.parametrize("bf16_seconds,chosen", [(5.0, "bf16"), (9.5, "fp32"), (500.0, "fp32")])
def test_dtype_auto_follows_this_machines_measurement(monkeypatch, bf16_seconds, chosen):
    """bf16 only when measured at least 1.1x faster (an emulating CPU, ~50x slower, never)."""
    from dataclasses import replace as dc_replace

    from resbench.spec import parse_spec
    from resbench.train import budget
    from resbench.train.config import TrainConfig

    monkeypatch.setattr(budget, "calibrate", lambda spec, cfg, data, warn=None: ArmCost(spec.name, 10.0 if cfg.dtype == "fp32"
                                                                            else bf16_seconds, "calibrated"))
    cfg, why = budget.resolve_dtype(parse_spec("resnet20"), TrainConfig(dtype="auto", device="cpu"), None)
    assert cfg.dtype == chosen and "dtype auto" in why
    same, none = budget.resolve_dtype(parse_spec("resnet20"), dc_replace(cfg, dtype="fp32"), None)
    assert same.dtype == "fp32" and none is None


def test_records_say_which_dtype_ran(cli, tmp_path):
    code, out, err = cli("train", "cifar-resnet8", *SYN, "--epochs", "1", "--dtype", "auto", "--results-dir", tmp_path)
    assert code == 0, err
    assert "dtype auto:" in err
    rec = json.loads(next((tmp_path / "records" / "train").glob("*.json")).read_text())
    assert rec["config"]["dtype"] in ("fp32", "bf16")


def test_each_arm_keeps_its_own_stored_spread(tmp_path):
    """A gap between arms is not spread: arm b's differences are steady, arm c's vary."""
    from resbench.spec import parse_spec
    from resbench.store import Store
    from resbench.train.budgeted import _spread_model, _stored_differences
    from resbench.train.config import TrainConfig

    cfg = TrainConfig(dataset="synthetic", epochs=2, device="cpu")
    a, b, c = (parse_spec(s) for s in ("cifar-resnet8", "cifar-plain8", "cifar-resnet8:shortcut=B"))
    store = Store(tmp_path)
    errors = {a.name: [0.30, 0.32, 0.31], b.name: [0.40, 0.42, 0.415], c.name: [0.20, 0.35, 0.31]}
    for arm, errs in errors.items():
        for seed, e in enumerate(errs):
            hist = [{"epoch": i, "lr": 0.1, "train_loss": 1.0, "train_error": e, "test_error": e, "seconds": 1.0,
                     "step_seconds": 0.5} for i in (1, 2)]
            result = {"spec": arm, "params": 1, "macs": 1, "epochs": 2, "history": hist, "final_train_error": e,
                      "final_test_error": e, "diverged": False, "diverged_at": None, "seconds": 1.0, "images_per_second": 1.0,
                      "data_fraction": 0.0, "test_split": "test", "effective_batch_size": 8, "lr": 0.1}
            store.put("train", config={**cfg.key_fields(), "seed": seed, "spec": arm}, result=result, env={})
    diffs = _stored_differences([a, b, c], a, cfg, tmp_path)
    assert diffs[b.name][2] == pytest.approx([0.10, 0.10, 0.105]) and len(diffs[c.name][2]) == 3
    sd_at, source = _spread_model([a, b, c], a, cfg, 1000, tmp_path)
    assert sd_at(2) == pytest.approx(np.std([-0.10, 0.03, 0.0], ddof=1))  # c's own, not a pool with b's
    assert "cifar-resnet8:shortcut=B: 3 at 2 epochs" in source


def test_budget_on_cifar10_plans_at_the_floor_or_says_what_it_would_take(cli, fake_cifar, tmp_path):
    args = ("compare", "--specs", "resnet20,resnet20:shortcut=B", "--data-dir", fake_cifar, "--device", "cpu",
            "--results-dir", tmp_path, "--plan", "--json")
    code, out, err = cli(*args, "--budget", "1m")
    assert code == 2 and "the floor for an answer about trained nets" in err and "--short-runs" in err
    code, out, err = cli(*args, "--budget", "1m", "--short-runs")
    plan = json.loads(out)["plan"]
    assert code == 0 and plan["epochs_floor"] > plan["epochs"] and "below the epochs floor" in plan["answers"]
    assert plan["expected_test_error"] > plan["full_schedule_error"] == pytest.approx(0.0875)
    assert plan["data_official"] is False and "on this copy, whose files differ from the release" in plan["answers"]
    code, out, err = cli(*args, "--budget", "1m", "--short-runs", "--epochs", "2")
    assert code == 0 and json.loads(out)["plan"]["epochs"] == 2
    code, out, err = cli(*args, "--budget", "1h", "--epochs", "2")  # a fixed --epochs below the floor is refused too
    assert code == 2 and "--epochs 2 is below the floor" in err and "--short-runs" in err and "Traceback" not in err


def test_a_short_run_accepted_below_the_floor_says_so_in_every_output(cli, fake_cifar, tmp_path, monkeypatch):
    """--short-runs trains below the floor; the table's rows, the CSV and the JSON then say
    the answer is about nets far from trained."""
    import pandas as pd

    from resbench.train import budgeted

    monkeypatch.setattr(budgeted, "calibrate", lambda spec, cfg, data, warn=None: ArmCost(spec.name, 1.0, "calibrated"))
    csv = tmp_path / "t.csv"
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-resnet8:shortcut=B", "--data-dir", fake_cifar,
                         "--device", "cpu", "--results-dir", tmp_path, "--budget", "5m", "--short-runs", "--epochs", "1",
                         "--seeds", "2", "--json", "--csv", csv)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["plan"]["epochs"] == 1 < doc["plan"]["epochs_floor"]
    assert all("below the epochs floor" in r["answers"] for r in doc["rows"]) and "below the epochs floor" in doc["answers"]
    assert all("below the epochs floor" in a for a in pd.read_csv(csv)["answers"])


def test_the_13_epoch_anchor_and_the_floor_sd_recompute_from_the_committed_cells():
    """ERROR_ANCHORS' 13-epoch point and FLOOR_SD are fitted to results/experiments/abc_13ep:
    this test redoes the fit from the committed records."""
    import json
    import statistics
    from pathlib import Path

    from resbench.train.budget import DECAY, ERROR_ANCHORS, FLOOR_SD, SD_AT_1

    folder = Path(__file__).resolve().parents[2] / "results/experiments/abc_13ep/records/train"
    by_arm: dict[str, list[float]] = {}
    for path in folder.glob("*.json"):
        rec = json.loads(path.read_text())
        assert rec["config"]["epochs"] == 13 and rec["config"]["schedule"] == "linear"
        by_arm.setdefault(rec["config"]["spec"], []).append(rec["result"]["final_test_error"])
    assert len(by_arm) == 3 and all(len(v) == 6 for v in by_arm.values())
    assert dict(ERROR_ANCHORS)[13] == pytest.approx(statistics.mean(by_arm["resnet20"]), abs=5e-5)
    ss = sum((x - statistics.mean(v)) ** 2 for v in by_arm.values() for x in v)
    pooled = (ss / sum(len(v) - 1 for v in by_arm.values())) ** 0.5
    assert FLOOR_SD == pytest.approx((pooled ** 2 - (SD_AT_1 / 13 ** DECAY) ** 2) ** 0.5, abs=5e-5)
