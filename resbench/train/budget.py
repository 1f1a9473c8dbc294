"""Budgeted comparisons: the most resolution a time budget buys, about trained nets.

A plan chooses epochs and seeds for every arm so that the expected smallest detectable
paired difference (80 % power, alpha 0.05 split over the arms) is as small as the budget
allows, at no fewer epochs than the floor below which it would answer another question.
It needs:

* each arm's cost per epoch, measured here by a short timed calibration of the real
  training step and evaluation (cached per machine, torch version and config, and only
  when two repeats agree within 25 %);
* how the seed-to-seed spread of final test error falls with training. Stored cells of
  each arm on its own (never pooled across arms: a gap between arms is not spread),
  where there are two or more paired seeds at one epoch count, scaled to other epochs by
  the prior's shape. Otherwise the prior (``one_arm_sd``): a part that falls as 1/E and
  a floor (per-test-image flips and a run component), fitted to what was measured (see the constants);
* what an E-epoch answer is about: the expected test error after E epochs of the budget
  schedule (``expected_error``), and the floor of epochs (``epochs_floor``) below which
  that error is more than FLOOR_RATIO times the trained net's. Short runs do not predict
  trained rankings (ResNet-56 is 32.6 points worse than ResNet-20 after one epoch, the
  reverse of the paper), so a plan below the floor is refused unless asked for.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, replace

import torch

from resbench.cache import cache_dir
from resbench.errors import UsageError
from resbench.measure.busy import Meter
from resbench.measure.busy import warning as busy_warning
from resbench.measure.env import cpu_model
from resbench.runtime import resolve_device
from resbench.spec import NetSpec
from resbench.stats import flat, min_detectable_difference
from resbench.store import read_cache_table, write_cache_table
from resbench.train.config import TrainConfig
from resbench.train.engine import train
from resbench.train.paper import PAPER_EPOCHS, TABLE6

# The spread prior, one arm's seed sd of final test error after E full-data epochs:
# sd(E)^2 = FLOOR_SD^2 + (SD_AT_1 / E^DECAY)^2; a paired difference's sd is sqrt(2) times
# that (pairing assumed to help not at all: conservative; it hurt in one stored table).
SD_AT_1 = 0.0181  # pooled one-arm sd after one epoch: 1.81 points, 42 df (stored cells, the JPEG copy)
DECAY = 1.0  # the 3-6-epoch cells: sd x sqrt(E) = 0.86, so sd = 1.81 / E^1.0 (1/sqrt(E) rejected: F = 4.5, p = 0.03)
# What does not fall with epochs: per-image flips over 10,000 test images (Jordan 2024: 0.15 %
# at 64 epochs) and, on this copy, a run component. Fitted to the 13-epoch A/B/C cells (6 seeds
# of each arm, results/experiments/abc_13ep): one arm's sd pooled within arms 0.302 points
# (15 df; the 0.205 a 0.15 floor gives there is rejected, chi-square p = 0.005), so
# sqrt(0.302^2 - (1.81/13)^2) = 0.27.
FLOOR_SD = 0.0027
FULL_EPOCH_IMAGES = 50_000  # the prior counts epochs of CIFAR-10's full training set
# What an E-epoch ResNet-20 reaches under the budget (linear) schedule on the full set:
# (epochs, test error) measured here (results/experiments/schedules.txt: 3 and 6 epochs;
# docs/experiments.md: ResNet-20 in the 15-seed 1-epoch A/B/C table; 13 epochs: the mean of
# the 6 seeds of ResNet-20 in results/experiments/abc_13ep), and the paper's figure (Table 6: 164
# epochs, step schedule, which a linear schedule matches at full length: Li et al. 2020).
# Between anchors the error is interpolated linearly in log(epochs) and log(error).
FULL_EPOCHS = PAPER_EPOCHS
ERROR_ANCHORS = ((1, 0.4477), (3, 0.2869), (6, 0.2134), (13, 0.1675), (FULL_EPOCHS, TABLE6["resnet20"]))
FLOOR_RATIO = 2.0  # a plan's nets must be expected within twice the trained error
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
    epochs_floor: int | None = None  # the fewest epochs that answer about trained nets (None: no floor on this data)
    expected_test_error: float | None = None  # of the nets after the plan's epochs (CIFAR-10 ResNet-20 curve)
    full_schedule_error: float | None = None  # of the trained nets (the paper's 164 epochs)
    data_official: bool | None = None  # the data files are the official release's (None: unknown or not CIFAR)

    @property
    def answers(self) -> str:
        """What the plan's differences will be about."""
        text = f"{self.epochs}-epoch nets ({self.schedule} schedule)"
        if self.expected_test_error is None:
            return text
        text += (f", expected near {100 * self.expected_test_error:.1f} % test error against "
                 f"{100 * self.full_schedule_error:.2f} % after the full {FULL_EPOCHS}-epoch schedule")
        if self.data_official is False:
            text += (" (the paper's figure, on the official files: on this copy, whose files differ from the release, "
                     "expect the full schedule to end higher)")
        return text + (f"; {self.below_floor}" if self.below_floor else "")

    @property
    def below_floor(self) -> str | None:
        """Said of every answer when the plan trains fewer epochs than the floor, else None."""
        if self.epochs_floor is not None and self.epochs < self.epochs_floor:
            return f"below the epochs floor of {self.epochs_floor}, so about nets far from trained"
        return None

    def to_dict(self) -> dict:
        return {"arms": list(self.arms), "seeds": self.seeds, "epochs": self.epochs,
                "budget_seconds": self.budget_seconds, "estimated_seconds": self.estimated_seconds,
                "expected_detectable_diff": self.expected_detectable_diff, "variance_source": self.variance_source,
                "schedule": self.schedule, "epochs_floor": self.epochs_floor,
                "expected_test_error": self.expected_test_error, "full_schedule_error": self.full_schedule_error,
                "answers": self.answers, "data_official": self.data_official,
                "seconds_per_epoch": {c.arm: c.seconds_per_epoch for c in self.costs},
                "calibration": {c.arm: c.source for c in self.costs}}

    def lines(self) -> list[str]:
        d = self.expected_detectable_diff
        return [f"plan: {len(self.arms)} arm(s) x {self.seeds} seeds x {self.epochs} epochs ({self.schedule} schedule), "
                f"estimated {_hms(self.estimated_seconds)} of a {_hms(self.budget_seconds)} budget",
                "expected detectable difference: " + (f"±{100 * d:.2f} points" if d is not None else "unknown")
                + f" (80 % power, alpha 0.05; spread from {self.variance_source})",
                "cost per epoch: " + ", ".join(f"{c.arm} {c.seconds_per_epoch:.1f} s ({c.source})" for c in self.costs),
                f"answers: {self.answers}"]


