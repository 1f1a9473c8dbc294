"""Paired comparisons and the degradation study (Fig. 6) as library calls.

``compare`` trains every arm with every seed (resumable: stored cells are read back,
not retrained), then summarises final errors and paired differences to a reference
arm. ``degradation`` is the same sweep over plain and residual twins of several
depths, with one sentence per family on how training error moves with depth. Both
return typed reports; printing and files are the caller's (see ``resbench.report``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from resbench import validate as v
from resbench.errors import ConfigError, Interrupted, UsageError
from resbench.hooks import Hooks
from resbench.runtime import resolve_device
from resbench.spec import NetSpec, parse_spec
from resbench.stats import (
    familywise_level,
    holm,
    min_detectable_difference,
    paired_difference,
    per_image_difference,
    seeds_needed,
)
from resbench.store import Store
from resbench.train.budget import resolve_dtype
from resbench.train.cells import Cell, fit_to_data, load_data, run_cell, run_packed
from resbench.train.config import TrainConfig
from resbench.train.engine import pack_key
from resbench.train.executors import EXECUTORS, run_cells
from resbench.train.paper import official_data, paper_figure, recipe_differences
from resbench.results import TrainResult
from resbench.train.runs import CellRuns, CellStatus
from resbench.train.sweep import build_arms, build_cells
from resbench.validate import writable_folder

DEFAULT_EFFECT = 0.005  # 0.5 points of test error: the size of the paper's A/B/C differences (Table 3)


@dataclass(frozen=True)
class ScaleOut:
    """Where the cells run (see ``resbench.train.executors``)."""

    executor: str = "local"  # local: this process, or a process pool when workers > 1; ray
    workers: int = 1  # local: cells at once, each pinned to cores/workers threads
    retries: int = 0  # retries of a failed cell within this run
    address: str | None = None  # ray: auto or ray://host:10001; None starts a local Ray
    cpus_per_run: float = 1.0  # ray: CPUs per cell
    gpus_per_run: float = 0.0  # ray: GPUs per cell (fractions share a GPU)
    pack: int | None = None  # most seeds of one arm trained together in one pass (None: per device, see DEFAULT_PACK)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError("executor", f"{self.executor!r} is unknown: expected local or ray")
        v.whole(self.workers, "workers", 1, 4096)
        v.whole(self.retries, "retries", 0, 1000)
        if self.pack is not None and (isinstance(self.pack, bool) or not isinstance(self.pack, int) or not 1 <= self.pack <= 64):
            raise ConfigError("pack", f"takes a whole number of members from 1 to 64, got {self.pack!r}")
        v.number(self.cpus_per_run, "cpus_per_run", 0, 4096, lo_open=True)
        v.number(self.gpus_per_run, "gpus_per_run", 0, 4096)
        ignored = self.ignored()
        if ignored:  # most likely `executor='ray'` was meant: say so rather than run locally
            raise ConfigError(ignored[0], "applies to `executor='ray'` only: add that, or leave it out")

    def ignored(self) -> list[str]:
        """The Ray settings given to the local executor, which has no use for them."""
        if self.executor != "local":
            return []
        defaults = {f.name: f.default for f in fields(self)}
        return [f for f in ("address", "cpus_per_run", "gpus_per_run") if getattr(self, f) != defaults[f]]

    @property
    def parallel(self) -> bool:
        return self.executor != "local" or self.workers > 1

    def pack_for(self, device_type: str) -> int:
        """Members per pass: --pack, else the device's default; process pools and Ray run one cell per task."""
        if self.parallel:
            return 1
        return self.pack if self.pack is not None else DEFAULT_PACK.get(device_type, 1)


# Members per pass when --pack is not given. CPU: 1, because packing is slower there
# (benchmarks/train_throughput.py: 4 ResNet-20 members packed train at 0.17x the img/s per
# member of one alone; oneDNN's grouped convolutions are slow). CUDA: 8: on an H200, 8 packed
# ResNet-20 members take 1.75x the time of one (results/benchmarks/train_throughput_cuda.txt).
DEFAULT_PACK = {"cpu": 1, "cuda": 8, "mps": 1}


@dataclass(frozen=True)
class Comparison:
    arms: tuple[NetSpec, ...]
    reference: NetSpec
    seeds: int
    config: TrainConfig
    rows: tuple[ArmRow, ...]  # one per arm
    histories: dict[str, list[list[dict]]]  # arm -> per seed, per epoch stats (for curves)
    cells: int  # planned
    failed: int  # cells that failed in this run (not stored: the next run retries them)
    seed_errors: dict[str, dict[int, float]] = field(default_factory=dict)  # arm -> seed -> final test error (finished runs)
    data_official: bool | None = None  # the runs' data files were the official release's (None: unknown)

    @property
    def title(self) -> str:
        return f"{self.config.dataset}, {self.config.epochs} epochs, {self.seeds} seed(s)"

    @property
    def answers(self) -> str:
        return answers(self.config, self.reference, self.data_official)


