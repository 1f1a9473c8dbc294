"""Shortcut options A, B and C (resbench.model.shortcuts), placed where the paper says."""

import torch

from resbench.model import build_model
from resbench.model.shortcuts import ZeroPadShortcut


def test_option_a_is_parameter_free_subsample_and_zero_pad():
    sc = ZeroPadShortcut(16, 32, 2)
    x = torch.randn(2, 16, 8, 8)
    y = sc(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0
    model = build_model("resnet20")
    assert isinstance(model.layer2[0].downsample, ZeroPadShortcut)
    assert isinstance(model.layer1[0].downsample, torch.nn.Identity)


def test_shortcut_options_place_projections_where_the_paper_says():
    def projections(m):
        return sum(isinstance(b.downsample, torch.nn.Sequential) for s in m.stages() for b in s)

    assert projections(build_model("resnet20", shortcut="A")) == 0
    assert projections(build_model("resnet20", shortcut="B")) == 2  # first block of stages 2 and 3
    assert projections(build_model("resnet20", shortcut="C")) == 9  # every block
    assert projections(build_model("resnet34")) == 3
    plain = build_model("plain20")
    assert all(b.downsample is None for s in plain.stages() for b in s)
