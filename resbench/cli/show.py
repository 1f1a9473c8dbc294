"""`resbench show`: one network's architecture and complexity, per stage, block or layer."""

from typing import Annotated

import typer

from resbench.cli.options import JsonOpt, SpecArg, spec_command
from resbench.cli.output import out, print_json


@spec_command
def show(
    spec: SpecArg,
    depth: Annotated[str, typer.Option(help="Rows per stage (the paper's Table 1), per block, or per layer (every leaf module) "
                                            "with output shape, params, MACs and activations.")] = "stage",
    as_json: JsonOpt = False,
) -> None:
    """Show a network's stages, parameters and MACs (counted with fvcore), like the paper's Table 1.

    Examples:  resbench show resnet50 · resbench show resnet56 --shortcut B · resbench show resnet152 --stride-on 1x1 --json ·
    resbench show resnet20 --depth layer
    """
    from resbench.measure.complexity import count_complexity
    from resbench.report.tables import complexity_notes, complexity_table, layers_table, spec_summary

    c = count_complexity(spec, depth=depth)
    if as_json:
        print_json({**c.to_dict(), "depth": spec.depth, "net": spec.to_dict()})
        return
    out.print(spec_summary(spec))
    out.print(layers_table(c, depth) if c.layers else complexity_table(c))
    out.print(complexity_notes(c), highlight=False)
