"""`resbench profile`: latency percentiles, throughput, memory and MFU."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import CsvOpt, JsonOpt, extend, LogOpt, MarkdownOpt, ResultsDirOpt, SaveOpt, TargetArg, parse_list, target_command
from resbench.cli.output import TableOutputs, hooks_for, open_tracker, out, print_json, warn_if_busy
from resbench.errors import BenchmarkFailed
from resbench.outputs import FIGURE_SUFFIXES, prepare_output
from resbench.validate import whole
from resbench.report import export

MEASURE = "Measurement"


# How long and how the step is timed: the command receives them as one dict, ``timing``.
_TIMING_DEFS = [
    ("warmup", Optional[int], None, typer.Option(help="Untimed iterations first (default 3 CPU, 20 CUDA).", rich_help_panel=MEASURE)),
    ("iters", Optional[int], None, typer.Option(help="At least this many timed iterations (default 20 CPU, 100 CUDA).", rich_help_panel=MEASURE)),
    ("min_time", Optional[float], None, typer.Option("--min-time", help="...and at least this many seconds (default 2 CPU, 1 CUDA).", rich_help_panel=MEASURE)),
    ("threads", Optional[int], None, typer.Option(help="CPU threads (torch.set_num_threads); recorded either way.", rich_help_panel=MEASURE)),
    ("backoff", bool, True, typer.Option("--backoff/--no-backoff", help="CUDA: halve the batch on out-of-memory and retry.", rich_help_panel=MEASURE)),
    ("compare_layouts", bool, True, typer.Option("--compare-layouts/--no-compare-layouts", help="CPU: also time the other memory layout and suggest the faster.", rich_help_panel=MEASURE)),
]


def _with_timing(func):
    return extend(func, _TIMING_DEFS, "timing", dict)


@target_command
@_with_timing
def profile(
    spec: TargetArg,
    device: Annotated[str, typer.Option(help="auto (cuda if available, else cpu), cpu, cuda, cuda:N or mps.", rich_help_panel=MEASURE)] = "auto",
    batch_size: Annotated[Optional[str], typer.Option("--batch-size", "-b", help="One or more, comma-separated (default: 8 on CPU, 64 on CUDA).", rich_help_panel=MEASURE)] = None,
    mode: Annotated[str, typer.Option(help="infer (eval, inference_mode) or train (forward + backward + SGD step).", rich_help_panel=MEASURE)] = "infer",
    dtype: Annotated[str, typer.Option(help="fp32 (strict, TF32 off), tf32 (CUDA), fp16 or bf16 (autocast).", rich_help_panel=MEASURE)] = "fp32",
    channels_last: Annotated[bool, typer.Option("--channels-last", help="NHWC memory layout for model and input.", rich_help_panel=MEASURE)] = False,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model (compile time reported apart).", rich_help_panel=MEASURE)] = False,
    compile_mode: Annotated[Optional[str], typer.Option("--compile-mode", help="torch.compile mode: default, reduce-overhead or max-autotune (implies --compile); the largest output difference to eager is reported.", rich_help_panel=MEASURE)] = None,
    backend: Annotated[str, typer.Option(help="eager (PyTorch) or onnxruntime (exported with torch.onnx; needs the optional onnx extra).", rich_help_panel=MEASURE)] = "eager",
    breakdown: Annotated[bool, typer.Option("--breakdown", help="Also time each stage (stem, layer1.., head) in a separate pass: ms, share, TFLOP/s.", rich_help_panel=MEASURE)] = False,
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs", help="Capture the inference step in a CUDA graph.", rich_help_panel=MEASURE)] = False,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
    log: LogOpt = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="With --breakdown: a stacked bar PNG of the stage times.", rich_help_panel="Output")] = None,
    trace: Annotated[Optional[str], typer.Option("--trace", help="Also write a torch.profiler trace (Chrome/Perfetto JSON) of 5 steps at the first batch size, taken after the timed runs, and list the top operators by self time. Open it in ui.perfetto.dev or chrome://tracing.", rich_help_panel="Output")] = None,
    save: SaveOpt = True,
    results_dir: ResultsDirOpt = None,
    timing: dict = None,
) -> None:
    """Measure latency (every iteration: median, p90, p99, IQR), throughput, peak memory and MFU.

    Examples:  resbench profile resnet50 · resbench profile resnet152 --device cuda --dtype bf16 -b 1,32,128 · resbench profile resnet20 --mode train --json
    """
    from resbench.cli.progress import progress_bar
    from resbench.measure.runs import profile_runs
    from resbench.measure.timing import ProfileConfig

    sizes, tables = _check_outputs(batch_size, csv, markdown, as_json, plot, breakdown, trace)
    cfg = ProfileConfig(device=device, mode=mode, dtype=dtype, channels_last=channels_last, compile=compile,
                        cuda_graphs=cuda_graphs, breakdown=breakdown, compile_mode=compile_mode, backend=backend, **timing)
    tracker = open_tracker(log, results_dir, outputs=(csv, markdown, plot, trace))
    with progress_bar(spec.name) as update:
        runs = profile_runs(spec, cfg, sizes, save=save, results_dir=results_dir, trace_path=trace,
                            hooks=hooks_for(update))
    results = runs.results
    if not results:  # nothing measured: the failure is the whole answer (exit 4)
        raise BenchmarkFailed(runs.failures[0])
    rows = _rows_and_figures(spec, cfg, runs, plot, tracker)
    if tables.emit(lambda: export.profile_rows_frame(results)):
            _fail_after_rows(runs.failures)
            return
    if as_json:
        print_json(rows[0] if len(rows) == 1 else rows)
        _fail_after_rows(runs.failures)
        return
    _render(runs, breakdown, plot)


def _check_outputs(batch_size, csv, markdown, as_json, plot, breakdown, trace):
    """The batch sizes, and every output place checked before anything is timed."""
    sizes = parse_list(batch_size, "--batch-size", int, "1,8,32")
    for bs in sizes or []:
        whole(bs, "--batch-size", 1, 1 << 20)
    tables = TableOutputs(csv, markdown, as_json)
    if plot is not None:
        if not breakdown:
            from resbench.errors import UsageError

            raise UsageError("--plot draws the stage breakdown: add --breakdown")
        prepare_output(plot, FIGURE_SUFFIXES, "--plot")
    if trace is not None:
        prepare_output(trace, (".json",), "--trace")
    return sizes, tables


def _rows_and_figures(spec, cfg, runs, plot, tracker) -> list[dict]:
    """The rows to print; warns when the machine was busy, draws the figure, logs the run."""
    from resbench.report.tracked import log_profile

    results = runs.results
    rows = [r.to_dict() for r in results]
    busiest = max(results, key=lambda r: r.contention or 0.0)
    warn_if_busy(busiest.contention, f"{busiest.spec} was timed")
    if plot is not None:
        from resbench.report.plots import breakdown_bars

        breakdown_bars(results, plot)
    log_profile(tracker, spec, cfg, results, files=[f for f in (plot, runs.trace.path if runs.trace else None) if f])
    if runs.trace is not None:
        for row in rows[:1]:
            row["trace"] = runs.trace.to_dict()
    return rows


def _render(runs, breakdown: bool, plot: str | None) -> None:
    from resbench.report.tables import profile_notes, profile_table

    results = runs.results
    out.print(profile_table(results))
    out.print(profile_notes(results), highlight=False)
    if breakdown:
        from resbench.report.tables import breakdown_note, breakdown_table

        for r in results:
            out.print(breakdown_table(r))
            out.print(breakdown_note(r), highlight=False)
    if plot is not None:
        out.print(f"figure: {plot}", highlight=False)
    if runs.trace is not None:
        from resbench.report.tables import trace_table

        out.print(trace_table(runs.trace))
        out.print(f"trace: {runs.trace.path} (open it in https://ui.perfetto.dev or chrome://tracing)", highlight=False)
    _fail_after_rows(runs.failures)


def _fail_after_rows(failures: list[str]) -> None:
    """The rows that were measured are printed; a batch whose benchmark failed still fails the command (exit 4)."""
    if failures:
        raise BenchmarkFailed(failures[0] + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))
