"""Plans and sequential looks at their edges: zero spread is no estimate (never resolved,
never a crash), a plan that cannot resolve anything useful says so before training, the
smallest budget that fits is named, and options a budgeted run ignores are refused."""

import json
from types import SimpleNamespace

import pytest
from tests.conftest import arm_row
from dataclasses import dataclass

from resbench.errors import UsageError
from resbench.hooks import Hooks
from resbench.train import budget, budgeted
from resbench.train.budget import (
    ArmCost,
    Plan,
    choose,
    duration_at_least,
    stored_sd,
    useless_plan,
    with_spread,
)

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32", "--batch-size", "32"]
ARMS = ["--specs", "cifar-resnet8,cifar-plain8"]


def test_equal_stored_differences_are_no_estimate_of_the_spread():
    rows = {3: [0.01, 0.01, 0.01], 6: [0.02]}
    assert with_spread(rows) == {} and stored_sd(rows, 3, 50_000) is None


def test_a_plan_without_any_spread_is_made_not_crashed():
    costs = [ArmCost("a", 1.0, "x"), ArmCost("b", 1.0, "x")]
    plan = choose(["a", "b"], costs, 100, lambda e: 0.0, 1000, "stored cells")
    assert plan.expected_detectable_diff is None and plan.seeds >= 2
    assert "no estimate" in useless_plan(plan)


@pytest.mark.parametrize("seconds,text", [(0.2, "1s"), (8.3, "9s"), (60, "1m"), (61, "2m"), (3599, "1h00m"),
                                          (3700, "1h02m")])
def test_the_smallest_budget_is_a_duration_the_option_takes(seconds, text):
    from resbench.validate import duration

    assert duration_at_least(seconds) == text and duration(text, "budget") >= seconds


def test_a_tiny_budget_names_the_smallest_that_fits():
    costs = [ArmCost("a", 4.1, "x"), ArmCost("b", 4.1, "x")]
    with pytest.raises(UsageError, match=r"budget of 0.001s is too small.*give `budget` at least 17s"):
        choose(["a", "b"], costs, 0.001, lambda e: 0.01, 1000, "prior")


@pytest.mark.parametrize("diff,says", [(1.16, "more than 100 points"), (0.35, "35 points"), (0.05, None)])
def test_a_plan_that_cannot_resolve_a_useful_difference_says_so(diff, says):
    plan = Plan(("a", "b"), 2, 1, 20, 18, diff, "prior", ())
    why = useless_plan(plan)
    assert (why is None) if says is None else (says in why and "cannot resolve" in why)


def test_a_plan_about_the_paper_is_held_to_the_span_of_its_table():
    from resbench.train.budget import PAPER_SPAN

    assert PAPER_SPAN == pytest.approx(0.0875 - 0.0643)  # Table 6: ResNet-20 against ResNet-110
    paper = dict(expected_test_error=0.167, full_schedule_error=0.0875)
    # 2 seeds of fp32 on a 2-core Xeon: a t on 1 df leaves only 9.4-point differences detectable
    wide = Plan(("a", "b", "c"), 2, 15, 7200, 7150, 0.0965, "prior", (), **paper)
    why = useless_plan(wide, "fp32")
    assert "9.65 points" in why and "2.32 points" in why and "fewer arms" in why and "`dtype='auto'`" in why
    assert "more data" not in why and "`dtype" not in useless_plan(wide, "auto")  # auto that chose fp32: no such advice
    assert useless_plan(Plan(("a", "b"), 2, 1, 20, 18, 0.35, "prior", ()), "fp32").endswith(
        "give a larger `budget`, more data per epoch or `dtype='auto'` (bf16 where it is faster here)")
    assert useless_plan(Plan(("a", "b"), 2, 15, 7200, 7150, 0.05, "prior", ()), "fp32") is None  # no paper: 20 points
    assert "fewer arms" not in useless_plan(Plan(("a", "b"), 2, 15, 7200, 7150, 0.05, "prior", (), **paper), "bf16")
    assert useless_plan(Plan(("a", "b", "c"), 4, 13, 7200, 6840, 0.0113, "prior", (), **paper), "bf16") is None


def _looks(monkeypatch, diffs_per_seed):
    """Run _until_resolved over a fake comparison whose arm - reference differences are given."""
    @dataclass(frozen=True)
    class FakeComparison:
        rows: tuple
        seed_errors: dict

    def fake_compare(arms, config, seeds, **kw):
        errors = {"ref": {s: 0.5 for s in range(seeds)}, "arm": {s: 0.5 + diffs_per_seed for s in range(seeds)}}
        return FakeComparison((arm_row("ref", reference=True), arm_row("arm")), errors)

    monkeypatch.setattr(budgeted, "compare", fake_compare)
    said = []
    arms = [SimpleNamespace(name="ref"), SimpleNamespace(name="arm")]
    cmp, looks, why = budgeted._until_resolved(arms, arms[0], None, 8, None, 0.0, 0.02, None, None,
                                                Hooks(note=said.append))
    return cmp, looks, why, said


