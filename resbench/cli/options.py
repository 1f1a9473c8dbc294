"""Options shared by several commands, declared once as Annotated aliases.

``spec_command`` gives a command the spec argument and every spec modifier option
(--shortcut, --plain, --stride-on, --width, ...) and hands it a parsed NetSpec, so
that show, profile, train and compare accept exactly the same words.
"""

from __future__ import annotations

import copy
import functools
import inspect
from dataclasses import dataclass, fields
from typing import Annotated, Optional

import typer

from resbench.cli.flags import MODIFIER_OPTIONS
from resbench.spec import parse_spec
from resbench.train.config import TrainConfig
from resbench.validate import comma_list, parse_list  # noqa: F401  (the CLI's one list parser)

MODIFIERS = "Spec modifiers"

SpecArg = Annotated[
    str,
    typer.Argument(
        help="Depth spec: resnet18..152, resnet20..1202, plainN, cifar-resnetD, cifar-resnetD-bottleneck, "
        "imagenet-basic-2.2.2.2, … (see `resbench list`). Modifiers may follow, e.g. resnet50:shortcut=C.",
        show_default=False,
    ),
]
TargetArg = Annotated[
    str,
    typer.Argument(
        help="Depth spec (resnet50, cifar-resnet56, ... see `resbench list`; modifiers may follow, e.g. resnet50:shortcut=C) "
        "or a reference model: torchvision:NAME or timm:NAME (e.g. torchvision:resnet50, timm:resnet50d).",
        show_default=False,
    ),
]
ShortRunsOpt = Annotated[bool, typer.Option("--short-runs", help="With --budget on CIFAR-10: accept a plan below the epochs floor (nets far from trained); every output then says the answer is about those short runs.", rich_help_panel="Budget")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")]
OUTPUT = "Output"
ResultsDirOpt = Annotated[Optional[str], typer.Option(
    "--results-dir", help="Results store folder (default ./results or $RESBENCH_RESULTS_DIR).", rich_help_panel=OUTPUT)]
SaveOpt = Annotated[bool, typer.Option("--save/--no-save", help="Store the run as a record in the results folder.",
                                       rich_help_panel=OUTPUT)]
CsvOpt = Annotated[Optional[str], typer.Option(
    "--csv", help="Also write the table as CSV to this file; - (or --csv alone): print it to stdout instead of the table.",
    rich_help_panel=OUTPUT)]
MarkdownOpt = Annotated[Optional[str], typer.Option(
    "--markdown", help="Also write the table as Markdown to this file; - (or --markdown alone): print it to stdout instead "
    "of the table.", rich_help_panel=OUTPUT)]
LogOpt = Annotated[Optional[list[str]], typer.Option(
    "--log", help="Also log to an experiment tracker: mlflow[=URI] (default $MLFLOW_TRACKING_URI, else "
    "sqlite:///RESULTS/mlflow.db) or tensorboard[=DIR] (default RESULTS/tensorboard); repeat for both. Needs the "
    "optional track extra (mlflow, tensorboard; see docs/tracking.md).", rich_help_panel=OUTPUT, show_default=False)]
SCALE = "Scale out"
_PACK = typer.Option("--pack", help="Most seeds of one arm trained together in one grouped network (default: 1 on CPU, "
                     "measured no faster there; 8 on CUDA). 1: one at a time.", rich_help_panel=SCALE)
PackOpt = Annotated[Optional[int], _PACK]
PlotOpt = Annotated[Optional[str], typer.Option(
    "--plot", help="Write the figure to this PNG (or .pdf/.svg); default: figures/ in the results folder.",
    rich_help_panel=OUTPUT)]

_KIND_TYPES = {"flag": bool, "int": Optional[int], "text": Optional[str]}
# The spec modifiers as options, generated from their one table (resbench.spec.MODIFIERS).
_MOD_DEFS = [(m.field, _KIND_TYPES[m.kind], False if m.kind == "flag" else None,
              typer.Option(f"--{m.key}", help=m.help, rich_help_panel=MODIFIERS))
             for m in MODIFIER_OPTIONS]


TRAINING = "Training"
# The training options: name, type and help. Each default is TrainConfig's field default (the one
# owner, shown in --help); an option left out reaches TrainConfig as not given.
_TRAIN_OPTIONS = [
    ("dataset", str, typer.Option(help="cifar10, cifar100, imagefolder or synthetic (offline, generated).", rich_help_panel=TRAINING)),
    ("data_dir", Optional[str], typer.Option("--data-dir", help="Folder with cifar-10-batches-py/, cifar-100-python/ or train/<class>/ (imagefolder).", rich_help_panel=TRAINING)),
    ("download", bool, typer.Option("--download/--no-download", help="Download CIFAR with torchvision if missing (needs network).", rich_help_panel=TRAINING)),
    ("subset", Optional[int], typer.Option(help="Balanced subset of N training images (the same for every seed).", rich_help_panel=TRAINING)),
    ("val_split", Optional[float], typer.Option("--val-split", help="Hold out this fraction of train as the test set.", rich_help_panel=TRAINING)),
    ("test_subset", Optional[int], typer.Option("--test-subset", help="Evaluate on a balanced subset of N test images (cheaper per epoch).", rich_help_panel=TRAINING)),
    ("epochs", int, typer.Option(help="Training epochs.", rich_help_panel=TRAINING)),
    ("batch_size", int, typer.Option("--batch-size", help="Global batch size (the paper: 128).", rich_help_panel=TRAINING)),
    ("lr", Optional[float], typer.Option(help="Peak learning rate (default 0.1 x batch/128, the paper's 0.1).", rich_help_panel=TRAINING)),
    ("schedule", str, typer.Option(help="step (/10 at 50% and 75%, the paper's), cosine or linear (both decay to 0). With --budget the default is linear (measured best at short budgets: docs/comparing.md).", rich_help_panel=TRAINING)),
    ("warmup", str, typer.Option(help="lr/10 until train error < 80%: auto (depth >= 110, as the paper), on, off.", rich_help_panel=TRAINING)),
    ("seed", int, typer.Option(help="Random seed (init, data order, augmentation); compare: the first seed.", rich_help_panel=TRAINING)),
    ("device", str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.", rich_help_panel=TRAINING)),
    ("dtype", str, typer.Option(help="fp32, bf16 (autocast), fp16 (autocast + loss scaling, CUDA), or auto: bf16 autocast where a short measurement here finds it at least 1.1x faster than fp32 (native bf16: AVX512-BF16/AMX CPUs, recent GPUs), else fp32; the record says which ran.", rich_help_panel=TRAINING)),
    ("channels_last", Optional[bool], typer.Option("--channels-last/--no-channels-last", help="NHWC layout. Default per device: on for CPU (1.33x faster training there), off for CUDA (NHWC cost ~20 % on an H100); see README.", rich_help_panel=TRAINING, show_default=False)),
    ("compile", bool, typer.Option("--compile", help="torch.compile the model.", rich_help_panel=TRAINING)),
    ("cuda_graphs", bool, typer.Option("--cuda-graphs", help="CUDA: capture forward + backward + SGD step as one CUDA graph (no launch overhead).", rich_help_panel=TRAINING)),
    ("threads", Optional[int], typer.Option(help="CPU threads for this process.", rich_help_panel=TRAINING)),
]

def _params(defs) -> list[inspect.Parameter]:
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[tp, opt])
            for name, tp, default, opt in defs]




