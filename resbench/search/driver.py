"""The search as a library call: ``run_search`` opens (or continues) an Optuna study over
the design space, trains candidates with pruning, and returns a typed report with the
Pareto front. The engine (sampling, pruning, storage) is in ``study``, ``pruner`` and
``space``; this module wires them to data, measurement and the results store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resbench import validate as v
from resbench.cost import analytic_complexity
from resbench.errors import ConfigError, Interrupted, UsageError
from resbench.hooks import Hooks
from resbench.measure.complexity import count_complexity
from resbench.measure.env import collect_env
from resbench.measure.timing import ProfileConfig, profile
from resbench.runtime import resolve_device
from resbench.search.hypervolume import Hypervolume, hypervolume
from resbench.search.pruner import Halving
from resbench.search.space import Constraints, SearchSpace, load_space_file, narrow
from resbench.search.study import (
    REFERENCE_PRESETS,
    Runner,
    SearchConfig,
    SearchSummary,
    default_storage,
    open_study,
    quiet_optuna,
    summarize,
)
from resbench.spec import FAMILY_DEFAULTS, parse_spec
from resbench.store import Store
from resbench.store import results_dir as resolve_results
from resbench.train.cells import Cell, load_data, run_cell, run_packed
from resbench.train.comparison import DEFAULT_PACK
from resbench.train.config import TrainConfig
from resbench.train.engine import why_not_packable
from resbench.validate import parse_list, writable_folder


@dataclass(frozen=True)
class SearchOptions:
    """The space, constraints and search settings, as the CLI options or a TOML --space file name them."""

    space: dict = field(default_factory=dict)  # family, blocks, stages, *_blocks_per_stage, widths, shortcuts, stride_on, max_*
    space_file: str | None = None  # TOML file with the same keys; ``space`` values override it
    objectives: str = "error,macs"
    trials: int = 20
    timeout: float | None = None
    sampler: str = "tpe"
    sampler_seed: int | None = None
    seeds: int = 1
    pruning: bool = True
    min_epochs: int = 1
    reduction_factor: int = 3
    references: bool = True
    latency_batch_size: int | None = None
    pack: int | None = None  # a candidate's extra seeds trained together (None: the device's default, 1 on CPU)
    study: str | None = None
    storage: str | None = None


@dataclass(frozen=True)
class SearchReport:
    summary: SearchSummary
    config: SearchConfig
    space: SearchSpace  # narrowed to what the constraints allow
    constraints: Constraints
    storage: str
    split: str  # what the errors were measured on: val or test
    confirmed: dict  # front spec -> fvcore agrees with the analytic count
    presets: dict  # the paper's CIFAR nets: costs, and their error where trained
    notes: tuple = ()
    hypervolume: Hypervolume | None = None

    def to_dict(self) -> dict:
        s, sc = self.summary, self.config
        return {
            "study": s.study, "storage": self.storage, "objectives": list(sc.objectives),
            "space": self.space.to_dict(), "constraints": vars(self.constraints), "counts": s.counts(),
            "epochs": sc.train.epochs, "epochs_trained": s.epochs_trained, "epochs_if_full": s.epochs_if_full,
            "epoch_fraction": s.epoch_fraction, "error_split": self.split,
            "pareto": [{**t.to_dict(), "fvcore_confirmed": self.confirmed.get(t.spec)} for t in s.front],
            "presets": self.presets,
            "hypervolume": self.hypervolume.to_dict() if self.hypervolume is not None else None,
            "trials": [t.to_dict() for t in s.trials],
        }


def _list(text, option: str, cast=str, example: str | None = None) -> tuple | None:
    if isinstance(text, list):
        text = [str(t) for t in text]  # TOML values
    values = parse_list(text, option, cast, example or ("16,32" if cast is int else "A,B"))
    return tuple(values) if values is not None else None


def _space_values(space_file, **options) -> dict:
    """File values first, options over them."""
    values = load_space_file(space_file) if space_file else {}
    values.update({k: v for k, v in options.items() if v is not None})
    return values


def _build(values: dict, data):
    def opt(key, option, cast=str):
        return _list(values.get(key), option, cast)

    max_blocks = values.get("max_blocks_per_stage", 18)
    if not isinstance(max_blocks, list):
        try:
            max_blocks = _list(str(max_blocks).replace(".", ","), "max_blocks_per_stage", int)
        except UsageError:
            raise ConfigError("max_blocks_per_stage", "takes one whole number, or one per stage separated by dots, "
                             f"e.g. 18 or 9.9.6; got {values.get('max_blocks_per_stage')!r}") from None
    max_blocks = tuple(max_blocks)
    space = SearchSpace(
        families=opt("family", "family") or ("cifar",),
        blocks=opt("blocks", "blocks") or ("basic", "bottleneck"),
        stage_counts=opt("stages", "stages", int),
        min_blocks=v.whole(values.get("min_blocks_per_stage", 1), "min_blocks_per_stage", 1, 1000),
        max_blocks=max_blocks,
        widths=opt("widths", "widths", int),
        shortcuts=tuple(s if s == "plain" else s.upper() for s in (opt("shortcuts", "shortcuts") or ("A", "B", "C"))),
        stride_on=opt("stride_on", "stride_on") or ("3x3",),
        num_classes=data.num_classes, in_channels=data.in_channels, input_size=data.image_size,
    )
    latency = values.get("max_latency_ms")
    if latency is not None:
        latency = v.number(latency, "max_latency_ms", 0, 1e7, lo_open=True)
    constraints = Constraints(
        max_macs=v.count(values["max_macs"], "max_macs") if values.get("max_macs") is not None else None,
        max_params=v.count(values["max_params"], "max_params") if values.get("max_params") is not None else None,
        max_latency_ms=float(latency) if latency is not None else None,
        max_memory=v.count(values["max_memory"], "max_memory") if values.get("max_memory") is not None else None,
    )
    return space, constraints


def _measure_fn(device: str, batch: int, channels_last: bool):
    """Inference latency (median ms of one batch) and peak memory, with the profiler's
    timing (CUDA events / perf_counter) at a short, fixed budget per candidate."""
    pcfg = ProfileConfig(device=device, batch_size=batch, mode="infer", channels_last=channels_last, warmup=3, iters=10,
                         min_time=0.2, compare_layouts=False)

    def measure(spec):
        r = profile(spec, pcfg)
        return {"latency_ms": r.latency.median, "memory_bytes": r.peak_memory_bytes}

    return measure


def _presets(space, summary) -> dict[str, dict]:
    """The paper's CIFAR nets with their costs, and their error where this study trained them."""
    trained = {t.reference: t for t in summary.trials if t.reference and t.state == "complete"}
    out = {}
    for name in REFERENCE_PRESETS:
        spec = parse_spec(name, num_classes=space.num_classes, in_channels=space.in_channels, input_size=space.input_size)
        c = analytic_complexity(spec)
        t = trained.get(name)
        out[name] = {"spec": spec.name, "params": c.params, "macs": c.macs, "latency_ms": t.latency_ms if t else None,
                     "test_error": t.test_error if t else None, "trial": t.number if t else None}
    return out


