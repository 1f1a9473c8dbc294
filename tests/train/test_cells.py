"""One training cell (resbench.train.cells): its key, the data it sees, the spec fitted to the data."""

from types import SimpleNamespace

from resbench.spec import parse_spec
from resbench.store import config_key
from resbench.train.cells import Cell, data_key, fit_to_data
from resbench.train.config import TrainConfig


def test_a_cells_key_is_the_hash_of_its_spec_and_key_fields():
    cfg = TrainConfig(dataset="synthetic", epochs=3, seed=4)
    cell = Cell(parse_spec("resnet20"), 4, cfg)
    assert cell.key_config == {"spec": "resnet20", **cfg.key_fields()} and cell.key == config_key(cell.key_config)
    assert Cell(parse_spec("resnet20"), 5, TrainConfig(dataset="synthetic", epochs=3, seed=5)).key != cell.key


def test_the_seed_names_the_data_only_when_it_draws_the_held_out_split():
    a, b = TrainConfig(dataset="synthetic", seed=0), TrainConfig(dataset="synthetic", seed=1)
    assert data_key(a, 32) == data_key(b, 32)  # the same images for every seed
    split_a, split_b = TrainConfig(dataset="synthetic", seed=0, val_split=0.1), TrainConfig(dataset="synthetic", seed=1, val_split=0.1)
    assert data_key(split_a, 32) != data_key(split_b, 32)


def test_a_spec_takes_the_datas_classes_and_channels_unless_it_says_otherwise():
    cifar100_gray = SimpleNamespace(num_classes=100, in_channels=1)
    fitted = fit_to_data(parse_spec("resnet20"), cifar100_gray)
    assert (fitted.num_classes, fitted.in_channels) == (100, 1)
    explicit = parse_spec("resnet20:num-classes=7")
    assert fit_to_data(explicit, cifar100_gray).num_classes == 7
    assert fit_to_data(parse_spec("resnet20"), SimpleNamespace(num_classes=10, in_channels=3)) == parse_spec("resnet20")