def extend(func, defs, receive_as: str, build):
    """Give the command ``func`` the options ``defs`` (after its positional arguments).
    The wrapper removes their values from the call and passes ``build(values)`` to
    ``func`` as ``receive_as``. Typer reads the wrapper's signature like any other."""
    names = [d[0] for d in defs]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        values = {n: kwargs.pop(n) for n in names}
        kwargs[receive_as] = build(values)
        return func(*args, **kwargs)

    params = [p for p in inspect.signature(func).parameters.values() if p.name != receive_as]
    positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    rest = [p.replace(kind=p.KEYWORD_ONLY) for p in params if p not in positional]
    new_params = positional + _params(defs) + rest
    wrapper.__signature__ = inspect.Signature(new_params)
    wrapper.__annotations__ = {p.name: p.annotation for p in new_params}
    return wrapper


def with_modifiers(func):
    """Add the spec modifier options; the command receives them as ``modifiers`` (a dict)."""
    return extend(func, _MOD_DEFS, "modifiers", dict)


def spec_command(func, parse=parse_spec):
    """Add the spec modifier options to a command whose first argument is ``spec``; it
    receives a parsed NetSpec (or what ``parse`` makes of it)."""

    def parsed(spec: str, *args, modifiers: dict, **kwargs):
        return func(parse(spec, **modifiers), *args, **kwargs)

    functools.update_wrapper(parsed, func)
    sig = inspect.signature(func)
    parsed.__signature__ = sig.replace(parameters=list(sig.parameters.values()) + [
        inspect.Parameter("modifiers", inspect.Parameter.KEYWORD_ONLY, annotation=dict)])
    del parsed.__wrapped__
    return with_modifiers(parsed)