def answers(config: TrainConfig, reference: NetSpec, data_official: bool | None = None) -> str:
    """What a comparison's differences are about, in one sentence: the nets' training, and
    whether that is the paper's recipe (so whether the paper's claims are what it tests)."""
    about = f"final test error of {config.epochs}-epoch nets ({config.schedule} schedule) on {config.dataset}"
    if config.dataset != "cifar10":
        return about + ", not the paper's data set"
    differs = recipe_differences(config, reference, data_official)
    if differs:
        return about + f"; not the paper's recipe ({'; '.join(differs)}), so not about the paper's trained nets"
    if data_official is None:
        return about + ", trained with the paper's recipe on data files not recorded as the official release's"
    return about + ", trained with the paper's recipe"


@dataclass(frozen=True)
class Degradation:
    comparison: Comparison
    plain: tuple[str, ...]
    residual: tuple[str, ...]
    trend: dict[str, str] = field(default_factory=dict)  # family -> one sentence

    @property
    def rows(self) -> tuple[ArmRow, ...]:
        return self.comparison.rows


def resolve_reference(arms: list[NetSpec], reference: str | None) -> NetSpec:
    if not reference:
        return arms[0]
    try:
        wanted = parse_spec(reference).name
    except UsageError:
        wanted = reference
    for a in arms:
        if a.name == wanted:
            return a
    raise ConfigError("reference", f"{reference!r} is not one of the arms: {', '.join(a.name for a in arms)}")


def outputs_ready(results_dir) -> None:
    """The records and checkpoint folders can be written: checked before anything trains."""
    store = Store(results_dir)
    writable_folder(store.records_dir, "the results folder")
    writable_folder(store.checkpoints_dir, "the checkpoint folder")


def _sweep(arms: list[NetSpec], cells: list[Cell], results_dir, scale: ScaleOut,
           hooks: Hooks) -> tuple[list[tuple[NetSpec, int, object]], int]:
    """Run (or find stored) every cell; Ctrl-C keeps what finished."""
    store = Store(results_dir, warn=hooks.warning)
    done, failed = [], []
    pack = scale.pack_for(resolve_device(cells[0].config.device).type) if cells else 1

    def run_here(cell):
        return run_cell(cell, warn=hooks.warning, checkpoints=store.checkpoints_dir,
                        progress=lambda phase, i, n: hooks.report(f"{cell.spec.name} seed {cell.seed} {phase}", i, n))

    def runner(missing):
        if pack > 1:
            return run_packed(missing, warn=hooks.warning, checkpoints=store.checkpoints_dir,
                              progress=lambda phase, i, n: hooks.report(f"{missing[0].spec.name} {phase}", i, n))
        return run_cells(missing, run_here=run_here, executor=scale.executor, workers=scale.workers,
                         retries=scale.retries, address=scale.address, cpus_per_run=scale.cpus_per_run,
                         gpus_per_run=scale.gpus_per_run, checkpoints=store.checkpoints_dir)

    def on_cell(cell, status: CellStatus, detail: str | None):
        if status is CellStatus.FAILED:
            failed.append(cell)
            hooks.warning(f"{cell.spec.name} seed {cell.seed} failed: {detail}")
        elif status is CellStatus.WAITING:
            hooks.say(f"{cell.spec.name} seed {cell.seed}: another run is training it; waiting for its record")
        elif status is CellStatus.FINISHED and scale.parallel:
            hooks.report("cells", len(done) + 1, len(cells))

    try:
        for cell, rec in CellRuns(store).sweep(cells, runner, on_cell, parallel=scale.parallel, pack=pack,
                                   group=lambda c: pack_key(c.spec, c.config)):
            if rec is not None:
                done.append((cell.spec, cell.seed, rec))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {len(done)} of {len(cells)} cells are stored in {store.records_dir}, and a cell "
                          f"in training keeps its last finished epoch in {store.checkpoints_dir}; "
                          "run the same command again to finish the rest") from None
    if failed:
        hooks.warning(f"{len(failed)} cell(s) failed and were not stored; run the same command again to retry them")
    return done, len(failed)


