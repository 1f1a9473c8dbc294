"""`resbench show`: one network's architecture and complexity, per stage, block or layer."""

from typing import Annotated

import typer

from resbench.cli.options import CsvOpt, JsonOpt, MarkdownOpt, TargetArg, target_command
from resbench.cli.output import TableOutputs, out, print_json
from resbench.report import export


@target_command
def show(
    spec: TargetArg,
    depth: Annotated[str, typer.Option(help="Rows per stage (the paper's Table 1), per block, or per layer (every leaf module) "
                                            "with output shape, params, MACs and activations.")] = "stage",
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
) -> None:
    """Show a network's stages, parameters and MACs (counted with fvcore), like the paper's Table 1.

    Examples:  resbench show resnet50 · resbench show resnet56 --shortcut B · resbench show resnet152 --stride-on 1x1 --json ·
    resbench show resnet20 --depth layer · resbench show torchvision:resnet50 · resbench show timm:resnet50d --input-size 288 · resbench show resnet50 --markdown -
    """
    from resbench.report.tables import complexity_notes, complexity_table, layers_table, spec_summary
    from resbench.measure.target import count_target

    tables = TableOutputs(csv, markdown, as_json)
    c = count_target(spec, depth=depth)
    if tables.emit(lambda: export.complexity_frame(c)):
            return
    if as_json:
        print_json({**c.to_dict(), "depth": getattr(spec, "depth", None), "net": spec.to_dict()})
        return
    out.print(spec_summary(spec))
    out.print(layers_table(c, depth) if c.layers else complexity_table(c))
    out.print(complexity_notes(c), highlight=False)
