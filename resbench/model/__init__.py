"""Models built from depth specs: ``build_model("resnet56", shortcut="B")``."""

from __future__ import annotations

import contextlib

import torch

from resbench.model.net import ResNet
from resbench.spec import NetSpec, parse_spec


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
        from resbench.spec import apply_modifiers

        spec = apply_modifiers(spec, **overrides)
    if not init_weights:
        with _default_init_skipped():
            model = ResNet(spec, init_weights=False)
        with torch.no_grad():
            for t in model.parameters():
                t.zero_()  # zeros, not empty memory: no NaNs or denormals to slow a counting forward
    else:
        model = ResNet(spec)
    return model.to(device) if device is not None else model


@contextlib.contextmanager
def _default_init_skipped():
    """Skip PyTorch's default conv/linear init while constructing (0.4 s for ResNet-152).

    The meta device would do this too, but its first use imports torch's meta
    registrations (0.5 s), which `resbench show` cannot afford.
    """
    classes = (torch.nn.modules.conv._ConvNd, torch.nn.Linear)
    saved = [c.reset_parameters for c in classes]
    for c in classes:
        c.reset_parameters = lambda self: None
    try:
        yield
    finally:
        for c, f in zip(classes, saved):
            c.reset_parameters = f


__all__ = ["ResNet", "build_model"]
