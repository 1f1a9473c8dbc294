"""Deterministic counters (resbench.measure.counters) and their verdicts in `check`."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from resbench.check.counter_verdict import counter_verdicts
from resbench.check.suite import load_suite
from resbench.errors import UsageError
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


def test_removing_work_is_an_improvement_and_a_swap_only_a_change():
    base = _count()
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
    cur = _count()
    assert {v.verdict for v in counter_verdicts(None, cur)} == {"new"}
    v = counter_verdicts({"kernels": {"unavailable": "no CUDA"}}, {"kernels": {"unavailable": "no CUDA"}})[0]
    assert v.verdict == "unavailable" and not v.fails
    elsewhere = {"ops": {**cur["ops"], "env": {"torch": "9.9"}}}
    v = counter_verdicts(elsewhere, {"ops": {**cur["ops"], "env": {"torch": torch.__version__}}})[0]
    assert v.verdict == "not compared" and not v.fails and "torch 9.9" in v.note


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


def test_suite_takes_counters_under_suite_or_entry(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[suite]\ncounters = ["ops"]\n[[entry]]\nspec = "resnet20"\n'
                 '[[entry]]\nspec = "resnet32"\ncounters = ["ops", "memory", "instructions"]\ninstructions_tolerance = 0.02\n')
    a, b = load_suite(p).entries
    assert a.counters == ("ops",) and b.counters == ("ops", "memory", "instructions") and b.instructions_tolerance == 0.02
    assert "counters" not in a.measurement()  # an older check_worker (--against REF) does not know the field
    for bad, fragment in (('counters = ["opz"]', "unknown counter"), ('counters = "ops"', "must be a list")):
        p.write_text(f'[suite]\n{bad}\n[[entry]]\nspec = "resnet20"\n')
        with pytest.raises(UsageError, match=fragment):
            load_suite(p)


COUNTED = '[suite]\nname = "c"\ntiming = "off"\ncounters = ["ops", "memory"]\n[[entry]]\nspec = "cifar-resnet8"\nbatch_size = 2\n'


def test_check_with_counters_passes_then_fails_on_an_extra_op(cli, tmp_path):
    """Baseline, an A/A check (exit 0), then the patched copy (its blocks add one op)
    measured against the clean baseline: exit 1, naming the op. (That --against runs REF's
    own code is held by tests/check/test_verdict.py::test_against_a_folder_measures_both_codes_in_one_job.)"""
    import resbench

    suite = tmp_path / "s.toml"
    suite.write_text(COUNTED)
    base = tmp_path / "b.json"
    assert cli("baseline", suite, "--out", base)[0] == 0
    stored = json.loads(base.read_text())["entries"][0]["counters"]
    assert stored["ops"]["count"] > 0 and stored["memory"]["peak_bytes"] > 0
    code, out, err = cli("check", suite, "--baseline", base, "--json")
    assert code == 0, err
    entry = json.loads(out)["entries"][0]
    assert entry["counters"]["ops"]["verdict"] == "same" and entry["counters"]["memory"]["verdict"] == "same"
    patched = tmp_path / "patched"
    shutil.copytree(Path(resbench.__file__).parent, patched / "resbench")
    blocks = patched / "resbench" / "model" / "blocks.py"
    text = blocks.read_text()
    blocks.write_text(text.replace("        return self.relu(out)\n", "        return self.relu(out).mul(1.0)\n", 1))
    # and the patched code checked against the clean baseline: a regression, exit 1, named
    code, out, err = cli("check", suite, "--baseline", base, "--current", _measure_with(patched, suite, tmp_path), "--json")
    assert code == 1, err
    ops = json.loads(out)["entries"][0]["counters"]["ops"]
    assert ops["verdict"] == "regressed" and "+1 aten::mul (2,16,32,32)float32 in layer1.0" in ops["differences"]


def _measure_with(root: Path, suite: Path, tmp_path: Path) -> Path:
    """A baseline file measured by the resbench in ``root`` (a fresh process)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "current.json"
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, "-m", "resbench", "baseline", str(suite), "--out", str(out)], cwd=root, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_a_baseline_without_counters_shows_them_as_new(cli, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(COUNTED.replace('counters = ["ops", "memory"]\n', ""))
    base = tmp_path / "b.json"
    assert cli("baseline", suite, "--out", base)[0] == 0
    suite.write_text(COUNTED)
    code, out, err = cli("check", suite, "--baseline", base, "--json")
    assert code == 0, err
    assert {c["verdict"] for c in json.loads(out)["entries"][0]["counters"].values()} == {"new"}


def test_missing_valgrind_is_one_line_and_exit_2(cli, tmp_path, monkeypatch):
    import resbench.measure.counters as counters

    monkeypatch.setattr(counters.shutil, "which", lambda name: None)
    suite = tmp_path / "s.toml"
    suite.write_text(COUNTED.replace('["ops", "memory"]', '["instructions"]'))
    code, out, err = cli("check", suite, "--baseline", tmp_path / "none.json")
    assert code == 2 and "apt-get install valgrind" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


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