@pytest.mark.parametrize("diff", [0.0, 0.01, 0.10])
def test_zero_spread_is_never_resolved_at_any_look(monkeypatch, diff):
    cmp, looks, why, said = _looks(monkeypatch, diff)
    row = cmp.rows[1]
    assert why == "seed cap" and row.resolution is None and row.delta_ci is None
    assert row.interval_method == "sequential" and row.significant is None
    assert all("no estimate yet" in line for line in said) and len(said) == looks


def test_zero_spread_with_three_seeds_is_said_as_such():
    from resbench.report.compare import power_lines

    rows = [arm_row("ref", reference=True), arm_row("b", seeds=3, pairs=3)]
    (line,) = power_lines(rows)
    assert "zero spread" in line and "run at least 2 seeds" not in line


@pytest.mark.parametrize("extra,fragment", [
    (["--until-resolved", "--seeds", "3", "--target-error", "50"], "--target-error is not reported"),
    (["--budget", "1h", "--target-error", "50"], "--target-error is not reported"),
    (["--budget", "1h", "--plan", "--csv", "{tmp}/p.csv"], "--plan prints the plan"),
    (["--budget", "1h", "--plan", "--markdown", "{tmp}/p.md"], "--plan prints the plan"),
    (["--budget", "1h", "--plan", "--plot", "{tmp}/p.png"], "--plan prints the plan"),
])
def test_options_a_budgeted_run_ignores_are_refused_before_anything(cli, tmp_path, monkeypatch, extra, fragment):
    monkeypatch.setattr(budget, "calibrate", lambda *a, **k: pytest.fail("calibrated"))
    code, out, err = cli("compare", *ARMS, *SYN, "--results-dir", tmp_path / "r",
                         *[e.replace("{tmp}", str(tmp_path)) for e in extra])
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_damaged_calibration_cache_is_said_once_and_recalibrated(tmp_path, monkeypatch):
    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path))
    path = tmp_path / "calibration.json"
    for text in ['{"a": Infinity, "b": 1e-300, "c": 2.5, "d": "x", "e": true, "f": 1' + "0" * 400 + "}", "[" * 100_000 + "]" * 100_000, "{"]:
        path.write_text(text)
        warned = []
        got = budget._read_cache(warned.append)
        assert got == ({"c": 2.5} if text.startswith('{"a"') else {})
        assert len(warned) == 1 and str(path) in warned[0]
        assert budget._read_cache(warned.append) == got and len(warned) == 1  # cleaned: said once
        assert json.loads(path.read_text()) == got


def test_a_fifo_as_calibration_cache_is_not_waited_on(tmp_path, monkeypatch):
    import os
    import signal

    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path))
    os.mkfifo(tmp_path / "calibration.json")
    signal.alarm(30)
    try:
        assert budget._read_cache(lambda m: None) == {}
    finally:
        signal.alarm(0)


@pytest.mark.parametrize("share, kept", [(0.0, True), (0.5, False)])
def test_a_calibration_on_a_busy_machine_warns_and_is_not_kept(tmp_path, monkeypatch, share, kept):
    """A steadily busy machine slows both calibration repeats alike, so their agreement
    cannot catch it: the contention meter does, and such a figure never reaches the cache."""
    from resbench.measure import busy
    from resbench.spec import parse_spec
    from resbench.train.config import TrainConfig
    from resbench.train.data import load_dataset

    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(busy.Meter, "share", lambda self: share)
    monkeypatch.setattr(budget, "CALIBRATION_STEPS", 1)
    data = load_dataset("synthetic", subset=64, test_subset=16)
    warned = []
    cost = budget.calibrate(parse_spec("cifar-resnet8"), TrainConfig(dataset="synthetic", batch_size=16, device="cpu"),
                            data, warn=warned.append)
    assert cost.source == "calibrated" and cost.seconds_per_epoch > 0
    assert (any("busy" in w and "not kept" in w for w in warned)) is not kept
    # kept only when quiet (and the two repeats agreed, which a quiet machine need not give)
    if not kept:
        assert budget._read_cache() == {}


def test_the_spread_source_names_only_stored_cells_it_uses(monkeypatch):
    """Stored differences all equal estimate no spread: the plan says it used the prior."""
    from resbench.spec import parse_spec
    from resbench.train import budgeted
    from resbench.train.config import TrainConfig

    arms = [parse_spec("cifar-resnet8"), parse_spec("cifar-resnet8:shortcut=B")]
    for stored, used in (({10: [0.01, 0.01, 0.01]}, False), ({10: [0.01, 0.02, 0.015]}, True)):
        monkeypatch.setattr(budgeted, "_stored_differences", lambda *a, s=stored: {arms[1].name: s})
        sd_at, source = budgeted._spread_model(arms, arms[0], TrainConfig(), 50_000, None)
        assert ("3 at 10 epochs" in source) is used and ("stated prior" in source)
        assert sd_at(10) > 0