def _hms(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.3g}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def one_arm_sd(full_epochs: float) -> float:
    """The prior's seed sd of one arm's final test error after ``full_epochs`` full-data epochs."""
    e = max(full_epochs, 1e-3)
    return math.sqrt(FLOOR_SD ** 2 + (SD_AT_1 / e ** DECAY) ** 2)


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
# On CIFAR-10 a plan answers the paper's question, whose differences are smaller: the
# largest between any two of the paper's CIFAR-10 ResNets (Table 6: ResNet-20 8.75 %,
# ResNet-110 6.43 %) is 2.32 points. A plan that cannot resolve that resolves none of them.
PAPER_SPAN = max(TABLE6.values()) - min(TABLE6.values())


def useless_plan(plan: "Plan", dtype: str | None = None) -> str | None:
    """Why ``plan`` cannot resolve a useful difference (None: it can). A plan about the
    paper's question (one with an expected test error) is held to the span of the paper's
    own table. ``dtype``, the dtype the user asked for: when it is fp32, the advice adds
    `dtype='auto'` (a resolved fp32 from "auto" gets no such advice: bf16 was slower)."""
    d = plan.expected_detectable_diff
    if d is None:
        return "this plan has no estimate of the detectable difference: its results may resolve nothing"
    paper = plan.expected_test_error is not None
    limit = PAPER_SPAN if paper else USEFUL_DIFF
    if d <= limit:
        return None
    size = "more than 100" if d > 1 else f"{100 * d:.2f}" if paper else f"{100 * d:.0f}"
    what = (f"more than the {100 * PAPER_SPAN:.2f} points between the paper's best and worst CIFAR-10 ResNets "
            f"in Table 6, so it cannot resolve a difference the paper reports" if paper
            else f"above {100 * USEFUL_DIFF:.0f}, so it cannot resolve a useful difference")
    advice = (["a larger `budget`"] + (["fewer arms"] if len(plan.arms) > 2 else [])
              + ([] if paper else ["more data per epoch"])
              + (["`dtype='auto'` (bf16 where it is faster here)"] if dtype == "fp32" else []))
    advice = "give " + (", ".join(advice[:-1]) + " or " if len(advice) > 1 else "") + advice[-1]
    return f"this plan detects only differences of {size} points of test error ({what}); {advice}"