MAX_SEEDS = 10_000  # far beyond any budget: 10,000 CIFAR runs of one arm


def fit_arms(arms: list[NetSpec], seeds: int, config: TrainConfig,
             hooks: Hooks) -> tuple[list[NetSpec], list[Cell], TrainConfig]:
    """Validate everything, load the data once, fit the arms to it (classes, channels) and
    make a dtype of "auto" concrete (measured on the first arm), so cells key what runs."""
    # Bounded before any cell is built: a huge count would fill memory (or hang) first.
    v.whole(seeds, "seeds", 1, MAX_SEEDS)
    if config.seed + seeds - 1 > v.MAX_SEED:
        raise ConfigError("seeds", f"{seeds} from `seed={config.seed}` runs past the largest seed {v.MAX_SEED}; lower one of them")
    build_cells(arms, seeds, config, first_seed=config.seed)  # refuses a bad grid before the data loads
    data = load_data(config, arms[0].input_size, warn=hooks.warning)
    fitted = [fit_to_data(a, data) for a in arms]
    config, why = resolve_dtype(fitted[0], config, data, hooks.warning)
    if why:
        hooks.say(why)
    return fitted, build_cells(fitted, seeds, config, first_seed=config.seed), config


def compare(arms: list[NetSpec | str], config: TrainConfig, *, seeds: int = 1, reference: str | None = None,
            results_dir=None, scale: ScaleOut = ScaleOut(), effect: float = DEFAULT_EFFECT,
            target_error: float | None = None, hooks: Hooks = Hooks()) -> Comparison:
    """Train every arm for every seed (paired: same data order, augmentation and shared
    initial weights per seed) and summarise them against ``reference`` (default: the first).

    >>> compare(["resnet20", "plain20"], TrainConfig(dataset="synthetic", epochs=2), seeds=2)  # doctest: +SKIP
    """
    v.number(effect, "effect (a fraction of test error)", 0, 1, lo_open=True, hi_open=True)
    if target_error is not None:
        v.number(target_error, "target error (a fraction)", 0, 1, lo_open=True, hi_open=True)
    arms = [parse_spec(a) if isinstance(a, str) else a for a in arms]
    if not arms:
        raise UsageError("no arms to compare: give at least one spec")
    outputs_ready(results_dir)
    ref_name = resolve_reference(arms, reference).name
    fitted, cells, config = fit_arms(arms, seeds, config, hooks)
    ref = fitted[[a.name for a in arms].index(ref_name)]
    hooks.say(f"{len(fitted)} arm(s) x {seeds} seed(s) = {len(cells)} cell{'' if len(cells) == 1 else 's'} on {config.dataset}, {config.epochs} epoch(s) each")
    done, failed = _sweep(fitted, cells, results_dir, scale, hooks)
    results = [(spec, seed, rec.typed_result()) for spec, seed, rec in done]
    official = official_data(r.data_official for _, _, r in results)
    if len({r.data_official for _, _, r in results} - {None}) > 1:
        hooks.warning("these cells were trained on different copies of the data, some on the official release's files "
                      "and some not: their differences are the data's as well as the nets'; train them again on one "
                      "copy (another `results_dir`)")
    about = answers(config, ref, official)
    rows = tuple(replace(row, answers=about) for row in summarize_arms(fitted, results, ref, effect, target_error, config))
    hist = {a.name: [[vars(h) for h in r.history] for s, _, r in results if s.name == a.name] for a in fitted}
    errors = {a.name: {seed: r.final_test_error for s, seed, r in results if s.name == a.name and not r.diverged}
              for a in fitted}
    return Comparison(tuple(fitted), ref, seeds, config, rows, hist, len(cells), failed, errors, official)


def degradation_arms(depths: list[int], shortcut: str = "A") -> tuple[list[NetSpec], list[NetSpec]]:
    """The residual nets of ``depths`` and their plain twins (Fig. 6)."""
    if shortcut not in ("A", "B", "C"):
        raise UsageError(f"the residual nets need a shortcut A, B or C, got {shortcut!r} (their plain twins are built too)")
    residual = build_arms(depths=depths, shortcuts=[shortcut])
    return residual, [a for a in build_arms(depths=depths, plain=True, shortcuts=[shortcut]) if a.plain]


