"""Options shared by several commands, declared once as Annotated aliases.

``spec_command`` gives a command the spec argument and every spec modifier option
(--shortcut, --plain, --stride-on, --width, ...) and hands it a parsed NetSpec, so
that show, profile, train and compare accept exactly the same words.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Optional

import typer

from resbench.spec import parse_spec

MODIFIERS = "Spec modifiers"

SpecArg = Annotated[
    str,
    typer.Argument(
        help="Depth spec: resnet18..152, resnet20..1202, plainN, cifar-resnetD, cifar-resnetD-bottleneck, "
        "imagenet-basic-2.2.2.2, … (see `resbench list`). Modifiers may follow, e.g. resnet50:shortcut=C.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")]

_MODIFIER_PARAMS = [
    ("shortcut", Optional[str], typer.Option("--shortcut", help="A: zero-pad identity; B: projection where shapes change; C: projection everywhere.", rich_help_panel=MODIFIERS)),
    ("plain", bool, typer.Option("--plain", help="The plain twin: no shortcuts at all.", rich_help_panel=MODIFIERS)),
    ("stride_on", Optional[str], typer.Option("--stride-on", help="Bottleneck stride on the 3x3 (torchvision, default) or the first 1x1 (the paper).", rich_help_panel=MODIFIERS)),
    ("width", Optional[str], typer.Option("--width", help="First-stage width (doubling per stage), a multiplier like 2x, or per-stage widths 16.32.64.", rich_help_panel=MODIFIERS)),
    ("num_classes", Optional[int], typer.Option("--num-classes", help="Classes of the fc head.", rich_help_panel=MODIFIERS)),
    ("in_channels", Optional[int], typer.Option("--in-channels", help="Input channels (1 for grayscale).", rich_help_panel=MODIFIERS)),
    ("input_size", Optional[int], typer.Option("--input-size", help="Square input side in pixels.", rich_help_panel=MODIFIERS)),
    ("zero_init_residual", bool, typer.Option("--zero-init-residual", help="Zero the last BN of every block.", rich_help_panel=MODIFIERS)),
]
MODIFIER_NAMES = tuple(name for name, _, _ in _MODIFIER_PARAMS)


def modifier_values(kwargs: dict) -> dict:
    """Pop the modifier options out of a command's kwargs."""
    return {name: kwargs.pop(name) for name in MODIFIER_NAMES}


def _modifier_parameters() -> list[inspect.Parameter]:
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False if tp is bool else None, annotation=Annotated[tp, opt])
        for name, tp, opt in _MODIFIER_PARAMS
    ]


def _rewrap(func, wrapper, drop: str | None = None):
    """Give ``wrapper`` the signature of ``func`` plus the modifier options (after the
    positional arguments), so that Typer sees them as ordinary options."""
    params = [p for p in inspect.signature(func).parameters.values() if p.name != drop]
    positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    rest = [p.replace(kind=p.KEYWORD_ONLY) for p in params if p not in positional]
    new_params = positional + _modifier_parameters() + rest
    wrapper.__signature__ = inspect.Signature(new_params)
    wrapper.__annotations__ = {p.name: p.annotation for p in new_params}
    return wrapper


def with_modifiers(func):
    """Add the modifier options to a command; it receives them as ``modifiers`` (a dict)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, modifiers=modifier_values(kwargs), **kwargs)

    return _rewrap(func, wrapper, drop="modifiers")


def spec_command(func):
    """Add the modifier options to a command taking one ``spec``; it receives a NetSpec."""

    @functools.wraps(func)
    def wrapper(spec: str, *args, **kwargs):
        return func(parse_spec(spec, **modifier_values(kwargs)), *args, **kwargs)

    return _rewrap(func, wrapper)
