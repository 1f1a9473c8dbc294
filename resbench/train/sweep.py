"""The cells of a comparison: its arms (nets) times its seeds.

A cell's record key is a hash of its full configuration (spec + training config +
seed), so re-running the same command finds finished cells and skips them
(``resbench.train.runs`` runs the missing ones).
"""

from __future__ import annotations

from dataclasses import replace

from resbench.errors import ConfigError, SpecError
from resbench.spec import NetSpec, parse_spec
from resbench.train.cells import Cell
from resbench.train.config import TrainConfig


def _bottleneck_twin(basic_depth: int) -> int:
    n = (basic_depth - 2) // 6
    return 9 * n + 2


def build_arms(specs: list[str] | None = None, *, depths: list[int] | None = None, blocks: list[str] | None = None,
               shortcuts: list[str] | None = None, plain: bool = False, modifiers: dict | None = None) -> list[NetSpec]:
    """The arms of a comparison, in a stable order, without duplicates.

    ``depths`` are CIFAR basic-block depths (6n+2); the bottleneck arm of depth d has the
    same n blocks per stage (depth 9n+2), so the two are compared block for block.
    ``specs`` (explicit) replace the depth/block grid. Each arm gets every shortcut
    option; ``plain`` adds the plain twin of every residual arm.
    """
    modifiers = {k: v for k, v in (modifiers or {}).items() if v not in (None, False)}
    modifiers.pop("plain", None)
    if modifiers.get("shortcut") and shortcuts:
        raise ConfigError("shortcuts", "(the arms) and `shortcut` (one option for all) cannot both be given")
    shortcuts = shortcuts or ([modifiers.pop("shortcut")] if modifiers.get("shortcut") else [None])
    modifiers.pop("shortcut", None)
    if specs and (depths or blocks):
        raise ConfigError("specs", "(explicit arms) and `depths`/`blocks` (a grid) cannot both be given")
    blocks = blocks or ["basic"]
    for b in blocks:
        if b not in ("basic", "bottleneck"):
            raise ConfigError("blocks", f"has an unknown block {b!r}: expected basic or bottleneck")
    if specs:
        bases = list(specs)
    else:
        bases = []
        for d in depths or [20]:
            if d < 8 or (d - 2) % 6:
                raise ConfigError("depths", f"are CIFAR basic depths 6n+2 (20, 32, 44, 56, 110, ...), got {d}")
            for b in blocks:
                bases.append(f"cifar-resnet{d}" if b == "basic" else f"cifar-resnet{_bottleneck_twin(d)}-bottleneck")
    arms: list[NetSpec] = []
    for base in bases:
        for sc in shortcuts:
            try:
                s = parse_spec(base, shortcut=sc, **modifiers)
            except SpecError as e:
                raise SpecError(f"arm {base}: {e}") from None  # which arm of several
            if s not in arms:
                arms.append(s)
            if plain and not s.plain:
                p = parse_spec(base, plain=True, **{k: v for k, v in modifiers.items() if k != "zero_init_residual"})
                if p not in arms:
                    arms.append(p)
    return arms


def build_cells(arms: list[NetSpec], seeds: int, config: TrainConfig, first_seed: int = 0) -> list[Cell]:
    if seeds < 1:
        raise ConfigError("seeds", f"must be at least 1, got {seeds}")
    # Seeds outermost: an interrupted sweep has complete pairs for the seeds it finished.
    return [Cell(a, s, replace(config, seed=s)) for s in range(first_seed, first_seed + seeds) for a in arms]
