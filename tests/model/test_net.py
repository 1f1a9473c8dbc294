"""Models: every preset runs, torchvision parity, stride placement, init (shortcuts: test_shortcuts.py; blocks: test_blocks.py)."""

import pytest
import torch
import torchvision

from resbench.model import build_model
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


def test_zero_init_residual_and_he_init():
    m = build_model("resnet50", zero_init_residual=True)
    assert all((b.bn3.weight == 0).all() for s in m.stages() for b in s)
    conv = build_model("resnet56").layer3[0].conv2.weight
    fan_out = conv.shape[0] * conv.shape[2] * conv.shape[3]
    assert abs(conv.std().item() - (2 / fan_out) ** 0.5) < 0.1 * (2 / fan_out) ** 0.5


def test_grayscale_and_class_count_modifiers():
    m = build_model("resnet20", in_channels=1, num_classes=100)
    assert m(torch.randn(2, 1, 32, 32)).shape == (2, 100)


def test_build_without_init_is_fast_path_with_same_shapes():
    a, b = build_model("resnet50", init_weights=False), build_model("resnet50")
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]
