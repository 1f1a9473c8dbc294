"""`--budget`, `--plan` and `--until-resolved` for compare and degradation: parse, call
``resbench.train.budgeted.budgeted_compare``, render the plan, the table and the looks."""

from __future__ import annotations

from resbench.cli.output import TableOutputs, comparison_outputs, hooks_for, out, print_comparison, print_json
from resbench.errors import UsageError


def budget_seconds(budget: str | None, *, plan: bool, until_resolved: bool, seeds: int | None, short_runs: bool = False,
                   outputs: tuple = (), target_error: float | None = None) -> float | None:
    """The budget in seconds (None without one), once every option given with it is known
    to make sense: called before any output place or tracker is opened. ``outputs``: the
    table and figure files asked for (None where not)."""
    from resbench.validate import duration

    seconds = duration(budget, "--budget") if budget is not None else None
    if short_runs and seconds is None:
        raise UsageError("--short-runs accepts a budget's plan below the epochs floor: give --budget too, e.g. --budget 45m")
    if not (seconds is not None or plan or until_resolved):
        return None
    if plan and seconds is None:
        raise UsageError("--plan shows what a --budget buys: give --budget too, e.g. --budget 45m --plan")
    if target_error is not None:
        raise UsageError("--target-error is not reported by --budget, --plan or --until-resolved runs: "
                         "leave it out, or run without them")
    if plan and any(o is not None for o in outputs):
        raise UsageError("--plan prints the plan and trains nothing, so there is no table or figure for "
                         "--csv, --markdown or --plot: leave them out, or drop --plan")
    if until_resolved and seconds is None and seeds is None:
        raise UsageError("--until-resolved needs a limit: give --budget (e.g. 2h) or --seeds (the most seeds per arm)")
    return seconds


def run_budgeted(arms, training, seconds: float | None, *, plan: bool, until_resolved: bool, seeds: int | None,
                 reference, results_dir, scale, effect: float, as_json: bool, tables: TableOutputs, plot, draw,
                 label: str = "compare", tracker=None, short_runs: bool = False) -> None:
    """Plan and run a comparison under ``seconds`` (checked by ``budget_seconds``), then
    render it; ``draw(comparison, plot)`` draws its figure."""
    from resbench.cli.progress import progress_bar
    from resbench.train.budgeted import budgeted_compare

    # --epochs given fixes the epochs and the plan chooses the seeds; a --schedule given is
    # kept (schedule=None), left out the budget's own schedule is used
    fixed = {"epochs": training.config.epochs} if "epochs" in training.given else {}
    if "schedule" in training.given:
        fixed["schedule"] = None
    with progress_bar(label) as update:
        report = budgeted_compare(arms, training.config, seconds, max_seeds=seeds, plan_only=plan, until_resolved=until_resolved,
                                  reference=reference, results_dir=results_dir, scale=scale,
                                  effect=effect / 100, allow_short=short_runs, hooks=hooks_for(update),
                                  **fixed)
    if report.comparison is not None and comparison_outputs(report.comparison, label, plot, draw, tracker, tables) is None:
        return
    if as_json:
        print_json(report.to_dict())
        return
    if report.comparison is None:
        for line in report.plan.lines():
            out.print(line, highlight=False)
        return
    print_comparison(report.comparison.rows)
    if report.plan is not None:
        out.print(f"time: {report.actual_seconds:.0f} s of {report.plan.estimated_seconds:.0f} s planned "
                  f"({report.plan.budget_seconds:.0f} s budget)"
                  + (f"; stopped: {report.stopped_because}" if report.stopped_because else ""), highlight=False)
    elif report.stopped_because:
        out.print(f"stopped: {report.stopped_because} after {report.looks} look(s)", highlight=False)
