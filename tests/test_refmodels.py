"""Reference models (torchvision:, timm:) next to resbench's specs, FlopCounterMode counts,
and the onnxruntime backend."""

import json

import pytest
import torch

from resbench.errors import BenchmarkFailed, SpecError
from resbench.measure.complexity import count_complexity
from resbench.spec import parse_spec
from resbench.measure.target import count_target, flop_counter_complexity, parse_target


@pytest.mark.parametrize("spec", ["resnet18", "resnet50", "resnet50:stride-on=1x1", "resnet20", "resnet20:shortcut=C",
                                  "plain20", "cifar-resnet29-bottleneck"])
def test_flop_counter_agrees_with_fvcore_on_conv_and_linear_macs(spec):
    s = parse_spec(spec)
    assert flop_counter_complexity(s).macs == count_complexity(s).macs


def test_torchvision_reference_counts_match_its_documented_figures():
    c = count_target(parse_target("torchvision:resnet50"))
    assert c.params == 25_557_032 and c.macs == 4_089_184_256  # torchvision's documented 4.09 GFLOPS (MACs)
    assert c.backward_flops > 2 * c.flops * 0.9  # a backward costs about twice the forward
    assert [s.name for s in c.stages][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    assert sum(s.macs for s in c.stages) == c.macs


def test_reference_input_size_comes_from_the_model_and_can_be_overridden():
    assert parse_target("torchvision:inception_v3").input_size == 299
    r = parse_target("torchvision:resnet18", input_size="160")
    assert r.input_size == 160 and r.name == "torchvision:resnet18:input-size=160"
    assert parse_target(r.name) == r  # the printed name parses back to the same model


def test_unknown_reference_names_the_closest(cli):
    with pytest.raises(SpecError, match="did you mean resnet50"):
        parse_target("torchvision:resnt50")
    code, _, err = cli("show", "torchvision:resnt50")
    assert code == 2 and "did you mean" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("show", "torchvision:resnet18", "--shortcut", "B")
    assert code == 2 and "only --input-size" in err


def test_show_and_profile_a_reference_model_with_breakdown_per_child(cli):
    code, out, err = cli("show", "torchvision:resnet18", "--json")
    d = json.loads(out)
    assert code == 0 and d["counted_by"] == "FlopCounterMode" and d["macs"] == 1_814_073_344 and d["backward_flops"] > 0
    code, out, err = cli("profile", "torchvision:resnet18", "--device", "cpu", "-b", "1", "--breakdown", "--iters", "5",
                         "--min-time", "0", "--no-compare-layouts", "--no-save", "--json")
    r = json.loads(out)
    assert code == 0, err
    assert r["spec"] == "torchvision:resnet18" and r["macs"] == 1_814_073_344
    assert [s["name"] for s in r["breakdown"]][:2] == ["conv1", "bn1"]


def test_a_suite_can_hold_a_reference_model(tmp_path, cli):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "torchvision:resnet18"\n[[entry]]\nspec = "resnet18"\n')
    base = tmp_path / "b.json"
    assert cli("baseline", suite, "--out", base)[0] == 0
    entries = {e["id"]: e for e in json.loads(base.read_text())["entries"]}
    assert entries["torchvision:resnet18"]["macs"] == entries["resnet18"]["macs"] == 1_814_073_344
    assert cli("check", suite, "--baseline", base)[0] == 0


def test_timm_reference_when_timm_is_installed(cli):
    pytest.importorskip("timm")
    r = parse_target("timm:resnet50d")
    assert r.input_size == 224 and r.num_classes == 1000
    code, out, err = cli("show", "timm:resnet18", "--json")
    assert code == 0 and json.loads(out)["params"] == 11_689_512  # the same net as torchvision's


def test_onnxruntime_backend_times_the_exported_graph(cli):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "2", "--backend", "onnxruntime",
                         "--iters", "10", "--min-time", "0", "--no-save", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["backend"] == "onnxruntime" and r["n_samples"] >= 10 and r["latency_ms"]["median"] > 0
    assert r["max_abs_diff_vs_eager"] < 1e-4 and r["compile_s"] > 0


def test_onnx_bad_input_and_failures(cli, monkeypatch):
    code, _, err = cli("profile", "cifar-resnet8", "--device", "cpu", "--backend", "onnxruntime", "--mode", "train")
    assert code == 2 and "fp32 inference" in err
    code, _, err = cli("profile", "cifar-resnet8", "--device", "cpu", "--backend", "tensorrt")
    assert code == 2 and "eager or onnxruntime" in err
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the [onnx] extra were not installed
    code, _, err = cli("profile", "cifar-resnet8", "--device", "cpu", "--backend", "onnxruntime", "--no-save")
    assert code == 2 and '[onnx]' in err and len(err.strip().splitlines()) == 1


def test_a_model_that_does_not_export_is_exit_4_naming_the_op(cli, monkeypatch):
    pytest.importorskip("onnxruntime")

    def refuse(*a, **k):
        raise RuntimeError("Exporting the operator 'aten::fancy_op' to ONNX opset version 18 is not supported.\nmore")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1,2", "--backend", "onnxruntime", "--no-save")
    lines = err.strip().splitlines()
    assert code == 4 and len(lines) == 1 and "aten::fancy_op" in lines[0] and "does not export to ONNX" in lines[0]
    with pytest.raises(BenchmarkFailed, match="does not export to ONNX"):
        from resbench.measure.onnx_backend import export

        export(torch.nn.Linear(2, 2), torch.zeros(1, 2), None, "x")
