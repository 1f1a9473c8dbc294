"""What `show`, `profile`, `baseline` and `check` measure: a resbench spec (NetSpec) or a
reference model (``torchvision:NAME``, ``timm:NAME``). One place decides how each is
parsed, built and counted, so the measuring code does not care which it has."""

from __future__ import annotations

from resbench.errors import ConfigError
from resbench.cost import Complexity, StageCost, analytic_complexity
from resbench.refmodels import RefModel, is_reference, parse_reference
from resbench.spec import NetSpec, parse_spec

Target = NetSpec | RefModel


def parse_target(text: str, **modifiers) -> Target:
    if is_reference(text):
        return parse_reference(text, **modifiers)
    return parse_spec(text, **modifiers)


def build_target(target: Target, init_weights: bool = True):
    if isinstance(target, RefModel):
        return target.build()
    from resbench.model import build_model

    return build_model(target, init_weights=init_weights)


def quick_complexity(target: Target):
    """Params and MACs cheaply: the analytic counter for specs (exact, no model), the
    FlopCounterMode count for reference models (cached per model)."""
    if isinstance(target, RefModel):
        return _reference_complexity(target)
    return analytic_complexity(target)


def count_target(target: Target, model=None, depth: str = "stage"):
    """The reference count: fvcore for specs (per stage, block or layer), FlopCounterMode
    for reference models (per top-level child)."""
    if isinstance(target, RefModel):
        if depth != "stage":
            raise ConfigError("depth", "block or layer follows resbench's own stages and blocks; a reference model is shown "
                              "per top-level child")
        return flop_counter_complexity(target, model)
    from resbench.measure.complexity import count_complexity

    return count_complexity(target, model, depth=depth)


_CACHE: dict[str, object] = {}


def _reference_complexity(target: RefModel):
    if target.name not in _CACHE:
        _CACHE[target.name] = flop_counter_complexity(target)
    return _CACHE[target.name]


def flop_counter_complexity(target, model=None):
    """Count one image's forward (and backward) FLOPs with torch's FlopCounterMode.
    It counts matrix products and convolutions (2 FLOPs per multiply-accumulate), which
    is fvcore's conv + linear count doubled (tested on resbench's presets), so MACs are
    the forward FLOPs / 2. Per top-level child: params, MACs and output shape."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = model if model is not None else build_target(target)
    was_training = model.training
    model.eval()
    shapes: dict[str, tuple] = {}
    handles = [m.register_forward_hook(lambda mod, a, out, n=n: shapes.__setitem__(n, tuple(getattr(out, "shape", ()))))
               for n, m in model.named_children()]
    x = torch.zeros(1, target.in_channels, target.input_size, target.input_size)
    try:
        with FlopCounterMode(display=False) as fwd:
            out = model(x)
        with FlopCounterMode(display=False) as bwd:
            out.float().sum().backward()
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    counts = fwd.get_flop_counts()
    root = type(model).__name__
    stages = []
    for name, child in model.named_children():
        shape = shapes.get(name, ())
        stages.append(StageCost(name, 0, int(shape[1]) if len(shape) > 1 else 0, int(shape[-1]) if len(shape) == 4 else 1,
                                sum(p.numel() for p in child.parameters()),
                                int(sum(counts.get(f"{root}.{name}", {}).values()) // 2)))
    return Complexity(spec=target.name, input_size=target.input_size, params=sum(p.numel() for p in model.parameters()),
                      trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
                      macs=int(fwd.get_total_flops() // 2), stages=tuple(stages), counted_by="FlopCounterMode",
                      backward_flops=int(bwd.get_total_flops()))
