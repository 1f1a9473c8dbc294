"""What gets measured (resbench.measure.target): reference models, their input size, and their counted cost."""

import pytest

from resbench.measure.complexity import count_complexity
from resbench.spec import parse_spec
from resbench.measure.target import count_target, flop_counter_complexity, parse_target


@pytest.mark.parametrize("spec", ["resnet18", "resnet50", "resnet50:stride-on=1x1", "resnet20", "resnet20:shortcut=C",
                                  "plain20", "cifar-resnet29-bottleneck"])
def test_flop_counter_agrees_with_fvcore_on_conv_and_linear_macs(spec):
    s = parse_spec(spec)
    assert flop_counter_complexity(s).macs == count_complexity(s).macs


def test_torchvision_reference_counts_match_its_documented_figures():
    c = count_target(parse_target("torchvision:resnet50"))
    assert c.params == 25_557_032 and c.macs == 4_089_184_256  # torchvision's documented 4.09 GFLOPS (MACs)
    assert c.backward_flops > 2 * c.flops * 0.9  # a backward costs about twice the forward
    assert [s.name for s in c.stages][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    assert sum(s.macs for s in c.stages) == c.macs


def test_reference_input_size_comes_from_the_model_and_can_be_overridden():
    assert parse_target("torchvision:inception_v3").input_size == 299
    r = parse_target("torchvision:resnet18", input_size="160")
    assert r.input_size == 160 and r.name == "torchvision:resnet18:input-size=160"
    assert parse_target(r.name) == r  # the printed name parses back to the same model
