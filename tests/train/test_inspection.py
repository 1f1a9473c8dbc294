"""The analyses as library calls (resbench.train.inspection): nets built, trained or loaded,
measured on a fixed batch, and stored as records."""

import pytest
import torch

from resbench.errors import ConfigError
from resbench.model import build_model
from resbench.store import Store
from resbench.train.analysis import layer_responses
from resbench.train.config import TrainConfig
from resbench.train.inspection import _batch, analyze_gradients, analyze_responses
from resbench.train.cells import load_data

CFG = TrainConfig(dataset="synthetic", device="cpu", subset=200, test_subset=64, batch_size=50)


def test_responses_are_the_untrained_nets_measured_on_one_fixed_batch(tmp_path):
    report = analyze_responses(["cifar-plain8", "cifar-resnet8"], CFG, images=32, results_dir=tmp_path)
    assert list(report.nets) == ["cifar-plain8", "cifar-resnet8"] and report.train_epochs == 0
    # the same numbers as measuring the seeded net by hand on the same batch
    model = build_model("cifar-resnet8", init_weights=False)
    model.reset_parameters(seed=CFG.seed)
    x, _ = _batch(load_data(CFG, 32), 32, CFG.seed)
    by_hand = [lv.value for lv in layer_responses(model.eval(), x)]
    assert [r["value"] for r in report.nets["cifar-resnet8"]] == pytest.approx(by_hand)
    (rec,) = Store(tmp_path).load("analysis-responses")[0]
    assert rec.config["specs"] == ["cifar-plain8", "cifar-resnet8"] and rec.result["nets"] == report.nets


def test_gradients_are_measured_at_each_epoch_asked_and_not_stored_when_told(tmp_path):
    report = analyze_gradients(["cifar-resnet8"], CFG, at_epochs=[1, 0, 1], images=16, save=False, results_dir=tmp_path)
    points = report.nets["cifar-resnet8"]
    assert [p["epoch"] for p in points] == [0, 1]  # sorted, once each
    assert all(p["first_last_ratio"] > 0 and p["verdict"] for p in points)
    assert points[0]["weights"] != points[1]["weights"]  # a training epoch ran in between
    assert not (tmp_path / "records").exists()
    with pytest.raises(ConfigError, match="at_epochs"):
        analyze_gradients(["cifar-resnet8"], CFG, at_epochs=[], save=False)


def test_a_checkpoint_belongs_to_one_net(tmp_path):
    p = tmp_path / "m.pt"
    torch.save(build_model("cifar-resnet8").state_dict(), p)
    with pytest.raises(ConfigError, match="exactly one spec"):
        analyze_responses(["cifar-resnet8", "cifar-plain8"], CFG, checkpoint=str(p), save=False)
