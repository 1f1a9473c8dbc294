"""Residual and plain blocks (resbench.model.blocks): a plain block adds nothing; the bottleneck expands by four."""

import torch

from resbench.model import build_model


def test_plain_block_adds_nothing():
    """With the second BN zeroed, a residual block passes its input through (ReLU of it),
    a plain block outputs zeros: the plain net really has no addition."""
    res, plain = build_model("resnet20").eval(), build_model("plain20").eval()
    x = torch.rand(1, 16, 8, 8)
    for m in (res, plain):
        torch.nn.init.zeros_(m.layer1[0].bn2.weight)
        torch.nn.init.zeros_(m.layer1[0].bn2.bias)
    with torch.no_grad():
        torch.testing.assert_close(res.layer1[0](x), x)
        assert torch.count_nonzero(plain.layer1[0](x)) == 0


def test_bottleneck_cifar_has_expansion_four():
    m = build_model("cifar-resnet29-bottleneck")
    assert m.fc.in_features == 256
    assert m(torch.randn(1, 3, 32, 32)).shape == (1, 10)
