"""A search is an Optuna study: sampler, storage, heartbeats and retries are Optuna's.

What resbench adds is the objective: sample a spec from the space, score its costs
analytically (MACs, params) or by measurement (latency, memory), reject what breaks a
constraint without training it, reuse any stored result for the same configuration,
and otherwise train it epoch by epoch under the pruner. Every training run becomes a
``train`` record in the results store, like a compare cell (a full run even has the
same key, so compare and search reuse each other's work).

Many workers, one study: start ``resbench search --study NAME --storage URL`` on as many
machines as you like; Optuna's RDB storage coordinates them, and heartbeats turn a
killed worker's trial into a failed one that the next worker retries.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import statistics
import warnings
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Callable

import torch
from filelock import FileLock

from resbench.cost import analytic_complexity
from resbench.errors import ConfigError, ResbenchError, UsageError
from resbench.limits import check_fits
from resbench.search.pareto import pareto_front
from resbench.search.pruner import Halving
from resbench.search.space import Constraints, SearchSpace
from resbench.spec import NetSpec, parse_spec
from resbench.store import config_key
from resbench.train.cells import Cell
from resbench.train.config import TrainConfig
from resbench.train.runs import CellRuns

OBJECTIVES = ("error", "macs", "params", "latency")
SAMPLERS = ("tpe", "nsga2", "random")
REFERENCE_PRESETS = ("resnet20", "resnet32", "resnet56", "resnet110")


class TrialStatus(str, Enum):
    """What became of a trial (its ``status`` user attribute; a str, so Optuna stores it as text)."""

    TRAINED = "trained"  # trained here, every seed
    REUSED = "reused"  # every seed found as a stored train record
    DUPLICATE = "duplicate"  # the sampler re-proposed a finished candidate: its values copied
    DUPLICATE_PRUNED = "duplicate-pruned"
    DUPLICATE_DIVERGED = "duplicate-diverged"
    PRUNED = "pruned"  # stopped early by the pruner
    DIVERGED = "diverged"  # the loss became NaN/inf
    INFEASIBLE = "infeasible"  # breaks a constraint: never trained, not counted


# Every user attribute a trial (or the study) carries, and what it holds. Declared here so
# readers (summarize, the dashboard, trackers) and writers agree; a test holds every
# set_user_attr key in resbench.search to this table.
TRIAL_ATTRS = {
    "spec": "the candidate's spec name", "macs": "analytic MACs per image", "params": "parameters",
    "latency_ms": "measured inference latency of one batch", "memory_bytes": "measured peak memory of one batch",
    "status": "a TrialStatus", "why": "the broken constraint (infeasible)", "reference": "the paper's preset it is",
    "records": "train record ids, one per seed", "epochs_trained": "epochs trained here (not reused)",
    "error": "mean test (or val) error over seeds, or at the last epoch run", "errors": "per seed",
    "error_std": "over seeds", "stopped_after": "epochs before pruning or divergence",
    "last_epoch": "the last epoch finished (progress)", "duplicate_of": "the trial whose values were copied",
    "rung_{epoch}": "[costs..., error] at a halving rung (resbench.search.pruner)",
}
STUDY_ATTRS = {"resbench": "the search's fingerprint (options that must match to continue it)",
               "interrupted": "trials a Ctrl-C stopped", "requeued": "of those, the ones asked again"}


@dataclass(frozen=True)
class SearchConfig:
    space: SearchSpace
    constraints: Constraints
    train: TrainConfig  # epochs: the full budget of a candidate; seed: the first training seed
    objectives: tuple[str, ...] = ("error", "macs")
    seeds: int = 1  # training seeds per candidate (extra seeds only for candidates that survive pruning)
    halving: Halving | None = None  # None: no pruning
    sampler: str = "tpe"
    latency_batch: int = 128

    def __post_init__(self) -> None:
        if not self.objectives or self.objectives[0] != "error" or len(set(self.objectives)) != len(self.objectives):
            raise ConfigError("objectives", f"starts with error and lists each cost once, e.g. error,macs; got {','.join(self.objectives)}")
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad:
            raise ConfigError("objectives", f"has unknown objective(s) {', '.join(bad)}: expected error plus some of macs, params, latency")
        if self.sampler not in SAMPLERS:
            raise ConfigError("sampler", f"{self.sampler!r} is unknown: expected {', '.join(SAMPLERS)}")
        if self.seeds < 1:
            raise ConfigError("seeds", f"must be at least 1, got {self.seeds}")
        if self.halving and not 1 <= self.halving.min_epochs < self.train.epochs:
            raise ConfigError("min_epochs", f"{self.halving.min_epochs} leaves nothing to prune in {self.train.epochs} epoch(s): "
                              "give 1 <= `min_epochs` < `epochs`, or `pruning=False`")
        if self.halving and self.halving.eta < 2:
            raise ConfigError("reduction_factor", f"must be at least 2, got {self.halving.eta}")

    @property
    def needs_measurement(self) -> bool:
        return "latency" in self.objectives or self.constraints.measured

    def fingerprint(self) -> dict:
        """What defines the study: re-running with the same fingerprint continues it."""
        return {"space": self.space.to_dict(), "constraints": asdict(self.constraints), "objectives": list(self.objectives),
                "train": self.train.key_fields(), "seeds": self.seeds, "halving": asdict(self.halving) if self.halving else None,
                "latency_batch": self.latency_batch if self.needs_measurement else None}

    def default_study_name(self) -> str:
        return f"search-{config_key(self.fingerprint())[:8]}"


# --- storage and study -----------------------------------------------------------


@contextlib.contextmanager
def quiet_optuna():
    """Optuna's per-trial INFO lines and its ExperimentalWarnings (heartbeats, constant
    liar) are noise next to our own progress; silence them for the block only, leaving
    Optuna's verbosity and the warning filters as the caller had them."""
    import optuna

    saved = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logger = optuna.logging.get_logger("optuna")
    # On the logger for its own records, and on its handlers for those its child loggers
    # (optuna.study._optimize, ...) pass up: a logger's filters do not see those.
    filtered = [logger, *logger.handlers]
    for f in filtered:
        f.addFilter(_not_interrupts)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        for f in filtered:
            f.removeFilter(_not_interrupts)
        optuna.logging.set_verbosity(saved)