def degradation(depths: list[int], config: TrainConfig, *, seeds: int = 1, shortcut: str = "A",
                results_dir=None, scale: ScaleOut = ScaleOut(), hooks: Hooks = Hooks()) -> Degradation:
    """The paper's Fig. 6: plain and residual CIFAR nets of several depths (the same
    cells as ``compare``, so either finds the other's records)."""
    residual, plain = degradation_arms(depths, shortcut)
    cmp = compare(residual + plain, config, seeds=seeds, results_dir=results_dir, scale=scale,
                  hooks=replace(hooks, note=(lambda m: hooks.say(m.replace("arm(s)", "nets"))) if hooks.note else None))
    names = [a.name for a in cmp.arms]
    return Degradation(cmp, tuple(names[len(residual):]), tuple(names[:len(residual)]), degradation_trend(cmp.rows))


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    a = np.asarray(values, dtype=float)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def time_to_target(results: dict[int, TrainResult], target: float) -> dict:
    """Per seed, the first epoch whose test error is <= ``target`` (a fraction) and the
    training seconds up to it (MLPerf's and airbench's time-to-target); None if never."""
    epochs, seconds = [], []
    for seed in sorted(results):
        hit = next((h for h in results[seed].history if h.test_error <= target), None)
        epochs.append(hit.epoch if hit else None)
        seconds.append(sum(h.seconds for h in results[seed].history[: hit.epoch]) if hit else None)
    return {"target": target, "epochs": epochs, "seconds": seconds, "reached": sum(e is not None for e in epochs),
            "seeds": len(epochs)}


ALPHA = 0.05  # familywise: over every arm compared with the reference


@dataclass(frozen=True)
class ArmRow:
    """One arm of a comparison: its own figures over its finished seeds and, beside the
    reference, the paired difference in final test error with its interval and power.
    Errors are fractions; ``to_dict`` is the JSON, CSV and tracker form."""

    arm: str
    spec: str
    shortcut: str | None
    block: str
    depth: int
    plain: bool
    params: int | None
    macs: int | None
    seeds: int  # finished, not diverged
    diverged: int
    diverged_seeds: tuple[int, ...]
    train_error_mean: float | None
    train_error_std: float | None
    test_error_mean: float | None
    test_error_std: float | None
    seconds_per_epoch: float | None
    reference: bool
    effect: float  # the difference the power figures are about
    paper_test_error: float | None = None  # the paper's Table 6 figure, for its nets on CIFAR-10
    paper_gap: float | None = None
    answers: str = ""  # what the differences are about, in one sentence
    pairs: int | None = None
    delta_test_error: float | None = None  # arm - reference
    delta_ci: tuple[float, float] | None = None
    ci_level: float | None = None
    interval_method: str | None = None  # paired-t | seed-and-image (-bonferroni) | sequential
    p_value: float | None = None
    p_adjusted: float | None = None
    p_adjust_method: str | None = None  # none | holm | alpha-spending
    significant: bool | None = None
    min_detectable_diff: float | None = None
    seeds_needed: int | None = None
    time_to_target: dict | None = None  # with a target error only
    look: int | None = None  # after sequential looks only
    resolution: str | None = None
    spread: str | None = None

    OPTIONAL = ("time_to_target", "look", "resolution", "spread")  # left out of to_dict while unset

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["delta_ci"] = list(self.delta_ci) if self.delta_ci else None
        d["diverged_seeds"] = list(self.diverged_seeds)
        return {k: v for k, v in d.items() if k not in self.OPTIONAL or v is not None}


def summarize_arms(arms: list[NetSpec], results: list[tuple[NetSpec, int, TrainResult]], reference: NetSpec,
                   effect: float = DEFAULT_EFFECT, target_error: float | None = None,
                   config: TrainConfig | None = None) -> list[ArmRow]:
    """``results``: (arm spec, seed, its TrainResult). One row per arm: means over seeds,
    the paired difference in final test error to ``reference`` with its interval, and the
    power of that comparison: the smallest difference the seeds at hand detect (80 %
    power) and the seeds needed to detect ``effect``. With m arms beside the reference the
    intervals are Bonferroni's at 1 - alpha/m, the p-values Holm-adjusted, and the power
    is that of a test at alpha/m (resbench.stats). Errors are fractions. ``config``: the
    recipe the cells trained with, for the paper's figure beside each Table 6 net."""
    by_arm: dict[str, dict[int, TrainResult]] = {a.name: {} for a in arms}
    for spec, seed, res in results:
        by_arm.setdefault(spec.name, {})[seed] = res
    m = max(1, len(arms) - 1)
    rows = []
    for arm in arms:
        row = _arm_row(arm, by_arm[arm.name], reference, effect, target_error, config)
        if arm.name != reference.name:
            row = replace(row, **arm_difference(by_arm[reference.name], by_arm[arm.name], m, effect))
        rows.append(row)
    return [row if row.reference else replace(row, p_adjusted=p, p_adjust_method="holm" if m > 1 else "none",
                                              significant=None if p is None else p < ALPHA)
            for row, p in zip(rows, holm([r.p_value for r in rows]))]


