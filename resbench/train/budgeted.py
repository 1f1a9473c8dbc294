"""A comparison under a time budget, or run until its answer is resolved.

``budgeted_compare`` calibrates each arm's cost, chooses epochs and seeds for the smallest
expected detectable difference (``resbench.train.budget``), says the plan, and trains it
with ``resbench.train.comparison.compare``. With ``until_resolved`` it adds seeds in rounds
and looks after each, with intervals that stay valid under repeated looks
(``resbench.stats.sequential_interval``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from resbench import validate as v
from resbench.errors import UsageError
from resbench.hooks import Hooks
from resbench.spec import NetSpec, parse_spec
from resbench.stats import look_seeds, resolved, sequential_interval
from resbench.store import Store
from resbench.train.budget import (
    BUDGET_SCHEDULE,
    Plan,
    calibrate,
    choose,
    prior_sd,
    stored_sd,
    useless_plan,
    with_spread,
)
from resbench.train.cells import load_data
from resbench.train.comparison import (
    DEFAULT_EFFECT,
    MAX_SEEDS,
    Comparison,
    ScaleOut,
    _outputs_ready,
    _plan,
    _resolve_reference,
    compare,
)
from resbench.train.recipe import TrainConfig


@dataclass(frozen=True)
class Budgeted:
    """A comparison run under a time budget: the plan, what ran, and the sequential looks."""

    plan: Plan | None  # None for a sequential run without a budget
    comparison: Comparison | None  # None for a plan that was only printed
    actual_seconds: float | None  # wall time of this run's training (cells already stored cost nothing)
    looks: int = 0  # sequential looks taken (until_resolved), else 0
    stopped_because: str | None = None  # all resolved | budget | seed cap

    def to_dict(self) -> dict:
        d = {"plan": self.plan.to_dict() if self.plan else None, "actual_seconds": self.actual_seconds}
        if self.comparison is not None:
            d.update(looks=self.looks, stopped_because=self.stopped_because, rows=self.comparison.rows)
        return d


def _stored_differences(arms: list[NetSpec], reference: NetSpec, config: TrainConfig, results_dir) -> dict[int, list[float]]:
    """Paired differences (arm - reference, final test error) of stored cells of these arms
    under this config but for the seed and the epochs, keyed by epochs."""
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
    out: dict[int, list[float]] = {}
    for (epochs, _seed), by_arm in errs.items():
        if reference.name in by_arm:
            out.setdefault(epochs, []).extend(e - by_arm[reference.name] for a, e in by_arm.items() if a != reference.name)
    return out


def budgeted_compare(arms: list[NetSpec | str], config: TrainConfig, budget: float | None, *, max_seeds: int | None = None,
                     plan_only: bool = False, until_resolved: bool = False, reference: str | None = None,
                     results_dir=None, scale: ScaleOut = ScaleOut(),
                     effect: float = DEFAULT_EFFECT, schedule: str | None = BUDGET_SCHEDULE,
                     hooks: Hooks = Hooks()) -> Budgeted:
    """Compare ``arms`` within ``budget`` seconds: calibrate each arm's cost, choose epochs
    and seeds for the smallest expected detectable difference (resbench.train.budget), say
    the plan, then train it. ``until_resolved``: add seeds one at a time from two until every
    difference's interval (valid under repeated looks) excludes 0 or is narrower than
    ``effect``, or the budget or ``max_seeds`` runs out (with no budget, ``config.epochs``
    and ``max_seeds`` bound the run, and no plan is made). ``schedule``: the learning-rate
    schedule of the budgeted runs (default linear decay to zero, measured best at short
    budgets: see BUDGET_SCHEDULE); None keeps ``config.schedule``."""
    if budget is None and not (until_resolved and max_seeds is not None):
        raise UsageError("a sequential comparison needs a budget or a most-seeds cap: either could stop it")
    if budget is not None:
        v.number(budget, "budget (seconds)", 0, lo_open=True)
    v.number(effect, "effect (a fraction of test error)", 0, 1, lo_open=True, hi_open=True)
    if max_seeds is not None:
        v.whole(max_seeds, "most seeds", 2, MAX_SEEDS)
    arms = [parse_spec(a) if isinstance(a, str) else a for a in arms]
    if len(arms) < 2:
        raise UsageError("a budgeted or sequential comparison needs at least two arms")
    _outputs_ready(results_dir)
    ref_name = _resolve_reference(arms, reference).name
    if schedule is not None and budget is not None:
        config = replace(config, schedule=schedule)  # validated by TrainConfig
    fitted, _, config = _plan(arms, 1, config, hooks)
    ref = fitted[[a.name for a in arms].index(ref_name)]
    plan = None
    if budget is not None:
        data = load_data(config, fitted[0].input_size, warn=hooks.warning)
        costs = []
        for i, arm in enumerate(fitted):
            hooks.report("calibrating", i, len(fitted))
            costs.append(calibrate(arm, config, data, hooks.warning))
        measured = with_spread(_stored_differences(fitted, ref, config, results_dir))
        if measured:
            source = ("stored cells of these arms ("
                      + ", ".join(f"{len(d)} at {e} epochs" for e, d in sorted(measured.items())) + ")")
            sd_at = lambda e: stored_sd(measured, e)  # noqa: E731
        else:
            source = "the stated prior (resbench.train.budget)"
            sd_at = lambda e: prior_sd(e, len(data.train_y))  # noqa: E731
        plan = replace(choose([a.name for a in fitted], costs, budget, sd_at, max_seeds or MAX_SEEDS, source),
                       schedule=config.schedule)
        why = useless_plan(plan)
        if why:
            hooks.warning(why)
        if plan_only:
            return Budgeted(plan, None, None)
        for line in plan.lines():
            hooks.say(line)
        config = replace(config, epochs=plan.epochs)
    t0 = time.perf_counter()
    if not until_resolved:
        cmp = compare(fitted, config, seeds=plan.seeds, reference=ref.name, results_dir=results_dir,
                      scale=scale, effect=effect, hooks=hooks)
        return Budgeted(plan, cmp, time.perf_counter() - t0)
    cap = min(max_seeds or MAX_SEEDS, plan.seeds if plan else MAX_SEEDS)
    cmp, looks, why = _until_resolved(fitted, ref, config, cap, budget, t0, effect, results_dir, scale, hooks)
    return Budgeted(plan, cmp, time.perf_counter() - t0, looks, why)


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
        states = []
        for row in cmp.rows:
            if row["reference"]:
                continue
            ci = sequential_interval(_paired_diffs(cmp, ref.name, row["arm"]), look)
            flat = ci is not None and not ci[1] > ci[0]  # every difference equal: no estimate of the spread yet
            ci = None if flat else ci
            row.update(sequential_ci=list(ci) if ci else None, look=look, resolution=resolved(ci, effect),
                       spread="none yet (all differences equal)" if flat else None)
            states.append(row["resolution"])
        hooks.say(f"look {look}: {seeds} seeds; " + ", ".join(
            f"{r['arm']} {r.get('resolution') or ('no estimate yet (zero spread)' if r.get('spread') else 'open')}"
            for r in cmp.rows if not r["reference"]))
        if all(states):
            return cmp, look, "all resolved"
        if seeds >= cap:
            return cmp, look, "seed cap" if budget is None or time.perf_counter() - t0 < budget else "budget"
        # The next round's cost, from this round's time per new seed.
        per_seed = (time.perf_counter() - started) / before
        if budget is not None and time.perf_counter() - t0 + per_seed * (schedule[look] - seeds) > budget:
            return cmp, look, "budget"


def _paired_diffs(cmp: Comparison, ref: str, arm: str) -> list[float]:
    """arm - reference final test error per seed both finished (from the comparison's histories)."""
    a, r = cmp.seed_errors.get(arm, {}), cmp.seed_errors.get(ref, {})
    return [a[s] - r[s] for s in sorted(set(a) & set(r))]
