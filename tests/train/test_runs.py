"""The one owner of a training cell's life: stored cells, claims, the one record writer, sweeps."""

import threading
import time

from resbench.spec import parse_spec
from resbench.store import Store
from resbench.train.cells import Cell
from resbench.train.config import TrainConfig
from resbench.train.executors import CellFailure
from resbench.results import EpochStats, TrainResult
from resbench.train.runs import CellRuns, CellStatus, now
from resbench.train.sweep import build_cells

# A whole result, as the engine returns it (the store checks what it is given); no training here.
_H = (EpochStats(1, 0.1, 1.0, 0.5, 0.5, 2.0, 1.5),)
RESULT = TrainResult("cifar-resnet8", 1, 1, 1, _H, 0.5, 0.5, False, None, 2.0, 1.0, 0.1, "test", 128, 0.1).to_dict()


def _cells(n_arms=2, seeds=2):
    arms = [parse_spec("cifar-resnet8"), parse_spec("cifar-resnet8", shortcut="B")][:n_arms]
    return build_cells(arms, seeds, TrainConfig(dataset="synthetic", epochs=1, device="cpu"))


def _fake_runner(trained: list):
    def runner(cells):
        for c in cells:
            trained.append(c.key)
            yield c, (RESULT, {"host": "test"})
    return runner


def test_record_writes_the_cells_key_config_and_tags(tmp_path):
    runs = CellRuns(Store(tmp_path))
    cell = _cells(1, 1)[0]
    since = now()
    path = runs.record(cell, RESULT, {"host": "x"}, tags={"world_size": 1})
    rec = runs.stored(cell.key)
    assert rec is not None and rec.key == cell.key and path.stem == rec.id
    assert rec.config == {**cell.key_config, "world_size": 1}
    assert runs.stored(cell.key, since=since).id == rec.id
    assert runs.stored(cell.key, since=now()) is None  # made before: not "since"
    other = runs.record(cell, RESULT, {}, key="pruned-key")
    assert runs.stored("pruned-key").id == other.stem and runs.stored(cell.key).id == rec.id


def test_a_held_claim_is_not_taken_and_claimed_waits_for_it(tmp_path):
    runs = CellRuns(Store(tmp_path))
    held = runs.try_claim("k")
    assert held is not None
    other = threading.Thread(target=lambda: got.append(runs.try_claim("k")))
    got = []
    other.start()
    other.join()
    assert got == [None]  # held: not taken
    got.clear()

    def waiter():
        with runs.claimed("k"):
            got.append(time.monotonic())

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    assert got == []  # still waiting
    released = time.monotonic()
    held.release()
    t.join(timeout=30)
    assert got and got[0] >= released


def test_a_sweep_trains_only_the_missing_cells_and_stores_each_once(tmp_path):
    runs = CellRuns(Store(tmp_path))
    cells = _cells()
    runs.record(cells[0], RESULT, {})
    trained, seen = [], []
    out = list(runs.sweep(cells, _fake_runner(trained), on_cell=lambda c, s, d: seen.append((c.key, s))))
    assert [c.key for c, _ in out][0] == cells[0].key  # stored cells come first
    assert sorted(trained) == sorted(c.key for c in cells[1:])
    assert (cells[0].key, CellStatus.STORED) in seen and seen.count((cells[1].key, CellStatus.FINISHED)) == 1
    records, _ = Store(tmp_path).load("train")
    assert sorted(r.key for r in records) == sorted(c.key for c in cells)
    assert list(runs.sweep(cells, _fake_runner(trained := []))) and trained == []  # all stored now


def test_a_failed_cell_is_not_stored_and_its_claim_is_released(tmp_path):
    runs = CellRuns(Store(tmp_path))
    cells = _cells(1, 2)

    def runner(batch):
        for c in batch:
            yield c, CellFailure(c.key, "boom") if c.seed == 0 else (RESULT, {})

    out = dict((c.seed, rec) for c, rec in runs.sweep(cells, runner))
    assert out[0] is None and out[1] is not None
    assert runs.stored(cells[0].key) is None
    lock = runs.try_claim(cells[0].key)
    assert lock is not None  # released: the next run retries it
    lock.release()


def test_packs_hold_cells_of_one_group_only(tmp_path):
    runs = CellRuns(Store(tmp_path))
    cells = _cells(2, 3)
    batches = []

    def runner(batch):
        batches.append([c.spec.name for c in batch])
        for c in batch:
            yield c, (RESULT, {})

    list(runs.sweep(cells, runner, pack=3, group=lambda c: c.spec.name))
    assert all(len(set(b)) == 1 for b in batches) and sum(map(len, batches)) == 6


def test_a_cell_another_run_holds_is_waited_for_and_read(tmp_path):
    runs = CellRuns(Store(tmp_path))
    cell = _cells(1, 1)[0]
    trained, statuses = [], []
    holding = threading.Event()

    def finish_elsewhere():  # another run (a thread here: a claim belongs to its thread)
        held = runs.try_claim(cell.key)
        holding.set()
        time.sleep(0.3)
        runs.record(cell, RESULT, {"host": "elsewhere"})
        held.release()

    t = threading.Thread(target=finish_elsewhere)
    t.start()
    holding.wait(timeout=30)
    out = list(runs.sweep([cell], _fake_runner(trained), on_cell=lambda c, s, d: statuses.append(s)))
    t.join()
    assert trained == [] and statuses == [CellStatus.WAITING, CellStatus.STORED]
    assert out[0][1].env == {"host": "elsewhere"}


def test_cells_are_keyed_by_their_whole_configuration():
    a, b = _cells(1, 2)
    assert isinstance(a, Cell) and a.key != b.key and a.key_config["spec"] == "cifar-resnet8"


def test_a_lone_lookup_passes_over_the_cells_ddp_runs(tmp_path):
    """A cell's key does not hold the world size: a DDP run stored first must not hide the
    lone run stored after it (or every lone `train` of the cell would train again)."""
    from resbench.train.job import _lone

    runs = CellRuns(Store(tmp_path))
    cell = _cells(1, 1)[0]
    runs.record(cell, RESULT, {}, tags={"world_size": 2})
    assert runs.stored(cell.key, where=_lone) is None and runs.stored(cell.key) is not None
    lone = runs.record(cell, RESULT, {}, tags={"world_size": 1})
    assert runs.stored(cell.key, where=_lone).id == lone.stem
    assert runs.stored(cell.key, since="", where=_lone).id == lone.stem
