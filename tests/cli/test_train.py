"""`resbench train`: JSON, checkpoints, the standard CIFAR layout, bad input, log output, device auto."""

import json

import pytest
import torch

from resbench.model import build_model
from tests.conftest import TINY_RUN


@pytest.mark.parametrize("args, fragment", [
    (["resnet20", "--data-dir", "/nonexistent", "--no-download"], "not found"),
    (["resnet20", "--dataset", "mnist"], "--dataset 'mnist' is unknown"),
    (["resnet20", "--dataset", "synthetic", "--dtype", "fp16", "--device", "cpu"], "needs CUDA"),
])
def test_train_usage_errors(cli, tmp_path, args, fragment):
    code, _, err = cli("train", *args, "--results-dir", tmp_path, "--epochs", "1")
    assert code == 2 and fragment in err and "Traceback" not in err


def test_spec_that_does_not_fit_the_data(cli, fake_cifar, tmp_path):
    code, _, err = cli("train", "resnet18", "--data-dir", fake_cifar, "--epochs", "1", "--results-dir", tmp_path)
    assert code == 2 and "--input-size 32" in err


def test_train_on_the_standard_cifar_layout(cli, fake_cifar, tmp_path):
    code, out, err = cli("train", "cifar-resnet8", "--data-dir", fake_cifar, "--epochs", "1", "--device", "cpu", "--json",
                         "--results-dir", tmp_path, "--num-classes", "10")
    assert code == 0, err
    assert json.loads(out)["spec"] == "cifar-resnet8"


def test_train_cli_json_and_checkpoint(cli, tmp_path):
    ckpt = tmp_path / "m.pt"
    code, out, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "1", "--device", "cpu", "--json",
                         "--results-dir", tmp_path, "--save-checkpoint", ckpt)
    assert code == 0, err
    d = json.loads(out)
    assert d["epochs"] == 1 and len(d["history"]) == 1 and "env" in d
    state = torch.load(ckpt, weights_only=True)
    build_model("cifar-resnet8").load_state_dict(state, strict=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto means cpu only on a machine without CUDA")
def test_device_auto_and_cpu_share_cells(cli, tmp_path):
    common = [c for c in TINY_RUN if c not in ("--device", "cpu")]
    args = ["compare", "--specs", "cifar-resnet8", *common, "--seeds", "1", "--json", "--results-dir", tmp_path]
    for device in ("auto", "cpu", "auto"):
        code, out, err = cli(*args, "--device", device)
        assert code == 0, err
    records = list((tmp_path / "records" / "train").glob("*.json"))
    assert len(records) == 1  # one cell, trained once: the cpu and auto runs found it
    assert json.loads(records[0].read_text())["config"]["device"] == "cpu"


def test_a_run_whose_output_is_a_log_prints_plain_progress_lines(cli, tmp_path):
    """stderr is not a terminal here (as under CI or nohup): one plain line when each epoch
    starts, no Rich bar and no control characters."""
    code, out, err = cli("train", "cifar-resnet8", *TINY_RUN[:-4], "--epochs", "2", "--results-dir", tmp_path, "--json")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "epoch" in line]
    assert any("epoch 1/2" in line for line in lines) and any("epoch 2/2" in line for line in lines)
    assert "\x1b" not in err and "\r" not in err


def test_train_figure_names_the_machine_it_ran_on(cli, tmp_path, monkeypatch):
    """A figure is a number too: its title says where the run ran (the record's environment)."""
    import resbench.report.plots as plots
    from resbench.measure.env import collect_env

    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig._suptitle.get_text()))
    code, _, err = cli("train", "cifar-resnet8", *TINY_RUN, "--plot", tmp_path / "c.png", "--results-dir", tmp_path)
    assert code == 0, err
    env = collect_env(torch.device("cpu"))
    (title,) = drawn
    assert title.splitlines()[1] == f"{env['device_name']}, torch {env['torch']}"
