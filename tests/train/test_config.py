"""What a training run is asked to do (resbench.train.config.TrainConfig): the CLI's options
generated from its fields, what belongs to a record's key, the runtime resolved once."""

import torch

from resbench.train.config import TrainConfig


def test_download_is_part_of_the_config_but_not_of_the_key():
    assert "download" not in TrainConfig().key_fields()
    assert TrainConfig(download=False).key_fields() == TrainConfig().key_fields()


def test_the_runtime_is_resolved_once_into_the_config():
    cfg = TrainConfig()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert cfg.device == expected
    assert cfg.channels_last == (expected == "cpu")  # the device's measured default, also for API callers
    assert TrainConfig(device="cpu", channels_last=False).channels_last is False  # an explicit choice is kept
