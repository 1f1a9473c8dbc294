"""Training: data, the loop, sweeps and comparisons, executors, analyses.

``from resbench.train import train, compare, TrainConfig`` (loaded on first use).
"""

_API = {
    "train": ("resbench.train.loop", "train"),
    "TrainConfig": ("resbench.train.loop", "TrainConfig"),
    "TrainResult": ("resbench.train.loop", "TrainResult"),
    "compare": ("resbench.train.comparison", "compare"),
    "degradation": ("resbench.train.comparison", "degradation"),
    "ScaleOut": ("resbench.train.comparison", "ScaleOut"),
    "train_job": ("resbench.train.job", "train_job"),
    "load_dataset": ("resbench.train.data", "load_dataset"),
}


def __getattr__(name: str):
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'resbench.train' has no attribute {name!r}")