def _not_interrupts(record) -> bool:
    """Ctrl-C is the user's, not a failed trial, and so is an error resbench words itself: Optuna's
    warning with its traceback is dropped (resbench says in one line what was kept or wrong)."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, (KeyboardInterrupt, ResbenchError)):
        return False
    return "KeyboardInterrupt" not in record.getMessage() and "failed with value None" not in record.getMessage()


def default_storage(results_dir: str | Path) -> str:
    path = Path(results_dir) / "search.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def open_study(cfg: SearchConfig, storage_url: str, name: str | None, sampler_seed: int | None,
               heartbeat: tuple[int, int] = (60, 180)):
    """Create or load the study; refuse to continue one that was made for another search.
    ``heartbeat``: (interval, grace) seconds; a running trial silent for longer than the
    grace period belongs to a dead worker: it is marked failed and re-queued once."""
    try:
        import optuna
    except ImportError:
        raise UsageError("optuna is not installed: pip install optuna (resbench search runs on it)") from None
    with _creation_lock(storage_url):
        storage, study, name, seed = _create(optuna, cfg, storage_url, name, sampler_seed, heartbeat)
    seed = cfg.train.seed if seed is None else seed
    sampler = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=8),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, population_size=20),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }[cfg.sampler]()
    pruner = cfg.halving.optuna_pruner() if cfg.halving and not len(cfg.objectives) > 1 else optuna.pruners.NopPruner()
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)


@contextlib.contextmanager
def _creation_lock(storage_url: str):
    """Workers that start together on a new SQLite file would each create its tables
    (optuna's alembic_version row: UNIQUE constraint failed); one at a time they find them."""
    path = storage_url[len("sqlite:///"):] if storage_url.startswith("sqlite:///") else ""
    if not path or path.startswith(":memory:") or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        yield  # no folder to lock in: opening the storage says what is wrong
        return
    with FileLock(f"{path}.lock"):
        yield


def _create(optuna, cfg: SearchConfig, storage_url: str, name: str | None, sampler_seed: int | None, heartbeat):
    try:
        storage = optuna.storages.RDBStorage(storage_url, heartbeat_interval=heartbeat[0], grace_period=heartbeat[1],
                                             **_retry_stale_trials())
    except ModuleNotFoundError as e:
        raise UsageError(f"storage {storage_url} needs the database driver {e.name}: pip install {e.name}") from None
    except Exception as e:  # sqlalchemy's errors: bad URL, unreachable server, unwritable file
        raise UsageError(f"cannot open the study storage {storage_url}: {_first_line(e)}") from None
    name = name or cfg.default_study_name()
    existing = set(optuna.get_all_study_names(storage))
    seed = sampler_seed
    study = optuna.create_study(storage=storage, study_name=name, directions=["minimize"] * len(cfg.objectives),
                                load_if_exists=True, pruner=optuna.pruners.NopPruner())
    if name in existing:
        stored = study.user_attrs.get("resbench")
        if stored != _jsonable(cfg.fingerprint()):
            diff = sorted(k for k in cfg.fingerprint() if (stored or {}).get(k) != _jsonable(cfg.fingerprint())[k])
            raise UsageError(f"study {name!r} in {storage_url} was made for a different search ({', '.join(diff) or 'not by resbench'} "
                             "differ); use the same options to continue it, or another `study` name")
        if seed is None:
            seed = cfg.train.seed + len(study.trials)  # a joining worker must not replay the first one's proposals
    else:
        study.set_user_attr("resbench", _jsonable(cfg.fingerprint()))
    return storage, study, name, seed


def _retry_stale_trials() -> dict:
    """Heartbeats mark a killed worker's trial failed; this re-queues it once (Optuna 4.9
    and later name the hook differently, and warn on this name)."""
    import optuna

    if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters:
        return {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)}
    return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return text[0] if text else type(e).__name__


