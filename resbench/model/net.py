"""One generic network for every spec: stem, N stages of blocks, global pool, fc.

A variant is data (a NetSpec), not a subclass. Layer names follow torchvision
(conv1, bn1, maxpool, layer1..layerN, avgpool, fc) so its ResNet state_dicts load
into the ImageNet-stem option-B nets with ``strict=True``.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from resbench.model.blocks import BLOCK_TYPES
from resbench.model.layers import Conv2d, Linear
from resbench.model.shortcuts import make_shortcut
from resbench.spec import NetSpec


def _stable_seed(seed: int, name: str) -> int:
    # hash() is salted per process; this is not, so runs and ranks agree.
    return int.from_bytes(hashlib.sha256(f"{seed}|{name}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


class ResNet(nn.Module):
    def __init__(self, spec: NetSpec, init_weights: bool = True) -> None:
        super().__init__()
        self.spec = spec
        block = BLOCK_TYPES[spec.block]
        stem_width = spec.stem_width
        if spec.stem == "imagenet":
            self.conv1 = Conv2d(spec.in_channels, stem_width, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = Conv2d(spec.in_channels, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)

        in_channels = stem_width
        self.stage_names: list[str] = []
        for i, (blocks, planes) in enumerate(zip(spec.stages, spec.widths)):
            stride = 1 if i == 0 else 2
            layer = []
            for j in range(blocks):
                out_channels = planes * block.expansion
                s = stride if j == 0 else 1
                shortcut = make_shortcut(spec.shortcut, in_channels, out_channels, s)
                layer.append(block(in_channels, planes, s, shortcut, spec.stride_on))
                in_channels = out_channels
            name = f"layer{i + 1}"
            setattr(self, name, nn.Sequential(*layer))
            self.stage_names.append(name)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(in_channels, spec.num_classes)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self, seed: int | None = None) -> None:
        """He et al. 2015 init (normal, fan_out, as torchvision) for convs; BN gamma=1, beta=0;
        PyTorch's default uniform(+-1/sqrt(fan_in)) for the fc layer.

        With ``seed``, every module draws from its own generator seeded by (seed, module
        name): two networks that share a parameter (same name and shape) get the same
        initial values for it, whatever else they contain. That is what makes A/B/C or
        plain/residual comparisons paired.
        """
        for name, m in self.named_modules():
            g = None if seed is None else torch.Generator().manual_seed(_stable_seed(seed, name))
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
                with torch.no_grad():
                    m.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features**0.5
                with torch.no_grad():
                    m.weight.uniform_(-bound, bound, generator=g)
                    m.bias.uniform_(-bound, bound, generator=g)
        if self.spec.zero_init_residual:
            for stage in self.stages():
                for blk in stage:
                    nn.init.zeros_(blk.last_bn.weight)

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, n) for n in self.stage_names]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        for stage in self.stages():
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)