def _confirm_with_fvcore(front, hooks: Hooks) -> dict[str, bool]:
    """fvcore traces each finalist: its MACs and params must equal the analytic count."""
    confirmed = {}
    for row in front:
        c = count_complexity(row.spec)
        confirmed[row.spec] = (c.macs, c.params) == (row.macs, row.params)
        if not confirmed[row.spec]:
            hooks.warning(f"{row.spec}: fvcore counts {c.macs} MACs / {c.params} params, the analytic counter "
                 f"{row.macs} / {row.params}; please report this")
    return confirmed



def _train_fn(store, hooks: Hooks, position):
    """How a trial trains one seed. A trial keeps a per-epoch checkpoint under its cell's key:
    after an interruption the re-queued trial resumes there, its finished epochs replayed to
    the pruner. ``position()``: "k/N" for progress lines."""
    writable_folder(store.checkpoints_dir, "the checkpoint folder")

    def train_fn(spec, tcfg, on_epoch):
        result, _ = run_cell(Cell(spec, tcfg.seed, tcfg), warn=hooks.warning, checkpoints=store.checkpoints_dir,
                             on_epoch=on_epoch,
                             progress=lambda phase, i, n: hooks.report(f"{position()} {spec.name} {phase}", i, n))
        return result

    return train_fn


def _pack_fn(pack: int | None, device, hooks: Hooks):
    """Trains a candidate's extra seeds together when packing is on here (see --pack); a
    spec that cannot be packed trains them one at a time."""
    if pack is not None:
        v.whole(pack, "pack", 1, 64)
    if (pack if pack is not None else DEFAULT_PACK.get(device.type, 1)) < 2:
        return None

    def fn(spec, cfgs):
        cells = [Cell(spec, c.seed, c) for c in cfgs]
        if why_not_packable(spec, cfgs[0]):  # e.g. compile or warm-up: one at a time, as the search expects
            return [run_cell(c, warn=hooks.warning)[0] for c in cells]
        return [result for _, (result, _env) in run_packed(cells, warn=hooks.warning)]

    return fn