# --- the objective -----------------------------------------------------------------

TrainFn = Callable[[NetSpec, TrainConfig, Callable], dict]  # (spec, cfg, on_epoch) -> TrainResult.to_dict()
MeasureFn = Callable[[NetSpec], dict]  # spec -> {"latency_ms": float, "memory_bytes": int | None}
Say = Callable[[str], None]


@dataclass
class Runner:
    """Runs trials of one study; ``train_fn``/``measure_fn``/``store`` are injected so the
    search logic is testable without the CLI."""

    cfg: SearchConfig
    study: object
    store: object
    train_fn: TrainFn
    measure_fn: MeasureFn | None = None
    env_fn: Callable[[], dict] = dict
    # (spec, [TrainConfig]) -> [result dict]: trains a candidate's extra seeds together in one
    # pass (resbench.train.engine); None trains them one at a time.
    pack_fn: Callable | None = None
    progress: Say = lambda msg: None
    max_rejections: int = 500
    rejected_in_a_row: int = field(default=0, init=False)
    position: int = field(default=0, init=False)  # counted trials when the current one started (for progress)
    current: int | None = field(default=None, init=False)  # the trial this worker is evaluating

    @property
    def runs(self) -> CellRuns:
        return CellRuns(self.store)

    def enqueue_references(self, presets=REFERENCE_PRESETS) -> list[str]:
        """Enqueue the paper's presets that lie in the space and fit the constraints, as
        reference trials (never pruned), once per study. Returns their names."""
        queued = []
        seen = {t.user_attrs.get("reference") for t in self.study.get_trials(deepcopy=False)}
        for name in presets:
            spec = parse_spec(name, num_classes=self.cfg.space.num_classes, in_channels=self.cfg.space.in_channels,
                              input_size=self.cfg.space.input_size)
            params = self.cfg.space.params_of(spec)
            c = analytic_complexity(spec)
            if params is None or self.cfg.constraints.analytic_violation(c.macs, c.params):
                continue
            if name not in seen:
                self.study.enqueue_trial(params, user_attrs={"reference": name})
            queued.append(name)
        return queued

    def counted(self) -> int:
        """Trials that count towards --trials: every candidate evaluated or being evaluated
        (infeasible proposals are free and do not count)."""
        import optuna

        return sum(1 for t in self.study.get_trials(deepcopy=False)
                   if t.user_attrs.get("status") not in (None, TrialStatus.INFEASIBLE) or t.state == optuna.trial.TrialState.RUNNING)

    def run(self, n_trials: int, timeout: float | None = None) -> None:
        """Run trials until the study holds ``n_trials`` counted ones (all workers together)."""

        def enough(study, trial):
            if self.counted() >= n_trials:
                study.stop()
            if self.rejected_in_a_row >= self.max_rejections:
                study.stop()

        if self.counted() >= n_trials:
            return
        self.requeue_interrupted()
        # catch=(): a failing trial (bad input, a crash) stops this worker with the error;
        # Optuna has already marked that trial failed, the others are kept.
        try:
            self.study.optimize(self.objective, callbacks=[enough], timeout=timeout, catch=())
        except KeyboardInterrupt:
            if self.current is not None:  # Optuna marked it failed; the next run asks it again
                self.study.set_user_attr("interrupted", [*self.study.user_attrs.get("interrupted", []), self.current])
            raise
        if self.rejected_in_a_row >= self.max_rejections:
            raise UsageError(f"the sampler proposed {self.max_rejections} candidates in a row that break the constraints; "
                             "loosen the constraints or narrow the space (`max_blocks_per_stage`, `widths`)")

    def requeue_interrupted(self) -> list[int]:
        """Ask again, once, for every trial a Ctrl-C stopped (a killed worker's trial is
        re-queued by Optuna's heartbeat): its training resumes from its checkpoint."""
        attrs = self.study.user_attrs
        todo = [n for n in attrs.get("interrupted", []) if n not in set(attrs.get("requeued", []))]
        if not todo:
            return []
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        for n in todo:
            t = trials.get(n)
            if t is not None:
                self.study.enqueue_trial(t.params, user_attrs={k: v for k, v in t.user_attrs.items() if k == "reference"})
        self.study.set_user_attr("requeued", [*attrs.get("requeued", []), *todo])
        return todo

    def objective(self, trial):
        import optuna

        self.current = trial.number
        spec = self.cfg.space.suggest(trial)
        trial.set_user_attr("spec", spec.name)
        c = analytic_complexity(spec)
        costs = {"macs": c.macs, "params": c.params}
        trial.set_user_attr("macs", c.macs)
        trial.set_user_attr("params", c.params)
        why = self.cfg.constraints.analytic_violation(c.macs, c.params) or self._does_not_fit(spec)
        if why is None and self.cfg.needs_measurement:
            m = self.measure_fn(spec)
            costs["latency"] = m["latency_ms"]
            trial.set_user_attr("latency_ms", m["latency_ms"])
            trial.set_user_attr("memory_bytes", m.get("memory_bytes"))
            why = self.cfg.constraints.measured_violation(m["latency_ms"], m.get("memory_bytes"))
        if why:
            self.rejected_in_a_row += 1
            trial.set_user_attr("status", TrialStatus.INFEASIBLE)
            trial.set_user_attr("why", why)
            raise optuna.TrialPruned(why)
        self.rejected_in_a_row = 0
        self.position = self.counted()  # once per trial: progress callbacks run every step
        cost_point = [float(costs[o]) for o in self.cfg.objectives[1:]]

        earlier = self._earlier_result(trial, spec.name)
        if earlier is not None:
            values, attrs = earlier
            for k, v in attrs.items():
                trial.set_user_attr(k, v)
            if values is None:
                raise optuna.TrialPruned(f"same spec as trial {attrs['duplicate_of']}, which was pruned")
            return values

        errors, record_ids, epochs_trained = [], [], 0
        seed_cfgs = [replace(self.cfg.train, seed=self.cfg.train.seed + i) for i in range(self.cfg.seeds)]
        extra = iter(())  # the extra seeds, trained together once the first survives pruning
        for i, seed_cfg in enumerate(seed_cfgs):
            if i == 1 and self.pack_fn is not None and len(seed_cfgs) > 2:
                extra = iter(self._train_packed(trial, spec, seed_cfgs[1:]))
            outcome = next(extra, None) if i >= 1 else None
            result, rid, trained = outcome or self._train_one(trial, spec, seed_cfg, cost_point, prune=i == 0)
            epochs_trained += trained
            record_ids.append(rid)
            trial.set_user_attr("records", record_ids)
            trial.set_user_attr("epochs_trained", epochs_trained)
            if result["diverged"] or result.get("stopped_early"):
                status = TrialStatus.DIVERGED if result["diverged"] else TrialStatus.PRUNED
                trial.set_user_attr("status", status)
                trial.set_user_attr("stopped_after", result["epochs"])
                trial.set_user_attr("error", result["history"][-1]["test_error"] if result["history"] else None)
                raise optuna.TrialPruned(f"{status.value} after {result['epochs']} epoch(s)")
            errors.append(result["final_test_error"])
        trial.set_user_attr("status", TrialStatus.TRAINED if epochs_trained else TrialStatus.REUSED)
        trial.set_user_attr("errors", errors)
        error = statistics.fmean(errors)
        trial.set_user_attr("error", error)
        trial.set_user_attr("error_std", statistics.stdev(errors) if len(errors) > 1 else None)
        return tuple([error, *cost_point]) if len(self.cfg.objectives) > 1 else error

    def _does_not_fit(self, spec: NetSpec) -> str | None:
        """Why a candidate cannot train here (its estimated memory at the batch size), or None:
        such a candidate is outside the feasible space, not the end of the search."""
        try:
            check_fits(spec, batch=self.cfg.train.batch_size, train=True, device=torch.device(self.cfg.train.device))
        except UsageError as e:
            return f"does not fit here: {str(e).split(': lower ')[0]}"  # the space, not the user, chose it
        return None

    def _earlier_result(self, trial, spec_name: str):
        """Samplers re-propose specs they have tried: answer from the study, not by training."""
        import optuna

        for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)):
            if t.number == trial.number or t.user_attrs.get("spec") != spec_name:
                continue
            status = t.user_attrs.get("status")
            attrs = {k: t.user_attrs[k] for k in ("error", "errors", "error_std", "records", "stopped_after") if k in t.user_attrs}
            attrs["duplicate_of"] = t.number
            if t.state == optuna.trial.TrialState.COMPLETE:
                attrs["status"] = TrialStatus.DUPLICATE
                return (t.values if len(t.values) > 1 else t.values[0]), attrs
            if status in (TrialStatus.PRUNED, TrialStatus.DIVERGED):
                attrs["status"] = TrialStatus(f"duplicate-{TrialStatus(status).value}")
                return None, attrs
        return None

    def _train_packed(self, trial, spec: NetSpec, cfgs: list[TrainConfig]) -> list[tuple[dict, str, int]]:
        """The extra seeds of a surviving candidate (never pruned): stored ones are read back,
        the missing ones trained together by ``pack_fn``; (result, record id, epochs) each."""
        cells = [Cell(spec, c.seed, c) for c in cfgs]
        stored = {c.key: self.runs.stored(c.key) for c in cells}
        missing = [c for c in cells if stored[c.key] is None]
        trained = dict(zip((c.key for c in missing), self.pack_fn(spec, [c.config for c in missing]) if missing else []))
        out = []
        for c in cells:
            if stored[c.key] is not None:
                out.append((stored[c.key].result, stored[c.key].id, 0))
                continue
            result = trained[c.key]
            path = self.runs.record(c, result, self.env_fn(), tags=self._tags(trial))
            out.append((result, Path(path).stem, result["epochs"]))
        return out

    def _train_one(self, trial, spec: NetSpec, cfg: TrainConfig, cost_point: list[float], prune: bool):
        """Train (or find stored) one seed; returns (result dict, record id, epochs trained here).
        The cell is claimed first: two workers on one study never train (or store) it twice;
        the second waits and reads the first's record."""
        cell = Cell(spec, cfg.seed, cfg)  # the same cell (and record key) as compare's
        with self.runs.claimed(cell.key):
            return self._train_claimed(trial, cell, cost_point, prune)

    def _train_claimed(self, trial, cell: Cell, cost_point: list[float], prune: bool):
        spec, cfg = cell.spec, cell.config
        key_config, key = cell.key_config, cell.key
        stored = self.runs.stored(key)
        if stored is not None:
            result = stored.result
            self._report_history(trial, result["history"], cost_point)
            return result, stored.id, 0
        reference = trial.user_attrs.get("reference")
        multi = len(self.cfg.objectives) > 1

        def on_epoch(stats) -> bool:
            trial.set_user_attr("last_epoch", stats.epoch)
            self.progress(f"trial {trial.number}: {spec.name} epoch {stats.epoch}/{cfg.epochs} "
                          f"error {100 * stats.test_error:.1f}%")
            if not prune or self.cfg.halving is None:
                return True
            # A reference trial reports its rung values (the others compete with it) but is never stopped.
            if multi:
                stop = self.cfg.halving.decide(self.study, trial, stats.epoch, cost_point, stats.test_error)
            else:
                trial.report(stats.test_error, stats.epoch)
                stop = trial.should_prune()
            return reference is not None or not stop

        result = self.train_fn(spec, cfg, on_epoch)
        if result.get("stopped_early"):
            key = config_key({**key_config, "pruned_after": result["epochs"]})  # never mistaken for a full run
        path = self.runs.record(cell, result, self.env_fn(), tags=self._tags(trial), key=key)
        return result, Path(path).stem, result["epochs"]

    def _tags(self, trial) -> dict:
        return {"study": self.study.study_name, "trial": trial.number}

    def _report_history(self, trial, history: list[dict], cost_point: list[float]) -> None:
        """A reused result still informs the pruner: it sets rung values like a run would."""
        if self.cfg.halving is None:
            return
        for h in history:
            if len(self.cfg.objectives) > 1:
                if h["epoch"] in self.cfg.halving.rung_epochs():
                    trial.set_user_attr(f"rung_{h['epoch']}", [*cost_point, h["test_error"]])
            else:
                trial.report(h["test_error"], h["epoch"])


