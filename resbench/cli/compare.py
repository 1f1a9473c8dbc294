"""`resbench compare`: a paired sweep of arms x seeds, with differences and 95 % intervals."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import JsonOpt, comma_list, with_modifiers, with_training
from resbench.cli.output import err, out, print_json
from resbench.errors import Interrupted, UsageError

ARMS = "Arms"
SCALE = "Scale out"
OUTPUT = "Output"


def _split(text: str | None) -> list[str] | None:
    return comma_list(text) or None


def _ints(text: str | None, what: str) -> list[int] | None:
    try:
        return comma_list(text, int) or None
    except ValueError:
        raise UsageError(f"{what} takes whole numbers separated by commas, got {text!r}") from None


def write_outputs(rows, arms_hist, as_json, csv, markdown, plot, title) -> None:
    """Shared by compare and degradation: files first, then the table or JSON on stdout."""
    from resbench.report.compare import compare_table

    if csv or markdown:
        import pandas as pd

        df = pd.DataFrame(rows)
        if csv:
            df.to_csv(csv, index=False)
        if markdown:
            from resbench.cli.results import _markdown

            with open(markdown, "w") as f:
                f.write(_markdown(df.drop(columns=["reference"])) + "\n")
    if plot:
        from resbench.report.plots import error_curves

        error_curves(arms_hist, plot, title=title)
    if as_json:
        print_json(rows)
    else:
        out.print(compare_table(rows))


def run_comparison(arms, cells, store_dir, training, label: str, scale: dict | None = None):
    """Run (or find stored) every cell; returns [(arm spec, seed, record)]. Ctrl-C keeps what
    finished; failed cells are reported and left for the next run."""
    from resbench.cli.output import warn
    from resbench.cli.progress import progress_bar
    from resbench.cli.training import load_data
    from resbench.measure.env import collect_env
    from resbench.measure.timing import resolve_device
    from resbench.store import Store
    from resbench.train.executors import run_cells
    from resbench.train.loop import train as run_train
    from resbench.train.sweep import run_sweep

    cfg, download = training
    scale = scale or {}
    store = Store(store_dir)
    done, failed = [], []
    with progress_bar(label) as update:

        def run_here(cell):
            data = load_data(cell.config, download, cell.spec.input_size)
            result = run_train(cell.spec, cell.config, data,
                               progress=lambda phase, i, n: update(f"{cell.spec.name} seed {cell.seed} {phase}", i, n))
            return result.to_dict(), collect_env(resolve_device(cell.config.device))

        def runner(missing):
            return run_cells(missing, download, run_here=run_here, **scale)

        def on_cell(cell, status):
            if status.startswith("failed"):
                failed.append(cell)
                warn(f"{cell.spec.name} seed {cell.seed} {status}")
            elif status == "finished" and (scale.get("executor", "local") != "local" or scale.get("workers", 1) > 1):
                update("cells", len(done) + 1, len(cells))

        try:
            for cell, rec in run_sweep(cells, store, runner, on_cell):
                if rec is not None:
                    done.append((cell.spec, cell.seed, rec))
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted: {len(done)} of {len(cells)} cells are stored in {store.records_dir}; "
                              "run the same command again to finish the rest") from None
    if failed:
        warn(f"{len(failed)} cell(s) failed and were not stored; run the same command again to retry them")
    return done


@with_modifiers
@with_training
def compare(
    shortcuts: Annotated[Optional[str], typer.Option(help="Shortcut options to compare, e.g. A,B,C.", rich_help_panel=ARMS)] = None,
    blocks: Annotated[Optional[str], typer.Option(help="basic,bottleneck: bottleneck arms have the same blocks per stage (depth 9n+2 vs 6n+2).", rich_help_panel=ARMS)] = None,
    depths: Annotated[Optional[str], typer.Option(help="CIFAR basic-block depths 6n+2, e.g. 20,56 (default 20).", rich_help_panel=ARMS)] = None,
    specs: Annotated[Optional[str], typer.Option(help="Explicit arms instead of the depth grid, e.g. resnet20,plain20.", rich_help_panel=ARMS)] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per arm (paired: same data order, augmentation and shared initial weights).", rich_help_panel=ARMS)] = 1,
    reference: Annotated[Optional[str], typer.Option(help="Arm the others are compared with (default: the first).", rich_help_panel=ARMS)] = None,
    as_json: JsonOpt = False,
    csv: Annotated[Optional[str], typer.Option(help="Write the table to this CSV file.", rich_help_panel=OUTPUT)] = None,
    markdown: Annotated[Optional[str], typer.Option(help="Write the table to this Markdown file.", rich_help_panel=OUTPUT)] = None,
    plot: Annotated[Optional[str], typer.Option(help="Write error-vs-epoch curves (Fig. 6 style) to this PNG.", rich_help_panel=OUTPUT)] = None,
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results).", rich_help_panel=OUTPUT)] = None,
    executor: Annotated[str, typer.Option(help="local (this process, or a process pool with --workers) or ray.", rich_help_panel=SCALE)] = "local",
    workers: Annotated[int, typer.Option(help="local: cells at once, each pinned to cores/N threads.", rich_help_panel=SCALE)] = 1,
    retries: Annotated[int, typer.Option(help="Retry a failed cell this many times in this run.", rich_help_panel=SCALE)] = 0,
    address: Annotated[Optional[str], typer.Option(help="ray: auto or ray://host:10001 (default: start a local Ray).", rich_help_panel=SCALE)] = None,
    cpus_per_run: Annotated[float, typer.Option("--cpus-per-run", help="ray: CPUs per cell.", rich_help_panel=SCALE)] = 1.0,
    gpus_per_run: Annotated[float, typer.Option("--gpus-per-run", help="ray: GPUs per cell (fractions share a GPU).", rich_help_panel=SCALE)] = 0.0,
    modifiers: dict = None,
    training=None,
) -> None:
    """Train every arm for every seed (resumable: stored cells are skipped) and tabulate
    final errors, differences to the reference arm with 95 % CIs over paired seeds.

    Examples:  resbench compare --shortcuts A,B,C --seeds 3 · resbench compare --depths 20,56 --plain ·
    resbench compare --blocks basic,bottleneck --depths 20 · resbench compare --specs resnet20,plain20 --dataset synthetic
    """
    from resbench.report.compare import summarize_arms
    from resbench.spec import parse_spec
    from resbench.train.sweep import build_arms, build_cells

    cfg, _ = training
    arms = build_arms(_split(specs), depths=_ints(depths, "--depths"), blocks=_split(blocks), shortcuts=_split(shortcuts),
                      plain=bool(modifiers.get("plain")), modifiers=modifiers)
    ref = arms[0]
    if reference:
        try:
            wanted = parse_spec(reference).name
        except Exception:
            wanted = reference
        matches = [a for a in arms if a.name == wanted]
        if not matches:
            raise UsageError(f"--reference {reference!r} is not one of the arms: {', '.join(a.name for a in arms)}")
        ref = matches[0]
    cells = build_cells(arms, seeds, cfg, first_seed=cfg.seed)
    from resbench.cli.training import fit_to_data, load_data

    data = load_data(cfg, training[1], arms[0].input_size)
    fitted = {a.name: fit_to_data(a, data) for a in arms}
    if any(fitted[a.name] != a for a in arms):
        arms = [fitted[a.name] for a in arms]
        ref = fitted[ref.name]
        cells = build_cells(arms, seeds, cfg, first_seed=cfg.seed)
    err.print(f"{len(arms)} arm(s) x {seeds} seed(s) = {len(cells)} cells on {cfg.dataset}, {cfg.epochs} epoch(s) each", highlight=False)
    scale = dict(executor=executor, workers=workers, retries=retries, address=address, cpus_per_run=cpus_per_run,
                 gpus_per_run=gpus_per_run)
    done = run_comparison(arms, cells, results_dir, training, "compare", scale)
    rows = summarize_arms(arms, done, ref)
    hist = {a.name: [rec["result"]["history"] for s, _, rec in done if s.name == a.name] for a in arms}
    write_outputs(rows, hist, as_json, csv, markdown, plot, title=f"{cfg.dataset}, {cfg.epochs} epochs, {seeds} seed(s)")
