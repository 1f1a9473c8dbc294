"""Training loop, pairing across arms, divergence, compare statistics, resume, CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats as st

from resbench.model import build_model
from resbench.spec import parse_spec
from resbench.stats import paired_difference
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import train
from resbench.train.recipe import lr_at
from resbench.train.sweep import build_arms, build_cells

SYN = dict(synthetic_size=(256, 64))
FAST = TrainConfig(dataset="synthetic", epochs=2, batch_size=32, device="cpu")


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", **SYN)


def test_training_runs_and_learns_something(data):
    r = train(parse_spec("cifar-resnet8"), TrainConfig(dataset="synthetic", epochs=3, batch_size=32, device="cpu", lr=0.05), data)
    assert r.epochs == 3 and not r.diverged
    assert r.history[-1].train_loss < r.history[0].train_loss
    assert 0 <= r.final_test_error <= 1 and r.images_per_second > 0 and 0 <= r.data_fraction < 1


def test_deterministic_on_cpu_for_a_seed(data):
    a = train(parse_spec("cifar-resnet8"), FAST, data)
    b = train(parse_spec("cifar-resnet8"), FAST, data)
    assert [h.train_loss for h in a.history] == [h.train_loss for h in b.history]


def test_shared_parameters_start_equal_across_arms():
    a = build_model("resnet20", init_weights=False)
    b = build_model("resnet20", shortcut="C", init_weights=False)
    p = build_model("plain20", init_weights=False)
    for m in (a, b, p):
        m.reset_parameters(seed=3)
    sa, sb, sp = a.state_dict(), b.state_dict(), p.state_dict()
    shared = [k for k in sa if k in sb]
    assert len(shared) == len(sa)  # option C only adds projections
    assert all(torch.equal(sa[k], sb[k]) for k in shared)
    assert all(torch.equal(sa[k], sp[k]) for k in sa)
    other = build_model("resnet20", init_weights=False)
    other.reset_parameters(seed=4)
    assert not torch.equal(other.layer1[0].conv1.weight, a.layer1[0].conv1.weight)


def test_step_schedule_matches_the_paper_scaled():
    cfg = TrainConfig(epochs=10)
    assert lr_at(cfg, 0.0) == 0.1 and lr_at(cfg, 0.49) == 0.1
    assert lr_at(cfg, 0.5) == pytest.approx(0.01) and lr_at(cfg, 0.8) == pytest.approx(0.001)
    assert TrainConfig(batch_size=256).base_lr == pytest.approx(0.2)


def test_linear_and_cosine_schedules_decay_to_zero():
    lin, cos = TrainConfig(schedule="linear"), TrainConfig(schedule="cosine")
    assert [lr_at(lin, p) for p in (0, 0.25, 0.5)] == pytest.approx([0.1, 0.075, 0.05])
    assert lr_at(lin, 0.999) == pytest.approx(1e-4) and lr_at(cos, 0.5) == pytest.approx(0.05)


def test_divergence_is_recorded_not_raised(data):
    r = train(parse_spec("cifar-resnet8"), TrainConfig(dataset="synthetic", epochs=2, batch_size=32, device="cpu", lr=1e4), data)
    assert r.diverged and r.diverged_at and r.final_test_error is None


def test_input_that_does_not_fit_is_a_usage_error(data):
    from resbench.errors import UsageError

    with pytest.raises(UsageError, match="use `input_size=32`"):
        train(parse_spec("resnet18"), FAST, data)


def test_paired_difference_matches_scipy():
    ref = {0: 0.30, 1: 0.32, 2: 0.29, 3: 0.31}
    other = {0: 0.27, 1: 0.30, 2: 0.28, 3: 0.26}
    d = paired_difference(ref, other)
    t = st.ttest_rel(list(other.values()), list(ref.values()))
    assert d.mean == pytest.approx(-0.0275)
    assert d.p_value == pytest.approx(t.pvalue)
    half = st.t.ppf(0.975, 3) * st.sem([o - r for o, r in zip(other.values(), ref.values())])
    assert d.ci == pytest.approx((-0.0275 - half, -0.0275 + half))
    assert d.significant is True
    one = paired_difference({0: 0.3}, {0: 0.2, 1: 0.1})
    assert one.n == 1 and one.ci is None and one.significant is None


def test_arms_grid():
    names = [a.name for a in build_arms(shortcuts=["A", "B", "C"])]
    assert names == ["resnet20", "resnet20:shortcut=B", "resnet20:shortcut=C"]
    names = [a.name for a in build_arms(depths=[20, 56], blocks=["basic", "bottleneck"], plain=True)]
    assert names == ["resnet20", "plain20", "cifar-resnet29-bottleneck", "cifar-plain29-bottleneck",
                     "resnet56", "plain56", "cifar-resnet83-bottleneck", "cifar-plain83-bottleneck"]
    basic, bott = build_arms(depths=[20], blocks=["basic", "bottleneck"])
    assert basic.stages == bott.stages  # equal blocks per stage
    cells = build_cells(build_arms(specs=["resnet20", "plain20"]), 2, FAST)
    assert [(c.spec.name, c.seed) for c in cells] == [("resnet20", 0), ("plain20", 0), ("resnet20", 1), ("plain20", 1)]
    assert len({c.key for c in cells}) == 4


COMMON = ["--dataset", "synthetic", "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--subset", "400", "--test-subset", "100"]
COMPARE = ["compare", "--specs", "cifar-resnet8,cifar-plain8", *COMMON]


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


def test_time_to_target_per_seed():
    from resbench.train.comparison import time_to_target
    from resbench.results import EpochStats, TrainResult

    def run(errors):
        hist = tuple(EpochStats(i + 1, 0.1, 1.0, 0.5, e, 2.0, 1.5) for i, e in enumerate(errors))
        return TrainResult("x", 1, 1, len(hist), hist, 0.5, errors[-1], False, None, 2.0 * len(hist), 1.0, 0.1, "test", 128, 0.1)

    t = time_to_target({0: run([0.9, 0.4, 0.3]), 1: run([0.9, 0.8, 0.6])}, 0.5)
    assert t == {"target": 0.5, "epochs": [2, None], "seconds": [4.0, None], "reached": 1, "seeds": 2}


def test_one_seed_says_no_interval(cli, tmp_path):
    code, out, _ = cli(*COMPARE, "--results-dir", tmp_path)
    assert code == 0 and "no CI" in out


def test_killed_sweep_keeps_finished_cells(tmp_path):
    """SIGKILL a sweep once its first record exists; rerunning finishes without redoing it."""
    args = [sys.executable, "-m", "resbench", *COMPARE, "--seeds", "2", "--results-dir", str(tmp_path), "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec_dir = tmp_path / "records" / "train"
    deadline = time.time() + 120
    def records():  # never an atomic write's temporary (a dot name)
        return {p.name for p in rec_dir.glob("*.json") if not p.name.startswith(".")} if rec_dir.exists() else set()

    while time.time() < deadline and not records():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = records()
    assert 1 <= len(first) < 4
    for name in first:
        json.loads((rec_dir / name).read_text())  # every record complete
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert first <= records() and len(records()) == 4
    assert not [p.name for p in tmp_path.rglob(".*") if p.is_file()]  # nothing the kill left behind


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
    code, _, err = cli("compare", *COMMON, "--results-dir", tmp_path, *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) <= 2  # a progress header may precede


@pytest.mark.parametrize("args, fragment", [
    (["resnet20", "--data-dir", "/nonexistent", "--no-download"], "not found"),
    (["resnet20", "--dataset", "mnist"], "--dataset 'mnist' is unknown"),
    (["resnet20", "--dataset", "synthetic", "--dtype", "fp16", "--device", "cpu"], "needs CUDA"),
])
def test_train_usage_errors(cli, tmp_path, args, fragment):
    code, _, err = cli("train", *args, "--results-dir", tmp_path, "--epochs", "1")
    assert code == 2 and fragment in err and "Traceback" not in err


def test_spec_that_does_not_fit_the_data(cli, fake_cifar, tmp_path):
    code, _, err = cli("train", "resnet18", "--data-dir", fake_cifar, "--epochs", "1", "--results-dir", tmp_path)
    assert code == 2 and "--input-size 32" in err


def test_train_on_the_standard_cifar_layout(cli, fake_cifar, tmp_path):
    code, out, err = cli("train", "cifar-resnet8", "--data-dir", fake_cifar, "--epochs", "1", "--device", "cpu", "--json",
                         "--results-dir", tmp_path, "--num-classes", "10")
    assert code == 0, err
    assert json.loads(out)["spec"] == "cifar-resnet8"


def test_train_cli_json_and_checkpoint(cli, tmp_path):
    ckpt = tmp_path / "m.pt"
    code, out, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "1", "--device", "cpu", "--json",
                         "--results-dir", tmp_path, "--save-checkpoint", ckpt)
    assert code == 0, err
    d = json.loads(out)
    assert d["epochs"] == 1 and len(d["history"]) == 1 and "env" in d
    state = torch.load(ckpt, weights_only=True)
    build_model("cifar-resnet8").load_state_dict(state, strict=True)


def test_nhwc_crash_guard_matches_the_built_model():
    """The spec-level check finds exactly the stride-2 1x1 convs with < 8 input channels."""
    import random

    from resbench.runtime import nhwc_backward_crashes
    from resbench.spec import NetSpec

    rng = random.Random(5)
    seen = set()
    for _ in range(60):
        n, w0 = rng.randint(1, 4), rng.choice([1, 2, 4, 8])
        spec = NetSpec(stem="cifar", block=rng.choice(["basic", "bottleneck"]), stages=(1,) * n,
                       widths=tuple(w0 * 2**i for i in range(n)), shortcut=rng.choice(["A", "B", "C", "none"]),
                       stride_on=rng.choice(["3x3", "1x1"]), num_classes=10, input_size=32)
        model = build_model(spec)
        risky = any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1) and m.in_channels < 8
                    for m in model.modules())
        assert nhwc_backward_crashes(spec) == risky, spec.name
        seen.add(risky)
    assert seen == {True, False}


def test_narrow_projection_nets_train_in_nchw_instead_of_crashing(data):
    # channels-last here would abort the process (oneDNN, torch 2.14.1): the loop falls back
    r = train(parse_spec("cifar-resnet8:shortcut=B:width=4"), TrainConfig(epochs=1, batch_size=50, channels_last=True), data)
    assert r.epochs == 1 and any("NCHW" in n for n in r.notes)


def test_graph_sgd_equals_torch_sgd_step_for_step():
    """The optimizer a CUDA graph can capture (tensor lr) is torch.optim.SGD, step for step (CPU)."""
    from resbench.train.graphs import GraphSGD

    torch.manual_seed(0)
    a = torch.nn.Linear(6, 3)
    b = torch.nn.Linear(6, 3)
    b.load_state_dict(a.state_dict())
    ref = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    ours = GraphSGD(b.parameters(), 0.9, 1e-4, torch.device("cpu"))
    for step, lr in enumerate([0.1, 0.1, 0.05, 0.01]):
        x = torch.randn(8, 6)
        for m, opt in ((a, ref), (b, ours)):
            opt.zero_grad()
            m(x).pow(2).mean().backward()
        for g in ref.param_groups:
            g["lr"] = lr
        ours.lr.fill_(lr)
        ref.step()
        ours.step()
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.allclose(p, q, atol=1e-7), step


def test_cuda_graphs_needs_cuda_and_is_not_part_of_the_key(cli, tmp_path):
    code, _, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "1", "--device", "cpu", "--cuda-graphs",
                       "--no-save")
    assert code == 2 and "--cuda-graphs" in err and len(err.strip().splitlines()) == 1
    assert "cuda_graphs" not in FAST.key_fields()  # how the steps launch, not what they compute


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_steps_match_eager_on_cuda():
    """Same seed, same data: the first epochs with --cuda-graphs match eager within float error."""
    from dataclasses import replace

    data = load_dataset("synthetic", **SYN)
    cfg = TrainConfig(dataset="synthetic", epochs=2, batch_size=32, device="cuda", channels_last=False)
    eager = train(parse_spec("cifar-resnet8"), cfg, data)
    graphed = train(parse_spec("cifar-resnet8"), replace(cfg, cuda_graphs=True), data)
    for a, b in zip(eager.history, graphed.history):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-3)
        assert b.test_error == pytest.approx(a.test_error, abs=0.02)


def test_the_training_loops_draw_a_new_epoch_each_epoch(monkeypatch):
    """Both engines ask the loader for epochs 0, 1, 2 in turn (never epoch 0 again)."""
    from resbench.train import loader as loader_mod
    from resbench.train.data import load_dataset
    from resbench.train.engine import train_packed

    asked = []
    original = loader_mod.DeviceLoader.batches

    def spy(self, epoch):
        if self.train:
            asked.append(epoch)
        return original(self, epoch)

    monkeypatch.setattr(loader_mod.DeviceLoader, "batches", spy)
    data = load_dataset("synthetic", synthetic_size=(64, 32))
    spec = parse_spec("cifar-resnet8")
    cfg = TrainConfig(epochs=3, batch_size=32, device="cpu")
    train(spec, cfg, data)
    assert asked == [0, 1, 2]
    asked.clear()
    train_packed(spec, [cfg, replace(cfg, seed=1)], [data, data])
    assert asked == [0, 0, 1, 1, 2, 2]


def test_evaluation_uses_running_statistics_not_the_batch():
    """In eval mode BatchNorm uses its running statistics: the error does not depend on
    how the test set is cut into batches (a net left in train mode would)."""
    from resbench.train.data import load_dataset
    from resbench.train.engine import evaluate
    from resbench.train.loader import DeviceLoader, channel_stats

    data = load_dataset("synthetic", synthetic_size=(64, 60))
    spec = parse_spec("cifar-resnet8")
    net = build_model(spec)
    with torch.no_grad():  # running statistics far from any batch's own
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    mean, std = channel_stats(data.train_x)
    errors = {b: evaluate(net, DeviceLoader(data.test_x, data.test_y, b, device=torch.device("cpu"), mean=mean, std=std,
                                            train=False), torch.device("cpu"), "fp32") for b in (60, 7, 1)}
    assert len(set(errors.values())) == 1, errors
    assert net.training  # evaluate hands the net back in train mode


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto means cpu only on a machine without CUDA")
def test_device_auto_and_cpu_share_cells(cli, tmp_path):
    common = [c for c in COMMON if c not in ("--device", "cpu")]
    args = ["compare", "--specs", "cifar-resnet8", *common, "--seeds", "1", "--json", "--results-dir", tmp_path]
    for device in ("auto", "cpu", "auto"):
        code, out, err = cli(*args, "--device", device)
        assert code == 0, err
    records = list((tmp_path / "records" / "train").glob("*.json"))
    assert len(records) == 1  # one cell, trained once: the cpu and auto runs found it
    assert json.loads(records[0].read_text())["config"]["device"] == "cpu"


def test_a_run_whose_output_is_a_log_prints_plain_progress_lines(cli, tmp_path):
    """stderr is not a terminal here (as under CI or nohup): one plain line when each epoch
    starts, no Rich bar and no control characters."""
    code, out, err = cli("train", "cifar-resnet8", *COMMON[:-4], "--epochs", "2", "--results-dir", tmp_path, "--json")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "epoch" in line]
    assert any("epoch 1/2" in line for line in lines) and any("epoch 2/2" in line for line in lines)
    assert "\x1b" not in err and "\r" not in err


def test_three_arms_get_adjusted_p_values_named_intervals_and_say_what_they_answer(cli, tmp_path):
    png = tmp_path / "forest.png"
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8,cifar-resnet8:shortcut=B", *COMMON, "--seeds", "3",
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
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8,cifar-resnet8:shortcut=B", *COMMON, "--seeds", "3",
                         "--results-dir", tmp_path)
    assert code == 0 and "Bonferroni over 2 arms" in out and "answers: final test error of 1-epoch nets" in out
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8", *COMMON, "--seeds", "2", "--json", "--results-dir", tmp_path)
    assert code == 0 and json.loads(out)[1]["interval_method"] == "paired-t"  # 2 seeds: over seeds alone
