"""Models built from depth specs: ``build_model("resnet56", shortcut="B")``."""

from __future__ import annotations

import torch

from resbench.limits import check_fits
from resbench.model.net import ResNet
from resbench.spec import NetSpec, apply_modifiers, parse_spec


def build_model(spec: str | NetSpec, *, init_weights: bool = True, device: str | torch.device | None = None, **overrides) -> ResNet:
    """Build the network a spec names.

    ``overrides`` are the spec modifiers (shortcut, plain, stride_on, width,
    num_classes, in_channels, input_size, zero_init_residual). ``init_weights=False``
    skips the (slow, for 60M parameters) He initialisation when only shapes and
    counts matter; the weights are then zeros.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec, **overrides)
    elif overrides:
        spec = apply_modifiers(spec, **overrides)

    check_fits(spec, batch=1)  # before allocating anything: one line if it cannot fit here
    model = ResNet(spec, init_weights=init_weights)  # PyTorch's default init is skipped (see model/layers.py)
    if not init_weights:
        with torch.no_grad():
            for t in model.parameters():
                t.zero_()  # zeros, not empty memory: no NaNs or denormals to slow a counting forward
    return model.to(device) if device is not None else model


__all__ = ["ResNet", "build_model"]
