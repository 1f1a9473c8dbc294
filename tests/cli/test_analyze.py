"""`resbench analyze` and `resbench degradation` on synthetic data: figures, records, JSON and bad input."""

import json

import pytest



SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "400", "--test-subset", "100"]


def test_responses_cli_writes_figure_and_record(cli, tmp_path):
    png = tmp_path / "r.png"
    code, out, err = cli("analyze", "responses", "cifar-plain8", "cifar-resnet8", *SYN, "--plot", png, "--json",
                         "--results-dir", tmp_path, "--images", "32")
    assert code == 0, err
    d = json.loads(out)
    assert set(d["nets"]) == {"cifar-plain8", "cifar-resnet8"} and len(d["nets"]["cifar-resnet8"]) == 7
    assert png.stat().st_size > 10_000
    assert len(list((tmp_path / "records" / "analysis-responses").glob("*.json"))) == 1


def test_gradients_cli(cli, tmp_path):
    png = tmp_path / "g.png"
    code, out, err = cli("analyze", "gradients", "cifar-plain8", *SYN, "--at-epochs", "0,1", "--plot", png, "--json",
                         "--results-dir", tmp_path, "--images", "16", "--epochs", "1")
    assert code == 0, err
    pts = json.loads(out)["nets"]["cifar-plain8"]
    assert [p["epoch"] for p in pts] == [0, 1] and "healthy" in pts[0]["verdict"] or "vanishing" in pts[0]["verdict"]
    assert png.stat().st_size > 10_000


def test_degradation_cli(cli, tmp_path):
    png = tmp_path / "d.png"
    code, out, err = cli("degradation", "--depths", "8,14", *SYN, "--epochs", "1", "--plot", png, "--json", "--results-dir", tmp_path)
    assert code == 0, err
    d = json.loads(out)
    assert {r["arm"] for r in d["rows"]} == {"cifar-resnet8", "cifar-resnet14", "cifar-plain8", "cifar-plain14"}
    assert d["trend"]["plain"].startswith("plain: depth 14 trains") and png.stat().st_size > 10_000
    # what the differences are about: 1-epoch nets on synthetic data, not the paper's question
    assert d["answers"].startswith("final test error of 1-epoch nets") and d["answers"].endswith("not the paper's data set")
    code, out, err = cli("degradation", "--depths", "8,14", *SYN, "--epochs", "1", "--plot", png, "--results-dir", tmp_path)
    assert code == 0, err
    assert f"answers: {d['answers']}" in " ".join(out.split())  # the table's last lines, from the stored cells


@pytest.mark.parametrize("args, fragment", [
    (["analyze", "responses", "resnet20", "resnet56", "--checkpoint", "x.pt", *SYN], "exactly one spec"),
    (["analyze", "responses", "resnet20", "--checkpoint", "/nonexistent.pt", *SYN], "does not exist"),
    (["analyze", "wiggles", "resnet20"], "No such command"),
    (["analyze", "gradients", "resnet20", "--at-epochs", "x", *SYN], "whole numbers"),
])
def test_analysis_errors(cli, tmp_path, args, fragment):
    code, _, err = cli(*args, "--results-dir", tmp_path) if args[1] != "wiggles" else cli(*args)
    assert code == 2 and fragment in err and "Traceback" not in err
