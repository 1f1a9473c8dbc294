"""Comparisons as sweeps of (arm, seed) cells, each stored as its own record.

A cell's record key is a hash of its full configuration (spec + training config +
seed), so re-running the same command finds finished cells and skips them; a sweep
killed at any moment loses only the cell that was running (records are written
atomically, once, at the end of a cell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from resbench.errors import UsageError
from resbench.spec import NetSpec, parse_spec
from resbench.store import Store, config_key
from resbench.train.loop import TrainConfig


@dataclass(frozen=True)
class Cell:
    spec: NetSpec
    seed: int
    config: TrainConfig  # with this cell's seed

    @property
    def key_config(self) -> dict:
        return {"spec": self.spec.name, **self.config.key_fields()}

    @property
    def key(self) -> str:
        return config_key(self.key_config)


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
        raise UsageError("give --shortcuts (the arms) or --shortcut (one option for all), not both")
    shortcuts = shortcuts or ([modifiers.pop("shortcut")] if modifiers.get("shortcut") else [None])
    modifiers.pop("shortcut", None)
    if specs and (depths or blocks):
        raise UsageError("give --specs (explicit arms) or --depths/--blocks (a grid), not both")
    blocks = blocks or ["basic"]
    for b in blocks:
        if b not in ("basic", "bottleneck"):
            raise UsageError(f"unknown block {b!r} in --blocks: expected basic or bottleneck")
    if specs:
        bases = list(specs)
    else:
        bases = []
        for d in depths or [20]:
            if d < 8 or (d - 2) % 6:
                raise UsageError(f"--depths are CIFAR basic depths 6n+2 (20, 32, 44, 56, 110, ...), got {d}")
            for b in blocks:
                bases.append(f"cifar-resnet{d}" if b == "basic" else f"cifar-resnet{_bottleneck_twin(d)}-bottleneck")
    arms: list[NetSpec] = []
    for base in bases:
        for sc in shortcuts:
            s = parse_spec(base, shortcut=sc, **modifiers)
            if s not in arms:
                arms.append(s)
            if plain and not s.plain:
                p = parse_spec(base, plain=True, **{k: v for k, v in modifiers.items() if k != "zero_init_residual"})
                if p not in arms:
                    arms.append(p)
    return arms


def build_cells(arms: list[NetSpec], seeds: int, config: TrainConfig, first_seed: int = 0) -> list[Cell]:
    if seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {seeds}")
    # Seeds outermost: an interrupted sweep has complete pairs for the seeds it finished.
    from dataclasses import replace

    return [Cell(a, s, replace(config, seed=s)) for s in range(first_seed, first_seed + seeds) for a in arms]


Runner = Callable[[list[Cell]], Iterable[tuple[Cell, object]]]  # missing cells -> (cell, (result, env) | CellFailure)


def run_sweep(cells: list[Cell], store: Store, runner: Runner,
              on_cell: Callable[[Cell, str], None] | None = None) -> Iterable[tuple[Cell, dict | None]]:
    """Yield (cell, record) for stored cells, then for each missing cell as it finishes
    (record None when it failed: it is not stored, so the next run retries it)."""
    from resbench.store import read_record
    from resbench.train.executors import CellFailure

    missing = []
    for cell in cells:
        rec = store.find("train", cell.key)
        if rec is None:
            missing.append(cell)
        else:
            if on_cell:
                on_cell(cell, "stored")
            yield cell, rec
    if not missing:
        return
    for cell, outcome in runner(missing):
        if isinstance(outcome, CellFailure):
            if on_cell:
                on_cell(cell, f"failed: {outcome.error}")
            yield cell, None
            continue
        result, env = outcome
        path = store.put("train", config=cell.key_config, result=result, env=env, key=cell.key)
        if on_cell:
            on_cell(cell, "finished")
        yield cell, read_record(path)
