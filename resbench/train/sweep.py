"""Comparisons as sweeps of (arm, seed) cells, each stored as its own record.

A cell's record key is a hash of its full configuration (spec + training config +
seed), so re-running the same command finds finished cells and skips them; a sweep
killed at any moment loses only the cell that was running (records are written
atomically, once, at the end of a cell).
"""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import Callable, Iterable

from resbench.errors import ConfigError, SpecError
from resbench.spec import NetSpec, parse_spec
from resbench.store import Record, Store, cell_lock, read_record
from resbench.train.cells import Cell  # noqa: F401  (re-exported: sweeps are made of cells)
from resbench.train.executors import CellFailure
from resbench.train.recipe import TrainConfig


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


Runner = Callable[[list[Cell]], Iterable[tuple[Cell, object]]]  # missing cells -> (cell, (result, env) | CellFailure)


class CellStatus(enum.Enum):
    """What happened to a cell of a sweep (reported to ``on_cell`` with an optional detail)."""

    STORED = "stored"  # found in the store: not trained again
    FINISHED = "finished"  # trained here and stored
    FAILED = "failed"  # trained here and failed: not stored, the next run retries it
    WAITING = "waiting"  # another run holds it: waited for


def run_sweep(cells: list[Cell], store: Store, runner: Runner,
              on_cell: Callable[[Cell, CellStatus, str | None], None] | None = None,
              parallel: bool = False, pack: int = 1,
              group: Callable[[Cell], object] | None = None) -> Iterable[tuple[Cell, Record | None]]:
    """Yield (cell, record) for stored cells, then for each missing cell as it finishes
    (record None when it failed: it is not stored, so the next run retries it).

    Each missing cell is claimed with a lock before it is trained, so two sweeps on one
    results folder share the work: a cell another run is training is left for last,
    then waited for and read from the store (or trained here if that run died or failed).
    ``parallel``: the runner trains many cells at once (a pool, Ray), so every cell that
    can be claimed is handed to it together; otherwise cells are claimed one at a time,
    or up to ``pack`` at a time that share ``group(cell)`` (members trained in one pass).
    """
    def note(cell, status: CellStatus, detail: str | None = None):
        if on_cell:
            on_cell(cell, status, detail)

    missing = []
    for cell in cells:
        rec = store.find("train", cell.key)
        if rec is None:
            missing.append(cell)
        else:
            note(cell, CellStatus.STORED)
            yield cell, rec

    def run(batch: list[Cell], locks: dict):
        try:
            for cell, outcome in runner(batch):
                if isinstance(outcome, CellFailure):
                    note(cell, CellStatus.FAILED, outcome.error)
                    yield cell, None
                else:
                    result, env = outcome
                    path = store.put("train", config=cell.key_config, result=result, env=env, key=cell.key)
                    note(cell, CellStatus.FINISHED)
                    yield cell, read_record(path)
                locks.pop(cell.key).release()
        finally:
            for lock in locks.values():
                lock.release()

    held_elsewhere = []
    queue = list(missing)
    while queue or held_elsewhere:
        batch, locks = [], {}
        for cell in list(queue):
            if batch and not parallel and (group is None or group(cell) != group(batch[0])):
                continue  # a pack holds cells of one group only
            lock = cell_lock(store, "train", cell.key)
            if lock.acquire(blocking=False):
                queue.remove(cell)
                rec = store.find("train", cell.key)  # finished by another run since we looked
                if rec is not None:
                    lock.release()
                    note(cell, CellStatus.STORED)
                    yield cell, rec
                    continue
                batch.append(cell)
                locks[cell.key] = lock
                if not parallel and len(batch) >= pack:
                    break
            else:
                queue.remove(cell)
                held_elsewhere.append(cell)
        if batch:
            yield from run(batch, locks)
        if not queue and held_elsewhere:
            # Only cells another run holds are left: wait for each, then take it from the
            # store, or train it here if that run died or failed (its lock is then free).
            cell = held_elsewhere.pop(0)
            note(cell, CellStatus.WAITING, "another run is training it")
            with cell_lock(store, "train", cell.key):
                rec = store.find("train", cell.key)
            if rec is not None:
                note(cell, CellStatus.STORED)
                yield cell, rec
            else:
                queue.append(cell)
