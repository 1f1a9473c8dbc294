"""One training job as a library call: data, (optional) DDP, the run, and its record.

``train_job`` is what `resbench train` calls, under torchrun or not. Every rank
trains; only rank 0 keeps the record and gets a report back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from resbench.errors import Interrupted
from resbench.hooks import Hooks
from resbench.measure.env import collect_env
from resbench.outputs import prepare_output
from resbench.runtime import resolve_device
from resbench.spec import NetSpec
from resbench.store import Store
from resbench.train.budget import resolve_dtype
from resbench.train.cells import Cell, checkpoint_for, fit_to_data, load_data
from resbench.train.config import TrainConfig
from resbench.train.distributed import dist_context
from resbench.train.engine import Checkpoint, train
from resbench.train.paper import PaperFigure, paper_figure
from resbench.results import TrainResult
from resbench.train.runs import CellRuns, now
from resbench.validate import writable_folder


@dataclass(frozen=True)
class TrainJob:
    spec: NetSpec  # as trained (fitted to the data's classes and channels)
    result: TrainResult
    env: dict
    record: Path | None  # the stored record, when saved
    paper: PaperFigure | None = None  # the paper's figure for this net (CIFAR-10 Table 6 nets only)

    def to_dict(self) -> dict:
        """The result, the environment and, for a Table 6 net on CIFAR-10, the paper's figure."""
        d = {**self.result.to_dict(), "env": self.env}
        if self.paper is not None:
            d.update(self.paper.to_dict(self.result.final_test_error))
        return d


def train_job(spec: NetSpec, config: TrainConfig, *, save: bool = True, results_dir=None,
              checkpoint: str | None = None, keep_checkpoints: bool = False, hooks: Hooks = Hooks(),
              on_epoch=None) -> TrainJob | None:
    """Train ``spec`` with ``config`` (the paper's recipe scaled to its epochs) and store
    the record. Returns None on ranks other than 0 of a distributed run.

    A saved run also writes a checkpoint after every epoch beside the records; the same
    call after an interruption resumes from it, and it is removed when the run ends
    (kept with ``keep_checkpoints``). ``checkpoint``: write the final weights there.
    ``on_epoch(EpochStats)``: called on rank 0 after each finished epoch but the last
    (e.g. to log it); returning False stops the run there.

    A saved lone run whose configuration is already in the store is drawn from it, not
    trained again (with dtype "auto", a stored fp32 or bf16 run of it counts, fp32 first,
    so a repeated command neither measures nor trains)."""
    started = now()
    if checkpoint:
        prepare_output(checkpoint, (".pt", ".pth"), "save_checkpoint")
    store = Store(results_dir, warn=hooks.warning)
    if save:  # every output place is checked before the work, not after it
        writable_folder(store.records_dir, "the results folder")
        writable_folder(store.checkpoints_dir, "the checkpoint folder")
    with dist_context(config.device) as dist:
        data = load_data(config, spec.input_size, warn=hooks.warning)
        spec = fit_to_data(spec, data)
        runs = CellRuns(store)
        drawn = _drawn(runs, spec, config, hooks) if save and dist is None and not checkpoint else None
        if drawn is not None:
            return drawn
        config, why = resolve_dtype(spec, config, data, hooks.warning)
        if why:
            hooks.say(why)
        is_main = dist is None or dist.rank == 0
        world = dist.world if dist else 1
        cell = Cell(spec, config.seed, config)
        resume = checkpoint_for([cell], store.checkpoints_dir, hooks.warning, hooks.say) if save else None
        if resume is not None and world > 1:
            resume = Checkpoint(resume.path.with_name(f"{cell.key}-world{world}.pt"), {**resume.identity, "world": world},
                                warn=hooks.warning, say=hooks.say)
        lock = None
        if save and world == 1:
            lock = runs.try_claim(cell.key)
            if lock is None:
                hooks.say(f"another run is training this configuration into {store.records_dir}; waiting for its record")
                lock = runs.lock(cell.key)
                lock.acquire()
        try:  # the claim is released however this ends (Ctrl-C, an error, a record written)
            overlapping = _overlapping(runs, cell.key, started) if lock is not None and not checkpoint else None
            if overlapping is not None:
                return _stored_job(spec, config, overlapping, store.records_dir)
            result = _train(spec, config, data, hooks, dist, is_main, checkpoint, resume, keep_checkpoints, on_epoch)
            if not is_main:
                return None
            env = collect_env(dist.device if dist else resolve_device(config.device))
            path = runs.record(cell, result, env, tags={"world_size": result.world_size}) if save else None
        finally:
            if lock is not None:
                lock.release()
    return TrainJob(spec, result, env, path, paper_figure(spec, config, result.data_official))


def _drawn(runs: CellRuns, spec: NetSpec, config: TrainConfig, hooks: Hooks) -> TrainJob | None:
    """The stored lone run of this configuration as a job, said so in one line; else None."""
    ran, stored = _stored(runs, spec, config)
    if stored is None:
        return None
    hooks.say(f"drawn from the store, not trained again: record {stored.id} ({runs.store.records_dir}) is this "
              f"configuration, in {ran.dtype} (another seed trains another run)")
    return _stored_job(spec, ran, stored, runs.store.records_dir)


def _stored_job(spec: NetSpec, config: TrainConfig, rec, records_dir: Path) -> TrainJob:
    """A stored run as the job that would have trained it."""
    result = rec.typed_result()
    return TrainJob(spec, result, rec.env, records_dir / "train" / f"{rec.id}.json",
                    paper_figure(spec, config, result.data_official))


def _lone(rec) -> bool:
    """Whether ``rec`` is a one-process run (a DDP run's record is not drawn for a lone one)."""
    return rec.config.get("world_size", 1) == 1


def _stored(runs: CellRuns, spec: NetSpec, config: TrainConfig):
    """(the configuration that ran, its stored lone run) or (config, None). dtype "auto" is
    made concrete by a measurement, so a stored run of either dtype it can pick counts."""
    for dtype in ("fp32", "bf16") if config.dtype == "auto" else (config.dtype,):
        ran = replace(config, dtype=dtype)
        rec = runs.stored(Cell(spec, ran.seed, ran).key, where=_lone)
        if rec is not None:
            return ran, rec
    return config, None


def _overlapping(runs: CellRuns, key: str, started: str):
    """The record of a lone run of the same configuration that finished after this one
    started (it held the claim, or finished before this one reached it): taken, not
    trained again."""
    return runs.stored(key, since=started, where=_lone)


def _train(spec, config, data, hooks, dist, is_main, checkpoint, resume, keep_checkpoints, on_epoch) -> TrainResult:
    try:
        return train(spec, config, data, progress=hooks.progress if is_main else None, dist=dist,
                     checkpoint=checkpoint, resume=resume, keep_checkpoint=keep_checkpoints,
                     on_epoch=on_epoch if is_main else None)
    except KeyboardInterrupt:
        if resume is not None and resume.path.exists():
            raise Interrupted(f"interrupted: the last finished epoch is kept in {resume.path}; run the same "
                              "command again to resume from it") from None
        raise Interrupted("interrupted before the first epoch finished, so nothing was kept; "
                          "run the same command again to start it over") from None
