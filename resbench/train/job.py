"""One training job as a library call: data, (optional) DDP, the run, and its record.

``train_job`` is what `resbench train` calls, under torchrun or not. Every rank
trains; only rank 0 keeps the record and gets a report back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resbench.errors import Interrupted
from resbench.hooks import Hooks
from resbench.spec import NetSpec
from resbench.train.cells import Cell, fit_to_data, load_data
from resbench.train.loop import TrainConfig, TrainResult, check_train_config


@dataclass(frozen=True)
class TrainJob:
    spec: NetSpec  # as trained (fitted to the data's classes and channels)
    result: TrainResult
    env: dict
    record: Path | None  # the stored record, when saved


def train_job(spec: NetSpec, config: TrainConfig, *, download: bool = True, save: bool = True, results_dir=None,
              checkpoint: str | None = None, hooks: Hooks = Hooks()) -> TrainJob | None:
    """Train ``spec`` with ``config`` (the paper's recipe scaled to its epochs) and store
    the record. Returns None on ranks other than 0 of a distributed run."""
    from resbench.measure.env import collect_env
    from resbench.runtime import resolve_device
    from resbench.store import Store
    from resbench.train.distributed import dist_context
    from resbench.train.loop import train

    check_train_config(config)
    if checkpoint:
        from resbench.report.files import prepare_output

        prepare_output(checkpoint, (".pt", ".pth"), "--save-checkpoint")
    with dist_context(config.device) as dist:
        data = load_data(config, spec.input_size, download, warn=hooks.warning)
        spec = fit_to_data(spec, data)
        is_main = dist is None or dist.rank == 0
        try:
            result = train(spec, config, data, progress=hooks.progress if is_main else None, dist=dist, checkpoint=checkpoint)
        except KeyboardInterrupt:
            raise Interrupted("interrupted: a training run is stored only when it finishes, so nothing was kept; "
                              "run the same command again to start it over") from None
        if not is_main:
            return None
        env = collect_env(dist.device if dist else resolve_device(config.device))
        path = None
        if save:
            cell = Cell(spec, config.seed, config)
            path = Store(results_dir).put("train", config={**cell.key_config, "world_size": result.world_size},
                                          result=result.to_dict(), env=env, key=cell.key)
    return TrainJob(spec, result, env, path)