def target_command(func):
    """Like ``spec_command``, also taking reference models: torchvision:NAME, timm:NAME."""
    from resbench.measure.target import parse_target

    return spec_command(func, parse=parse_target)


@dataclass(frozen=True)
class Training:
    """The training options as parsed: the config, which of its fields were given as
    options with a value (yes/no flags not counted; a budget keeps a given --epochs or
    --schedule and chooses the rest), and the CPU threads to run with."""

    config: TrainConfig
    given: frozenset[str]
    threads: int | None


def _train_params() -> list:
    """The training options with TrainConfig's defaults: a flag starts at its field's
    default; any other option starts at None (not given) and shows the field's default."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    params = []
    for name, tp, opt in _TRAIN_OPTIONS:
        default = defaults.get(name)
        if tp is bool:
            params.append((name, tp, default, opt))
            continue
        if default is not None and opt.show_default is True:
            opt = copy.copy(opt)
            opt.help, opt.show_default = f"{opt.help} \\[default: {default}]", False
        params.append((name, Optional[tp], None, opt))
    return params


_TRAIN_PARAMS = _train_params()


def _training(values: dict) -> Training:
    from resbench.validate import whole

    threads = values.pop("threads")
    if threads is not None:
        whole(threads, "--threads", 1, 4096)
    given = {k: v for k, v in values.items() if v is not None}
    # resolves the device and its defaults, as for API callers
    return Training(TrainConfig(**given), frozenset(k for k, v in given.items() if not isinstance(v, bool)), threads)


_SCALE_DEFS = [
    ("executor", str, "local", typer.Option(help="local (this process, or a process pool with --workers) or ray.", rich_help_panel=SCALE)),
    ("workers", int, 1, typer.Option(help="local: cells at once, each pinned to cores/N threads.", rich_help_panel=SCALE)),
    ("retries", int, 0, typer.Option(help="Retry a failed cell this many times in this run.", rich_help_panel=SCALE)),
    ("pack", Optional[int], None, _PACK),
    ("address", Optional[str], None, typer.Option(help="ray: auto or ray://host:10001 (default: start a local Ray).", rich_help_panel=SCALE)),
    ("cpus_per_run", float, 1.0, typer.Option("--cpus-per-run", help="ray: CPUs per cell.", rich_help_panel=SCALE)),
    ("gpus_per_run", float, 0.0, typer.Option("--gpus-per-run", help="ray: GPUs per cell (fractions share a GPU).", rich_help_panel=SCALE)),
]


def _scale_out(values: dict):
    from resbench.train.comparison import ScaleOut

    return ScaleOut(**values)


def with_scale(func):
    """Add the scale-out options (executor, workers, retries, pack, Ray's); the command
    receives ``scale``, a ScaleOut."""
    return extend(func, _SCALE_DEFS, "scale", _scale_out)


def with_training(func):
    """Add the training options; the command receives ``training``, a Training, and runs
    with its CPU threads (restored after)."""

    @functools.wraps(func)
    def threaded(*args, training: Training, **kwargs):
        from resbench.runtime import num_threads

        with num_threads(training.threads):
            return func(*args, training=training, **kwargs)

    return extend(threaded, _TRAIN_PARAMS, "training", _training)
