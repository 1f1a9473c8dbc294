"""A comparison under a time budget, or run until its answer is resolved.

``budgeted_compare`` calibrates each arm's cost, chooses epochs and seeds for the smallest
expected detectable difference (``resbench.train.budget``), says the plan, and trains it
with ``resbench.train.comparison.compare``. With ``until_resolved`` it adds seeds in rounds
and looks after each, with intervals that stay valid under repeated looks
(``resbench.stats.sequential_interval``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from resbench import validate as v
from resbench.errors import UsageError
from resbench.hooks import Hooks
from resbench.spec import NetSpec, parse_spec
from resbench.stats import (
    equivalence_interval,
    flat,
    look_seeds,
    mean_difference,
    resolved,
    sequential_interval,
    sequential_p,
    spent_alpha,
)
from resbench.store import Store
from resbench.train.budget import (
    BUDGET_SCHEDULE,
    FULL_EPOCHS,
    Plan,
    calibrate,
    check_epochs,
    choose,
    epochs_floor,
    expected_error,
    full_epochs,
    prior_sd,
    stored_sd,
    with_spread,
    useless_plan,
)
from resbench.train.cells import load_data
from resbench.train.comparison import (
    ArmRow,
    ALPHA,
    DEFAULT_EFFECT,
    MAX_SEEDS,
    Comparison,
    ScaleOut,
    compare,
    fit_arms,
    outputs_ready,
    resolve_reference,
)
from resbench.train.config import TrainConfig


@dataclass(frozen=True)
class Budgeted:
    """A comparison run under a time budget: the plan, what ran, and the sequential looks."""

    plan: Plan | None  # None for a sequential run without a budget
    comparison: Comparison | None  # None for a plan that was only printed
    actual_seconds: float | None  # wall time of this run's training (cells already stored cost nothing)
    looks: int = 0  # sequential looks taken (until_resolved), else 0
    stopped_because: str | None = None  # all resolved | budget | seed cap

    @property
    def answers(self) -> str | None:
        """What the differences are about: the rows' own words (a short run's included)."""
        rows = self.comparison.rows if self.comparison is not None else ()
        return rows[0].answers if rows else None

    def to_dict(self) -> dict:
        d = {"plan": self.plan.to_dict() if self.plan else None, "actual_seconds": self.actual_seconds}
        if self.comparison is not None:
            d.update(looks=self.looks, stopped_because=self.stopped_because, answers=self.answers,
                     rows=[r.to_dict() for r in self.comparison.rows])
        return d


def _stored_differences(arms: list[NetSpec], reference: NetSpec, config: TrainConfig,
                        results_dir) -> dict[str, dict[int, list[float]]]:
    """Each arm's own paired differences (arm - reference, final test error) in stored cells
    under this config but for the seed and the epochs: arm -> epochs -> differences."""
    want = {k: v for k, v in config.key_fields().items() if k not in ("seed", "epochs")}
    errs: dict[tuple[int, int], dict[str, float]] = {}
    records, _ = Store(results_dir).load("train")
    names = {a.name for a in arms}
    for rec in records:
        c = rec.config
        if c.get("spec") not in names or any(c.get(k) != v for k, v in want.items()):
            continue
        err = rec.result.get("final_test_error") if isinstance(rec.result, dict) else None
        if isinstance(err, (int, float)) and isinstance(c.get("epochs"), int) and isinstance(c.get("seed"), int):
            errs.setdefault((c["epochs"], c["seed"]), {})[c["spec"]] = float(err)
    out: dict[str, dict[int, list[float]]] = {}
    for (epochs, _seed), by_arm in errs.items():
        if reference.name in by_arm:
            for a, e in by_arm.items():
                if a != reference.name:
                    out.setdefault(a, {}).setdefault(epochs, []).append(e - by_arm[reference.name])
    return out


def _spread_model(fitted: list[NetSpec], ref: NetSpec, config: TrainConfig, train_images: int, results_dir):
    """``sd_at(epochs)``: the widest paired-difference sd of any arm (each arm's own stored
    cells, else the prior), and where it came from in words."""
    measured = _stored_differences(fitted, ref, config, results_dir)
    others = [a.name for a in fitted if a.name != ref.name]

    def sd_at(e: int) -> float:
        prior = prior_sd(e, train_images)
        return max((stored_sd(measured.get(a, {}), e, train_images) or prior) for a in others)

    own = {a: used for a, d in measured.items() if (used := with_spread(d))}
    if not own:
        return sd_at, "the stated prior (resbench.train.budget)"
    return sd_at, ("each arm's stored cells where it has them (" + "; ".join(
        f"{a}: " + ", ".join(f"{len(d)} at {e} epochs" for e, d in sorted(v.items())) for a, v in sorted(own.items()))
        + "), else the stated prior")


def budgeted_compare(arms: list[NetSpec | str], config: TrainConfig, budget: float | None, *, max_seeds: int | None = None,
                     plan_only: bool = False, until_resolved: bool = False, reference: str | None = None,
                     results_dir=None, scale: ScaleOut = ScaleOut(),
                     effect: float = DEFAULT_EFFECT, schedule: str | None = BUDGET_SCHEDULE,
                     epochs: int | None = None, allow_short: bool = False, hooks: Hooks = Hooks()) -> Budgeted:
    """Compare ``arms`` within ``budget`` seconds: calibrate each arm's cost, choose epochs
    and seeds for the smallest expected detectable difference (resbench.train.budget), say
    the plan, then train it. ``until_resolved``: add seeds one at a time from two until every
    difference's interval (valid under repeated looks) excludes 0 or is narrower than
    ``effect``, or the budget or ``max_seeds`` runs out (with no budget, ``config.epochs``
    and ``max_seeds`` bound the run, and no plan is made). ``schedule``: the learning-rate
    schedule of the budgeted runs (default linear decay to zero, measured best at short
    budgets: see BUDGET_SCHEDULE); None keeps ``config.schedule``. ``epochs``: fixed, the
    plan chooses only the seeds. On CIFAR-10 a plan trains at least the epochs floor
    (resbench.train.budget.epochs_floor), below which it would be about short runs, not
    trained nets; ``allow_short`` accepts such a plan, and the answer says so."""
    if budget is None and not (until_resolved and max_seeds is not None):
        raise UsageError("a sequential comparison needs a budget or a most-seeds cap: either could stop it")
    if budget is not None:
        v.number(budget, "budget (seconds)", 0, lo_open=True)
    v.number(effect, "effect (a fraction of test error)", 0, 1, lo_open=True, hi_open=True)
    if max_seeds is not None:
        v.whole(max_seeds, "max_seeds", 2, MAX_SEEDS)  # the most seeds a plan or its looks may take
    arms = [parse_spec(a) if isinstance(a, str) else a for a in arms]
    if len(arms) < 2:
        raise UsageError("a budgeted or sequential comparison needs at least two arms")
    outputs_ready(results_dir)
    ref_name = resolve_reference(arms, reference).name
    if schedule is not None and budget is not None:
        config = replace(config, schedule=schedule)  # validated by TrainConfig
    asked_dtype = config.dtype  # before "auto" is made concrete: the advice depends on what was asked
    fitted, _, config = fit_arms(arms, 1, config, hooks)
    ref = fitted[[a.name for a in arms].index(ref_name)]
    plan = None
    if budget is not None:
        plan = _make_plan(fitted, ref, config, budget, max_seeds, epochs, allow_short, results_dir, hooks, asked_dtype)
        if plan_only:
            return Budgeted(plan, None, None)
        for line in plan.lines():
            hooks.say(line)
        config = replace(config, epochs=plan.epochs)
    t0 = time.perf_counter()
    if not until_resolved:
        cmp = compare(fitted, config, seeds=plan.seeds, reference=ref.name, results_dir=results_dir,
                      scale=scale, effect=effect, hooks=hooks)
        return Budgeted(plan, _below_floor_said(cmp, plan), time.perf_counter() - t0)
    cap = min(max_seeds or MAX_SEEDS, plan.seeds if plan else MAX_SEEDS)
    cmp, looks, why = _until_resolved(fitted, ref, config, cap, budget, t0, effect, results_dir, scale, hooks)
    return Budgeted(plan, _below_floor_said(cmp, plan), time.perf_counter() - t0, looks, why)


def _below_floor_said(cmp: Comparison, plan: Plan | None) -> Comparison:
    """A plan below the epochs floor (accepted with ``allow_short``): every row says so."""
    if plan is not None and plan.below_floor:
        return replace(cmp, rows=tuple(replace(row, answers=f"{row.answers}; {plan.below_floor}") for row in cmp.rows))
    return cmp


def _make_plan(fitted: list[NetSpec], ref: NetSpec, config: TrainConfig, budget: float, max_seeds: int | None,
               epochs: int | None, allow_short: bool, results_dir, hooks: Hooks, asked_dtype: str) -> Plan:
    """Calibrate each arm here, then choose seeds and epochs for the smallest detectable
    difference (alpha split over the arms), at or above the floor on CIFAR-10."""
    data = load_data(config, fitted[0].input_size, warn=hooks.warning)
    paper_question = config.dataset == "cifar10"
    full = full_epochs(1, len(data.train_y))  # full-data epochs per epoch here
    floor = math.ceil(epochs_floor() / full) if paper_question else None
    check_epochs(epochs, None if allow_short else floor)  # before any calibration: it needs no costs
    costs = []
    for i, arm in enumerate(fitted):
        hooks.report("calibrating", i, len(fitted))
        costs.append(calibrate(arm, config, data, hooks.warning))
    sd_at, source = _spread_model(fitted, ref, config, len(data.train_y), results_dir)
    plan = choose([a.name for a in fitted], costs, budget, sd_at, max_seeds or MAX_SEEDS, source,
                  alpha=ALPHA / max(1, len(fitted) - 1), floor=None if allow_short else floor, epochs=epochs)
    plan = replace(plan, schedule=config.schedule, epochs_floor=floor,
                   expected_test_error=expected_error(full_epochs(plan.epochs, len(data.train_y))) if paper_question else None,
                   full_schedule_error=expected_error(FULL_EPOCHS) if paper_question else None,
                   data_official=data.official)
    why = useless_plan(plan, asked_dtype)
    if why:
        hooks.warning(why)
    return plan


def _until_resolved(arms, ref, config, cap: int, budget: float | None, t0: float, effect: float, results_dir,
                    scale, hooks) -> tuple[Comparison, int, str]:
    """Looks at 2, 3, 5, 8, ... seeds (resbench.stats.look_seeds); each look's intervals spend alpha."""
    schedule = look_seeds(cap)
    look = 0
    while True:
        seeds = schedule[look]
        look += 1
        started = time.perf_counter()
        before = seeds if look == 1 else seeds - schedule[look - 2]
        cmp = compare(arms, config, seeds=seeds, reference=ref.name, results_dir=results_dir,
                      scale=scale, effect=effect, hooks=hooks)
        rows = tuple(row if row.reference else
                     _sequential_row(row, _paired_diffs(cmp, ref.name, row.arm), look, len(cmp.rows) - 1, effect)
                     for row in cmp.rows)
        cmp = replace(cmp, rows=rows)
        states = [r.resolution for r in rows if not r.reference]
        hooks.say(f"look {look}: {seeds} seeds; " + ", ".join(
            f"{r.arm} {r.resolution or ('no estimate yet (zero spread)' if r.spread else 'open')}"
            for r in rows if not r.reference))
        if all(states):
            return cmp, look, "all resolved"
        if seeds >= cap:
            return cmp, look, "seed cap" if budget is None or time.perf_counter() - t0 < budget else "budget"
        # The next round's cost, from this round's time per new seed.
        per_seed = (time.perf_counter() - started) / before
        if budget is not None and time.perf_counter() - t0 + per_seed * (schedule[look] - seeds) > budget:
            return cmp, look, "budget"


