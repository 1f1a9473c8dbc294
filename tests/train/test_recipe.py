"""The training recipe and loop: learning, determinism, schedules, divergence, pairing across arms (the CLI: tests/cli/test_train.py, test_compare.py)."""

from dataclasses import replace

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


def test_time_to_target_per_seed():
    from resbench.train.comparison import time_to_target
    from resbench.results import EpochStats, TrainResult

    def run(errors):
        hist = tuple(EpochStats(i + 1, 0.1, 1.0, 0.5, e, 2.0, 1.5) for i, e in enumerate(errors))
        return TrainResult("x", 1, 1, len(hist), hist, 0.5, errors[-1], False, None, 2.0 * len(hist), 1.0, 0.1, "test", 128, 0.1)

    t = time_to_target({0: run([0.9, 0.4, 0.3]), 1: run([0.9, 0.8, 0.6])}, 0.5)
    assert t == {"target": 0.5, "epochs": [2, None], "seconds": [4.0, None], "reached": 1, "seeds": 2}


def test_narrow_projection_nets_train_in_nchw_instead_of_crashing(data):
    # channels-last here would abort the process (oneDNN, torch 2.14.1): the loop falls back
    r = train(parse_spec("cifar-resnet8:shortcut=B:width=4"), TrainConfig(epochs=1, batch_size=50, channels_last=True), data)
    assert r.epochs == 1 and any("NCHW" in n for n in r.notes)


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


