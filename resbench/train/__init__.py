"""Training: data, the loop, sweeps and comparisons, executors, analyses.

``from resbench.train import train, compare, TrainConfig`` (loaded on first use).
"""

from resbench._lazy import lazy_getattr

_API = {
    "train": ("resbench.train.engine", "train"),
    "TrainConfig": ("resbench.train.config", "TrainConfig"),
    "TrainResult": ("resbench.results", "TrainResult"),
    "compare": ("resbench.train.comparison", "compare"),
    "degradation": ("resbench.train.comparison", "degradation"),
    "ScaleOut": ("resbench.train.comparison", "ScaleOut"),
    "train_job": ("resbench.train.job", "train_job"),
    "load_dataset": ("resbench.train.data", "load_dataset"),
}

__getattr__ = lazy_getattr("resbench.train", _API)

