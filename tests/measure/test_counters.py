"""Deterministic counters (resbench.measure.counters): exact, repeatable, and counting the step `profile` times
(their verdicts: tests/check/test_counter_verdict.py; in `check`: tests/check/test_run.py)."""


import pytest
import torch

from resbench.check.counter_verdict import counter_verdicts
from resbench.measure.counters import count_ops_and_memory, counted_step, measure_counters

ENTRY = {"spec": "cifar-resnet8", "batch_size": 2, "mode": "infer", "counters": ["ops", "memory"]}


def _count(entry=ENTRY):
    model, step, _ = counted_step(entry)
    return count_ops_and_memory(model, step)


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_ops_and_memory_are_exact_and_repeatable(mode):
    a, b = _count({**ENTRY, "mode": mode}), _count({**ENTRY, "mode": mode})
    assert a == b
    ops = a["ops"]
    assert ops["count"] == sum(ops["detail"].values()) > 0
    assert a["memory"]["total_bytes"] >= a["memory"]["peak_bytes"] > 0
    convs = [k for k in ops["detail"] if "conv" in k and not k.startswith(("backward", "optimizer"))]
    assert any(k.startswith("layer1.0.conv1 | ") for k in convs)  # each op carries the module it ran in
    if mode == "train":  # forward, backward and the optimizer step are all counted
        assert any(k.startswith("backward | ") for k in ops["detail"]) and any(k.startswith("optimizer | ") for k in ops["detail"])
        assert ops["flops"] > 2 * _count()["ops"]["flops"]  # forward + backward (about twice the forward)


def test_flops_match_the_analytic_count():
    from resbench.cost import analytic_complexity
    from resbench.spec import parse_spec

    macs = analytic_complexity(parse_spec("cifar-resnet8")).macs
    assert _count()["ops"]["flops"] == 2 * macs * ENTRY["batch_size"]


def test_one_extra_elementwise_op_per_block_is_caught_and_named(monkeypatch):
    from resbench.model import blocks

    base = _count()
    original = blocks.BasicBlock.forward
    monkeypatch.setattr(blocks.BasicBlock, "forward", lambda self, x: original(self, x).mul(1.0))
    cur = _count()
    assert cur["ops"]["count"] == base["ops"]["count"] + 3  # cifar-resnet8: three blocks
    verdicts = {v.counter: v for v in counter_verdicts(base, cur)}
    ops = verdicts["ops"]
    assert ops.verdict == "regressed" and ops.fails
    assert "+1 aten::mul (2,16,32,32)float32 in layer1.0" in ops.differences
    assert verdicts["memory"].verdict == "regressed"  # three new activations


def test_kernels_on_cpu_are_unavailable_and_the_others_still_run():
    out = measure_counters({**ENTRY, "counters": ["ops", "kernels"]})
    assert "unavailable" in out["kernels"] and out["ops"]["count"] > 0
    assert out["ops"]["env"]["torch"] == torch.__version__


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_kernels_are_counted_by_name():
    out = measure_counters({**ENTRY, "device": "cuda", "counters": ["kernels"]})["kernels"]
    assert out["count"] == sum(out["detail"].values()) > 0 and out["kernel_ms"] > 0
    again = measure_counters({**ENTRY, "device": "cuda", "counters": ["kernels"]})["kernels"]
    assert again["detail"] == out["detail"]


# Instructions under callgrind cost minutes of Valgrind start-up per count: they are exercised for
# real by .ci/run's `resbench check` of benchmarks/suite.toml, which fails (exit 4) if counting breaks.


@pytest.mark.parametrize("mode,dtype", [("infer", "fp32"), ("train", "fp32"), ("train", "bf16"), ("train", "fp16")])
def test_counters_count_the_step_profile_times(mode, dtype):
    """The step `profile` warms up and times (measure_step's own builder, fed a
    ProfileConfig) dispatches exactly the ops the counters count for the same entry."""
    from resbench.measure.steps import prepare, step_for
    from resbench.measure.timing import ProfileConfig
    from resbench.runtime import precision
    from resbench.spec import parse_spec

    entry = {**ENTRY, "mode": mode, "dtype": dtype}
    counted = _count(entry)
    cfg = ProfileConfig(mode=mode, dtype=dtype, device="cpu")
    device = torch.device("cpu")
    torch.manual_seed(0)
    with precision(device, dtype), torch.inference_mode() if mode == "infer" else torch.enable_grad():
        model, x, _ = prepare(parse_spec(entry["spec"]), cfg, device, entry["batch_size"], False)
        timed = step_for(model, x, cfg, device)
        timed()  # a warm-up step, as measure_step runs before timing
        profiled = count_ops_and_memory(model, timed)
    assert profiled["ops"] == counted["ops"]
    assert profiled["ops"]["count"] > 0


def test_an_fp16_train_step_counts_its_loss_scaling():
    """fp16 training scales the loss: the counted step holds the scaler's ops, as the
    timed one does (a step built without the scaler would count fewer)."""
    detail = _count({**ENTRY, "mode": "train", "dtype": "fp16"})["ops"]["detail"]
    assert any("_amp_foreach_non_finite_check_and_unscale_" in k for k in detail)


def test_the_ci_counter_and_profile_read_kernel_events_alike(monkeypatch):
    """count_kernels (CI) and kernel_ms_per_step (profile's GPU-busy figure) are two copies of one
    reading (counters.py must not import it under --against): same activities, same sum."""
    import types

    import torch.profiler

    from resbench.measure import counters
    from resbench.measure.steps import kernel_ms_per_step

    seen = []

    class FakeProfile:  # stands in for torch.profiler.profile; the events are made up, no GPU result is claimed
        def __init__(self, activities):
            seen.append(sorted(str(a) for a in activities))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def events(self):
            cuda, cpu = torch.autograd.DeviceType.CUDA, torch.autograd.DeviceType.CPU
            span = lambda us: types.SimpleNamespace(elapsed_us=lambda: us)  # noqa: E731
            return 2 * [types.SimpleNamespace(name="gemm", device_type=cuda, time_range=span(300.0)),
                        types.SimpleNamespace(name="relu", device_type=cuda, time_range=span(100.0)),
                        types.SimpleNamespace(name="aten::mm", device_type=cpu, time_range=span(9999.0))]

    monkeypatch.setattr(torch.profiler, "profile", FakeProfile)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    counted = counters.count_kernels(lambda: None, torch.device("cpu"), steps=2)
    timed = kernel_ms_per_step(lambda: None, torch.device("cpu"), steps=2)
    assert len(seen) == 2 and seen[0] == seen[1] and len(seen[0]) == 2  # CPU and CUDA activity, both times
    assert counted["kernel_ms"] == timed == 0.4 and counted["detail"] == {"gemm": 1, "relu": 1}  # per step
