"""A baseline is untrusted input: every counter field `check` reads is checked on read, so
a damaged baseline is exit 2 ("damaged baseline"), never a verdict (exit 1)."""

import json

import pytest

from resbench.check.baseline import read_baseline
from resbench.errors import StoreError

OPS = {"count": 10, "flops": 100, "detail": {"stem | aten::conv2d | (1,3,32,32)float32": 10},
       "env": {"torch": "2", "python": "3.11"}}
MEMORY = {"total_bytes": 4096, "peak_bytes": 2048, "env": {"torch": "2"}}
INSTRUCTIONS = {"count": 1000, "repeats": [999, 1000, 1001], "spread": 0.002, "env": {"cpu": "x"}}


def _doc(**counters):
    entry = {"id": "cifar-resnet8", "params": 78_042, "macs": 12_000_000,
             "counters": {"ops": OPS, "memory": MEMORY, "instructions": INSTRUCTIONS, **counters}}
    return {"schema": 2, "kind": "resbench-baseline", "suite": "s", "entries": [entry]}


DAMAGES = {
    "ops.detail": {"ops": {**OPS, "detail": ["aten::conv2d"]}},
    "ops.detail-count": {"ops": {**OPS, "detail": {"k": "ten"}}},
    "ops.flops": {"ops": {**OPS, "flops": "many"}},
    "ops.flops-negative": {"ops": {**OPS, "flops": -1}},
    "ops.env": {"ops": {**OPS, "env": "torch 2"}},
    "ops.env-nested": {"ops": {**OPS, "env": {"torch": {"v": 2}}}},
    "memory.peak_bytes": {"memory": {**MEMORY, "peak_bytes": 1.5}},
    "memory.total_bytes": {"memory": {**MEMORY, "total_bytes": None}},
    "ops.unavailable": {"ops": {"unavailable": 3}},
    "instructions.spread": {"instructions": {**INSTRUCTIONS, "spread": "small"}},
    "instructions.spread-inf": {"instructions": {**INSTRUCTIONS, "spread": float("inf")}},
    "instructions.repeats": {"instructions": {**INSTRUCTIONS, "repeats": "3"}},
    "kernels.count": {"kernels": {"count": True}},
}


def test_a_whole_baseline_reads(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_doc()))
    assert read_baseline(path)["entries"][0]["counters"]["ops"]["count"] == 10


@pytest.mark.parametrize("how", list(DAMAGES))
def test_a_damaged_counter_field_is_named(tmp_path, how):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_doc(**DAMAGES[how])))
    counter, field = how.split("-")[0].split(".")
    with pytest.raises(StoreError, match=f"counter {counter}: .*{field}|counter {counter}: has no whole-number {field}"):
        read_baseline(path)


@pytest.mark.parametrize("how", ["ops.detail", "memory.peak_bytes", "instructions.spread", "ops.unavailable"])
def test_check_against_a_damaged_baseline_is_exit_2(cli, tmp_path, how):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\n')
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_doc(**DAMAGES[how])))
    code, out, err = cli("check", suite, "--baseline", path)
    assert code == 2 and "regenerate it" in err and len(err.strip().splitlines()) == 1, err


def test_a_fifo_as_baseline_is_refused_without_blocking(tmp_path):
    import os
    import signal

    os.mkfifo(tmp_path / "b.json")
    signal.alarm(30)
    try:
        with pytest.raises(StoreError, match="cannot read `baseline`.*not a regular file"):
            read_baseline(tmp_path / "b.json")
    finally:
        signal.alarm(0)
