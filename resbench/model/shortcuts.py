"""The paper's shortcut options (Sec. 3.3 and 4.1), as small modules.

``make_shortcut`` returns the module a block adds to its residual branch, or None
for a plain block (no addition at all):

* A: identity where shapes match; where they change, subsample by the stride and
  append zero channels. Parameter-free.
* B: identity where shapes match; 1x1 conv + BN projection where they change.
* C: 1x1 conv + BN projection on every block.
"""

from __future__ import annotations

import torch
from torch import nn

from resbench.model.layers import Conv2d
from torch.nn import functional as F


class ZeroPadShortcut(nn.Module):
    """Option A: ``x[:, :, ::s, ::s]`` followed by zero channels appended at the end."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            # F.pad pads dims from the last one backwards: (W, W, H, H, C_before, C_after).
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """1x1 conv + BN; a Sequential so that names match torchvision (downsample.0/.1)."""
    return nn.Sequential(
        Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def make_shortcut(option: str, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if option == "none":
        return None
    shapes_change = stride != 1 or in_channels != out_channels
    if option == "C" or (option == "B" and shapes_change):
        return projection(in_channels, out_channels, stride)
    if option == "A" and shapes_change:
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Identity()
