"""Analyses (resbench.train.analysis): hooks capture the right tensors, gradient norms match
autograd, checkpoints load strictly (the commands: tests/cli/test_analyze.py)."""

import pytest
import torch

from resbench.errors import UsageError
from resbench.model import build_model
from resbench.train.analysis import (conv_layers, gradient_norms, gradient_verdict, layer_responses,
                                     load_checkpoint, response_layers)


def test_response_layers_are_every_3x3_in_order():
    m = build_model("resnet20")
    names = [n for n, _ in response_layers(m)]
    assert len(names) == 19 and names[0] == "conv1" and names[1] == "layer1.0.conv1" and names[-1] == "layer3.2.conv2"
    bott = [n for n, _ in response_layers(build_model("cifar-resnet29-bottleneck"))]
    assert all(n == "conv1" or n.endswith("conv2") for n in bott)  # only the 3x3 of each bottleneck


def test_responses_equal_a_hand_computation():
    torch.manual_seed(0)
    m = build_model("cifar-resnet8").eval()
    x = torch.randn(4, 3, 32, 32)
    values = layer_responses(m, x)
    with torch.no_grad():
        stem = m.bn1(m.conv1(x))
        block_in = torch.relu(stem)  # not m.relu: it is in-place
        b = m.layer1[0]
        first = b.bn1(b.conv1(block_in))
        second = b.bn2(b.conv2(torch.relu(first)))  # before the addition and the ReLU
    assert values[0].value == pytest.approx(stem.std().item(), rel=1e-6)
    assert values[1].value == pytest.approx(first.std().item(), rel=1e-6)
    assert values[2].value == pytest.approx(second.std().item(), rel=1e-6)
    assert m.training is False


def test_gradient_norms_match_autograd():
    torch.manual_seed(0)
    m = build_model("cifar-resnet8")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    weights, outputs = gradient_norms(m, x, y)
    # by hand: capture the stem conv's output, backprop, compare
    stem_out = {}

    def keep(mod, i, o):
        o.retain_grad()
        stem_out["o"] = o  # returns None: the output is not replaced

    h = m.conv1.register_forward_hook(keep)
    loss = torch.nn.functional.cross_entropy(m(x), y)
    loss.backward()
    h.remove()
    assert weights[0].name == "conv1" and weights[0].value == pytest.approx(m.conv1.weight.grad.norm().item(), rel=1e-5)
    assert outputs[0].value == pytest.approx(stem_out["o"].grad.norm().item(), rel=1e-5)
    last_name, last_conv = conv_layers(m)[-1]
    assert weights[-1].name == last_name and weights[-1].value == pytest.approx(last_conv.weight.grad.norm().item(), rel=1e-5)


def test_gradient_verdict_threshold():
    from resbench.train.analysis import LayerValue

    assert "healthy" in gradient_verdict([LayerValue(1, "a", 0.5), LayerValue(2, "b", 1.0)])[1]
    assert "vanishing" in gradient_verdict([LayerValue(1, "a", 1e-4), LayerValue(2, "b", 1.0)])[1]


@pytest.mark.parametrize("first, band", [(1e-3, "vanishing"), (0.0099, "vanishing"), (0.01, "healthy"), (1.0, "healthy"),
                                         (100.0, "healthy"), (101.0, "exploding"), (1.8e3, "exploding")])
def test_gradient_bands(first, band):
    """Each band, and its edges: plain-56 at init (first/last 1.8e3) is exploding, not healthy."""
    from resbench.train.analysis import LayerValue, gradient_band

    ratio, text = gradient_verdict([LayerValue(1, "a", first), LayerValue(2, "b", 1.0)])
    assert gradient_band(ratio) == band and text.split(": ")[1].startswith(band)


def test_checkpoint_mismatch_names_the_key(tmp_path):
    p = tmp_path / "m.pt"
    torch.save(build_model("resnet20", shortcut="B").state_dict(), p)
    with pytest.raises(UsageError, match="unexpected key layer2.0.downsample.0.weight"):
        load_checkpoint(build_model("resnet20"), str(p))
    torch.save(build_model("resnet20", width="32").state_dict(), p)
    with pytest.raises(UsageError, match="conv1.weight has shape"):
        load_checkpoint(build_model("resnet20"), str(p))
    with pytest.raises(UsageError, match="does not exist"):
        load_checkpoint(build_model("resnet20"), str(tmp_path / "nope.pt"))
