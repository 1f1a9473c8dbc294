"""`resbench search`: an Optuna study over the design space; prints the Pareto front."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import JsonOpt, comma_list, with_training
from resbench.cli.output import err, out, print_json, warn
from resbench.errors import Interrupted, UsageError

SPACE = "Space"
LIMITS = "Constraints"
SEARCH = "Search"
STUDY = "Study (storage, workers)"
OUTPUT = "Output"


def _list(text, option: str, cast=str) -> tuple | None:
    try:
        values = comma_list(text, cast)
    except ValueError:
        raise UsageError(f"{option} takes values separated by commas, e.g. {'16,32' if cast is int else 'A,B'}; got {text!r}") from None
    return tuple(values) if values is not None else None


def _space_values(space_file, **options) -> dict:
    """File values first, options over them."""
    from resbench.search.space import load_space_file

    values = load_space_file(space_file) if space_file else {}
    values.update({k: v for k, v in options.items() if v is not None})
    return values


def _build(values: dict, data):
    from resbench.search.space import Constraints, SearchSpace, parse_count

    def opt(key, option, cast=str):
        return _list(values.get(key), option, cast)

    max_blocks = values.get("max_blocks_per_stage", 18)
    max_blocks = tuple(max_blocks) if isinstance(max_blocks, list) else _list(str(max_blocks).replace(".", ","), "--max-blocks-per-stage", int)
    space = SearchSpace(
        families=opt("family", "--family") or ("cifar",),
        blocks=opt("blocks", "--blocks") or ("basic", "bottleneck"),
        stage_counts=opt("stages", "--stages", int),
        min_blocks=int(values.get("min_blocks_per_stage", 1)),
        max_blocks=max_blocks,
        widths=opt("widths", "--widths", int),
        shortcuts=tuple(s if s == "plain" else s.upper() for s in (opt("shortcuts", "--shortcuts") or ("A", "B", "C"))),
        stride_on=opt("stride_on", "--stride-on") or ("3x3",),
        num_classes=data.num_classes, in_channels=data.in_channels, input_size=data.image_size,
    )
    latency = values.get("max_latency_ms")
    if latency is not None and float(latency) <= 0:
        raise UsageError(f"--max-latency-ms must be positive, got {latency}")
    constraints = Constraints(
        max_macs=parse_count(values["max_macs"], "--max-macs") if values.get("max_macs") is not None else None,
        max_params=parse_count(values["max_params"], "--max-params") if values.get("max_params") is not None else None,
        max_latency_ms=float(latency) if latency is not None else None,
        max_memory=parse_count(values["max_memory"], "--max-memory") if values.get("max_memory") is not None else None,
    )
    return space, constraints


def _measure_fn(device: str, batch: int, channels_last: bool):
    """Inference latency (median ms of one batch) and peak memory, with the profiler's
    timing (CUDA events / perf_counter) at a short, fixed budget per candidate."""
    from resbench.measure.timing import ProfileConfig, profile

    pcfg = ProfileConfig(device=device, batch_size=batch, mode="infer", channels_last=channels_last, warmup=3, iters=10,
                         min_time=0.2, compare_layouts=False)

    def measure(spec):
        r = profile(spec, pcfg)
        return {"latency_ms": r.latency.median, "memory_bytes": r.peak_memory_bytes}

    return measure


def _presets(space, summary) -> dict[str, dict]:
    """The paper's CIFAR nets with their costs, and their error where this study trained them."""
    from resbench.measure.analytic import analytic_complexity
    from resbench.search.study import REFERENCE_PRESETS
    from resbench.spec import parse_spec

    trained = {t.reference: t for t in summary.trials if t.reference and t.state == "complete"}
    out = {}
    for name in REFERENCE_PRESETS:
        spec = parse_spec(name, num_classes=space.num_classes, in_channels=space.in_channels, input_size=space.input_size)
        c = analytic_complexity(spec)
        t = trained.get(name)
        out[name] = {"spec": spec.name, "params": c.params, "macs": c.macs, "latency_ms": t.latency_ms if t else None,
                     "test_error": t.test_error if t else None, "trial": t.number if t else None}
    return out


