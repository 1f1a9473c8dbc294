"""`resbench list`: every named preset with its size (analytic count: no torch import)."""

from resbench.cli.options import CsvOpt, JsonOpt, MarkdownOpt
from resbench.cli.output import TableOutputs, out, print_json
from resbench.report import export


def list_presets(as_json: JsonOpt = False, csv: CsvOpt = None, markdown: MarkdownOpt = None) -> None:
    """List every named preset with family, block, depth, params and MACs.

    Beyond these names: cifar-resnetD (any D = 6n+2), cifar-resnetD-bottleneck (D = 9n+2),
    cifar-plainD, and explicit stage lists such as imagenet-basic-2.2.2.2 or cifar-bottleneck-3.3.3.

    Examples:  resbench list · resbench list --json · resbench list --csv presets.csv
    """
    tables = TableOutputs(csv, markdown, as_json)
    from resbench.cost import analytic_complexity
    from resbench.spec import parse_spec, preset_names

    rows = []
    for name in preset_names():
        spec = parse_spec(name)
        c = analytic_complexity(spec)
        rows.append({
            "name": name, "family": spec.stem, "block": spec.block, "depth": spec.depth,
            "stages": list(spec.stages), "shortcut": spec.shortcut, "plain": spec.plain,
            "input_size": spec.input_size, "params": c.params, "macs": c.macs, "flops": c.flops,
        })
    if tables.emit(lambda: export.presets_frame(rows)):
            return
    if as_json:
        print_json(rows)
        return
    from resbench.report.tables import presets_table

    out.print(presets_table(rows))
    out.print(
        "Also: cifar-resnetD (D=6n+2), cifar-resnetD-bottleneck (D=9n+2), cifar-plainD, imagenet-basic-2.2.2.2, "
        "cifar-bottleneck-3.3.3; modifiers like :shortcut=B or --shortcut B. MACs for one image at the default input size.",
        highlight=False,
    )
