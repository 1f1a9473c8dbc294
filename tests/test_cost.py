"""The analytic params/MACs counter (resbench.cost), equal to fvcore's count on presets and random specs."""

import random

import pytest

from resbench.cost import analytic_complexity
from resbench.measure.complexity import count_complexity
from resbench.spec import NetSpec, format_spec, parse_spec, preset_names


def _same(a, b):
    assert (a.params, a.macs) == (b.params, b.macs)
    assert [(s.name, s.blocks, s.out_channels, s.out_size, s.params, s.macs) for s in a.stages] == \
           [(s.name, s.blocks, s.out_channels, s.out_size, s.params, s.macs) for s in b.stages]


@pytest.mark.parametrize("name", [n for n in preset_names() if not n.endswith("1202")])
def test_analytic_counter_equals_fvcore_for_presets(name):
    spec = parse_spec(name)
    _same(analytic_complexity(spec), count_complexity(spec))


def test_analytic_counter_equals_fvcore_for_random_specs():
    rng = random.Random(1)
    for _ in range(25):
        stem = rng.choice(["cifar", "imagenet"])
        n = rng.randint(1, 4)
        spec = NetSpec(
            stem=stem, block=rng.choice(["basic", "bottleneck"]), stages=tuple(rng.randint(1, 3) for _ in range(n)),
            widths=tuple(rng.choice([4, 8]) * 2**i for i in range(n)), shortcut=rng.choice("ABC") if rng.random() < 0.8 else "none",
            stride_on=rng.choice(["3x3", "1x1"]), num_classes=rng.choice([3, 10]), in_channels=rng.choice([1, 3]),
            input_size=rng.choice([33, 40, 64]) if stem == "imagenet" else rng.choice([17, 32]),
        )
        a, f = analytic_complexity(spec), count_complexity(spec)
        assert (a.params, a.macs) == (f.params, f.macs), format_spec(spec)
