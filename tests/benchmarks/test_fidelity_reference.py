"""The independent reference trainer (benchmarks/fidelity_reference.py): a run stopped
after an epoch and resumed from its checkpoint is the run that was never stopped."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import write_fake_cifar10

_SPEC = importlib.util.spec_from_file_location(
    "fidelity_reference", Path(__file__).parents[2] / "benchmarks" / "fidelity_reference.py")
ref = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ref)


@pytest.fixture
def data(tmp_path):
    write_fake_cifar10(tmp_path / "data", n=40)  # 200 training images, 40 test images
    return tmp_path / "data"


def _args(data, out, *extra):
    return ["--data-dir", str(data), "--epochs", "3", "--seed", "3", "--workers", "0", "--threads", "1",
            "--schedule", "step", "--out", str(out), *extra]


def _curve(path):
    doc = json.loads(Path(path).read_text())
    return [(r["lr"], r["train_loss"], r["train_error"], r["test_error"]) for r in doc["history"]]


def test_a_stopped_and_resumed_run_is_the_uninterrupted_run(data, tmp_path):
    threads = torch.get_num_threads()
    try:
        ref.main(_args(data, tmp_path / "whole.json"))
        ck = tmp_path / "run.ckpt"
        ref.main(_args(data, tmp_path / "split.json", "--checkpoint", str(ck), "--stop-after", "1"))
        assert ck.is_file() and not (tmp_path / "split.json").exists()
        assert len(torch.load(ck, weights_only=False)["history"]) == 1
        ref.main(_args(data, tmp_path / "split.json", "--checkpoint", str(ck)))
    finally:
        torch.set_num_threads(threads)
    assert not ck.exists()  # a finished run removes its checkpoint
    whole, split = _curve(tmp_path / "whole.json"), _curve(tmp_path / "split.json")
    assert len(whole) == 3 and split == whole
    doc = json.loads((tmp_path / "split.json").read_text())  # each epoch says where it ran, and the run sums it up
    assert all(r["device"].startswith("cpu (") and r["device"].endswith(", 1 thread)") for r in doc["history"])
    assert doc["epochs_by_device"] == {doc["history"][0]["device"]: 3}
    assert whole[0][0] != whole[-1][0]  # the schedule decayed, so the scheduler's state was carried too


def test_a_checkpoint_of_another_run_is_refused(data, tmp_path):
    ck = tmp_path / "run.ckpt"
    threads = torch.get_num_threads()
    try:
        ref.main(_args(data, tmp_path / "a.json", "--checkpoint", str(ck), "--stop-after", "1"))
        with pytest.raises(SystemExit, match="checkpoint of another run"):
            ref.main(_args(data, tmp_path / "b.json", "--checkpoint", str(ck), "--shortcut", "B"))
    finally:
        torch.set_num_threads(threads)


def test_pad_fill_mean_changes_the_run_and_is_recorded(data, tmp_path):
    """--pad-fill mean borders the crop with the mean colour (resbench's convention): another run than
    the black border's, said so in the JSON; a black-border checkpoint is not resumed as a mean one."""
    threads = torch.get_num_threads()
    try:
        ref.main(_args(data, tmp_path / "black.json"))
        ref.main(_args(data, tmp_path / "mean.json", "--pad-fill", "mean"))
        ck = tmp_path / "run.ckpt"
        ref.main(_args(data, tmp_path / "split.json", "--checkpoint", str(ck), "--stop-after", "1"))
        with pytest.raises(SystemExit, match="another run"):
            ref.main(_args(data, tmp_path / "split.json", "--checkpoint", str(ck), "--pad-fill", "mean"))
    finally:
        torch.set_num_threads(threads)
    black, mean = (json.loads((tmp_path / f).read_text()) for f in ("black.json", "mean.json"))
    assert black["pad_fill"] == "black" and mean["pad_fill"] == "mean"
    assert _curve(tmp_path / "black.json") != _curve(tmp_path / "mean.json")
