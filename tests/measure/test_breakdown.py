"""Per-stage latency (resbench.measure.breakdown): stages add up to the whole, per child for other models."""

import json

import pytest
import torch


def test_breakdown_stages_add_up_and_reach_json_and_plot(cli, tmp_path):
    png = tmp_path / "bd.png"
    code, out, err = cli("profile", "resnet20", "--device", "cpu", "-b", "8", "--breakdown", "--no-compare-layouts",
                         "--iters", "20", "--min-time", "0.5", "--no-save", "--json", "--plot", png)
    assert code == 0, err
    r = json.loads(out)
    names = [s["name"] for s in r["breakdown"]]
    assert names == ["stem", "layer1", "layer2", "layer3", "head"]
    assert {"name", "median_ms", "share", "tflops"} <= set(r["breakdown"][0])
    total = sum(s["median_ms"] for s in r["breakdown"])
    assert total > 0 and all(s["median_ms"] > 0 for s in r["breakdown"])
    # How close the stages come to the whole-model time is a timing, measured alone by
    # benchmarks/where_time_goes.py (within 10 %), never asserted here: a busy machine moves it.
    assert isinstance(r["breakdown_rest_ms"], float)
    assert sum(s["share"] for s in r["breakdown"]) == pytest.approx(1.0)
    assert r["breakdown"][1]["tflops"] > 0 and png.stat().st_size > 5_000


def test_breakdown_of_a_model_without_stages_is_per_top_level_child():
    from resbench.measure.breakdown import stage_breakdown

    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(4))
    x = torch.randn(2, 3, 16, 16)
    m(x)
    stages, whole = stage_breakdown(m, x, torch.device("cpu"), "fp32", iters=5, warmup=1)
    assert [s.name for s in stages] == ["0", "1", "2", "3"] and whole > 0


def test_breakdown_refuses_what_it_cannot_time(cli):
    for extra in (["--mode", "train"], ["--compile"]):
        code, _, err = cli("profile", "cifar-resnet8", "--device", "cpu", "--breakdown", "--no-save", *extra)
        assert code == 2 and "--breakdown" in err
    code, _, err = cli("profile", "cifar-resnet8", "--device", "cpu", "--no-save", "--plot", "x.png")
    assert code == 2 and "add --breakdown" in err
