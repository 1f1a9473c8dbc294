"""Shared by train, compare and the analyses: loading data for a spec, running one cell."""

from __future__ import annotations

import warnings

from resbench.cli.output import warn
from resbench.spec import FAMILY_DEFAULTS, NetSpec

_DATA_MEMO: dict = {}


def load_data(cfg, download: bool, input_size: int):
    """Load (and memoise within this process) the data set a TrainConfig names.
    Library warnings (e.g. CIFAR checksums that differ) are shown as one-line warnings."""
    from resbench.train.data import load_dataset

    key = (cfg.dataset, cfg.data_dir, cfg.subset, cfg.val_split, cfg.test_subset, input_size, cfg.seed if cfg.val_split else None)
    if key not in _DATA_MEMO:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _DATA_MEMO[key] = load_dataset(cfg.dataset, cfg.data_dir, input_size=input_size, subset=cfg.subset,
                                           val_split=cfg.val_split, download=download, seed=cfg.seed,
                                           test_subset=cfg.test_subset)
        for w in caught:
            if issubclass(w.category, UserWarning):
                warn(str(w.message))
    return _DATA_MEMO[key]


def fit_to_data(spec: NetSpec, data) -> NetSpec:
    """Use the data set's class and channel counts where the spec has its family defaults
    (resnet20 on cifar100 gets 100 classes); explicit values are kept and checked later."""
    changes = {}
    if spec.num_classes == FAMILY_DEFAULTS[spec.stem]["num_classes"] and data.num_classes != spec.num_classes:
        changes["num_classes"] = data.num_classes
    if spec.in_channels == 3 and data.in_channels != 3:
        changes["in_channels"] = data.in_channels
    return spec.replace(**changes) if changes else spec
