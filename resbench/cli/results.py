"""`resbench results`: the stored runs as a table (pandas underneath)."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import JsonOpt
from resbench.cli.output import out, print_json, warn
from resbench.errors import UsageError

# Columns shown in the terminal table, when present; --json/--csv carry everything.
TABLE_COLUMNS = ["created", "kind", "spec", "device", "dtype", "mode", "batch_size", "latency_median_ms",
                 "latency_p90_ms", "throughput", "test_error", "train_error", "git_commit"]


def _apply_filters(df, filters: list[str]):
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq or not key:
            raise UsageError(f"--filter takes key=value, e.g. --filter spec=resnet50; got {f!r}")
        if key not in df.columns:
            raise UsageError(f"--filter: no column {key!r}; columns are {', '.join(map(str, df.columns))}")
        df = df[df[key].astype(str) == value]
    return df


def results(
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results or $RESBENCH_RESULTS_DIR).")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only records of this kind (profile, train, ...).")] = None,
    filters: Annotated[Optional[list[str]], typer.Option("--filter", help="key=value on any column; repeat to combine.")] = None,
    as_json: JsonOpt = False,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV to stdout.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table to stdout.")] = False,
) -> None:
    """List the stored runs (one record each) with their key figures.

    Examples:  resbench results · resbench results --filter spec=resnet50 --filter device=cpu --csv
    """
    from resbench.report.frames import records_frame
    from resbench.store import Store

    store = Store(results_dir)
    records, problems = store.load(kind)
    for p in problems:
        warn(p)
    df = records_frame(records)
    if not df.empty:
        df = _apply_filters(df, filters or [])
    if as_json:
        print_json(df.to_dict(orient="records"))
        return
    if csv:
        out.file.write(df.to_csv(index=False))
        return
    if df.empty:
        out.print(f"no records under {store.records_dir}" + (" matching the filters" if filters else ""), highlight=False)
        return
    shown = df[[c for c in TABLE_COLUMNS if c in df.columns]]
    if markdown:
        out.file.write(_markdown(shown) + "\n")
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for c in shown.columns:
        table.add_column(c.replace("latency_", "").replace("_ms", " ms"), no_wrap=c in ("spec", "created"))
    for row in shown.itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    out.print(table)
    out.print(f"{len(df)} record(s) in {store.records_dir}", highlight=False)


def _cell(v) -> str:
    if v is None or v != v:  # None or NaN
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _markdown(df) -> str:
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)
