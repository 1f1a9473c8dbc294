"""What a training run is asked to do: the paper's CIFAR recipe as a config (``TrainConfig``).

Its fields and their defaults are the one owner of the training options: the CLI's
options are generated from them (resbench.cli.options). Importing this module is cheap
(no torch): the device and the data sets are looked up only when a config is built.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from resbench import validate as v
from resbench.errors import ConfigError

SCHEDULES = ("step", "cosine", "linear")
# Part of every record key: the version of what a config's fields train. Recipe 2 draws a
# new order and new crops and flips every epoch; records of another recipe (recipe 1, with
# no such field, replayed epoch 0's draw) are retrained, never reused as comparable.
RECIPE = 2


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "cifar10"  # cifar10 | cifar100 | imagefolder | synthetic
    data_dir: str | None = "data"
    subset: int | None = None  # balanced subset of the training set (same for every seed)
    val_split: float | None = None  # hold out this fraction of train as the test set
    test_subset: int | None = None  # balanced subset of the test set (cheaper per-epoch evaluation)
    epochs: int = 10
    batch_size: int = 128
    lr: float | None = None  # None: 0.1 x batch_size / 128 (the paper's 0.1 at 128)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "step"  # step: /10 at 50 % and 75 % (paper); cosine / linear: decay to 0 (linear: Li et al., Budgeted Training)
    warmup: str = "auto"  # auto: lr/10 until train error < 80 % for depth >= 110 (paper); on; off
    seed: int = 0
    device: str = "auto"  # resolved on construction: "auto" becomes "cpu" or "cuda", so records key the real device
    dtype: str = "fp32"  # fp32 | bf16 (autocast) | fp16 (autocast + GradScaler, CUDA) | auto (bf16 where measured faster here)
    channels_last: bool | None = None  # None: the resolved device's measured default (runtime.TRAIN_DEFAULTS)
    compile: bool = False
    cuda_graphs: bool = False  # CUDA: one captured graph per step (resbench.train.graphs); how it runs, not what it computes
    download: bool = True  # fetch CIFAR with torchvision when it is missing; where the data comes from, not what it is

    def __post_init__(self) -> None:
        # The runtime is resolved once, here, for the API and the CLI alike: the same
        # machine gives the same config (and record key) whether it was asked for by
        # "auto" or by name, and the layout default follows the device that runs.
        from resbench.runtime import resolve_device, train_defaults

        device = resolve_device(self.device)
        object.__setattr__(self, "device", str(device))
        if self.channels_last is None:
            object.__setattr__(self, "channels_last", train_defaults(device.type)["channels_last"])
        self._check()

    def _check(self) -> None:
        """Every field, on construction: finite, in range, a known word."""
        from resbench.runtime import resolve_device
        from resbench.train.data import DATASETS

        v.whole(self.epochs, "epochs", 1, 100_000)
        v.whole(self.batch_size, "batch_size", 1, 1 << 20)
        if self.lr is not None:
            v.number(self.lr, "lr", 0, 1e6, lo_open=True)
        v.number(self.momentum, "momentum", 0, 1, hi_open=True)
        v.number(self.weight_decay, "weight_decay", 0, 1)
        v.whole(self.seed, "seed", 0, v.MAX_SEED)
        if self.subset is not None:
            v.whole(self.subset, "subset", 1)
        if self.test_subset is not None:
            v.whole(self.test_subset, "test_subset", 1)
        if self.val_split is not None:
            v.number(self.val_split, "val_split", 0, 1, lo_open=True, hi_open=True)
        if self.schedule not in SCHEDULES:
            raise ConfigError("schedule", f"{self.schedule!r}: expected step, cosine or linear")
        if self.warmup not in ("auto", "on", "off"):
            raise ConfigError("warmup", f"takes auto, on or off, got {self.warmup!r}")
        if self.dtype not in ("fp32", "bf16", "fp16", "auto"):
            raise ConfigError("dtype", f"for training must be fp32, bf16, fp16 or auto, got {self.dtype!r}")
        if self.dataset not in DATASETS:
            raise ConfigError("dataset", f"{self.dataset!r} is unknown: expected one of {', '.join(DATASETS)}")
        if self.cuda_graphs and resolve_device(self.device).type != "cuda":
            raise ConfigError("cuda_graphs", "captures CUDA work: it needs `device='cuda'` (or drop it)")

    @property
    def base_lr(self) -> float:
        return self.lr if self.lr is not None else 0.1 * self.batch_size / 128

    def key_fields(self) -> dict:
        """What defines the experiment (the record key): everything but where it runs."""
        d = asdict(self)
        d.pop("cuda_graphs")  # the same steps, launched differently: not part of the experiment's identity
        d.pop("download")  # the same files, however they arrived
        d["lr"] = self.base_lr
        d["recipe"] = RECIPE
        if d["data_dir"]:
            d["data_dir"] = os.path.abspath(d["data_dir"])
        return d