def _confirm_with_fvcore(front) -> dict[str, bool]:
    """fvcore traces each finalist: its MACs and params must equal the analytic count."""
    from resbench.measure.complexity import count_complexity

    confirmed = {}
    for row in front:
        c = count_complexity(row.spec)
        confirmed[row.spec] = (c.macs, c.params) == (row.macs, row.params)
        if not confirmed[row.spec]:
            warn(f"{row.spec}: fvcore counts {c.macs} MACs / {c.params} params, the analytic counter "
                 f"{row.macs} / {row.params}; please report this")
    return confirmed


@with_training
def search(
    family: Annotated[Optional[str], typer.Option(help="Stems to search: cifar, imagenet or both (default cifar).", rich_help_panel=SPACE)] = None,
    blocks: Annotated[Optional[str], typer.Option(help="basic, bottleneck or both (default both).", rich_help_panel=SPACE)] = None,
    stages: Annotated[Optional[str], typer.Option(help="Numbers of stages, e.g. 3 or 2,3 (default: cifar 3, imagenet 4).", rich_help_panel=SPACE)] = None,
    min_blocks_per_stage: Annotated[Optional[int], typer.Option("--min-blocks-per-stage", help="Fewest blocks in a stage (default 1).", rich_help_panel=SPACE)] = None,
    max_blocks_per_stage: Annotated[Optional[str], typer.Option("--max-blocks-per-stage", help="Most blocks in a stage: one number, or one per stage like 9.9.6 (default 18).", rich_help_panel=SPACE)] = None,
    widths: Annotated[Optional[str], typer.Option(help="First-stage widths to try, doubling per stage, e.g. 16,32 (default: the family's).", rich_help_panel=SPACE)] = None,
    shortcuts: Annotated[Optional[str], typer.Option(help="Shortcut options to try: A, B, C and plain (no shortcuts); default A,B,C.", rich_help_panel=SPACE)] = None,
    stride_on: Annotated[Optional[str], typer.Option("--stride-on", help="Bottleneck stride placements: 3x3 (torchvision), 1x1 (paper) or both.", rich_help_panel=SPACE)] = None,
    space_file: Annotated[Optional[str], typer.Option("--space", help="TOML file with the same keys (family, blocks, stages, max_blocks_per_stage, widths, shortcuts, stride_on, max_macs, ...); options override it.", rich_help_panel=SPACE)] = None,
    max_macs: Annotated[Optional[str], typer.Option("--max-macs", help="Hard limit on MACs per image, e.g. 60M (analytic: free to check).", rich_help_panel=LIMITS)] = None,
    max_params: Annotated[Optional[str], typer.Option("--max-params", help="Hard limit on parameters, e.g. 500k.", rich_help_panel=LIMITS)] = None,
    max_latency_ms: Annotated[Optional[float], typer.Option("--max-latency-ms", help="Hard limit on inference latency of one batch, measured on --device at --latency-batch-size.", rich_help_panel=LIMITS)] = None,
    max_memory: Annotated[Optional[str], typer.Option("--max-memory", help="Hard limit on peak device memory of one inference batch, e.g. 2G (CUDA: measured).", rich_help_panel=LIMITS)] = None,
    objectives: Annotated[str, typer.Option(help="error plus costs to minimise: macs, params, latency (measured). error alone: best under the constraints.", rich_help_panel=SEARCH)] = "error,macs",
    trials: Annotated[int, typer.Option(help="Candidates to evaluate in the study (all workers together; a re-run continues up to this).", rich_help_panel=SEARCH)] = 20,
    timeout: Annotated[Optional[float], typer.Option(help="Stop starting new trials after this many seconds.", rich_help_panel=SEARCH)] = None,
    sampler: Annotated[str, typer.Option(help="Optuna sampler: tpe (multi-objective TPE), nsga2 or random.", rich_help_panel=SEARCH)] = "tpe",
    sampler_seed: Annotated[Optional[int], typer.Option("--sampler-seed", help="Sampler seed (default: --seed, plus the trials already in the study). Give each parallel worker its own.", rich_help_panel=SEARCH)] = None,
    seeds: Annotated[int, typer.Option(help="Training seeds per candidate; extra seeds train only candidates that survive pruning.", rich_help_panel=SEARCH)] = 1,
    pruning: Annotated[bool, typer.Option("--pruning/--no-pruning", help="Successive halving over epochs (multi-objective: ranked by front and crowding).", rich_help_panel=SEARCH)] = True,
    min_epochs: Annotated[int, typer.Option("--min-epochs", help="First rung: epochs every candidate trains.", rich_help_panel=SEARCH)] = 1,
    reduction_factor: Annotated[int, typer.Option("--reduction-factor", help="Keep the best 1/N at each rung (rungs at min-epochs x N^k).", rich_help_panel=SEARCH)] = 3,
    references: Annotated[bool, typer.Option("--references/--no-references", help="Also train the paper's resnet20/32/56/110 that fit the space and constraints (never pruned), for comparison.", rich_help_panel=SEARCH)] = True,
    latency_batch_size: Annotated[Optional[int], typer.Option("--latency-batch-size", help="Batch for latency and memory (default --batch-size).", rich_help_panel=SEARCH)] = None,
    study_name: Annotated[Optional[str], typer.Option("--study", help="Study name (default: one derived from the options, so the same command continues the same study).", rich_help_panel=STUDY)] = None,
    storage: Annotated[Optional[str], typer.Option(help="Optuna RDB URL, e.g. postgresql://user@host/db, shared by many workers (default: sqlite file search.db in the results folder).", rich_help_panel=STUDY)] = None,
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results).", rich_help_panel=STUDY)] = None,
    as_json: JsonOpt = False,
    csv: Annotated[Optional[str], typer.Option(help="Write every evaluated trial (with on_front) to this CSV file.", rich_help_panel=OUTPUT)] = None,
    plot: Annotated[Optional[str], typer.Option(help="Write a cost-vs-error scatter (front highlighted, presets marked) to this PNG.", rich_help_panel=OUTPUT)] = None,
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
    from dataclasses import replace

    from resbench.cli.progress import progress_bar
    from resbench.cli.training import load_data
    from resbench.measure.env import collect_env
    from resbench.measure.timing import resolve_device
    from resbench.search.pruner import Halving
    from resbench.search.space import narrow
    from resbench.search.study import Runner, SearchConfig, default_storage, open_study, summarize
    from resbench.spec import FAMILY_DEFAULTS
    from resbench.store import Store, results_dir as resolve_results
    from resbench.train.loop import check_train_config
    from resbench.train.loop import train as run_train

    cfg, download = training
    check_train_config(cfg)
    if trials < 1:
        raise UsageError(f"--trials must be at least 1, got {trials}")
    values = _space_values(space_file, family=family, blocks=blocks, stages=stages, min_blocks_per_stage=min_blocks_per_stage,
                           max_blocks_per_stage=max_blocks_per_stage, widths=widths, shortcuts=shortcuts, stride_on=stride_on,
                           max_macs=max_macs, max_params=max_params, max_latency_ms=max_latency_ms, max_memory=max_memory)
    fams = _list(values.get("family"), "--family") or ("cifar",)
    # One data set for every candidate: images are resized (imagefolder) or generated (synthetic)
    # at the CIFAR size whenever CIFAR nets are in the space, else at ImageNet's.
    data = load_data(cfg, download, FAMILY_DEFAULTS["cifar" if "cifar" in fams else "imagenet"]["input_size"])
    space, constraints = _build(values, data)
    narrowed = narrow(space, constraints)
    for note in narrowed.notes:
        err.print(f"note: {note}", highlight=False)
    device = resolve_device(cfg.device)
    if constraints.max_memory is not None and device.type != "cuda":
        raise UsageError("--max-memory is measured with torch.cuda.max_memory_allocated, so it needs --device cuda; "
                         "on CPU one candidate's memory cannot be told apart from the process's (use --max-params)")
    sc = SearchConfig(space=narrowed.space, constraints=constraints, train=cfg,
                      objectives=_list(objectives, "--objectives") or (), seeds=seeds,
                      halving=Halving(min_epochs, reduction_factor, cfg.epochs) if pruning else None,
                      sampler=sampler, latency_batch=latency_batch_size or cfg.batch_size)
    if pruning and cfg.epochs == 1:
        sc = replace(sc, halving=None)  # one epoch: nothing to stop early
    root = resolve_results(results_dir)
    storage_url = storage or default_storage(root)
    study = open_study(sc, storage_url, study_name, sampler_seed)
    store = Store(root)
    env = collect_env(device)
    err.print(f"study {study.study_name} in {storage_url}: {narrowed.space.size():,} specs in the space, "
              f"{trials} trial(s), up to {cfg.epochs} epoch(s) each on {cfg.dataset}", highlight=False)

    with progress_bar("search") as update:
        def train_fn(spec, tcfg, on_epoch):
            # per seed: with --val-split the held-out images depend on the seed (memoised)
            result = run_train(spec, tcfg, load_data(tcfg, download, spec.input_size), on_epoch=on_epoch,
                               progress=lambda phase, i, n: update(f"{runner.position}/{trials} {spec.name} {phase}", i, n))
            return result.to_dict()

        runner = Runner(sc, study, store, train_fn,
                        measure_fn=_measure_fn(str(device), sc.latency_batch, cfg.channels_last) if sc.needs_measurement else None,
                        env_fn=lambda: env, progress=lambda msg: update(msg, runner.position, trials))
        if references:
            runner.enqueue_references()
        try:
            runner.run(trials, timeout=timeout)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted: finished trials are kept in study {study.study_name}; "
                              "run the same command again to continue it") from None

    summary = summarize(study, sc, storage_url)
    split = "val" if cfg.val_split else "test"  # what the errors were measured on (and selected by)
    confirmed = _confirm_with_fvcore(summary.front)
    presets = _presets(narrowed.space, summary)
    if csv:
        import pandas as pd

        pd.DataFrame([t.to_dict() for t in summary.trials if t.status != "infeasible"]).to_csv(csv, index=False)
    if plot:
        from resbench.report.search import search_scatter

        cost = next((o for o in sc.objectives[1:]), "macs")
        limit = {"macs": constraints.max_macs, "params": constraints.max_params, "latency": constraints.max_latency_ms}[cost]
        evaluated = sum(1 for t in summary.trials if t.status != "infeasible")
        search_scatter(summary, plot, presets, cost=cost, limit=limit, split=split,
                       title=f"{cfg.dataset}, {cfg.epochs} epochs max, {evaluated} candidates (study {summary.study})")
    if as_json:
        print_json({
            "study": summary.study, "storage": storage_url, "objectives": list(sc.objectives),
            "space": narrowed.space.to_dict(), "constraints": vars(constraints), "counts": summary.counts(),
            "epochs": cfg.epochs, "epochs_trained": summary.epochs_trained, "epochs_if_full": summary.epochs_if_full,
            "epoch_fraction": summary.epoch_fraction, "error_split": split,
            "pareto": [{**t.to_dict(), "fvcore_confirmed": confirmed.get(t.spec)} for t in summary.front],
            "presets": presets,
            "trials": [t.to_dict() for t in summary.trials],
        })
        return
    from resbench.report.search import front_table

    out.print(front_table(summary, confirmed, split))
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts().items()))
    out.print(f"{len(summary.trials)} trials: {counts}", highlight=False)
    if summary.epoch_fraction is not None:
        out.print(f"epochs trained: {summary.epochs_trained} of the {summary.epochs_if_full} that training every evaluated "
                  f"candidate fully would take ({100 * summary.epoch_fraction:.0f} %)", highlight=False)
    for name, p in presets.items():
        where = (f"trial {p['trial']}, {split} error {100 * p['test_error']:.2f} %" if p["test_error"] is not None
                 else "not in this study (outside the space or constraints)")
        out.print(f"  {name}: {p['macs'] / 1e6:.1f} MMACs, {p['params'] / 1e3:.0f} k params; {where}", highlight=False)
