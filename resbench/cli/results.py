"""`resbench results` and `resbench plot`: the stored runs as a table or a scatter (pandas underneath)."""

from typing import Annotated, Optional

import typer

from resbench.cli.options import CsvOpt, JsonOpt, MarkdownOpt, ResultsDirOpt
from resbench.cli.output import TableOutputs, note, out, print_json, warn

KindOpt = Annotated[Optional[str], typer.Option(help="Only records of this kind (profile, train, analysis-responses, ...).")]
FilterOpt = Annotated[Optional[list[str]], typer.Option("--filter", help="key=value on any column; repeat to combine (e.g. study=NAME).")]


def results(
    results_dir: ResultsDirOpt = None,
    kind: KindOpt = None,
    filters: FilterOpt = None,
    all_records: Annotated[bool, typer.Option("--all", help="Also list older records of the same configuration (duplicates).")] = False,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
) -> None:
    """List the stored runs (one record each; one per configuration unless --all) with their key figures.

    Examples:  resbench results · resbench results --filter spec=resnet50 --filter device=cpu --csv -
    """
    from resbench.report.frames import query_records
    from resbench.report.tables import RESULTS_COLUMNS, results_table

    tables = TableOutputs(csv, markdown, as_json)
    q = query_records(results_dir, kind, filters or [], dedupe=not all_records)
    for p in q.problems:
        warn(p)
    df = q.frame
    if as_json:
        print_json(df.to_dict(orient="records"))
        return
    of_kind = f" of kind {kind!r}" if kind else ""
    none = f"no records{of_kind} under {q.records_dir}" + (" matching the filters" if filters else "")
    if tables.write(df):
        if df.empty:  # the file holds an empty table: say why, on stderr (stdout may be the table)
            note(f"{none}: the table written is empty")
        return
    if df.empty:
        out.print(none, highlight=False)
        return
    shown = df[[c for c in RESULTS_COLUMNS if c in df.columns]]
    out.print(results_table(shown))
    out.print(f"{len(df)} record(s) in {q.records_dir}", highlight=False)
    if q.duplicates:
        note(f"{q.duplicates} older record(s) of the same configuration not shown (--all lists them)")


def plot(
    output: Annotated[str, typer.Argument(help="Figure file to write (.png, .pdf or .svg).", show_default=False)],
    x: Annotated[str, typer.Option(help="Column on the x axis (any `resbench results --json` key), e.g. macs, params, latency_median_ms.")] = "macs",
    y: Annotated[str, typer.Option(help="Column on the y axis, e.g. test_error, throughput.")] = "test_error",
    label: Annotated[Optional[str], typer.Option(help="Annotate each point with this column (e.g. spec).")] = None,
    results_dir: ResultsDirOpt = None,
    kind: KindOpt = None,
    filters: FilterOpt = None,
    logx: Annotated[bool, typer.Option("--logx/--linear-x", help="Logarithmic x axis (default: on, costs span decades).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Scatter any two columns of the stored records, e.g. MACs against test error of every
    train record (compare cells and search trials alike).

    Examples:  resbench plot cost.png · resbench plot s.png --filter study=cifar10-60M --label spec ·
    resbench plot lat.png --kind profile --x batch_size --y latency_median_ms
    """
    from resbench.outputs import FIGURE_SUFFIXES, prepare_output
    from resbench.report.frames import scatter_points
    from resbench.report.plots import scatter

    path = prepare_output(output, FIGURE_SUFFIXES, "OUTPUT")
    points = scatter_points(results_dir, kind, filters or [], x, y, label)
    scatter(points[x].tolist(), points[y].tolist(), str(path), x, y,
            labels=points[label].astype(str).tolist() if label else None, logx=logx)
    if as_json:
        print_json({"output": str(path), "x": x, "y": y,
                    "points": points[[c for c in ("id", "spec", x, y) if c in points.columns]].to_dict(orient="records")})
    else:
        out.print(f"wrote {path}: {len(points)} record(s), {x} vs {y}", highlight=False)