def full_epochs(epochs: float, train_images: int) -> float:
    """``epochs`` over ``train_images`` as epochs of CIFAR-10's full training set: the unit
    the prior and the error anchors count in (a 5k subset's epoch is a tenth of one)."""
    return epochs * train_images / FULL_EPOCH_IMAGES


def prior_sd(epochs: int, train_images: int) -> float:
    """The prior's sd of one paired difference after ``epochs`` over ``train_images``."""
    return math.sqrt(2) * one_arm_sd(full_epochs(epochs, train_images))


def with_spread(rows_by_epochs: dict[int, list[float]]) -> dict[int, list[float]]:
    """The epoch counts whose stored differences estimate a spread: at least two, not all
    equal (equal differences, e.g. errors quantised by a small test set, are no estimate yet)."""
    return {e: d for e, d in rows_by_epochs.items() if len(d) >= 2 and not flat(d)}


def stored_sd(rows_by_epochs: dict[int, list[float]], epochs: int, train_images: int) -> float | None:
    """One arm's measured sd of paired differences, scaled to ``epochs`` by the prior's
    shape (in full-data epochs: ``epochs`` over ``train_images``): from the stored epoch
    count closest to it with at least two differences that are not all equal (equal ones,
    e.g. errors quantised by a small test set, are no estimate)."""
    usable = with_spread(rows_by_epochs)
    if not usable:
        return None
    e0 = min(usable, key=lambda e: abs(math.log(e / epochs)))
    return (statistics.stdev(usable[e0]) * one_arm_sd(full_epochs(epochs, train_images))
            / one_arm_sd(full_epochs(e0, train_images)))


def expected_error(epochs: float) -> float:
    """A ResNet-20's expected test error after ``epochs`` full-data epochs of the budget
    schedule on CIFAR-10 (ERROR_ANCHORS, interpolated in log-log)."""
    xs = [math.log(e) for e, _ in ERROR_ANCHORS]
    ys = [math.log(v) for _, v in ERROR_ANCHORS]
    x = min(max(math.log(max(epochs, 1e-3)), xs[0]), xs[-1])
    i = max(j for j in range(len(xs) - 1) if xs[j] <= x) if x < xs[-1] else len(xs) - 2
    t = (x - xs[i]) / (xs[i + 1] - xs[i])
    return math.exp(ys[i] + t * (ys[i + 1] - ys[i]))


def epochs_floor() -> int:
    """The fewest full-data epochs whose expected error is within FLOOR_RATIO of the trained net's."""
    trained = expected_error(FULL_EPOCHS)
    return next(e for e in range(1, FULL_EPOCHS + 1) if expected_error(e) <= FLOOR_RATIO * trained)


def check_epochs(epochs: int | None, floor: int | None) -> None:
    """Fixed ``epochs`` below the ``floor`` answer about nets far from trained: refused (it
    needs no costs, so a plan checks it before it calibrates anything)."""
    if epochs is not None and floor and epochs < floor:
        raise UsageError(f"`epochs` {epochs} is below the floor of {floor} epochs, below which the answer is about "
                         f"nets far from trained: give `epochs` of at least {floor}, or accept the shorter question "
                         f"with `allow_short=True`")


