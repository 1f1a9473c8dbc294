"""Will it fit? (resbench.limits): the estimate, checked against parameter counts and a hand count."""

import pytest

from resbench import limits
from resbench.errors import UsageError
from resbench.spec import parse_spec


def test_parameter_bytes_are_fp32_params_and_four_copies_for_training():
    spec = parse_spec("resnet50")
    assert limits.estimate_bytes(spec)[0] == 25_557_032 * 4  # torchvision's documented count
    assert limits.estimate_bytes(spec, train=True)[0] == 4 * 25_557_032 * 4


def test_activations_follow_the_stage_shapes():
    """cifar-resnet8: a 16x32x32 stem, one block per stage of 16x32x32, 32x16x16, 64x8x8."""
    spec = parse_spec("cifar-resnet8")
    stem, stages = 16 * 32 * 32, [16 * 32 * 32, 32 * 16 * 16, 64 * 8 * 8]
    assert limits.estimate_bytes(spec, batch=2)[1] == 3 * max(stem, *stages) * 2 * 4
    assert limits.estimate_bytes(spec, batch=2, train=True)[1] == (3 * stem + 5 * sum(stages)) * 2 * 4


def test_a_net_that_cannot_fit_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda device=None: (100_000_000, "this machine has"))
    limits.check_fits(parse_spec("cifar-resnet8"), batch=8)
    with pytest.raises(UsageError, match=r"resnet152 needs about .* GB for training at batch 64 .*this machine has 0.1 GB"):
        limits.check_fits(parse_spec("resnet152"), batch=64, train=True)
    monkeypatch.setattr(limits, "machine_memory", lambda device=None: (None, ""))
    limits.check_fits(parse_spec("resnet152"), batch=10_000, train=True)  # cannot tell: never refused