# --- the summary -------------------------------------------------------------------


@dataclass(frozen=True)
class TrialRow:
    number: int
    spec: str
    state: str  # complete | pruned | failed | running
    status: str  # trained | reused | duplicate | pruned | diverged | infeasible | ...
    params: int | None
    macs: int | None
    latency_ms: float | None
    test_error: float | None  # mean over seeds (complete) or at the last epoch run (pruned)
    test_error_std: float | None
    seeds: int
    epochs_trained: int
    reference: str | None
    on_front: bool = False
    why: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SearchSummary:
    study: str
    storage: str
    objectives: tuple[str, ...]
    epochs: int
    seeds: int
    trials: tuple[TrialRow, ...]
    epochs_trained: int
    epochs_if_full: int  # what training every evaluated candidate fully would have cost

    @property
    def front(self) -> list[TrialRow]:
        return sorted((t for t in self.trials if t.on_front), key=lambda t: (t.macs or 0, t.test_error or 0))

    @property
    def epoch_fraction(self) -> float | None:
        return self.epochs_trained / self.epochs_if_full if self.epochs_if_full else None

    def counts(self) -> dict:
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status] = out.get(t.status, 0) + 1
        return out


def summarize(study, cfg: SearchConfig, storage_url: str) -> SearchSummary:
    import optuna

    rows, points = [], []
    trained = full = 0
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        state = t.state.name.lower()
        if "spec" not in a:
            continue  # a trial that failed before sampling
        status = a.get("status", "running" if t.state == optuna.trial.TrialState.RUNNING else state)
        if a.get("epochs_trained"):
            trained += a["epochs_trained"]
            full += cfg.train.epochs * cfg.seeds
        error = a.get("error")
        rows.append(TrialRow(number=t.number, spec=a["spec"], state=state, status=status, params=a.get("params"),
                             macs=a.get("macs"), latency_ms=a.get("latency_ms"),
                             test_error=error if error is None or math.isfinite(error) else None,
                             test_error_std=a.get("error_std"), seeds=len(a.get("errors", [])),
                             epochs_trained=a.get("epochs_trained", 0), reference=a.get("reference"), why=a.get("why")))
        # A duplicate repeats an earlier trial's values: one point per spec on the front.
        complete = t.state == optuna.trial.TrialState.COMPLETE and status != "duplicate"
        points.append(list(t.values) if complete else None)
    complete = [i for i, p in enumerate(points) if p is not None]
    front = {complete[i] for i in pareto_front([points[i] for i in complete])}
    rows = [replace(r, on_front=i in front) for i, r in enumerate(rows)]
    return SearchSummary(study=study.study_name, storage=storage_url, objectives=cfg.objectives, epochs=cfg.train.epochs,
                         seeds=cfg.seeds, trials=tuple(rows), epochs_trained=trained, epochs_if_full=full)
