"""Verdicts on the deterministic counters (resbench.check.counter_verdict): a pure function of
two entries' counters, checked here on counts written out by hand (the counters themselves:
tests/measure/test_counters.py)."""

import json

import torch

from resbench.check.counter_verdict import TOP_DIFFERENCES, counter_verdicts


def _counts() -> dict:
    detail = {"layer1.0 | aten::conv2d | (2,16,32,32)float32": 2, "layer1.0 | aten::add | (2,16,32,32)float32": 1,
              "fc | aten::linear | (2,64)float32": 1}
    env = {"torch": torch.__version__}
    return {"ops": {"count": 4, "flops": 1000, "detail": detail, "env": env},
            "memory": {"total_bytes": 4096, "peak_bytes": 2048, "env": env}}


def test_identical_counts_are_the_same_and_one_added_op_is_a_named_regression():
    base = _counts()
    assert [(v.counter, v.verdict, v.fails) for v in counter_verdicts(base, _counts())] == [("ops", "same", False),
                                                                                           ("memory", "same", False)]
    more = _counts()
    more["ops"]["detail"]["layer1.0 | aten::mul | (2,16,32,32)float32"] = 1
    more["ops"]["count"] = 5
    v = counter_verdicts(base, more)[0]
    assert v.verdict == "regressed" and v.fails and v.relative_change == 0.25
    assert v.differences == ("+1 aten::mul (2,16,32,32)float32 in layer1.0",) and v.note == "count 4 -> 5"


def test_more_bytes_allocated_is_a_memory_regression():
    bigger = _counts()
    bigger["memory"]["peak_bytes"] = 4096
    v = counter_verdicts(_counts(), bigger)[1]
    assert v.counter == "memory" and v.verdict == "regressed" and "peak_bytes 2,048 -> 4,096" in v.note


def test_only_the_largest_differences_are_named():
    base, cur = _counts(), _counts()
    for i in range(TOP_DIFFERENCES + 2):
        cur["ops"]["detail"][f"aten::op{i}"] = i + 1
    v = counter_verdicts(base, cur)[0]
    assert len(v.differences) == TOP_DIFFERENCES + 1 and v.differences[0] == f"+{TOP_DIFFERENCES + 2} aten::op{TOP_DIFFERENCES + 1}"
    assert v.differences[-1] == "... and 2 more"


def test_a_counter_in_the_baseline_but_not_asked_for_now_is_not_measured():
    v = counter_verdicts(_counts(), {"ops": _counts()["ops"]})[1]
    assert (v.counter, v.verdict, v.fails) == ("memory", "not measured", False)


def test_removing_work_is_an_improvement_and_a_swap_only_a_change():
    base = _counts()
    fewer = json.loads(json.dumps(base))
    key = next(iter(fewer["ops"]["detail"]))
    fewer["ops"]["detail"][key] -= 1
    fewer["ops"]["count"] -= 1
    assert counter_verdicts(base, fewer)[0].verdict == "improved"
    swapped = json.loads(json.dumps(base))
    n = swapped["ops"]["detail"].pop(key)
    swapped["ops"]["detail"][key.replace("aten::", "aten::other_")] = n
    v = counter_verdicts(base, swapped)[0]
    assert v.verdict == "changed" and not v.fails and len(v.differences) == 2


def test_instructions_use_a_relative_tolerance():
    b = {"instructions": {"count": 1_000_000, "spread": 1e-5}}
    assert counter_verdicts(b, {"instructions": {"count": 1_005_000}})[0].verdict == "ok"
    assert counter_verdicts(b, {"instructions": {"count": 1_020_000}})[0].verdict == "regressed"
    assert counter_verdicts(b, {"instructions": {"count": 1_020_000}}, instructions_tolerance=0.05)[0].verdict == "ok"
    assert counter_verdicts(b, {"instructions": {"count": 970_000}})[0].verdict == "improved"


def test_new_unavailable_and_elsewhere_counters_never_fail():
    cur = _counts()
    assert {v.verdict for v in counter_verdicts(None, cur)} == {"new"}
    v = counter_verdicts({"kernels": {"unavailable": "no CUDA"}}, {"kernels": {"unavailable": "no CUDA"}})[0]
    assert v.verdict == "unavailable" and not v.fails
    elsewhere = {"ops": {**cur["ops"], "env": {"torch": "9.9"}}}
    v = counter_verdicts(elsewhere, {"ops": {**cur["ops"], "env": {"torch": torch.__version__}}})[0]
    assert v.verdict == "not compared" and not v.fails and "torch 9.9" in v.note


def test_kernel_counts_read_the_old_way_are_not_compared():
    """A baseline whose kernels were read from CUDA activity alone (before CPU activity was
    recorded beside it) may hold fewer kernels: it is not compared, never a regression."""
    from resbench.measure.counters import DEPENDS_ON, KERNEL_READING

    assert "kernel_reading" in DEPENDS_ON["kernels"]
    env = {"torch": "2.11", "gpu": "NVIDIA H200"}
    old = {"kernels": {"count": 90, "kernel_ms": 1.0, "detail": {}, "env": env}}
    new = {"kernels": {"count": 120, "kernel_ms": 2.0, "detail": {}, "env": {**env, "kernel_reading": KERNEL_READING}}}
    (v,) = counter_verdicts(old, new)
    assert v.verdict == "not compared" and not v.fails and "kernel_reading" in v.note
    (same,) = counter_verdicts(new, {"kernels": {**new["kernels"], "count": 121}})
    assert same.verdict != "not compared" and same.fails  # read alike: one more kernel is caught
