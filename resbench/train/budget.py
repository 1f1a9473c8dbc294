"""Budgeted comparisons: the most resolution a time budget buys.

A plan chooses epochs and seeds for every arm so that the expected smallest detectable
paired difference (80 % power, alpha 0.05) is as small as the budget allows. It needs
two things:

* each arm's cost per epoch, measured here by a short timed calibration of the real
  training step and evaluation (cached per machine, torch version and config, and only
  when two repeats agree within 25 %);
* how the seed-to-seed spread of final test error falls with training. Stored cells of
  these arms, where there are at least two paired seeds at one epoch count, give it
  directly. Otherwise a stated prior: sd(E) = PRIOR_SD_AT_1 / sqrt(E) points for one
  arm after E full-data epochs with a schedule decayed to its end, and the paired
  difference's sd is sqrt(2) times that (pairing is assumed to help not at all, which is
  conservative). The constant comes from two anchors: 1.0 point at 3 epochs (resbench's
  and the reference trainer's seeds on the JPEG CIFAR-10 copy, results/experiments/
  fidelity_resnet20.txt) and the paper's +-0.16 at 164 epochs (Table 6, ResNet-110):
  1.7 / sqrt(3) = 0.98 and 1.7 / sqrt(164) = 0.13.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, replace

import torch

from resbench.cache import cache_dir
from resbench.errors import UsageError
from resbench.measure.env import _cpu_model
from resbench.runtime import resolve_device
from resbench.spec import NetSpec
from resbench.stats import min_detectable_difference
from resbench.store import read_regular, write_json_atomic
from resbench.train.engine import train
from resbench.train.recipe import TrainConfig

PRIOR_SD_AT_1 = 0.017  # one arm's seed sd of final test error after one full-data epoch (a fraction)
FULL_EPOCH_IMAGES = 50_000  # the prior counts epochs of CIFAR-10's full training set
MIN_SEEDS = 2  # a paired interval needs two seeds
CALIBRATION_STEPS = 8  # timed training steps per arm (after one untimed)
MAX_EPOCHS = 400


# The schedule a budgeted comparison trains with: linear decay to zero (Li, Yumer & Ramanan,
# "Budgeted Training", ICLR 2020). Measured on the full 50k CIFAR-10 training set, ResNet-20,
# bf16, two seeds each, mean final test error: at 3 epochs step 31.53 %, cosine 29.06 %,
# linear 28.69 %; at 6 epochs step 23.53 %, cosine 21.46 %, linear 21.34 %
# (results/experiments/schedules.txt). Plain --epochs keeps the paper's step schedule.
BUDGET_SCHEDULE = "linear"

@dataclass(frozen=True)
class ArmCost:
    arm: str
    seconds_per_epoch: float  # training steps, data and one evaluation
    source: str  # "calibrated" | "cached"


@dataclass(frozen=True)
class Plan:
    arms: tuple[str, ...]
    seeds: int
    epochs: int
    budget_seconds: float
    estimated_seconds: float
    expected_detectable_diff: float | None  # a fraction of test error
    variance_source: str  # where the spread model came from, in words
    costs: tuple[ArmCost, ...]
    stored_seconds_saved: float = 0.0  # cells already stored for this plan: not trained again
    schedule: str = "step"  # the learning-rate schedule the plan trains with

    def to_dict(self) -> dict:
        return {"arms": list(self.arms), "seeds": self.seeds, "epochs": self.epochs,
                "budget_seconds": self.budget_seconds, "estimated_seconds": self.estimated_seconds,
                "expected_detectable_diff": self.expected_detectable_diff, "variance_source": self.variance_source,
                "schedule": self.schedule,
                "seconds_per_epoch": {c.arm: c.seconds_per_epoch for c in self.costs},
                "calibration": {c.arm: c.source for c in self.costs}}

    def lines(self) -> list[str]:
        d = self.expected_detectable_diff
        return [f"plan: {len(self.arms)} arm(s) x {self.seeds} seeds x {self.epochs} epochs ({self.schedule} schedule), "
                f"estimated {_hms(self.estimated_seconds)} of a {_hms(self.budget_seconds)} budget",
                "expected detectable difference: " + (f"±{100 * d:.2f} points" if d is not None else "unknown")
                + f" (80 % power, alpha 0.05; spread from {self.variance_source})",
                "cost per epoch: " + ", ".join(f"{c.arm} {c.seconds_per_epoch:.1f} s ({c.source})" for c in self.costs)]


def _hms(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.3g}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def duration_at_least(seconds: float) -> str:
    """The shortest duration in whole seconds, minutes or hours that is not below
    ``seconds``, written as `budget` takes it (9s, 2m, 1h05m)."""
    s = max(1, math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    m = math.ceil(s / 60)
    return f"{m}m" if m < 60 else f"{m // 60}h{m % 60:02d}m"


# A plan whose detectable difference is above this (a fraction of test error) cannot
# resolve any difference worth knowing: it is said before anything trains.
USEFUL_DIFF = 0.20


def useless_plan(plan: "Plan") -> str | None:
    """Why ``plan`` cannot resolve a useful difference (None: it can)."""
    d = plan.expected_detectable_diff
    if d is None:
        return "this plan has no estimate of the detectable difference: its results may resolve nothing"
    if d > USEFUL_DIFF:
        size = "more than 100" if d > 1 else f"{100 * d:.0f}"
        return (f"this plan detects only differences of {size} points of test error (above {100 * USEFUL_DIFF:.0f}): "
                "it cannot resolve a useful difference; give a larger `budget` or more data per epoch")
    return None


def prior_sd(epochs: int, train_images: int) -> float:
    """The prior's sd of one paired difference after ``epochs`` over ``train_images``."""
    full = max(epochs * train_images / FULL_EPOCH_IMAGES, 1e-3)
    return math.sqrt(2) * PRIOR_SD_AT_1 / math.sqrt(full)


