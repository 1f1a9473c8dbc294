"""`resbench analyze responses|gradients` and `resbench degradation`: the paper's Fig. 7 and Fig. 6."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import JsonOpt, with_modifiers, with_training
from resbench.cli.output import err, out, print_json
from resbench.errors import UsageError

app = typer.Typer(help="Look inside networks as the paper did: layer responses (Fig. 7) and gradient norms.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

SpecsArg = Annotated[list[str], typer.Argument(help="One or more specs, e.g. plain20 plain56 resnet20 resnet56.", show_default=False)]
ResultsDir = Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results).")]
Save = Annotated[bool, typer.Option("--save/--no-save", help="Store the result as a record.")]
CheckpointOpt = Annotated[Optional[str], typer.Option(help="Load this state_dict (one spec only) instead of training.")]


def _nets(specs, modifiers, training, train_epochs, checkpoint):
    """Build each net, then load a checkpoint or train it briefly; yields (spec, model, data)."""
    from dataclasses import replace

    from resbench.cli.training import fit_to_data, load_data
    from resbench.model import build_model
    from resbench.spec import parse_spec
    from resbench.train.analysis import load_checkpoint
    from resbench.train.loop import train

    cfg, download = training
    if checkpoint and len(specs) != 1:
        raise UsageError("--checkpoint belongs to one network: give exactly one spec with it")
    if train_epochs < 0:
        raise UsageError(f"--train-epochs must be >= 0, got {train_epochs}")
    parsed = [parse_spec(s, **modifiers) for s in specs]
    for spec in parsed:
        data = load_data(cfg, download, spec.input_size)
        spec = fit_to_data(spec, data)
        model = build_model(spec, init_weights=False)
        model.reset_parameters(seed=cfg.seed)
        if checkpoint:
            load_checkpoint(model, checkpoint)
        elif train_epochs:
            from resbench.cli.progress import progress_bar

            with progress_bar(f"training {spec.name}") as update:
                r = train(spec, replace(cfg, epochs=train_epochs), data, progress=update, model=model)
            if r.diverged:
                err.print(f"warning: {spec.name} diverged during training ({r.diverged_at})", highlight=False)
        yield spec, _for_analysis(model), data


def _for_analysis(model):
    """Back on the CPU in the default layout (training may have moved it to NHWC / a GPU)."""
    import torch

    return model.cpu().to(memory_format=torch.contiguous_format)


def _batch(data, n: int, seed: int):
    import torch

    from resbench.train.loader import channel_stats

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.test_y), generator=g)[:n]
    mean, std = channel_stats(data.train_x)
    x = (data.test_x[idx].float() / 255 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    return x, data.test_y[idx]


def _store(save, results_dir, kind, config, result):
    if not save:
        return
    import torch

    from resbench.measure.env import collect_env
    from resbench.store import Store

    Store(results_dir).put(kind, config=config, result=result, env=collect_env(torch.device("cpu")))


@app.command("responses")
@with_modifiers
@with_training
def responses(
    specs: SpecsArg,
    checkpoint: CheckpointOpt = None,
    train_epochs: Annotated[int, typer.Option("--train-epochs", help="Train each net this many epochs first (0: at initialisation).")] = 0,
    images: Annotated[int, typer.Option(help="Test images in the measured batch.")] = 256,
    plot: Annotated[str, typer.Option(help="PNG to write (Fig. 7 style).")] = "responses.png",
    as_json: JsonOpt = False,
    save: Save = True,
    results_dir: ResultsDir = None,
    modifiers: dict = None,
    training=None,
) -> None:
    """Std of each 3x3 layer's response (after BN, before ReLU/addition) on a batch of test images.

    Example:  resbench analyze responses plain20 plain56 resnet20 resnet56 --train-epochs 5 --data-dir data
    """
    from resbench.report.plots import layer_values
    from resbench.train.analysis import layer_responses

    if images < 1:
        raise UsageError(f"--images must be at least 1, got {images}")
    nets = {}
    for spec, model, data in _nets(specs, modifiers, training, train_epochs, checkpoint):
        x, _ = _batch(data, images, training[0].seed)
        nets[spec.name] = [v.__dict__ for v in layer_responses(model, x)]
    cfg = training[0]
    title = f"layer responses on {cfg.dataset} ({'checkpoint' if checkpoint else f'{train_epochs} training epochs'})"
    layer_values({n: [v["value"] for v in vs] for n, vs in nets.items()}, plot, "std of response", title)
    result = {"nets": nets, "plot": plot, "train_epochs": train_epochs, "checkpoint": checkpoint}
    _store(save, results_dir, "analysis-responses", {"specs": list(nets), "dataset": cfg.dataset, "seed": cfg.seed,
                                                      "train_epochs": train_epochs, "images": images}, result)
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table(header_style="bold", title="std of 3x3 layer responses")
    table.add_column("net")
    for c in ("layers", "mean", "first", "last", "max"):
        table.add_column(c, justify="right")
    for name, vs in nets.items():
        vals = [v["value"] for v in vs]
        table.add_row(name, str(len(vals)), f"{sum(vals) / len(vals):.3f}", f"{vals[0]:.3f}", f"{vals[-1]:.3f}", f"{max(vals):.3f}")
    out.print(table)
    out.print(f"figure: {plot}", highlight=False)


@app.command("gradients")
@with_modifiers
@with_training
def gradients(
    specs: SpecsArg,
    checkpoint: CheckpointOpt = None,
    at_epochs: Annotated[str, typer.Option("--at-epochs", help="Measure at these points of a short training run, e.g. 0,1,3.")] = "0",
    images: Annotated[int, typer.Option(help="Batch size of the measured forward/backward.")] = 128,
    plot: Annotated[str, typer.Option(help="PNG to write (log scale).")] = "gradients.png",
    as_json: JsonOpt = False,
    save: Save = True,
    results_dir: ResultsDir = None,
    modifiers: dict = None,
    training=None,
) -> None:
    """Per-layer gradient norms (weights and layer outputs) at initialisation and during training,
    with a verdict: healthy, or vanishing (first/last weight-gradient ratio below 0.01).

    Example:  resbench analyze gradients plain56 resnet56 --at-epochs 0,2 --data-dir data
    """
    from dataclasses import replace

    from resbench.report.plots import layer_values
    from resbench.train.analysis import gradient_norms, gradient_verdict
    from resbench.train.loop import train

    try:
        points = sorted({int(v) for v in at_epochs.split(",")})
    except ValueError:
        raise UsageError(f"--at-epochs takes whole numbers separated by commas, e.g. 0,1,3; got {at_epochs!r}") from None
    if points[0] < 0:
        raise UsageError("--at-epochs must be >= 0")
    cfg = training[0]
    nets, curves = {}, {}
    for spec, model, data in _nets(specs, modifiers, training, 0, checkpoint):
        x, y = _batch(data, images, cfg.seed)
        done = 0
        per_point = []
        for p in points:
            if p > done:
                train(spec, replace(cfg, epochs=p - done, seed=cfg.seed + done), data, model=model)
                model = _for_analysis(model)
                done = p
            w, o = gradient_norms(model, x, y)
            ratio, verdict = gradient_verdict(w)
            per_point.append({"epoch": p, "weights": [v.__dict__ for v in w], "outputs": [v.__dict__ for v in o],
                              "first_last_ratio": ratio, "verdict": verdict})
            curves[f"{spec.name} @ epoch {p}"] = [v.value for v in w]
        nets[spec.name] = per_point
    layer_values(curves, plot, "weight-gradient L2 norm", f"gradient norms on {cfg.dataset}", log=True, sorted_panel=False)
    result = {"nets": nets, "plot": plot}
    _store(save, results_dir, "analysis-gradients", {"specs": list(nets), "dataset": cfg.dataset, "seed": cfg.seed,
                                                      "at_epochs": points, "images": images}, result)
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table(header_style="bold", title="conv weight-gradient norms")
    for c, j in (("net", "left"), ("epoch", "right"), ("first", "right"), ("last", "right"), ("verdict", "left")):
        table.add_column(c, justify=j)
    for name, pts in nets.items():
        for p in pts:
            table.add_row(name, str(p["epoch"]), f"{p['weights'][0]['value']:.3g}", f"{p['weights'][-1]['value']:.3g}", p["verdict"])
    out.print(table)
    out.print(f"figure: {plot}", highlight=False)


@with_training
def degradation(
    depths: Annotated[str, typer.Option(help="CIFAR depths 6n+2 to train, plain and residual.")] = "20,32,44,56",
    seeds: Annotated[int, typer.Option(help="Seeds per net.")] = 1,
    shortcut: Annotated[str, typer.Option(help="Shortcut option of the residual nets.")] = "A",
    plot: Annotated[str, typer.Option(help="PNG to write (Fig. 6 style: plain left, residual right).")] = "degradation.png",
    as_json: JsonOpt = False,
    csv: Annotated[Optional[str], typer.Option(help="Write the table to this CSV file.")] = None,
    results_dir: ResultsDir = None,
    training=None,
) -> None:
    """The paper's Fig. 6: plain vs residual nets of several depths; does deeper plain train worse?
    Resumable (the same cells as `compare`, stored as records).

    Example:  resbench degradation --depths 20,56 --epochs 10 --data-dir data
    """
    from resbench.cli.compare import _ints, run_comparison
    from resbench.report.compare import summarize_arms
    from resbench.report.plots import error_curves
    from resbench.train.sweep import build_arms, build_cells

    cfg, download = training
    ds = _ints(depths, "--depths")
    residual = build_arms(depths=ds, shortcuts=[shortcut])
    plain = build_arms(depths=ds, plain=True, shortcuts=[shortcut])
    plain = [a for a in plain if a.plain]
    arms = residual + plain
    cells = build_cells(arms, seeds, cfg, first_seed=cfg.seed)
    err.print(f"{len(arms)} nets x {seeds} seed(s) = {len(cells)} cells on {cfg.dataset}, {cfg.epochs} epoch(s) each", highlight=False)
    done = run_comparison(arms, cells, results_dir, training, "degradation")
    rows = summarize_arms(arms, done, arms[0])
    trend = degradation_trend(rows)
    hist = {a.name: [rec["result"]["history"] for s, _, rec in done if s.name == a.name] for a in arms}
    error_curves(hist, plot, title=f"{cfg.dataset}, {cfg.epochs} epochs, {seeds} seed(s)",
                 panels={"plain": [a.name for a in plain], "residual": [a.name for a in residual]})
    table = [{k: r[k] for k in ("arm", "depth", "plain", "params", "seeds", "train_error_mean", "train_error_std",
                                "test_error_mean", "test_error_std")} for r in rows]
    if csv:
        import pandas as pd

        pd.DataFrame(table).to_csv(csv, index=False)
    if as_json:
        print_json({"rows": table, "trend": trend, "plot": plot})
        return
    from rich.table import Table

    from resbench.report.format import pct_pm

    t = Table(header_style="bold")
    for c in ("net", "depth", "seeds", "final train err %", "final test err %"):
        t.add_column(c, justify="left" if c == "net" else "right")
    for r in sorted(rows, key=lambda r: (not r["plain"], r["depth"])):
        t.add_row(r["arm"], str(r["depth"]), str(r["seeds"]), pct_pm(r["train_error_mean"], r["train_error_std"]),
                  pct_pm(r["test_error_mean"], r["test_error_std"]))
    out.print(t)
    for line in trend.values():
        out.print(line, highlight=False)
    out.print(f"figure: {plot}", highlight=False)


def degradation_trend(rows: list[dict]) -> dict:
    """One sentence per family: final training error of the deepest vs the shallowest net."""
    out = {}
    for family, plain in (("plain", True), ("residual", False)):
        rs = sorted((r for r in rows if r["plain"] == plain and r["train_error_mean"] is not None), key=lambda r: r["depth"])
        if len(rs) < 2:
            out[family] = f"{family}: fewer than two depths finished; no trend"
            continue
        a, b = rs[0], rs[-1]
        d = 100 * (b["train_error_mean"] - a["train_error_mean"])
        word = "worse" if d > 0 else "better"
        out[family] = (f"{family}: depth {b['depth']} trains {word} than depth {a['depth']} by {abs(d):.2f} points of "
                       f"final training error ({100 * a['train_error_mean']:.2f}% -> {100 * b['train_error_mean']:.2f}%)")
    return out
