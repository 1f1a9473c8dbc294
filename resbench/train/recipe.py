"""The training recipe: the paper's CIFAR recipe as a config, its schedule, and the result types.

Recipe (Sec. 4.2): SGD, momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 (scaled
linearly with the batch size), divided by 10 at 50 % and 75 % of training (the paper's
32k/48k of 64k iterations, scaled to the epochs given), He init, no dropout, random
crop with 4-pixel padding and horizontal flip. For very deep nets (depth >= 110) the
paper warms up at lr/10 until the training error is below 80 %: we do the same (capped
at 10 % of training). No label smoothing, no special init: the comparison stays fair.
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from resbench import validate as v
from resbench.errors import UsageError
from resbench.spec import NetSpec
from resbench.store import register_result
from resbench.train.config import TrainConfig
from resbench.train.data import Dataset


def pack_correct(correct) -> str:
    """Per-image right answers (bools, in the test set's order) as base64 packed bits."""
    bits = np.packbits(np.asarray(correct, dtype=bool))
    return base64.b64encode(bits.tobytes()).decode("ascii")


def unpack_correct(text: str, n: int) -> np.ndarray:
    """The inverse of ``pack_correct`` for ``n`` images."""
    raw = np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8)
    if len(raw) != (n + 7) // 8:
        raise ValueError(f"{len(raw)} bytes of per-image results do not hold {n} images")
    return np.unpackbits(raw)[:n].astype(bool)


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    lr: float  # at the end of the epoch
    train_loss: float
    train_error: float  # on the augmented batches as they were trained (the paper's curves)
    test_error: float
    seconds: float
    step_seconds: float  # forward + backward + step alone (the rest is data and bookkeeping)


@dataclass(frozen=True)
class TrainResult:
    spec: str
    params: int
    macs: int
    epochs: int  # completed
    history: tuple[EpochStats, ...]
    final_train_error: float | None
    final_test_error: float | None
    diverged: bool
    diverged_at: str | None  # "epoch 3, step 17" when the loss became NaN/inf or exploded
    seconds: float
    images_per_second: float
    data_fraction: float  # share of epoch time outside the training step (data, eval excluded)
    test_split: str
    effective_batch_size: int
    lr: float
    world_size: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)
    stopped_early: bool = False  # on_epoch asked to stop before cfg.epochs (pruned by a search)
    packed: int = 1  # members trained together in one grouped network (resbench.train.engine); 1: alone
    # Which test images the final net got right, in the test set's fixed order: packed bits
    # (numpy.packbits, big-endian within a byte) in base64; 10,000 bits for CIFAR-10.
    test_correct: str | None = None

    test_images: int | None = None  # images behind test_correct
    contention: float | None = None  # share of the cores other processes used while it trained (resbench.measure.busy)

    def correct(self) -> np.ndarray | None:
        """The final net's right answers per test image (bool), None when not recorded."""
        return None if self.test_correct is None else unpack_correct(self.test_correct, self.test_images)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["history"] = [asdict(h) for h in self.history]
        d["test_error"] = self.final_test_error
        d["train_error"] = self.final_train_error
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainResult:
        """The inverse of ``to_dict`` (extra keys, such as those of packed runs, are ignored)."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["history"] = tuple(EpochStats(**{k: h[k] for k in EpochStats.__dataclass_fields__}) for h in d["history"])
        fields["notes"] = tuple(d.get("notes", ()))
        return cls(**fields)


def _check_result(d: dict) -> TrainResult:
    """A stored train result is what TrainResult reads back, with every number in its range:
    errors and shares in [0, 1], counts whole and positive, times finite and positive. A run
    that did not diverge has a history and final errors."""
    if not isinstance(d.get("history"), list) or not all(isinstance(h, dict) for h in d["history"]):
        raise TypeError("history is not a list of epochs")
    r = TrainResult.from_dict(d)
    if not isinstance(r.spec, str) or not isinstance(r.diverged, bool):
        raise TypeError("spec must be text and diverged true or false")
    for name in ("final_train_error", "final_test_error"):
        if getattr(r, name) is not None:
            v.number(getattr(r, name), f"result {name}", 0, 1)
    for name in ("params", "macs", "effective_batch_size", "world_size", "packed"):
        v.whole(getattr(r, name), f"result {name}", 1, None)
    v.whole(r.epochs, "result epochs", 0, None)  # a run that diverged in its first epoch has none
    for name in ("seconds", "images_per_second", "lr"):
        v.number(getattr(r, name), f"result {name}", 0, lo_open=True)
    v.number(r.data_fraction, "result data fraction", -1, 1)
    if r.contention is not None:
        v.number(r.contention, "result contention", 0, 1)
    for i, h in enumerate(r.history):
        where = f"result history[{i}]"
        v.whole(h.epoch, f"{where} epoch", 1, None)
        for name in ("train_error", "test_error"):
            v.number(getattr(h, name), f"{where} {name}", 0, 1)
        for name in ("lr", "train_loss", "seconds", "step_seconds"):
            v.number(getattr(h, name), f"{where} {name}", 0)
    if r.epochs != len(r.history):
        raise ValueError(f"epochs is {r.epochs} but the history holds {len(r.history)}")
    if not r.diverged and (not r.history or r.final_test_error is None or r.final_train_error is None):
        raise ValueError("a run that did not diverge has no history or no final errors")
    if r.test_correct is not None:
        if not isinstance(r.test_images, int) or isinstance(r.test_images, bool) or r.test_images < 1:
            raise TypeError(f"test_images is {r.test_images!r}, not a count of images")
        right = unpack_correct(r.test_correct, r.test_images)
        if r.final_test_error is None or abs(1 - right.mean() - r.final_test_error) > 1e-9:
            raise ValueError("the per-image results disagree with the final test error")
    return r


def _check_config(c: dict) -> None:
    """A stored train config's counts: at least one epoch and one image a batch, a seed >= 0."""
    if "epochs" in c:
        v.whole(c["epochs"], "config epochs", 1, None)
    if "batch_size" in c:
        v.whole(c["batch_size"], "config batch size", 1, None)
    if "seed" in c:
        v.whole(c["seed"], "config seed", 0, None)


register_result("train", _check_result, _check_config)


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
