"""A training cell's life, owned here: found in the store, claimed, trained, recorded.

Every training record is written by ``CellRuns.record`` (one ``store.put("train")`` in
the package), and every claim is a ``filelock`` lock on
``records/.locks/train-<key>.lock``: the OS releases it when its holder exits, however
it exits (SIGKILL included), so a dead holder never blocks the others. Claiming then
re-reading the store is what lets two runs on one results folder share the work: the
second waits for the first and reads its record instead of training the cell again.

``sweep`` runs many cells (compare, degradation): stored ones are yielded first, the
missing ones are claimed one at a time, in packs of one group, or all together for a
pool or Ray, and handed to a runner.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from filelock import FileLock, Timeout

from resbench.store import Record, Store, read_record
from resbench.train.cells import Cell
from resbench.train.executors import CellFailure
from resbench.results import TrainResult


def now() -> str:
    """The store's clock (UTC, ISO 8601 to the millisecond), for ``stored(since=...)``."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class CellStatus(enum.Enum):
    """What happened to a cell of a sweep (reported to ``on_cell`` with an optional detail)."""

    STORED = "stored"  # found in the store: not trained again
    FINISHED = "finished"  # trained here and stored
    FAILED = "failed"  # trained here and failed: not stored, the next run retries it
    WAITING = "waiting"  # another run holds it: waited for


CellRunner = Callable[[list[Cell]], Iterable[tuple[Cell, object]]]  # missing cells -> (cell, (result, env) | CellFailure)


@dataclass(frozen=True)
class CellRuns:
    """The training cells of one results folder."""

    store: Store

    def lock(self, key: str) -> FileLock:
        path = self.store.records_dir / ".locks" / f"train-{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path))

    def try_claim(self, key: str) -> FileLock | None:
        """The claim on ``key`` if nobody holds it, else None (never waits)."""
        lock = self.lock(key)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        return lock

    @contextlib.contextmanager
    def claimed(self, key: str) -> Iterator[None]:
        """Hold the claim on ``key``, waiting for another run that holds it."""
        lock = self.lock(key)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def stored(self, key: str, since: str | None = None, where=None) -> Record | None:
        """The cell's record (the oldest), or with ``since`` the newest made at or after it;
        with ``where``, only records for which ``where(record)`` holds (a lone run's lookup
        passes over the cell's DDP runs to its lone ones)."""
        if since is None:
            return self.store.find("train", key, where)
        return self.store.newest("train", key, since=since, where=where)

    def record(self, cell: Cell, result: TrainResult | dict, env: dict, *, tags: dict | None = None,
               key: str | None = None) -> Path:
        """Store a trained cell: its key config plus ``tags`` (world size, study and trial),
        under the cell's key unless ``key`` says otherwise (a pruned run's own key)."""
        result = result.to_dict() if isinstance(result, TrainResult) else result
        # the cell's claim is held, so no other process writes this key: a temporary more
        # than a record write's time old was left by a killed writer
        return self.store.put("train", config={**cell.key_config, **(tags or {})}, result=result, env=env,
                              key=key or cell.key, stale_after=2.0)

    def sweep(self, cells: list[Cell], runner: CellRunner,
              on_cell: Callable[[Cell, CellStatus, str | None], None] | None = None,
              parallel: bool = False, pack: int = 1,
              group: Callable[[Cell], object] | None = None) -> Iterable[tuple[Cell, Record | None]]:
        """Yield (cell, record) for stored cells, then for each missing cell as it finishes
        (record None when it failed: it is not stored, so the next run retries it).

        A cell another run is training is left for last, then waited for and read from the
        store (or trained here if that run died or failed). ``parallel``: the runner trains
        many cells at once (a pool, Ray), so every cell that can be claimed is handed to it
        together; otherwise cells are claimed one at a time, or up to ``pack`` at a time
        that share ``group(cell)`` (members trained in one pass)."""
        def note(cell, status: CellStatus, detail: str | None = None):
            if on_cell:
                on_cell(cell, status, detail)

        missing = []
        for cell in cells:
            rec = self.stored(cell.key)
            if rec is None:
                missing.append(cell)
            else:
                note(cell, CellStatus.STORED)
                yield cell, rec
        held_elsewhere: list[Cell] = []
        queue = list(missing)
        while queue or held_elsewhere:
            batch, locks = self._claim_batch(queue, held_elsewhere, parallel, pack, group)
            try:
                for cell, rec in batch.found:
                    note(cell, CellStatus.STORED)
                    yield cell, rec
                if batch.cells:
                    yield from self._run(batch.cells, locks, runner, note)
            finally:  # however the consumer stops (break, an error, Ctrl-C): no claim outlives it
                for lock in locks.values():
                    lock.release()
            if not queue and held_elsewhere:
                cell = held_elsewhere.pop(0)
                note(cell, CellStatus.WAITING, "another run is training it")
                with self.claimed(cell.key):
                    rec = self.stored(cell.key)
                if rec is not None:
                    note(cell, CellStatus.STORED)
                    yield cell, rec
                else:
                    queue.append(cell)  # that run died or failed: train it here

    def _claim_batch(self, queue: list[Cell], held_elsewhere: list[Cell], parallel: bool, pack: int, group):
        """Claim the next cells to train from ``queue`` (moving cells another run holds to
        ``held_elsewhere``); cells finished elsewhere since the first look come back as found."""
        batch, locks = _Batch([], []), {}
        for cell in list(queue):
            if batch.cells and not parallel and (group is None or group(cell) != group(batch.cells[0])):
                continue  # a pack holds cells of one group only
            queue.remove(cell)
            lock = self.try_claim(cell.key)
            if lock is None:
                held_elsewhere.append(cell)
                continue
            rec = self.stored(cell.key)  # finished by another run since we looked
            if rec is not None:
                lock.release()
                batch.found.append((cell, rec))
                continue
            batch.cells.append(cell)
            locks[cell.key] = lock
            if not parallel and len(batch.cells) >= pack:
                break
        return batch, locks

    def _run(self, cells: list[Cell], locks: dict, runner: CellRunner, note):
        """Train the claimed ``cells``, recording each; its claim is released once it is
        recorded (or failed), the rest by ``sweep`` however it ends."""
        for cell, outcome in runner(cells):
            if isinstance(outcome, CellFailure):
                note(cell, CellStatus.FAILED, outcome.error)
                yield cell, None
            else:
                result, env = outcome
                path = self.record(cell, result, env)
                note(cell, CellStatus.FINISHED)
                yield cell, read_record(path)
            locks.pop(cell.key).release()


@dataclass(frozen=True)
class _Batch:
    cells: list[Cell]  # claimed, to train
    found: list[tuple[Cell, Record]]  # stored by another run meanwhile
