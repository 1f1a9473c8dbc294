"""`resbench search`: an Optuna study over the design space; prints the Pareto front."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import CsvOpt, JsonOpt, LogOpt, MarkdownOpt, PackOpt, ResultsDirOpt, extend, with_training
from resbench.cli.output import TableOutputs, hooks_for, open_tracker, out, print_json
from resbench.report import export

SPACE = "Space"
LIMITS = "Constraints"
SEARCH = "Search"
STUDY = "Study (storage, workers)"
OUTPUT = "Output"


# The space and its limits: the command receives them as one dict, ``space``.
_SPACE_DEFS = [
    ("family", Optional[str], None, typer.Option(help="Stems to search: cifar, imagenet or both (default cifar).", rich_help_panel=SPACE)),
    ("blocks", Optional[str], None, typer.Option(help="basic, bottleneck or both (default both).", rich_help_panel=SPACE)),
    ("stages", Optional[str], None, typer.Option(help="Numbers of stages, e.g. 3 or 2,3 (default: cifar 3, imagenet 4).", rich_help_panel=SPACE)),
    ("min_blocks_per_stage", Optional[int], None, typer.Option("--min-blocks-per-stage", help="Fewest blocks in a stage (default 1).", rich_help_panel=SPACE)),
    ("max_blocks_per_stage", Optional[str], None, typer.Option("--max-blocks-per-stage", help="Most blocks in a stage: one number, or one per stage like 9.9.6 (default 18).", rich_help_panel=SPACE)),
    ("widths", Optional[str], None, typer.Option(help="First-stage widths to try, doubling per stage, e.g. 16,32 (default: the family's).", rich_help_panel=SPACE)),
    ("shortcuts", Optional[str], None, typer.Option(help="Shortcut options to try: A, B, C and plain (no shortcuts); default A,B,C.", rich_help_panel=SPACE)),
    ("stride_on", Optional[str], None, typer.Option("--stride-on", help="Bottleneck stride placements: 3x3 (torchvision), 1x1 (paper) or both.", rich_help_panel=SPACE)),
    ("max_macs", Optional[str], None, typer.Option("--max-macs", help="Hard limit on MACs per image, e.g. 60M (analytic: free to check).", rich_help_panel=LIMITS)),
    ("max_params", Optional[str], None, typer.Option("--max-params", help="Hard limit on parameters, e.g. 500k.", rich_help_panel=LIMITS)),
    ("max_latency_ms", Optional[float], None, typer.Option("--max-latency-ms", help="Hard limit on inference latency of one batch, measured on --device at --latency-batch-size.", rich_help_panel=LIMITS)),
    ("max_memory", Optional[str], None, typer.Option("--max-memory", help="Hard limit on peak device memory of one inference batch, e.g. 2G (CUDA: measured).", rich_help_panel=LIMITS)),
]


def _with_space(func):
    return extend(func, _SPACE_DEFS, "space", dict)


# How candidates are proposed and stopped early: the command receives them as one dict, ``strategy``.
_STRATEGY_DEFS = [
    ("sampler", str, "tpe", typer.Option(help="Optuna sampler: tpe (multi-objective TPE), nsga2 or random.", rich_help_panel=SEARCH)),
    ("sampler_seed", Optional[int], None, typer.Option("--sampler-seed", help="Sampler seed (default: --seed, plus the trials already in the study). Give each parallel worker its own.", rich_help_panel=SEARCH)),
    ("pruning", bool, True, typer.Option("--pruning/--no-pruning", help="Successive halving over epochs (multi-objective: ranked by front and crowding).", rich_help_panel=SEARCH)),
    ("min_epochs", int, 1, typer.Option("--min-epochs", help="First rung: epochs every candidate trains.", rich_help_panel=SEARCH)),
    ("reduction_factor", int, 3, typer.Option("--reduction-factor", help="Keep the best 1/N at each rung (rungs at min-epochs x N^k).", rich_help_panel=SEARCH)),
]


def _with_strategy(func):
    return extend(func, _STRATEGY_DEFS, "strategy", dict)


@with_training
@_with_space
@_with_strategy
def search(
    space_file: Annotated[Optional[str], typer.Option("--space", help="TOML file with the same keys (family, blocks, stages, max_blocks_per_stage, widths, shortcuts, stride_on, max_macs, ...); options override it.", rich_help_panel=SPACE)] = None,
    objectives: Annotated[str, typer.Option(help="error plus costs to minimise: macs, params, latency (measured). error alone: best under the constraints.", rich_help_panel=SEARCH)] = "error,macs",
    trials: Annotated[int, typer.Option(help="Candidates to evaluate in the study (all workers together; a re-run continues up to this).", rich_help_panel=SEARCH)] = 20,
    timeout: Annotated[Optional[float], typer.Option(help="Stop starting new trials after this many seconds.", rich_help_panel=SEARCH)] = None,
    seeds: Annotated[int, typer.Option(help="Training seeds per candidate; extra seeds train only candidates that survive pruning.", rich_help_panel=SEARCH)] = 1,
    references: Annotated[bool, typer.Option("--references/--no-references", help="Also train the paper's resnet20/32/56/110 that fit the space and constraints (never pruned), for comparison.", rich_help_panel=SEARCH)] = True,
    latency_batch_size: Annotated[Optional[int], typer.Option("--latency-batch-size", help="Batch for latency and memory (default --batch-size).", rich_help_panel=SEARCH)] = None,
    study_name: Annotated[Optional[str], typer.Option("--study", help="Study name (default: one derived from the options, so the same command continues the same study).", rich_help_panel=STUDY)] = None,
    storage: Annotated[Optional[str], typer.Option(help="Optuna RDB URL, e.g. postgresql://user@host/db, shared by many workers (default: sqlite file search.db in the results folder).", rich_help_panel=STUDY)] = None,
    results_dir: ResultsDirOpt = None,
    pack: PackOpt = None,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    log: LogOpt = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Write a cost-vs-error scatter (front highlighted, presets marked) to this PNG.", rich_help_panel=OUTPUT)] = None,
    space: dict = None,
    strategy: dict = None,
    training=None,
) -> None:
    """Search the ResNet design space for the Pareto front of error against cost, with Optuna.

    Each candidate is a spec sampled from the space; MACs/params are counted analytically
    (free), latency/memory measured when asked; a candidate that breaks a constraint is not
    trained. Trained candidates are stored as train records; weak ones stop early.
    Re-running the same command continues the study.

    Examples:  resbench search --max-macs 60M --trials 30 --epochs 9 --subset 5000 ·
    resbench search --blocks basic --widths 16,32 --shortcuts A,B --objectives error,macs,params ·
    resbench search --study big --storage postgresql://me@db/optuna (one per machine: workers of one study)
    """
    from resbench.cli.progress import progress_bar
    from resbench.outputs import FIGURE_SUFFIXES, prepare_output
    from resbench.search.driver import SearchOptions, run_search

    cfg = training.config
    tables = TableOutputs(csv, markdown, as_json)  # the table: every evaluated trial, with on_front
    if plot is not None:
        prepare_output(plot, FIGURE_SUFFIXES, "--plot")
    options = SearchOptions(space=space, space_file=space_file, objectives=objectives, trials=trials, timeout=timeout,
                            seeds=seeds, references=references,
                            latency_batch_size=latency_batch_size, study=study_name, storage=storage, pack=pack, **strategy)
    tracker = open_tracker(log, results_dir, outputs=(csv, markdown, plot))
    with progress_bar("search") as update:
        report = run_search(options, cfg, results_dir=results_dir, hooks=hooks_for(update))
    _render(report, cfg, plot, tracker, tables, as_json)


def _render(report, cfg, plot, tracker, tables, as_json) -> None:
    from resbench.report.search import front_lines, front_table, hypervolume_line
    from resbench.report.tracked import log_search, run_environment

    summary = report.summary
    if plot is not None:
        _scatter(report, cfg, plot)
    log_search(tracker, report, run_environment(cfg) if tracker else {}, figures=[plot] if plot else ())
    if tables.emit(lambda: export.trials_frame(summary)):
        return
    if as_json:
        print_json(report.to_dict())
        return
    out.print(front_table(summary, report.confirmed, report.split))
    for line in front_lines(report):
        out.print(line, highlight=False)
    out.print(hypervolume_line(report.hypervolume), highlight=False)


def _scatter(report, cfg, plot) -> None:
    from resbench.report.search import search_scatter

    summary = report.summary
    cost = next((o for o in report.config.objectives[1:]), "macs")
    c = report.constraints
    limit = {"macs": c.max_macs, "params": c.max_params, "latency": c.max_latency_ms}[cost]
    evaluated = sum(1 for t in summary.trials if t.status != "infeasible")
    search_scatter(summary, plot, report.presets, cost=cost, limit=limit, split=report.split,
                   title=f"{cfg.dataset}, {cfg.epochs} epochs max, {evaluated} candidates (study {summary.study})",
                   hypervolume=report.hypervolume)
