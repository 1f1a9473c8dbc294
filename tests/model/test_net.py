"""Models: every preset runs, torchvision parity, shortcut semantics, init."""

import pytest
import torch
import torchvision

from resbench.model import build_model
from resbench.model.shortcuts import ZeroPadShortcut
from resbench.spec import parse_spec, preset_names

TORCHVISION = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", [n for n in preset_names() if not n.endswith("1202")])
def test_every_preset_runs_forward_and_backward(name):
    spec = parse_spec(name)
    size = 32 if spec.stem == "cifar" else 64  # small input: shapes, not accuracy, are tested here
    model = build_model(spec, input_size=size)
    x = torch.randn(2, 3, size, size)
    y = model(x)
    assert y.shape == (2, spec.num_classes)
    y.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.slow
def test_resnet1202_builds():
    model = build_model("resnet1202")
    assert n_params(model) == 19_421_274
    assert len(model.layer3) == 200


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_state_dict_loads_strictly_and_outputs_match(name):
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)().eval()
    ours = build_model(name).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_paper_stride_placement_differs_from_torchvision_only_in_where_it_strides():
    tv = build_model("resnet50")
    paper = build_model("resnet50", stride_on="1x1")
    assert n_params(tv) == n_params(paper)
    assert paper.layer2[0].conv1.stride == (2, 2) and paper.layer2[0].conv2.stride == (1, 1)
    assert tv.layer2[0].conv1.stride == (1, 1) and tv.layer2[0].conv2.stride == (2, 2)


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


def test_zero_init_residual_and_he_init():
    m = build_model("resnet50", zero_init_residual=True)
    assert all((b.bn3.weight == 0).all() for s in m.stages() for b in s)
    conv = build_model("resnet56").layer3[0].conv2.weight
    fan_out = conv.shape[0] * conv.shape[2] * conv.shape[3]
    assert abs(conv.std().item() - (2 / fan_out) ** 0.5) < 0.1 * (2 / fan_out) ** 0.5


def test_grayscale_and_class_count_modifiers():
    m = build_model("resnet20", in_channels=1, num_classes=100)
    assert m(torch.randn(2, 1, 32, 32)).shape == (2, 100)


def test_bottleneck_cifar_has_expansion_four():
    m = build_model("cifar-resnet29-bottleneck")
    assert m.fc.in_features == 256
    assert m(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_build_without_init_is_fast_path_with_same_shapes():
    a, b = build_model("resnet50", init_weights=False), build_model("resnet50")
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]
