"""`resbench analyze responses|gradients` and `resbench degradation`: the paper's Fig. 7 and Fig. 6."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import (CsvOpt, JsonOpt, LogOpt, MarkdownOpt, PlotOpt, ResultsDirOpt, SaveOpt, ShortRunsOpt, parse_list,
                                  with_modifiers, with_scale, with_training)
from resbench.cli.output import TableOutputs, hooks_for, open_tracker, out, print_json
from resbench.report import export

app = typer.Typer(help="Look inside networks as the paper did: layer responses (Fig. 7) and gradient norms.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

SpecsArg = Annotated[list[str], typer.Argument(help="One or more specs, e.g. plain20 plain56 resnet20 resnet56.", show_default=False)]
CheckpointOpt = Annotated[Optional[str], typer.Option(help="Load this state_dict (one spec only) instead of training.")]


def _specs(specs, modifiers):
    from resbench.spec import parse_spec

    return [parse_spec(s, **modifiers) for s in specs]


@app.command("responses")
@with_modifiers
@with_training
def responses(
    specs: SpecsArg,
    checkpoint: CheckpointOpt = None,
    train_epochs: Annotated[int, typer.Option("--train-epochs", help="Train each net this many epochs first (0: at initialisation).")] = 0,
    images: Annotated[int, typer.Option(help="Test images in the measured batch.")] = 256,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    save: SaveOpt = True,
    results_dir: ResultsDirOpt = None,
    modifiers: dict = None,
    training=None,
) -> None:
    """Std of each 3x3 layer's response (after BN, before ReLU/addition) on a batch of test images.

    Example:  resbench analyze responses plain20 plain56 resnet20 resnet56 --train-epochs 5 --data-dir data
    """
    from resbench.cli.progress import progress_bar
    from resbench.outputs import figure_path
    from resbench.report.plots import layer_values
    from resbench.report.tables import responses_table
    from resbench.train.inspection import analyze_responses

    tables = TableOutputs(csv, markdown, as_json)
    figure = str(figure_path(plot, "responses.png", results_dir))
    cfg = training.config
    with progress_bar("responses") as update:
        report = analyze_responses(_specs(specs, modifiers), cfg, train_epochs=train_epochs, images=images,
                                   checkpoint=checkpoint, save=save, results_dir=results_dir, plot=figure,
                                   hooks=hooks_for(update))
    layer_values({n: [lv["value"] for lv in vs] for n, vs in report.nets.items()}, figure, "std of response", report.title)
    if tables.emit(lambda: export.responses_frame(report.nets)):
            return
    if as_json:
        print_json(report.to_dict(figure))
        return
    out.print(responses_table(report.nets))
    out.print(f"figure: {figure}", highlight=False)


@app.command("gradients")
@with_modifiers
@with_training
def gradients(
    specs: SpecsArg,
    checkpoint: CheckpointOpt = None,
    at_epochs: Annotated[str, typer.Option("--at-epochs", help="Measure at these points of a short training run, e.g. 0,1,3.")] = "0",
    images: Annotated[int, typer.Option(help="Batch size of the measured forward/backward.")] = 128,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    save: SaveOpt = True,
    results_dir: ResultsDirOpt = None,
    modifiers: dict = None,
    training=None,
) -> None:
    """Per-layer gradient norms (weights and layer outputs) at initialisation and during training,
    with a verdict from the first/last conv weight-gradient ratio: vanishing (below 0.01),
    healthy (0.01 to 100) or exploding (above 100).

    Why these bands: with He init the backward signal keeps its size through depth, and
    the first and last convs differ in fan-in by up to ~8x, so a healthy net's ratio stays
    within about one order of magnitude; two orders either way means depth is shrinking
    (vanishing) or blowing up (exploding) the gradient on its way to the input.

    Example:  resbench analyze gradients plain56 resnet56 --at-epochs 0,2 --data-dir data
    """
    from resbench.cli.progress import progress_bar
    from resbench.outputs import figure_path
    from resbench.report.plots import layer_values
    from resbench.report.tables import gradients_table
    from resbench.train.inspection import analyze_gradients

    points = parse_list(at_epochs, "--at-epochs", int, "0,1,3")
    tables = TableOutputs(csv, markdown, as_json)
    figure = str(figure_path(plot, "gradients.png", results_dir))
    cfg = training.config
    with progress_bar("gradients") as update:
        report = analyze_gradients(_specs(specs, modifiers), cfg, at_epochs=points or [0], images=images,
                                   checkpoint=checkpoint, save=save, results_dir=results_dir, plot=figure,
                                   hooks=hooks_for(update))
    layer_values(report.curves, figure, "weight-gradient L2 norm", report.title, log=True, sorted_panel=False)
    if tables.emit(lambda: export.gradients_frame(report.nets)):
            return
    if as_json:
        print_json(report.to_dict(figure))
        return
    out.print(gradients_table(report.nets))
    out.print(f"figure: {figure}", highlight=False)


@with_training
@with_scale
def degradation(
    depths: Annotated[str, typer.Option(help="CIFAR depths 6n+2 to train, plain and residual.")] = "20,32,44,56",
    seeds: Annotated[Optional[int], typer.Option(help="Seeds per net (default 1); with --budget or --until-resolved the most seeds per net.")] = None,
    shortcut: Annotated[str, typer.Option(help="Shortcut option of the residual nets.")] = "A",
    budget: Annotated[Optional[str], typer.Option(help="Time for the whole study, e.g. 2h: epochs and seeds are chosen for the smallest detectable difference to the shallowest residual net (see compare --budget).", rich_help_panel="Budget")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="With --budget: print the plan and stop.", rich_help_panel="Budget")] = False,
    until_resolved: Annotated[bool, typer.Option("--until-resolved", help="Add seeds until every difference to the shallowest residual net is resolved (see compare).", rich_help_panel="Budget")] = False,
    short_runs: ShortRunsOpt = False,
    effect: Annotated[float, typer.Option(help="Difference in test error (points) that --until-resolved resolves to.", rich_help_panel="Budget")] = 0.5,
    plot: PlotOpt = None,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    log: LogOpt = None,
    results_dir: ResultsDirOpt = None,
    scale=None,
    training=None,
) -> None:
    """The paper's Fig. 6: plain vs residual nets of several depths; does deeper plain train worse?
    Resumable (the same cells as `compare`, stored as records).

    Example:  resbench degradation --depths 20,56 --epochs 10 --data-dir data
    """
    from resbench.cli.progress import progress_bar
    from resbench.outputs import figure_path
    from resbench.train.comparison import degradation as run_degradation
    from resbench.validate import number

    cfg = training.config
    depth_list = parse_list(depths, "--depths", int, "20,56") or [20]
    number(effect, "--effect (points of test error)", 0, 100, lo_open=True, hi_open=True)
    from resbench.cli.budget import budget_seconds

    seconds = budget_seconds(budget, plan=plan, until_resolved=until_resolved, seeds=seeds, short_runs=short_runs,
                             outputs=(csv, markdown, plot))
    tables = TableOutputs(csv, markdown, as_json)
    budgeted = budget is not None or plan or until_resolved
    # the figure's place, checked before the tracker opens; a budgeted run draws one only when asked
    figure = None if budgeted and plot is None else str(figure_path(plot, "degradation.png", results_dir))
    tracker = open_tracker(log, results_dir, outputs=(csv, markdown, plot))
    if budgeted:
        from resbench.cli.budget import run_budgeted
        from resbench.report.plots import error_curves
        from resbench.train.comparison import degradation_arms

        residual, plain_nets = degradation_arms(depth_list, shortcut)
        return run_budgeted(residual + plain_nets, training, seconds, plan=plan, until_resolved=until_resolved,
                            seeds=seeds, reference=None, results_dir=results_dir, effect=effect, as_json=as_json, tables=tables,
                            plot=figure, draw=lambda cmp, path: error_curves(cmp.histories, path, title=cmp.title),
                            scale=scale, label="degradation", tracker=tracker, short_runs=short_runs)
    seeds = 1 if seeds is None else seeds
    with progress_bar("degradation") as update:
        report = run_degradation(depth_list, cfg, seeds=seeds, shortcut=shortcut,
                                 results_dir=results_dir,
                                 scale=scale, hooks=hooks_for(update))
    _render_degradation(report, figure, tracker, tables, as_json)


def _render_degradation(report, figure: str, tracker, tables, as_json: bool) -> None:
    from resbench.report.compare import DEGRADATION_COLUMNS, degradation_table
    from resbench.report.plots import error_curves
    from resbench.report.tracked import log_comparison

    error_curves(report.comparison.histories, figure, title=report.comparison.title,
                 panels={"plain": list(report.plain), "residual": list(report.residual)})
    table = [{k: getattr(r, k) for k in DEGRADATION_COLUMNS} for r in report.rows]
    log_comparison(tracker, "degradation", report.comparison, table, figures=[figure])
    if tables.emit(lambda: export.comparison_frame(table)):
        return
    if as_json:
        print_json({"rows": table, "trend": report.trend, "answers": report.comparison.answers, "plot": figure})
        return
    out.print(degradation_table(report.rows))
    for line in [*report.trend.values(), f"answers: {report.comparison.answers}"]:
        out.print(line, highlight=False)
    out.print(f"figure: {figure}", highlight=False)
