"""Parameters and MACs against torchvision's documented figures, the paper's tables,
fvcore's extras and per-layer rows (the analytic counter: tests/test_cost.py)."""


import pytest

from resbench.cost import analytic_complexity
from resbench.measure.complexity import count_complexity
from resbench.spec import parse_spec

# torchvision's model docs: num_params and GFLOPS (their GFLOPS are conv+linear MACs).
TORCHVISION_FIGURES = {
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
}


@pytest.mark.parametrize("name", TORCHVISION_FIGURES)
def test_torchvision_documented_params_and_macs(name):
    params, gmacs = TORCHVISION_FIGURES[name]
    c = count_complexity(name)
    assert c.params == params == c.trainable_params
    assert round(c.macs / 1e9, 3) == gmacs
    assert c.flops == 2 * c.macs


@pytest.mark.parametrize("name, gmacs, paper", [("resnet50", 3.86, 3.8), ("resnet101", 7.57, 7.6), ("resnet152", 11.28, 11.3)])
def test_paper_stride_placement_matches_table_1(name, gmacs, paper):
    c = count_complexity(name + ":stride-on=1x1")
    assert round(c.macs / 1e9, 2) == gmacs
    assert abs(c.macs / 1e9 - paper) < 0.1


# The paper's Table 6 (CIFAR-10, option A): params in millions.
@pytest.mark.parametrize("name, millions", [("resnet20", 0.27), ("resnet32", 0.46), ("resnet44", 0.66),
                                            ("resnet56", 0.85), ("resnet110", 1.7), ("resnet1202", 19.4)])
def test_cifar_params_match_table_6(name, millions):
    params = analytic_complexity(parse_spec(name)).params
    digits = 1 if millions >= 1 else 2
    assert round(params / 1e6, digits) == millions


@pytest.mark.slow
def test_resnet1202_counted_by_fvcore():
    c = count_complexity("resnet1202")
    assert c.params == 19_421_274
    assert c.macs == analytic_complexity(parse_spec("resnet1202")).macs


def test_stage_rows_add_up_and_have_table_1_shapes():
    c = count_complexity("resnet50")
    assert sum(s.params for s in c.stages) == c.params
    assert sum(s.macs for s in c.stages) == c.macs
    assert [(s.name, s.out_size, s.out_channels) for s in c.stages] == [
        ("stem", 112, 64), ("layer1", 56, 256), ("layer2", 28, 512), ("layer3", 14, 1024), ("layer4", 7, 2048), ("head", 1, 1000)]


def test_fvcore_extras_are_reported_separately():
    c = count_complexity("resnet18")
    assert c.other_ops["batch_norm"] > 0
    assert "conv" not in c.other_ops
    assert c.uncounted_ops.get("add") == 8  # the eight residual additions
    assert count_complexity("plain18").uncounted_ops.get("add") is None


@pytest.mark.parametrize("spec", ["resnet50", "resnet20:shortcut=B", "cifar-resnet29-bottleneck"])
def test_show_depth_rows_add_up_to_the_totals(spec):
    from resbench.measure.complexity import count_complexity

    for depth in ("block", "layer"):
        c = count_complexity(spec, depth=depth)
        assert sum(r.params for r in c.layers) == c.params and sum(r.macs for r in c.layers) == c.macs
        assert all(r.activations > 0 and r.out_shape for r in c.layers)
    blocks = count_complexity("resnet50", depth="block").layers
    assert [r.name for r in blocks][:2] == ["stem", "layer1.0"] and len(blocks) == 16 + 2
    assert blocks[0].out_shape == [64, 56, 56] and blocks[-1].out_shape == [1000]


def test_show_depth_layer_cli_json(cli):
    import json

    code, out, err = cli("show", "resnet20", "--depth", "layer", "--json")
    layers = json.loads(out)["layers"]
    assert code == 0 and layers[0] == {"name": "conv1", "out_shape": [16, 32, 32], "params": 432, "macs": 442_368,
                                       "activations": 16_384}
    relu = next(r for r in layers if r["name"] == "layer1.0.relu")
    assert relu["activations"] == 2 * 16_384  # applied twice in a basic block: both outputs count
    code, out, _ = cli("show", "resnet20", "--depth", "block")
    assert code == 0 and "layer3.2" in out and "activations" in out