def _arm_row(arm: NetSpec, results: dict[int, TrainResult], reference: NetSpec, effect: float,
             target_error: float | None, config: TrainConfig | None) -> ArmRow:
    """An arm's own figures: means and spreads over its finished seeds, cost, the paper's figure."""
    ok = {s: r for s, r in results.items() if not r.diverged}
    train_m, train_s = _mean_std([r.final_train_error for r in ok.values()])
    test_m, test_s = _mean_std([r.final_test_error for r in ok.values()])
    epoch_secs = [h.seconds for r in ok.values() for h in r.history]
    any_result = next(iter(results.values()), None)
    paper = paper_figure(arm, config) if config is not None else None  # its figure and gap: the same whatever the data
    return ArmRow(
        arm=arm.name, spec=arm.name, shortcut=arm.shortcut, block=arm.block, depth=arm.depth, plain=arm.plain,
        params=any_result.params if any_result else None, macs=any_result.macs if any_result else None,
        seeds=len(ok), diverged=len(results) - len(ok), diverged_seeds=tuple(sorted(s for s, r in results.items() if r.diverged)),
        train_error_mean=train_m, train_error_std=train_s, test_error_mean=test_m, test_error_std=test_s,
        seconds_per_epoch=float(np.mean(epoch_secs)) if epoch_secs else None,
        reference=arm.name == reference.name, effect=effect,
        paper_test_error=paper.test_error if paper else None, paper_gap=paper.gap(test_m) if paper else None,
        time_to_target=time_to_target(ok, target_error) if target_error is not None else None)


PER_IMAGE_FROM = 3  # seeds from which the per-image interval is used (benchmarks/per_image_coverage.py)


def arm_difference(ref: dict[int, TrainResult], arm: dict[int, TrainResult], m: int, effect: float) -> dict:
    """The paired difference to the reference over the seeds both finished, at the level
    that holds for all m comparisons together, and its power at alpha/m. With every pair's
    per-image results recorded and at least PER_IMAGE_FROM pairs, the interval accounts for
    seeds and test images (resbench.stats.per_image_difference); else a paired t over seeds."""
    level = familywise_level(m, ALPHA)
    ref_ok = {s: r for s, r in ref.items() if not r.diverged}
    arm_ok = {s: r for s, r in arm.items() if not r.diverged}
    pairs = sorted(set(ref_ok) & set(arm_ok))
    sizes = {r.test_images for s in pairs for r in (ref_ok[s], arm_ok[s])}
    per_image = len(pairs) >= PER_IMAGE_FROM and None not in sizes and len(sizes) == 1
    if per_image:
        diff = per_image_difference({s: ref_ok[s].correct() for s in pairs}, {s: arm_ok[s].correct() for s in pairs}, level)
        method = "seed-and-image"
    else:
        diff = paired_difference({s: r.final_test_error for s, r in ref_ok.items()},
                                 {s: r.final_test_error for s, r in arm_ok.items()}, level)
        method = "paired-t"
    if diff is None:
        return {"pairs": 0}
    return {"pairs": diff.n, "delta_test_error": diff.mean, "delta_ci": tuple(diff.ci) if diff.ci else None,
            "ci_level": level, "interval_method": method + ("" if m == 1 else "-bonferroni"),
            "p_value": diff.p_value, "min_detectable_diff": min_detectable_difference(diff.sd, diff.n, ALPHA / m, df=diff.df),
            "seeds_needed": seeds_needed(diff.sd, effect, ALPHA / m)}


def degradation_trend(rows: tuple[ArmRow, ...]) -> dict:
    """One sentence per family: final training error of the deepest vs the shallowest net."""
    out = {}
    for family, plain in (("plain", True), ("residual", False)):
        rs = sorted((r for r in rows if r.plain == plain and r.train_error_mean is not None), key=lambda r: r.depth)
        if len(rs) < 2:
            out[family] = f"{family}: fewer than two depths finished; no trend"
            continue
        a, b = rs[0], rs[-1]
        d = 100 * (b.train_error_mean - a.train_error_mean)
        word = "worse" if d > 0 else "better"
        out[family] = (f"{family}: depth {b.depth} trains {word} than depth {a.depth} by {abs(d):.2f} points of "
                       f"final training error ({100 * a.train_error_mean:.2f}% -> {100 * b.train_error_mean:.2f}%)")
    return out