def choose(arms: list[str], costs: list[ArmCost], budget: float, sd_at, max_seeds: int,
           variance_source: str, *, alpha: float = 0.05, floor: int | None = None, epochs: int | None = None) -> Plan:
    """The (seeds, epochs) within ``budget`` whose expected detectable difference (a test
    at ``alpha``) is least; ``sd_at(epochs)`` gives the paired difference's sd. ``floor``:
    the fewest epochs allowed; ``epochs``: fixed, only the seeds are chosen. Ties go to
    fewer epochs (more seeds: a better estimate of the spread itself)."""
    per_epoch = sum(c.seconds_per_epoch for c in costs)
    check_epochs(epochs, floor)
    lo = epochs if epochs is not None else (floor or 1)
    hi = epochs if epochs is not None else MAX_EPOCHS
    smallest = MIN_SEEDS * per_epoch * lo
    if budget < smallest:
        what = (f"{lo} epochs (the floor for an answer about trained nets; accept a shorter question with "
                f"`allow_short=True`)" if epochs is None and floor else f"{lo} epoch{'' if lo == 1 else 's'}")
        raise UsageError(f"a budget of {_hms(budget)} is too small: {what} of {MIN_SEEDS} seeds per arm take about "
                         f"{_hms(smallest)} here; give `budget` at least {duration_at_least(smallest)}")
    best = None
    for e in range(lo, hi + 1):
        seeds = min(max_seeds, int(budget // (e * per_epoch)))
        if seeds < MIN_SEEDS:
            break
        mdd = min_detectable_difference(sd_at(e), seeds, alpha)
        if mdd is not None and (best is None or mdd < best[0] - 1e-12):
            best = (mdd, seeds, e)
    if best is None:  # no spread estimate at any fitting epochs: the most seeds at the fewest epochs
        seeds = min(max_seeds, int(budget // (lo * per_epoch)))
        best = (None, seeds, lo)
    mdd, seeds, e = best
    return Plan(tuple(arms), seeds, e, budget, seeds * e * per_epoch, mdd, variance_source, tuple(costs))



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
    meter = Meter().start()
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
    busy = busy_warning(meter.share(), f"{spec.name} was calibrated")
    if busy and warn is not None:
        warn(f"{busy}; this plan's times are too long, and the calibration is not kept")
    # Kept for later plans only when the two repeats agree and nothing else shared the cores
    # (a steadily busy machine slows both repeats alike).
    if max(runs) <= 1.25 * est and busy is None:
        _write_cache(key, est)
    return ArmCost(spec.name, est, "calibrated")


def _cache_key(spec: NetSpec, cfg: TrainConfig, data) -> str:
    device = resolve_device(cfg.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    what = {**cfg.key_fields(), "seed": 0, "epochs": 0, "subset": None, "data": [len(data.train_y), len(data.test_y)]}
    return json.dumps([where, torch.__version__, torch.get_num_threads(), spec.name, what], sort_keys=True, default=str)


def _cache_path():
    return cache_dir() / "calibration.json"


# Seconds per epoch a calibration can give: an epoch is at least one step and one
# evaluation (far above 0.1 ms anywhere), and a plan is at most a month long.
EPOCH_SECONDS_RANGE = (1e-4, 30 * 86400)


def _read_cache(warn=None) -> dict:
    """The calibration cache's entries that are finite seconds per epoch in range; a damaged
    file or entry is said once (``warn``) and dropped, so its arm is calibrated again."""
    lo, hi = EPOCH_SECONDS_RANGE
    return read_cache_table(_cache_path(), lo, hi,
                            f"ignored: calibration entries must be seconds per epoch between {lo:g} and {hi:g}, "
                            f"and those arms are calibrated again", warn)


def _write_cache(key: str, seconds: float) -> None:
    doc = _read_cache()
    doc[key] = seconds
    write_cache_table(_cache_path(), doc)


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
