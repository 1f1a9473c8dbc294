"""Devices and their known faults (resbench.runtime)."""

import torch

from resbench.model import build_model


def test_nhwc_crash_guard_matches_the_built_model():
    """The spec-level check finds exactly the stride-2 1x1 convs with < 8 input channels."""
    import random

    from resbench.runtime import nhwc_backward_crashes
    from resbench.spec import NetSpec

    rng = random.Random(5)
    seen = set()
    for _ in range(60):
        n, w0 = rng.randint(1, 4), rng.choice([1, 2, 4, 8])
        spec = NetSpec(stem="cifar", block=rng.choice(["basic", "bottleneck"]), stages=(1,) * n,
                       widths=tuple(w0 * 2**i for i in range(n)), shortcut=rng.choice(["A", "B", "C", "none"]),
                       stride_on=rng.choice(["3x3", "1x1"]), num_classes=10, input_size=32)
        model = build_model(spec)
        risky = any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1) and m.in_channels < 8
                    for m in model.modules())
        assert nhwc_backward_crashes(spec) == risky, spec.name
        seen.add(risky)
    assert seen == {True, False}
