"""`resbench train`: one short training job."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import JsonOpt, SpecArg, spec_command, with_training
from resbench.cli.output import out, print_json

OUTPUT = "Output"


@spec_command
@with_training
def train(
    spec: SpecArg,
    training,
    as_json: JsonOpt = False,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Store the run as a record.", rich_help_panel=OUTPUT)] = True,
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results).", rich_help_panel=OUTPUT)] = None,
    save_checkpoint: Annotated[Optional[str], typer.Option("--save-checkpoint", help="Write the final state_dict here (load with weights_only=True).", rich_help_panel=OUTPUT)] = None,
    nproc: Annotated[Optional[int], typer.Option("--nproc", help="Launch this job on N processes via torch.distributed.run (DDP; gloo on CPU, NCCL on CUDA).")] = None,
) -> None:
    """Train one network with the paper's CIFAR recipe scaled to --epochs; print and store the result.

    Examples:  resbench train resnet20 --data-dir data --epochs 10 · resbench train plain20 --dataset synthetic --epochs 3 --json
    """
    from resbench.cli.progress import progress_bar
    from resbench.cli.training import fit_to_data, load_data
    from resbench.measure.env import collect_env
    from resbench.measure.timing import resolve_device
    from resbench.train.distributed import dist_context
    from resbench.train.loop import train as run_train
    from resbench.train.sweep import Cell

    cfg, download = training
    if nproc is not None:
        return _launch(nproc, cfg.device)
    with dist_context(cfg.device) as dist:
        data = load_data(cfg, download, spec.input_size)
        spec = fit_to_data(spec, data)
        is_main = dist is None or dist.rank == 0
        with progress_bar(spec.name) if is_main else _null() as update:
            result = run_train(spec, cfg, data, progress=update, dist=dist, checkpoint=save_checkpoint)
        if not is_main:
            return
        device = dist.device if dist else resolve_device(cfg.device)
        env = collect_env(device)
        row = result.to_dict()
        if save:
            from resbench.store import Store

            cell = Cell(spec, cfg.seed, cfg)
            Store(results_dir).put("train", config={**cell.key_config, "world_size": result.world_size}, result=row, env=env, key=cell.key)
    if as_json:
        print_json({**row, "env": env})
        return
    from resbench.report.tables import train_table

    out.print(train_table(result))
    for note in result.notes:
        out.print(note, highlight=False)


def _launch(nproc: int, device: str) -> None:
    """Re-run this very command under torch.distributed.run with --nproc removed."""
    import subprocess
    import sys

    import torch

    from resbench.errors import ResbenchError, UsageError

    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {nproc}")
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if wants_cuda and nproc > torch.cuda.device_count():
        raise UsageError(f"--nproc {nproc} needs {nproc} GPUs; {torch.cuda.device_count()} visible (one GPU per process)")
    argv, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        argv.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "resbench", *argv]
    code = subprocess.call(cmd)
    if code:
        raise ResbenchError(f"distributed run failed (exit {code}); see the ranks' messages above")


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
