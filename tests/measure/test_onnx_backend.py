"""The ONNX Runtime backend (resbench.measure.onnx_backend): the exported graph is what is timed; failures are one line."""

import json

import pytest
import torch

from resbench.errors import BenchmarkFailed


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
