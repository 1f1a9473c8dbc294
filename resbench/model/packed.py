"""K networks of one shape as one network: a grouped-convolution ensemble.

Member k's channels sit in the k-th slice of every activation ([B, K*C, H, W]): each
conv becomes a grouped conv (groups multiplied by K) whose k-th group holds member k's
weights, each BatchNorm normalises K*C channels (so every member keeps its own batch
statistics and running stats), option A's zero channels are appended per member, and
the fc layer is a batched matrix product per member. Nothing mixes members, so K
members trained together see exactly the updates they would see alone (SGD, momentum
and weight decay are elementwise), while the GPU runs one sequence of K-times-wider
kernels instead of K launch-bound ones.

``pack_models`` builds it from K initialised members; ``unpack_state`` gives member k's
``state_dict`` back (loadable into the plain network).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from resbench.model.shortcuts import ZeroPadShortcut


class PackedZeroPad(nn.Module):
    """Option A for K members: subsample, then append each member's zero channels."""

    def __init__(self, inner: ZeroPadShortcut, k: int) -> None:
        super().__init__()
        self.stride, self.extra, self.k = inner.stride, inner.extra_channels, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            b, c, h, w = x.shape
            x = F.pad(x.reshape(b, self.k, c // self.k, h, w), (0, 0, 0, 0, 0, self.extra)).reshape(b, -1, h, w)
        return x


class PackedLinear(nn.Module):
    """K independent linear layers: [B, K*in] -> [B, K, out]."""

    def __init__(self, layers: list[nn.Linear]) -> None:
        super().__init__()
        self.k = len(layers)
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in layers]))  # K, out, in
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in layers]))  # K, out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], self.k, -1)
        return torch.einsum("bki,koi->bko", x, self.weight) + self.bias


def _pack_conv(convs: list[nn.Conv2d]) -> nn.Conv2d:
    c = convs[0]
    k = len(convs)
    packed = nn.Conv2d(c.in_channels * k, c.out_channels * k, c.kernel_size, c.stride, c.padding, c.dilation,
                       c.groups * k, bias=c.bias is not None, padding_mode=c.padding_mode)
    with torch.no_grad():
        packed.weight.copy_(torch.cat([m.weight for m in convs]))
        if c.bias is not None:
            packed.bias.copy_(torch.cat([m.bias for m in convs]))
    return packed


def _pack_bn(bns: list[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    b = bns[0]
    packed = nn.BatchNorm2d(b.num_features * len(bns), b.eps, b.momentum, b.affine, b.track_running_stats)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(packed, name).copy_(torch.cat([getattr(m, name) for m in bns]))
        packed.num_batches_tracked.copy_(b.num_batches_tracked)
    return packed


def _pack(modules: list[nn.Module]) -> nn.Module:
    first = modules[0]
    if isinstance(first, nn.Conv2d):
        return _pack_conv(modules)
    if isinstance(first, nn.BatchNorm2d):
        return _pack_bn(modules)
    if isinstance(first, nn.Linear):
        return PackedLinear(modules)
    if isinstance(first, ZeroPadShortcut):
        return PackedZeroPad(first, len(modules))
    if list(first.children()):
        packed = copy.copy(first)
        packed._modules = {name: (None if child is None else _pack([getattr(m, name) for m in modules]))
                           for name, child in first._modules.items()}
        return packed
    if list(first.parameters(recurse=False)) or list(first.buffers(recurse=False)):
        raise ValueError(f"cannot pack {type(first).__name__}: it has parameters resbench does not know how to split")
    return copy.deepcopy(first)  # parameter-free and channel-agnostic: ReLU, pooling, Identity


def pack_models(models: list[nn.Module]) -> nn.Module:
    """One network computing all of ``models`` (same architecture) side by side: input
    [B, K*C, H, W] (member k's images in channel slice k), output [B, K, classes]."""
    if len({type(m) for m in models}) != 1:
        raise ValueError("only networks of one architecture pack together")
    return _pack(list(models))


def unpack_state(packed: nn.Module, reference: nn.Module, k: int, members: int) -> dict:
    """Member ``k``'s state_dict, in ``reference``'s names and shapes."""
    out = {}
    packed_state = packed.state_dict()
    for name, ref in reference.state_dict().items():
        p = packed_state[name]
        if name.endswith("num_batches_tracked"):
            out[name] = p.clone()
        elif p.dim() == ref.dim() + 1:  # PackedLinear: a leading member dim
            out[name] = p[k].clone()
        else:
            n = ref.shape[0]
            out[name] = p[k * n:(k + 1) * n].clone()
    return out