def _cut_by_interrupt(e: BaseException) -> bool:
    """Ctrl-C, or an error raised while Optuna was handling one (a second Ctrl-C inside its
    cleanup leaves it with an unbound local): either way the user stopped the search."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _check_config(config: TrainConfig) -> None:
    if config.dtype == "auto":
        raise ConfigError("dtype", "auto is measured per spec by train and compare; a search trains many specs: give fp32 or bf16")


def _check_options(o: SearchOptions) -> int:
    """Every number of the options checked before anything is read or trained; the trials."""
    trials = v.whole(o.trials, "trials", 1, 1_000_000)
    if o.timeout is not None:
        v.number(o.timeout, "timeout", 0, lo_open=True)
    if o.sampler_seed is not None:
        v.whole(o.sampler_seed, "sampler_seed", 0, v.MAX_SEED)
    v.whole(o.seeds, "seeds", 1, 1000)
    v.whole(o.min_epochs, "min_epochs", 1, 100_000)
    v.whole(o.reduction_factor, "reduction_factor", 2, 1000)
    if o.latency_batch_size is not None:
        v.whole(o.latency_batch_size, "latency_batch_size", 1, 1 << 20)
    return trials


def run_search(options: SearchOptions, config: TrainConfig, *, results_dir=None,
               hooks: Hooks = Hooks()) -> SearchReport:
    """Search the design space for the Pareto front of error against cost. Re-running with
    the same options continues the same study (stored in ``options.storage``, default
    ``search.db`` in the results folder)."""
    o = options
    _check_config(config)
    trials = _check_options(o)
    root = resolve_results(results_dir)
    writable_folder(Store(root).records_dir, "the results folder")  # before any data is read or trained
    writable_folder(Store(root).checkpoints_dir, "the checkpoint folder")
    values = _space_values(o.space_file, **o.space)
    fams = _list(values.get("family"), "family") or ("cifar",)
    # One data set for every candidate: images are resized (imagefolder) or generated (synthetic)
    # at the CIFAR size whenever CIFAR nets are in the space, else at ImageNet's.
    data = load_data(config, FAMILY_DEFAULTS["cifar" if "cifar" in fams else "imagenet"]["input_size"],
                     warn=hooks.warning)
    space, constraints = _build(values, data)
    narrowed = narrow(space, constraints)
    device = resolve_device(config.device)
    if constraints.max_memory is not None and device.type != "cuda":
        raise ConfigError("max_memory", "is measured with torch.cuda.max_memory_allocated, so it needs `device='cuda'`; "
                          "on CPU one candidate's memory cannot be told apart from the process's (use `max_params`)")
    pruning = o.pruning and config.epochs > 1  # one epoch: nothing to stop early
    sc = SearchConfig(space=narrowed.space, constraints=constraints, train=config,
                      objectives=_list(o.objectives, "objectives") or (), seeds=o.seeds,
                      halving=Halving(o.min_epochs, o.reduction_factor, config.epochs) if pruning else None,
                      sampler=o.sampler, latency_batch=o.latency_batch_size or config.batch_size)
    with quiet_optuna():
        storage_url = o.storage or default_storage(root)
        study = open_study(sc, storage_url, o.study, o.sampler_seed)
        # Notes only once every input is valid, the storage included: an error is then the only line.
        for line in narrowed.notes:
            hooks.say(f"note: {line}")
        if o.pruning and not pruning:
            hooks.say("note: `epochs=1` leaves nothing to stop early: pruning is off for this search")
        store = Store(root, warn=hooks.warning)
        env = collect_env(device)
        hooks.say(f"study {study.study_name} in {storage_url}: {narrowed.space.size():,} specs in the space, "
                  f"{trials} trial(s), up to {config.epochs} epoch(s) each on {config.dataset}")
        train_fn = _train_fn(store, hooks, lambda: f"{runner.position}/{trials}")

        runner = Runner(sc, study, store, train_fn, pack_fn=_pack_fn(o.pack, device, hooks),
                        measure_fn=_measure_fn(str(device), sc.latency_batch, config.channels_last) if sc.needs_measurement else None,
                        env_fn=lambda: env, progress=lambda msg: hooks.report(msg, runner.position, trials))
        if o.references:
            runner.enqueue_references()
        try:
            runner.run(trials, timeout=o.timeout)
        except (KeyboardInterrupt, Exception) as e:
            if not _cut_by_interrupt(e):
                raise
            raise Interrupted(f"interrupted: finished trials are kept in study {study.study_name}; "
                              "run the same command again to continue it") from None
        summary = summarize(study, sc, storage_url)
        split = "val" if config.val_split else "test"  # what the errors were measured on (and selected by)
        confirmed = _confirm_with_fvcore(summary.front, hooks)

    return SearchReport(summary, sc, narrowed.space, constraints, storage_url, split, confirmed,
                        _presets(narrowed.space, summary), hypervolume=hypervolume(summary, sc.objectives, constraints))
