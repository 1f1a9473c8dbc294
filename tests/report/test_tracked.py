"""What goes to the trackers (resbench.report.tracked): the net and the recipe as flat parameters."""

from resbench.report.tracked import config_params, spec_params
from resbench.spec import parse_spec
from resbench.train.config import TrainConfig


def test_a_net_and_a_recipe_are_flat_namespaced_parameters():
    params = spec_params(parse_spec("resnet20:shortcut=B"))
    assert params["spec"] == "resnet20:shortcut=B" and params["net.shortcut"] == "B" and "net.name" not in params
    cfg = TrainConfig(dataset="synthetic", epochs=3)
    train = config_params(cfg)
    assert train["train.epochs"] == 3 and train["train.dataset"] == "synthetic"
    assert all(k.startswith("train.") for k in train) and len(train) == len(vars(cfg))
