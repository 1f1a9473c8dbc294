"""One cell of a sweep (an arm trained with one seed), and the one way to run it.

In-process runs, the local process pool, Ray workers and the search all go through
``run_cell``, and all of them find their data through ``data_key``: one key, which
holds the seed whenever ``load_dataset`` draws the held-out split with it, so a worker
never reuses another seed's split.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from resbench.errors import UsageError
from resbench.hooks import Progress
from resbench.measure.env import collect_env
from resbench.measure.steps import is_oom
from resbench.runtime import num_threads, resolve_device
from resbench.spec import FAMILY_DEFAULTS, NetSpec
from resbench.store import config_key
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import Checkpoint, train, train_packed

Warn = Callable[[str], None]

_DATA: OrderedDict = OrderedDict()  # data_key -> Dataset, per process (a pool worker keeps its own), newest last
_DATA_KEPT = 4  # data sets held at once: a sweep's seeds share one; a held-out split per seed cycles through


@dataclass(frozen=True)
class Cell:
    spec: NetSpec
    seed: int
    config: TrainConfig  # with this cell's seed

    @property
    def key_config(self) -> dict:
        return {"spec": self.spec.name, **self.config.key_fields()}

    @property
    def key(self) -> str:
        return config_key(self.key_config)


def data_key(cfg: TrainConfig, input_size: int) -> tuple:
    """What identifies the data a run sees. The held-out split is drawn with the run's
    seed (``--val-split``, or an imagefolder without test/), so the seed is part of it then."""
    seeded = cfg.val_split is not None or cfg.dataset == "imagefolder"
    return (cfg.dataset, cfg.data_dir, cfg.subset, cfg.val_split, cfg.test_subset, input_size,
            cfg.seed if seeded else None)


def load_data(cfg: TrainConfig, input_size: int, warn: Warn | None = None):
    """The data set a TrainConfig names, memoised in this process by ``data_key``.
    The loader's warnings (a CIFAR checksum that differs, ...) go to ``warn`` once."""
    key = data_key(cfg, input_size)
    if key in _DATA:
        _DATA.move_to_end(key)
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _DATA[key] = load_dataset(cfg.dataset, cfg.data_dir, input_size=input_size, subset=cfg.subset,
                                      val_split=cfg.val_split, download=cfg.download, seed=cfg.seed,
                                      test_subset=cfg.test_subset)
        d = _DATA[key]
        if len(d.train_y) < 2 or len(d.test_y) < 1:
            del _DATA[key]
            raise UsageError(f"{cfg.dataset} in {cfg.data_dir} gives {len(d.train_y)} training and {len(d.test_y)} test "
                             "image(s): training needs at least 2 and testing at least 1; add images or change "
                             "the split (val_split)")
        for w in caught:
            if issubclass(w.category, UserWarning):
                if warn is not None:
                    warn(str(w.message))
                else:
                    warnings.warn(str(w.message), w.category, stacklevel=2)
        while len(_DATA) > _DATA_KEPT:
            _DATA.popitem(last=False)
    return _DATA[key]


def fit_to_data(spec: NetSpec, data) -> NetSpec:
    """Use the data set's class and channel counts where the spec has its family defaults
    (resnet20 on cifar100 gets 100 classes); explicit values are kept and checked later."""
    changes = {}
    if spec.num_classes == FAMILY_DEFAULTS[spec.stem]["num_classes"] and data.num_classes != spec.num_classes:
        changes["num_classes"] = data.num_classes
    if spec.in_channels == 3 and data.in_channels != 3:
        changes["in_channels"] = data.in_channels
    return spec.replace(**changes) if changes else spec


def checkpoint_for(cells: list[Cell], folder, warn: Warn | None = None, say: Warn | None = None) -> "Checkpoint | None":
    """The per-epoch checkpoint of ``cells`` trained together (one cell: a lone run) in
    ``folder``, named and identified by the cells' record keys (None: no checkpoints);
    ``warn`` hears of a damaged one set aside, ``say`` of a resume."""
    if folder is None:
        return None
    keys = [c.key for c in cells]
    name = keys[0] if len(keys) == 1 else "pack-" + config_key({"keys": keys})
    return Checkpoint(Path(folder) / f"{name}.pt", {"spec": cells[0].spec.name, "keys": keys}, warn=warn, say=say)


def run_cell(cell: Cell, *, threads: int | None = None, progress: Progress | None = None,
             warn: Warn | None = None, checkpoints=None, on_epoch=None) -> tuple[dict, dict]:
    """Train one cell; returns (result as a dict, environment). Top-level, so process
    pools and Ray can ship it; ``threads`` pins torch's threads for the run only;
    ``checkpoints``: a folder for its per-epoch checkpoint (resumed from if there);
    ``on_epoch(EpochStats)``: after each finished epoch but the last (False stops the run)."""
    with num_threads(threads):
        data = load_data(cell.config, cell.spec.input_size, warn=warn or (lambda _: None))
        result = train(cell.spec, cell.config, data, progress=progress, on_epoch=on_epoch,
                       resume=checkpoint_for([cell], checkpoints, warn))
        env = collect_env(resolve_device(cell.config.device))
    return result.to_dict(), env


def run_packed(cells: list[Cell], *, progress: Progress | None = None, warn: Warn | None = None,
               checkpoints=None):
    """Train ``cells`` (one spec, seeds differing) together as one packed network; yields
    (cell, (result dict, env)) like ``run_cell``. A pack that cannot be packed runs one
    cell at a time, with one line saying why; one that runs out of memory is halved."""
    say = warn or (lambda _: None)
    if len(cells) == 1:
        yield cells[0], run_cell(cells[0], progress=progress, warn=warn, checkpoints=checkpoints)
        return
    datas = [load_data(c.config, c.spec.input_size, warn=warn or (lambda _: None)) for c in cells]
    try:
        results = train_packed(cells[0].spec, [c.config for c in cells], datas, progress=progress,
                               resume=checkpoint_for(cells, checkpoints, warn))
    except UsageError as e:
        say(f"{cells[0].spec.name}: {len(cells)} seeds run one at a time: {e}")
        for c in cells:
            yield c, run_cell(c, progress=progress, warn=warn, checkpoints=checkpoints)
        return
    except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
        if not is_oom(e):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(cells) // 2
        say(f"{cells[0].spec.name}: out of memory packing {len(cells)} members; trying {half} and {len(cells) - half}")
        yield from run_packed(cells[:half], progress=progress, warn=warn, checkpoints=checkpoints)
        yield from run_packed(cells[half:], progress=progress, warn=warn, checkpoints=checkpoints)
        return
    env = collect_env(resolve_device(cells[0].config.device))
    for c, r in zip(cells, results):
        yield c, (r.to_dict(), env)
