"""The training recipe: the paper's CIFAR recipe, its schedule, and what a run needs from data and devices.

Recipe (Sec. 4.2): SGD, momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 (scaled
linearly with the batch size), divided by 10 at 50 % and 75 % of training (the paper's
32k/48k of 64k iterations, scaled to the epochs given), He init, no dropout, random
crop with 4-pixel padding and horizontal flip. For very deep nets (depth >= 110) the
paper warms up at lr/10 until the training error is below 80 %: we do the same (capped
at 10 % of training). No label smoothing, no special init: the comparison stays fair.
"""

from __future__ import annotations

import math

import torch

from resbench.errors import UsageError
from resbench.spec import NetSpec
from resbench.train.config import TrainConfig
from resbench.train.data import Dataset


def lr_at(cfg: TrainConfig, progress: float) -> float:
    """Learning rate at a fraction ``progress`` in [0, 1) of training."""
    if cfg.schedule == "cosine":
        return cfg.base_lr * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.schedule == "linear":
        return cfg.base_lr * (1 - progress)
    return cfg.base_lr * (0.1 if progress >= 0.5 else 1.0) * (0.1 if progress >= 0.75 else 1.0)


def check_fits(spec: NetSpec, data: Dataset) -> None:
    if spec.in_channels != data.in_channels:
        raise UsageError(f"{spec.name} takes {spec.in_channels}-channel input but {data.name} images have {data.in_channels}; "
                         f"use `in_channels={data.in_channels}`")
    if spec.input_size != data.image_size:
        raise UsageError(f"{spec.name} expects {spec.input_size}px input but {data.name} images are {data.image_size}px; "
                         f"use `input_size={data.image_size}`")
    if spec.num_classes != data.num_classes:
        raise UsageError(f"{spec.name} has {spec.num_classes} classes but {data.name} has {data.num_classes}; "
                         f"use `num_classes={data.num_classes}`")


class DistContext:
    """What the loop needs from torch.distributed (see resbench.train.distributed)."""

    rank: int
    world: int
    device: torch.device

    def wrap(self, model):  # pragma: no cover - interface
        raise NotImplementedError

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError
