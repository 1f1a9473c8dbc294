import json
import os
import signal
import subprocess
import sys

import pytest

from resbench.errors import StoreError
from resbench.store import SCHEMA_VERSION, Record, Store, config_key, read_record, write_json_atomic


def test_round_trip(tmp_path):
    store = Store(tmp_path)
    cfg = {"spec": "resnet20", "batch_size": 8}
    path = store.put("example", config=cfg, result={"throughput": 12.5}, env={"torch": "x"})  # a kind with no result check
    rec = read_record(path)
    assert isinstance(rec, Record)  # typed after the store
    assert rec.schema == SCHEMA_VERSION and rec.kind == "example"
    assert rec.config == cfg and rec.result["throughput"] == 12.5
    assert rec.key == config_key(cfg)
    assert store.find("example", config_key(cfg)).id == rec.id
    records, problems = store.load()
    assert len(records) == 1 and problems == [] and records[0] == rec


def test_config_key_is_order_independent():
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_corrupt_and_newer_records_are_reported_not_fatal(tmp_path):
    store = Store(tmp_path)
    store.put("example", config={"a": 1}, result={}, env={})
    (store.records_dir / "profile").mkdir()
    bad = store.records_dir / "profile" / "broken.json"
    bad.write_text('{"schema": 1, "kind": "prof')
    newer = store.records_dir / "profile" / "newer.json"
    newer.write_text(json.dumps({"schema": SCHEMA_VERSION + 1}))
    records, problems = store.load()
    assert len(records) == 1
    assert len(problems) == 2
    assert any("newer" in p and "upgrade" in p for p in problems)
    with pytest.raises(StoreError, match="newer"):
        read_record(bad)


def test_a_result_that_breaks_its_kinds_check_is_a_store_error(tmp_path):
    store = Store(tmp_path)
    path = store.put("train", config={"spec": "resnet20"}, result={"test_error": 0.4}, env={})
    with pytest.raises(StoreError, match="damaged train result"):
        read_record(path)
    assert store.load() == ([], [next(iter(store.load()[1]))])


def test_failed_write_leaves_old_record_intact(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json_atomic(path, {"v": float("nan")})  # JSON cannot hold NaN: the write fails midway
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


def test_killed_writer_never_leaves_a_half_written_record(tmp_path):
    """SIGKILL a process that rewrites a large record in a loop: the file is always
    either absent or a complete, parseable record."""
    target = tmp_path / "big.json"
    code = (
        "import sys; from resbench.store import write_json_atomic\n"
        f"p = {str(target)!r}\n"
        "i = 0\n"
        "while True:\n"
        "    write_json_atomic(p, {'i': i, 'pad': list(range(200000))}); i += 1\n"
        "    print(i, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for _ in range(3):
        proc.stdout.readline()  # let it complete a few writes
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rec = json.loads(target.read_text())
    assert len(rec["pad"]) == 200000


def test_a_killed_records_temporary_is_never_read_and_removed_when_stale(tmp_path):
    """A kill mid-write leaves `.<id>.json.XXXX.json` beside the records: never read as a
    record (no warning), and removed by the next write of that key once it is stale."""
    import os
    import time

    store = Store(tmp_path)
    config = {"spec": "resnet20", "seed": 0}
    key = config_key(config)
    folder = tmp_path / "records" / "example"
    folder.mkdir(parents=True)
    stale = folder / f".20260101T000000-{key[:8]}-abcdef.json.k1ll3d.json"
    fresh = folder / f".20260101T000001-{key[:8]}-abcdef.json.wr1t1n.json"
    stale.write_text('{"half": ')
    fresh.write_text('{"half": ')
    old = time.time() - 2 * Store.STALE_SECONDS
    os.utime(stale, (old, old))
    warned = []
    store._skip = lambda e, path: warned.append(path)  # what a damaged record would say
    assert store.find("example", key) is None and store.newest("example", key) is None and warned == []
    store.put("example", config=config, result={"x": 1}, env={})
    assert not stale.exists() and fresh.exists()  # a write in progress elsewhere is left alone
    assert store.find("example", key).result == {"x": 1} and warned == []


def test_records_made_within_one_second_keep_the_order_they_were_made_in(tmp_path):
    """Ids carry the microsecond: oldest and newest mean what they say within a second too."""
    store = Store(tmp_path)
    for i in range(20):
        store.put("example", {"n": 1}, {"i": i}, {})
    key = store.newest("example", config_key({"n": 1})).key
    assert store.newest("example", key).result == {"i": 19} and store.find("example", key).result == {"i": 0}
    records, _ = store.load("example")
    assert [r.result["i"] for r in records] == list(range(20))


def _second_style_copy(store: Store, new_path, stamp: str, result: dict):
    """A record as ids were once written, to the second: ``<YYYYmmddTHHMMSS>-<key8>-<rand>``."""
    doc = json.loads(new_path.read_text())
    rid = f"{stamp}-{doc['key'][:8]}-0ld0ld"
    doc.update(id=rid, result=result,
               created=f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}.000+00:00")
    write_json_atomic(new_path.parent / f"{rid}.json", doc)


@pytest.mark.parametrize("offset, newest_is_old", [(-1, False), (0, False), (1, True)])
def test_ids_to_the_second_and_to_the_microsecond_sort_together(tmp_path, offset, newest_is_old):
    """A store holding records written before ids carried the microsecond: oldest and newest
    still follow the time they were made, across both forms of id (an old id of the same
    second sorts first: it was made at that second's start)."""
    import datetime as dt

    store = Store(tmp_path)
    path = store.put("example", {"n": 1}, {"which": "new"}, {})
    new = read_record(path)
    made = dt.datetime.fromisoformat(new.created) + dt.timedelta(seconds=offset)
    _second_style_copy(store, path, made.strftime("%Y%m%dT%H%M%S"), {"which": "old"})
    newest, oldest = store.newest("example", new.key).result, store.find("example", new.key).result
    assert (newest, oldest) == (({"which": "old"}, {"which": "new"}) if newest_is_old else ({"which": "new"}, {"which": "old"}))
    records, problems = store.load("example")
    assert problems == [] and [r.result for r in records][-1] == newest