def _sequential_row(row: ArmRow, diffs: list[float], look: int, comparisons: int, effect: float) -> ArmRow:
    """The row with its plain interval, p-value and verdict replaced by the look's sequential
    ones (alpha spent over looks and split over the arms), so every output shows the valid one."""
    alpha = ALPHA / max(1, comparisons)
    ci = sequential_interval(diffs, look, alpha)
    state = resolved(ci, effect, equivalence_interval(diffs, look, alpha))
    return replace(row, spread="none yet (all differences equal)" if flat(diffs) else None,
                   delta_ci=tuple(ci) if ci else None, ci_level=1 - spent_alpha(look, alpha), interval_method="sequential",
                   p_adjusted=sequential_p(_seed_p(diffs), look, comparisons, ALPHA), p_adjust_method="alpha-spending",
                   significant=None if ci is None else state == "different", look=look, resolution=state)


def _seed_p(diffs: list[float]) -> float | None:
    """The paired t p-value of the seed-level differences: the same test the sequential
    interval inverts, so its adjusted p is below alpha exactly when that interval excludes 0."""
    return mean_difference(diffs).p_value if diffs else None


def _paired_diffs(cmp: Comparison, ref: str, arm: str) -> list[float]:
    """arm - reference final test error per seed both finished (from the comparison's histories)."""
    a, r = cmp.seed_errors.get(arm, {}), cmp.seed_errors.get(ref, {})
    return [a[s] - r[s] for s in sorted(set(a) & set(r))]
