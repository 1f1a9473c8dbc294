"""Conv2d and Linear that skip torch's default init while being built (resbench.model.layers)."""

import torch
from torch import nn

from resbench.model.layers import Conv2d, Linear


def test_building_skips_the_default_init_and_a_later_reset_is_torchs(monkeypatch):
    calls = []
    real = nn.init.kaiming_uniform_
    monkeypatch.setattr(nn.init, "kaiming_uniform_", lambda *a, **k: calls.append(1) or real(*a, **k))
    conv, fc = Conv2d(3, 8, 3), Linear(8, 2)
    assert calls == []  # nothing computed only to be overwritten
    torch.manual_seed(0)
    conv.reset_parameters()
    torch.manual_seed(0)
    reference = nn.Conv2d(3, 8, 3)
    assert calls and torch.equal(conv.weight, reference.weight) and torch.equal(conv.bias, reference.bias)
    assert isinstance(fc, nn.Linear) and fc.state_dict().keys() == nn.Linear(8, 2).state_dict().keys()
