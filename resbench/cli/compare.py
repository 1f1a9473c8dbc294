"""`resbench compare`: a paired sweep of arms x seeds, with differences and 95 % intervals."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import (CsvOpt, extend, JsonOpt, LogOpt, MarkdownOpt, ResultsDirOpt, ShortRunsOpt, parse_list, with_modifiers,
                                  with_scale, with_training)
from resbench.cli.output import TableOutputs, comparison_outputs, hooks_for, open_tracker, print_comparison, print_json

ARMS = "Arms"
BUDGET = "Budget"

# The arms' grid (or explicit specs): the command receives them as one dict, ``grid``.
_GRID_DEFS = [
    ("shortcuts", Optional[str], None, typer.Option(help="Shortcut options to compare, e.g. A,B,C.", rich_help_panel=ARMS)),
    ("blocks", Optional[str], None, typer.Option(help="basic,bottleneck: bottleneck arms have the same blocks per stage (depth 9n+2 vs 6n+2).", rich_help_panel=ARMS)),
    ("depths", Optional[str], None, typer.Option(help="CIFAR basic-block depths 6n+2, e.g. 20,56 (default 20).", rich_help_panel=ARMS)),
    ("specs", Optional[str], None, typer.Option(help="Explicit arms instead of the depth grid, e.g. resnet20,plain20.", rich_help_panel=ARMS)),
]


def _with_grid(func):
    return extend(func, _GRID_DEFS, "grid", dict)


@with_modifiers
@with_training
@with_scale
@_with_grid
def compare(
    seeds: Annotated[Optional[int], typer.Option(help="Seeds per arm (paired: same data order, augmentation and shared initial weights); default 1. With --budget or --until-resolved: the most seeds per arm.", rich_help_panel=ARMS)] = None,
    reference: Annotated[Optional[str], typer.Option(help="Arm the others are compared with (default: the first).", rich_help_panel=ARMS)] = None,
    effect: Annotated[float, typer.Option(help="Difference in test error (points) the power columns are about: seeds needed to detect it (default 0.5, the paper's A/B/C differences).", rich_help_panel=ARMS)] = 0.5,
    target_error: Annotated[Optional[float], typer.Option("--target-error", help="Report per seed the epoch and seconds at which test error first reached this (percent).", rich_help_panel=ARMS)] = None,
    budget: Annotated[Optional[str], typer.Option(help="Time for the whole comparison, e.g. 45m, 2h, 1h30m: each arm's cost is calibrated here and epochs and seeds are chosen for the smallest detectable difference (--epochs is then the plan's).", rich_help_panel=BUDGET)] = None,
    plan: Annotated[bool, typer.Option("--plan", help="With --budget: print the plan (arms x seeds x epochs, time, expected detectable difference) and stop.", rich_help_panel=BUDGET)] = False,
    until_resolved: Annotated[bool, typer.Option("--until-resolved", help="Add seeds in rounds (2, 3, 5, 8, ...) until every difference's interval (valid under repeated looks) excludes 0 or lies within ±--effect, or --budget or --seeds runs out.", rich_help_panel=BUDGET)] = False,
    short_runs: ShortRunsOpt = False,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    plot: Annotated[Optional[str], typer.Option(help="Write a forest plot of each difference with its interval and per-seed points to this PNG (and error-vs-epoch curves beside it, FILE-curves.png, when runs have more than one epoch).", rich_help_panel="Output")] = None,
    log: LogOpt = None,
    results_dir: ResultsDirOpt = None,
    scale=None,
    grid: dict = None,
    modifiers: dict = None,
    training=None,
) -> None:
    """Train every arm for every seed (resumable: stored cells are skipped) and tabulate
    final errors, differences to the reference arm with 95 % CIs over paired seeds.
    Two runs on one results folder share the work: neither trains a cell the other holds.

    Examples:  resbench compare --shortcuts A,B,C --seeds 3 · resbench compare --depths 20,56 --plain ·
    resbench compare --blocks basic,bottleneck --depths 20 · resbench compare --specs resnet20,plain20 --dataset synthetic
    """
    from resbench.cli.progress import progress_bar
    from resbench.train.comparison import compare as run_compare

    budgeted = budget is not None or until_resolved or plan
    seconds, tables = _check_outputs(effect, target_error, budget, plan, until_resolved, seeds, short_runs, csv, markdown,
                                     plot, as_json)
    arms = _arms(**grid, modifiers=modifiers)
    tracker = open_tracker(log, results_dir, outputs=(csv, markdown, plot))
    if budgeted:
        from resbench.cli.budget import run_budgeted
        from resbench.report.plots import comparison_figure

        return run_budgeted(arms, training, seconds, plan=plan, until_resolved=until_resolved, seeds=seeds,
                            reference=reference, results_dir=results_dir, scale=scale, effect=effect, as_json=as_json,
                            tables=tables, plot=plot, draw=comparison_figure, tracker=tracker, short_runs=short_runs)
    with progress_bar("compare") as update:
        report = run_compare(arms, training.config, seeds=1 if seeds is None else seeds, reference=reference,
                             results_dir=results_dir, scale=scale, effect=effect / 100,
                             target_error=None if target_error is None else target_error / 100, hooks=hooks_for(update))
    _render(report, plot, tracker, tables, as_json)


def _check_outputs(effect, target_error, budget, plan, until_resolved, seeds, short_runs, csv, markdown, plot, as_json):
    """Every number and output place is checked before any training (a refusal after it
    would lose it): the budget in seconds (None without one) and the table outputs."""
    from resbench.cli.budget import budget_seconds
    from resbench.outputs import FIGURE_SUFFIXES, prepare_output
    from resbench.validate import number

    number(effect, "--effect (points of test error)", 0, 100, lo_open=True, hi_open=True)
    if target_error is not None:
        number(target_error, "--target-error (percent)", 0, 100, lo_open=True, hi_open=True)
    seconds = budget_seconds(budget, plan=plan, until_resolved=until_resolved, seeds=seeds, short_runs=short_runs,
                             outputs=(csv, markdown, plot), target_error=target_error)
    tables = TableOutputs(csv, markdown, as_json)
    if plot is not None:
        prepare_output(plot, FIGURE_SUFFIXES, "--plot")
    return seconds, tables


def _arms(specs, depths, blocks, shortcuts, modifiers):
    from resbench.train.sweep import build_arms

    return build_arms(parse_list(specs, "--specs", example="resnet20,plain20"),
                      depths=parse_list(depths, "--depths", int, "20,56"),
                      blocks=parse_list(blocks, "--blocks", example="basic,bottleneck"),
                      shortcuts=parse_list(shortcuts, "--shortcuts", example="A,B,C"),
                      plain=bool(modifiers.get("plain")), modifiers=modifiers)


def _render(report, plot, tracker, tables, as_json) -> None:
    from resbench.report.plots import comparison_figure

    rows = comparison_outputs(report, "compare", plot, comparison_figure, tracker, tables)
    if rows is None:
        return
    if as_json:
        print_json(rows)
    else:
        print_comparison(report.rows)
