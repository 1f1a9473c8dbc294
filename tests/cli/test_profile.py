"""`resbench profile` on CPU: JSON shape, several batch sizes with CSV, one-line errors."""

import json

import pytest
import torch


def test_profile_json_shape(cli, tmp_path):
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "2", "--iters", "3", "--warmup", "1",
                         "--min-time", "0", "--json", "--results-dir", tmp_path)
    assert code == 0, err
    d = json.loads(out)
    for key in ("spec", "device", "dtype", "mode", "batch_size", "params", "macs", "flops", "latency_ms", "throughput",
                "samples_ms", "peak_memory_bytes", "achieved_tflops", "mfu", "env"):
        assert key in d
    assert set(d["latency_ms"]) >= {"median", "mean", "min", "max", "p90", "p99", "iqr"}
    assert len(d["samples_ms"]) == d["n_samples"] >= 3
    assert d["flops"] == 2 * d["macs"]
    for key in ("torch", "cuda", "cudnn", "device_name", "device_count", "driver", "cpu", "threads", "python", "resbench",
                "git_commit", "git_dirty", "timestamp"):
        assert key in d["env"]
    # saved to the store and listed by `resbench results`
    code, out, _ = cli("results", "--results-dir", tmp_path, "--json")
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["spec"] == "cifar-resnet8" and rows[0]["batch_size"] == 2


def test_several_batch_sizes_and_csv(cli, tmp_path):
    csv = tmp_path / "p.csv"
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1,2", "--iters", "2", "--warmup", "0",
                         "--min-time", "0", "--no-compare-layouts", "--json", "--no-save", "--csv", csv)
    assert code == 0, err
    assert [d["batch_size"] for d in json.loads(out)] == [1, 2]
    import pandas as pd

    df = pd.read_csv(csv)
    assert list(df["batch_size"]) == [1, 2] and "latency_median_ms" in df.columns


@pytest.mark.parametrize("args", [["--device", "cuda:9" if torch.cuda.is_available() else "cuda"], ["--dtype", "fp16", "--device", "cpu"],
                                  ["-b", "0"], ["-b", "x"], ["--cuda-graphs", "--device", "cpu"], ["--iters", "0"]])
def test_cli_errors_one_line_exit_2(cli, args):
    code, _, err = cli("profile", "resnet20", *args, "--no-save")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
