"""`resbench profile`: latency percentiles, throughput, memory and MFU."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import JsonOpt, SpecArg, spec_command
from resbench.cli.output import out, print_json
from resbench.errors import UsageError

MEASURE = "Measurement"
OUTPUT = "Output"


def parse_int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what} takes whole numbers separated by commas, e.g. 1,8,32; got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise UsageError(f"{what} must be at least 1, got {text!r}")
    return values


@spec_command
def profile(
    spec: SpecArg,
    device: Annotated[str, typer.Option(help="auto (cuda if available, else cpu), cpu, cuda, cuda:N or mps.", rich_help_panel=MEASURE)] = "auto",
    batch_size: Annotated[Optional[str], typer.Option("--batch-size", "-b", help="One or more, comma-separated (default: 8 on CPU, 64 on CUDA).", rich_help_panel=MEASURE)] = None,
    mode: Annotated[str, typer.Option(help="infer (eval, inference_mode) or train (forward + backward + SGD step).", rich_help_panel=MEASURE)] = "infer",
    dtype: Annotated[str, typer.Option(help="fp32 (strict, TF32 off), tf32 (CUDA), fp16 or bf16 (autocast).", rich_help_panel=MEASURE)] = "fp32",
    channels_last: Annotated[bool, typer.Option("--channels-last", help="NHWC memory layout for model and input.", rich_help_panel=MEASURE)] = False,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model (compile time reported apart).", rich_help_panel=MEASURE)] = False,
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs", help="Capture the inference step in a CUDA graph.", rich_help_panel=MEASURE)] = False,
    warmup: Annotated[Optional[int], typer.Option(help="Untimed iterations first (default 3 CPU, 20 CUDA).", rich_help_panel=MEASURE)] = None,
    iters: Annotated[Optional[int], typer.Option(help="At least this many timed iterations (default 20 CPU, 100 CUDA).", rich_help_panel=MEASURE)] = None,
    min_time: Annotated[Optional[float], typer.Option("--min-time", help="...and at least this many seconds (default 2 CPU, 1 CUDA).", rich_help_panel=MEASURE)] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads (torch.set_num_threads); recorded either way.", rich_help_panel=MEASURE)] = None,
    compare_layouts: Annotated[bool, typer.Option("--compare-layouts/--no-compare-layouts", help="CPU: also time the other memory layout and suggest the faster.", rich_help_panel=MEASURE)] = True,
    as_json: JsonOpt = False,
    csv: Annotated[Optional[str], typer.Option("--csv", help="Also write the rows (no per-iteration samples) to this CSV file.", rich_help_panel=OUTPUT)] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Append each run to the results store.", rich_help_panel=OUTPUT)] = True,
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results or $RESBENCH_RESULTS_DIR).", rich_help_panel=OUTPUT)] = None,
) -> None:
    """Measure latency (every iteration: median, p90, p99, IQR), throughput, peak memory and MFU.

    Examples:  resbench profile resnet50 · resbench profile resnet152 --device cuda --dtype bf16 -b 1,32,128 · resbench profile resnet20 --mode train --json
    """
    from resbench.measure.timing import ProfileConfig, profile as run_profile
    from resbench.cli.progress import progress_bar

    sizes = parse_int_list(batch_size, "--batch-size") if batch_size else [None]
    results = []
    for bs in sizes:
        cfg = ProfileConfig(device=device, batch_size=bs, mode=mode, dtype=dtype, channels_last=channels_last, compile=compile,
                            cuda_graphs=cuda_graphs, warmup=warmup, iters=iters, min_time=min_time, threads=threads,
                            compare_layouts=compare_layouts)
        with progress_bar(f"{spec.name} batch {bs or 'default'}") as update:
            results.append(run_profile(spec, cfg, progress=update))
    rows = [r.to_dict() for r in results]
    if save:
        from resbench.store import Store

        store = Store(results_dir)
        for r in rows:
            config = {k: r[k] for k in ("spec", "device", "dtype", "mode", "batch_size", "channels_last", "compiled", "cuda_graphs", "threads")}
            store.put("profile", config=config, result={k: v for k, v in r.items() if k != "env"}, env=r["env"])
    if csv:
        from resbench.report.frames import profile_frame

        profile_frame(rows).to_csv(csv, index=False)
    if as_json:
        print_json(rows[0] if len(rows) == 1 else rows)
        return
    from resbench.report.tables import profile_notes, profile_table

    out.print(profile_table(results))
    out.print(profile_notes(results), highlight=False)
