"""Models built from depth specs: ``build_model("resnet56", shortcut="B")``."""

from __future__ import annotations

import torch

from resbench.model.net import ResNet
from resbench.spec import NetSpec, parse_spec


def build_model(spec: str | NetSpec, *, init_weights: bool = True, device: str | torch.device | None = None, **overrides) -> ResNet:
    """Build the network a spec names.

    ``overrides`` are the spec modifiers (shortcut, plain, stride_on, width,
    num_classes, in_channels, input_size, zero_init_residual). ``init_weights=False``
    skips the (slow, for 60M parameters) He initialisation when only shapes and
    counts matter; the weights are then uninitialised memory.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec, **overrides)
    elif overrides:
        from resbench.spec import apply_modifiers

        spec = apply_modifiers(spec, **overrides)
    if not init_weights:
        with torch.device("meta"):
            model = ResNet(spec, init_weights=False)
        return model.to_empty(device=device or "cpu")
    model = ResNet(spec)
    return model.to(device) if device is not None else model


__all__ = ["ResNet", "build_model"]
