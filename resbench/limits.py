"""Will it fit? A memory estimate of a network at a batch size, checked before any work.

The estimate is deliberately simple and errs high: fp32 parameters (x4 for training:
weights, gradients, momentum and a spare copy), plus activations from the spec's
stage shapes: for inference the three largest tensors alive at once, for training
every block's saved outputs (about five tensors of the block's output size). It is
compared with what the machine has: physical memory on CPU, the card's memory on CUDA.
A spec that cannot fit is refused in one line, instead of an allocator error minutes
later or a machine brought to its knees.
"""

from __future__ import annotations

import os

import torch

from resbench.errors import UsageError
from resbench.cost import analytic_complexity

BYTES = 4  # fp32
SAVED_PER_BLOCK = 5  # tensors of the block's output size kept for the backward pass


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def estimate_bytes(spec, batch: int = 1, train: bool = False) -> tuple[int, int]:
    """(parameter bytes, activation bytes) of ``spec`` at ``batch``."""
    c = analytic_complexity(spec)
    params = c.params * BYTES * (4 if train else 1)
    stem_side = spec.input_size // 2 if spec.stem == "imagenet" else spec.input_size
    stem = spec.stem_width * stem_side**2
    tensors = [(s.blocks, s.out_channels * s.out_size**2) for s in c.stages if s.blocks]
    largest = max([stem, spec.in_channels * spec.input_size**2] + [t for _, t in tensors])
    if train:
        act = 3 * stem + sum(SAVED_PER_BLOCK * n * t for n, t in tensors)
    else:
        act = 3 * largest
    return params, act * batch * BYTES


def machine_memory(device=None) -> tuple[int | None, str]:
    """(bytes, what) the device can hold: the card's memory on CUDA, physical RAM otherwise."""
    if device is not None and getattr(device, "type", None) == "cuda":
        props = torch.cuda.get_device_properties(device)
        return int(props.total_memory), f"{props.name} has"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine has"
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): cannot tell, do not refuse
        return None, ""


def check_fits(spec, batch: int = 1, train: bool = False, device=None) -> None:
    """UsageError (one line) when ``spec`` at ``batch`` cannot fit in the device's memory."""
    limit, who = machine_memory(device)
    if limit is None:
        return
    params, act = estimate_bytes(spec, batch, train)
    if params + act > limit:
        doing = "training" if train else "a forward pass"
        raise UsageError(f"{spec.name} needs about {_gb(params + act)} for {doing} at batch {batch} "
                         f"({_gb(params)} parameters + {_gb(act)} activations); {who} {_gb(limit)}: "
                         "lower `input_size`, `width`, the depth or `batch_size`")