def with_spread(rows_by_epochs: dict[int, list[float]]) -> dict[int, list[float]]:
    """The epoch counts whose stored differences estimate a spread: at least two, not all
    equal (equal differences, e.g. errors quantised by a small test set, are no estimate yet)."""
    return {e: d for e, d in rows_by_epochs.items() if len(d) >= 2 and statistics.stdev(d) > 0}


def stored_sd(rows_by_epochs: dict[int, list[float]], epochs: int) -> float | None:
    """A measured sd of paired differences scaled to ``epochs`` by the prior's 1/sqrt law:
    from the stored epoch count closest to it whose differences have a spread."""
    usable = with_spread(rows_by_epochs)
    if not usable:
        return None
    e0 = min(usable, key=lambda e: abs(math.log(e / epochs)))
    return statistics.stdev(usable[e0]) * math.sqrt(e0 / epochs)


def choose(arms: list[str], costs: list[ArmCost], budget: float, sd_at, max_seeds: int,
           variance_source: str) -> Plan:
    """The (seeds, epochs) within ``budget`` whose expected detectable difference is least;
    ``sd_at(epochs)`` gives the paired difference's sd. Ties go to fewer epochs (more seeds:
    a better estimate of the spread itself)."""
    per_epoch = sum(c.seconds_per_epoch for c in costs)
    smallest = MIN_SEEDS * per_epoch
    if budget < smallest:
        raise UsageError(f"a budget of {_hms(budget)} is too small: one epoch of {MIN_SEEDS} seeds per arm takes about "
                         f"{_hms(smallest)} here; give `budget` at least {duration_at_least(smallest)}")
    best = None
    for epochs in range(1, MAX_EPOCHS + 1):
        seeds = min(max_seeds, int(budget // (epochs * per_epoch)))
        if seeds < MIN_SEEDS:
            break
        mdd = min_detectable_difference(sd_at(epochs), seeds)
        if mdd is not None and (best is None or mdd < best[0] - 1e-12):
            best = (mdd, seeds, epochs)
    if best is None:  # no spread at any epoch count: the most seeds at one epoch, with no estimate
        best = (None, min(max_seeds, int(budget // per_epoch)), 1)
    mdd, seeds, epochs = best
    return Plan(tuple(arms), seeds, epochs, budget, seeds * epochs * per_epoch, mdd, variance_source, tuple(costs))


def calibrate(spec: NetSpec, cfg: TrainConfig, data, warn=None) -> ArmCost:
    """Seconds per full epoch of ``spec`` under ``cfg`` on ``data``: a short real run of the
    engine (one untimed step, then CALIBRATION_STEPS), scaled to the data set's size, plus
    one timed evaluation; read from the cache when an earlier calibration agreed with itself
    (``warn`` hears of a damaged cache, which is then ignored)."""
    key = _cache_key(spec, cfg, data)
    cached = _read_cache(warn).get(key)
    if cached is not None:
        return ArmCost(spec.name, cached, "cached")
    b = cfg.batch_size
    n = min(len(data.train_y), b * (CALIBRATION_STEPS + 1))
    m = min(len(data.test_y), 2000)
    small = replace(data, train_x=data.train_x[:n], train_y=data.train_y[:n], test_x=data.test_x[:m], test_y=data.test_y[:m])
    runs = []
    for _ in range(2):
        r = train(spec, replace(cfg, epochs=1), small)
        h = r.history[-1] if r.history else None
        if h is None:
            raise UsageError(f"{spec.name} diverged in its calibration steps: no plan can be made for it")
        train_s = h.step_seconds / max(1e-9, 1 - r.data_fraction)
        steps_full = math.ceil(len(data.train_y) / b)
        steps_here = math.ceil(n / b)
        runs.append(train_s / steps_here * steps_full + (h.seconds - train_s) * len(data.test_y) / m)
    est = max(min(runs), EPOCH_SECONDS_RANGE[0])
    if max(runs) <= 1.25 * est:  # a contended repeat is not kept for later plans
        _write_cache(key, est)
    return ArmCost(spec.name, est, "calibrated")


def _cache_key(spec: NetSpec, cfg: TrainConfig, data) -> str:
    device = resolve_device(cfg.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_model()
    what = {**cfg.key_fields(), "seed": 0, "epochs": 0, "subset": None, "data": [len(data.train_y), len(data.test_y)]}
    return json.dumps([where, torch.__version__, torch.get_num_threads(), spec.name, what], sort_keys=True, default=str)


def _cache_path():
    return cache_dir() / "calibration.json"


# Seconds per epoch a calibration can give: an epoch is at least one step and one
# evaluation (far above 0.1 ms anywhere), and a plan is at most a month long.
EPOCH_SECONDS_RANGE = (1e-4, 30 * 86400)


def _read_cache(warn=None) -> dict:
    """The calibration cache's entries that are finite seconds per epoch in range. A
    damaged file or entry is said once (``warn``) and dropped from the file, so its arm is
    calibrated again and the cache is clean for the next run."""
    path = _cache_path()
    try:
        doc = json.loads(read_regular(path).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else "not readable JSON"
        return _drop_damaged(path, {}, f"{why} ({type(e).__name__})", warn)
    if not isinstance(doc, dict):
        return _drop_damaged(path, {}, "not a table of seconds per epoch", warn)
    lo, hi = EPOCH_SECONDS_RANGE
    good = {k: float(x) for k, x in doc.items()
            if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and lo <= x <= hi}
    if len(good) < len(doc):
        bad = next(x for k, x in doc.items() if k not in good)
        return _drop_damaged(path, good, f"{len(doc) - len(good)} entry(ies) are not seconds per epoch between "
                                         f"{lo:g} and {hi:g} (e.g. {str(bad)[:40]})", warn)
    return good


def _drop_damaged(path, good: dict, why: str, warn) -> dict:
    if warn is not None:
        warn(f"calibration cache {path}: {why}; ignored, and those arms are calibrated again")
    try:
        write_json_atomic(path, good)
    except (OSError, UsageError):  # not a file there, or a read-only cache: ignored all the same
        pass
    return good


def _write_cache(key: str, seconds: float) -> None:
    doc = _read_cache()
    doc[key] = seconds
    try:
        write_json_atomic(_cache_path(), doc)
    except OSError:
        pass  # a cache that cannot be written costs a calibration next time, nothing more


BF16_MIN_SPEEDUP = 1.1  # below it bf16's rounding buys too little time to be worth it


def resolve_dtype(spec: NetSpec, cfg: TrainConfig, data, warn=None) -> tuple[TrainConfig, str | None]:
    """``cfg`` with dtype "auto" made concrete: bf16 autocast when this machine trains
    ``spec`` at least BF16_MIN_SPEEDUP times faster in it than in fp32 (measured by the
    calibration, so an emulating CPU is never chosen), else fp32; and one line saying why.
    Other dtypes pass through (None: nothing to say)."""
    if cfg.dtype != "auto":
        return cfg, None
    fp32 = calibrate(spec, replace(cfg, dtype="fp32"), data, warn).seconds_per_epoch
    bf16 = calibrate(spec, replace(cfg, dtype="bf16"), data, warn).seconds_per_epoch
    speedup = fp32 / bf16
    chosen = "bf16" if speedup >= BF16_MIN_SPEEDUP else "fp32"
    return replace(cfg, dtype=chosen), (f"dtype auto: {chosen} ({spec.name} trains {speedup:.2f}x as fast in bf16 "
                                        f"autocast as in fp32 here; bf16 needs {BF16_MIN_SPEEDUP}x)")
