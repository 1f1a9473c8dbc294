"""`resbench train`: one short training job."""

import contextlib
import os
import sys
from typing import Annotated, Optional

import typer

from resbench.cli.options import (
    CsvOpt,
    JsonOpt,
    LogOpt,
    MarkdownOpt,
    ResultsDirOpt,
    SaveOpt,
    SpecArg,
    spec_command,
    with_training,
)
from resbench.cli.output import TableOutputs, hooks_for, open_tracker, out, print_json, warn_if_busy
from resbench.report import export


@spec_command
@with_training
def train(
    spec: SpecArg,
    training,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Write the training and test error curves to this PNG (or .pdf/.svg), with the paper's figure and the published reproductions' as lines for a Table 6 net on CIFAR-10.", rich_help_panel="Output")] = None,
    log: LogOpt = None,
    save: SaveOpt = True,
    results_dir: ResultsDirOpt = None,
    save_checkpoint: Annotated[Optional[str], typer.Option("--save-checkpoint", help="Write the final state_dict here (.pt; load with weights_only=True).", rich_help_panel="Output")] = None,
    keep_checkpoints: Annotated[bool, typer.Option("--keep-checkpoints", help="Keep the per-epoch checkpoint (beside the records) after the run ends; by default it is removed once the record is stored.", rich_help_panel="Output")] = False,
    nproc: Annotated[Optional[int], typer.Option("--nproc", help="Launch this job on N processes via torch.distributed.run (DDP; gloo on CPU, NCCL on CUDA).")] = None,
) -> None:
    """Train one network with the paper's CIFAR recipe scaled to --epochs; print and store the result.

    A checkpoint is written after every epoch: after Ctrl-C, a kill or a lost machine, the same command resumes at the last finished epoch and ends with the result an uninterrupted run gives.

    Examples:  resbench train resnet20 --data-dir data --epochs 10 · resbench train plain20 --dataset synthetic --epochs 3 --json
    """
    from resbench.cli.progress import progress_bar
    from resbench.outputs import FIGURE_SUFFIXES, prepare_output
    from resbench.train.job import train_job

    cfg = training.config
    tables = TableOutputs(csv, markdown, as_json)
    if plot is not None:
        prepare_output(plot, FIGURE_SUFFIXES, "--plot")
    if nproc is not None:
        from resbench.train.distributed import launch

        return launch(nproc, cfg.device, _without_nproc(sys.argv[1:]))
    from resbench.report.tracked import train_run

    is_main = os.environ.get("RANK", "0") == "0"
    tracker = open_tracker(log, results_dir, outputs=(csv, markdown, save_checkpoint, plot)) if is_main else None
    with train_run(tracker, spec, cfg) as tracked:
        with progress_bar(spec.name) if is_main else contextlib.nullcontext() as update:
            job = train_job(spec, cfg, save=save, results_dir=results_dir, checkpoint=save_checkpoint,
                            keep_checkpoints=keep_checkpoints, hooks=hooks_for(update),
                            on_epoch=tracked.epoch if tracked else None)
        if job is not None and tracked:
            tracked.finish(job)
    if job is not None:
        _render(job, cfg, tables, as_json, plot)


def _render(job, cfg, tables: TableOutputs, as_json: bool, plot: str | None) -> None:
    warn_if_busy(job.result.contention, f"{job.result.spec} trained")
    if plot is not None:
        from resbench.report.plots import run_curves

        run_curves(job.result, job.paper, plot, f"{job.result.spec}: {cfg.epochs} epochs, {cfg.schedule} schedule, {cfg.dataset}",
                   env=job.env)
    if tables.emit(lambda: export.train_frame(job.result, job.paper)):
        return
    if as_json:
        print_json(job.to_dict())
        return
    from resbench.report.tables import train_table

    out.print(train_table(job.result))
    for line in job.result.notes:
        out.print(line, highlight=False)
    if job.paper is not None:
        out.print(job.paper.line(job.result.final_test_error), highlight=False)


def _without_nproc(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            kept.append(a)
    return kept
