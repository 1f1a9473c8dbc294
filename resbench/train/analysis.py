"""What happens inside: layer responses (the paper's Fig. 7) and gradient norms.

Responses: for every 3x3 conv layer, the standard deviation (over all elements of a
batch) of the output of the BN that follows it: after BN, before the ReLU and before
the addition, as the paper defines it. Forward hooks on those BN modules; no copy of
the model.

Gradients: on one batch, the L2 norm of each conv layer's weight gradient and of the
gradient with respect to its output (the backward signal), from the first layer to the
last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from resbench import validate as v
from resbench.errors import UsageError

# Bands of the first/last conv weight-gradient norm ratio. In a healthy net the update a
# layer gets is of the same order wherever it sits: He init keeps the backward signal's
# variance roughly constant through depth, and the first and last convs of a ResNet
# differ in fan-in by up to ~8x, which moves their weight-gradient norms within about
# one order of magnitude. Two orders of magnitude or more either way means depth itself
# is scaling the signal: shrinking towards the input (vanishing: early layers barely
# learn) or growing towards it (exploding: early layers take huge, unstable steps).
VANISHING_RATIO = 1e-2  # first/last below this: "vanishing"
EXPLODING_RATIO = 1e2  # first/last above this: "exploding"


def response_layers(model) -> list[tuple[str, nn.BatchNorm2d]]:
    """(name, BN) for every 3x3 conv in forward order, naming the conv."""
    out = []
    if model.conv1.kernel_size == (3, 3):
        out.append(("conv1", model.bn1))
    for sname, stage in zip(model.stage_names, model.stages()):
        for i, block in enumerate(stage):
            for cname in ("conv1", "conv2", "conv3"):
                conv = getattr(block, cname, None)
                if conv is not None and conv.kernel_size == (3, 3):
                    out.append((f"{sname}.{i}.{cname}", getattr(block, "bn" + cname[-1])))
    return out


@dataclass(frozen=True)
class LayerValue:
    index: int  # 1-based, forward order
    name: str
    value: float


def layer_responses(model, x: torch.Tensor) -> list[LayerValue]:
    layers = response_layers(model)
    if not layers:
        raise UsageError("this network has no 3x3 conv layers to analyse")
    stds: dict[str, float] = {}
    handles = [bn.register_forward_hook(lambda m, i, o, name=name: stds.__setitem__(name, o.float().std().item()))
               for name, bn in layers]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    return [LayerValue(i + 1, name, stds[name]) for i, (name, _) in enumerate(layers)]


def conv_layers(model) -> list[tuple[str, nn.Conv2d]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and "downsample" not in n]


def gradient_norms(model, x: torch.Tensor, y: torch.Tensor) -> tuple[list[LayerValue], list[LayerValue]]:
    """(weight-gradient norms, output-gradient norms) per conv layer, forward order.
    The model is left in its mode; its .grad fields are cleared afterwards."""
    convs = conv_layers(model)
    out_grads: dict[str, float] = {}
    handles = [m.register_full_backward_hook(lambda mod, gi, go, name=name: out_grads.__setitem__(name, go[0].norm().item()))
               for name, m in convs]
    model.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)  # so the first layer's hooks see a real input gradient too
    try:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    weights = [LayerValue(i + 1, n, m.weight.grad.norm().item()) for i, (n, m) in enumerate(convs)]
    outputs = [LayerValue(i + 1, n, out_grads.get(n, float("nan"))) for i, (n, _) in enumerate(convs)]
    model.zero_grad(set_to_none=True)
    return weights, outputs


def gradient_verdict(weights: list[LayerValue]) -> tuple[float, str]:
    """Ratio of the first conv's weight-gradient norm to the last's, and a plain word."""
    first, last = weights[0].value, weights[-1].value
    ratio = first / last if last else float("inf")
    band = gradient_band(ratio)
    why = {"vanishing": f" (below {VANISHING_RATIO:g}x)", "exploding": f" (above {EXPLODING_RATIO:g}x)", "healthy": ""}[band]
    return ratio, f"gradients at the first layer are {ratio:.3g}x the last: {band}{why}"


def gradient_band(ratio: float) -> str:
    """vanishing (< 1e-2), healthy (1e-2 .. 1e2) or exploding (> 1e2): see the bands above."""
    if ratio < VANISHING_RATIO:
        return "vanishing"
    if ratio > EXPLODING_RATIO:
        return "exploding"
    return "healthy"


def load_checkpoint(model, path: str) -> None:
    """Load a state_dict (weights_only) strictly; a mismatch names the first offending key."""
    v.regular_file(path, "checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(f"checkpoint {path} cannot be read ({type(e).__name__}); expected a state_dict saved by torch.save") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in state.items()):
        raise UsageError(f"checkpoint {path} is not a state_dict (names mapped to tensors); save one with "
                         "torch.save(model.state_dict(), PATH)")
    ours = model.state_dict()
    for k in ours:
        if k not in state:
            raise UsageError(f"checkpoint {path} does not match {model.spec.name}: it lacks {k}")
        if state[k].shape != ours[k].shape:
            raise UsageError(f"checkpoint {path} does not match {model.spec.name}: {k} has shape {tuple(state[k].shape)}, "
                             f"the network expects {tuple(ours[k].shape)}")
    for k in state:
        if k not in ours:
            raise UsageError(f"checkpoint {path} does not match {model.spec.name}: unexpected key {k}")
    model.load_state_dict(state, strict=True)
