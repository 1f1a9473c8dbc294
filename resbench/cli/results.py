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


def plot(
    output: Annotated[str, typer.Argument(help="PNG file to write.", show_default=False)],
    x: Annotated[str, typer.Option(help="Column on the x axis (any `resbench results --json` key), e.g. macs, params, latency_median_ms.")] = "macs",
    y: Annotated[str, typer.Option(help="Column on the y axis, e.g. test_error, throughput.")] = "test_error",
    label: Annotated[Optional[str], typer.Option(help="Annotate each point with this column (e.g. spec).")] = None,
    results_dir: Annotated[Optional[str], typer.Option("--results-dir", help="Results store folder (default ./results or $RESBENCH_RESULTS_DIR).")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only records of this kind (profile, train, ...).")] = None,
    filters: Annotated[Optional[list[str]], typer.Option("--filter", help="key=value on any column; repeat to combine (e.g. study=NAME).")] = None,
    logx: Annotated[bool, typer.Option("--logx/--linear-x", help="Logarithmic x axis (default: on, costs span decades).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Scatter any two columns of the stored records, e.g. MACs against test error of every
    train record (compare cells and search trials alike).

    Examples:  resbench plot cost.png · resbench plot s.png --filter study=cifar10-60M --label spec ·
    resbench plot lat.png --kind profile --x batch_size --y latency_median_ms
    """
    from resbench.report.frames import records_frame
    from resbench.report.plots import scatter
    from resbench.store import Store

    store = Store(results_dir)
    records, problems = store.load(kind)
    for p in problems:
        warn(p)
    df = records_frame(records)
    if df.empty:
        raise UsageError(f"no records under {store.records_dir} to plot; run resbench train, compare, profile --save or search first")
    df = _apply_filters(df, filters or [])
    for col in (x, y) + ((label,) if label else ()):
        if col not in df.columns:
            raise UsageError(f"no column {col!r} in the records; columns are {', '.join(map(str, df.columns))}")
    import pandas as pd

    points = df.assign(**{x: pd.to_numeric(df[x], errors="coerce"), y: pd.to_numeric(df[y], errors="coerce")}).dropna(subset=[x, y])
    if points.empty:
        raise UsageError(f"no record has numeric {x} and {y}" + (" after the filters" if filters else ""))
    scatter(points[x].tolist(), points[y].tolist(), output, x, y, labels=points[label].astype(str).tolist() if label else None, logx=logx)
    if as_json:
        print_json({"output": output, "x": x, "y": y, "points": points[[c for c in ("id", "spec", x, y) if c in points.columns]]
                    .to_dict(orient="records")})
    else:
        out.print(f"wrote {output}: {len(points)} record(s), {x} vs {y}", highlight=False)
