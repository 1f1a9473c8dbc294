"""A checkpoint is checked whole before a run resumes from it: identity, then contents
(weights, optimizer state, loop state, history). A damaged one is set aside to ``.bad``
with one warning and the run starts over; a special file is refused without blocking;
temporary files of a killed write are gone after the next run, which says where it resumed."""

import copy
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from resbench.errors import UsageError
from resbench.spec import parse_spec
from resbench.train.checkpoint import Checkpoint, Damaged, check_contents
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import _build, _State, train

SPEC = parse_spec("cifar-resnet8")
CFG = TrainConfig(dataset="synthetic", epochs=2, batch_size=16, device="cpu")


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", synthetic_size=(32, 16))


@pytest.fixture(scope="module")
def stored(tmp_path_factory, data):
    """A real checkpoint after epoch 1 of 2 (Ctrl-C at the first step of epoch 2)."""
    path = tmp_path_factory.mktemp("ck") / "run.pt"

    def hook(phase, i, n):
        if phase.endswith("epoch 2/2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(SPEC, CFG, data, resume=Checkpoint(path, {"k": 1}), progress=hook)
    return path


@pytest.fixture
def parts(data):
    return _build(SPEC, [CFG], [data], None, None, torch.device("cpu"))


def _damage(doc, how):
    d = copy.deepcopy(doc)
    s = d["state"]
    if how == "weight-shape":
        d["model"]["conv1.weight"] = torch.zeros(1, 1, 1, 1)
    elif how == "weight-missing":
        d["model"].pop("conv1.weight")
    elif how == "weight-text":
        d["model"]["conv1.weight"] = "w"
    elif how == "optimizer-empty":
        d["opt"]["state"] = {}
    elif how == "optimizer-momentum-text":
        d["opt"]["param_groups"][0]["momentum"] = "x"
    elif how == "optimizer-decay-nan":
        d["opt"]["param_groups"][0]["weight_decay"] = float("nan")
    elif how == "optimizer-nesterov":
        d["opt"]["param_groups"][0]["nesterov"] = True
    elif how == "optimizer-buffer-nan":
        buf = next(iter(d["opt"]["state"].values()))["momentum_buffer"]
        buf[(0,) * buf.dim()] = float("nan")
    elif how == "optimizer-buffer-dtype":
        st = next(iter(d["opt"]["state"].values()))
        st["momentum_buffer"] = st["momentum_buffer"].double()
    elif how == "optimizer-groups":
        d["opt"]["param_groups"] = []
    elif how == "unknown-field":
        s["mystery"] = 1
    elif how == "epoch-beyond":
        s["epoch"] = 99
    elif how == "epoch-zero":
        s["epoch"] = 0
    elif how == "epoch-text":
        s["epoch"] = "1"
    elif how == "history-text":
        s["histories"] = "oops"
    elif how == "history-nan":
        s["histories"][0][0]["test_error"] = float("nan")
    elif how == "history-error-above-one":
        s["histories"][0][0]["train_error"] = 3.0
    elif how == "members":
        s["k"] = 2
    elif how == "diverged-length":
        s["diverged"] = [None, None]
    elif how == "seconds-negative":
        s["epoch_seconds"] = -1.0
    elif how == "state-list":
        d["state"] = []
    return d


KINDS = {"weight-shape": "shape", "weight-missing": "missing", "weight-text": "holds str", "optimizer-empty": "empty",
         "optimizer-momentum-text": "momentum is 'x'", "optimizer-decay-nan": "weight_decay is nan",
         "optimizer-nesterov": "nesterov is True", "optimizer-buffer-nan": "not finite",
         "optimizer-buffer-dtype": "does not fit", "optimizer-groups": "optimizer", "unknown-field": "unknown field 'mystery'", "epoch-beyond": "epoch 99 of 2",
         "epoch-zero": "epoch 0 of 2", "epoch-text": "epoch '1'", "history-text": "history",
         "history-nan": "finite", "history-error-above-one": "above 1", "members": "2 member",
         "diverged-length": "diverged", "seconds-negative": "times", "state-list": "state"}


@pytest.mark.parametrize("how", list(KINDS))
def test_a_damaged_content_is_named(stored, parts, how):
    doc = torch.load(stored, weights_only=True)
    check_contents(doc, parts.model, parts.opt, 1, 2, set(_State.__dataclass_fields__))  # the real one passes
    with pytest.raises(Damaged, match=KINDS[how]):
        check_contents(_damage(doc, how), parts.model, parts.opt, 1, 2, set(_State.__dataclass_fields__))


@pytest.mark.parametrize("how", ["epoch-beyond", "optimizer-empty", "history-text"])
def test_a_damaged_checkpoint_is_set_aside_once_and_the_run_starts_over(stored, data, tmp_path, how):
    path = tmp_path / "run.pt"
    torch.save(_damage(torch.load(stored, weights_only=True), how), path)
    warned, said = [], []
    r = train(SPEC, CFG, data, resume=Checkpoint(path, {"k": 1}, warn=warned.append, say=said.append))
    assert r.epochs == 2 and not any("resumed" in n for n in r.notes) and not said
    assert len(warned) == 1 and str(path) in warned[0] and "starts over" in warned[0]
    assert (tmp_path / "run.pt.bad").exists() and not path.exists()
    train(SPEC, CFG, data, resume=Checkpoint(path, {"k": 1}, warn=warned.append))  # the rerun is not refused again
    assert len(warned) == 1


def test_a_good_checkpoint_resumes_and_says_from_which_epoch(stored, data, tmp_path):
    path = tmp_path / "run.pt"
    path.write_bytes(stored.read_bytes())
    said = []
    r = train(SPEC, CFG, data, resume=Checkpoint(path, {"k": 1}, say=said.append))
    assert said == [f"resuming from the checkpoint after epoch 1 of 2 ({path})"]
    assert any("resumed from a checkpoint after epoch 1" in n for n in r.notes)


def test_a_fifo_as_checkpoint_is_refused_without_blocking(data, tmp_path):
    path = tmp_path / "run.pt"
    os.mkfifo(path)
    signal.alarm(60)  # a blocking open would hang the suite: fail it instead
    try:
        with pytest.raises(UsageError, match="is a FIFO, not a file"):
            train(SPEC, CFG, data, resume=Checkpoint(path, {"k": 1}))
    finally:
        signal.alarm(0)
    assert os.path.exists(path)  # refused, not removed


def test_a_fifo_given_to_analyze_is_refused_without_blocking(cli, tmp_path):
    os.mkfifo(tmp_path / "w.pt")
    signal.alarm(60)
    try:
        code, _, err = cli("analyze", "responses", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu",
                           "--checkpoint", tmp_path / "w.pt", "--no-save")
    finally:
        signal.alarm(0)
    assert code == 2 and "not a regular file" in err and len(err.strip().splitlines()) == 1


def test_temporary_files_of_a_killed_write_are_removed_and_said(data, tmp_path):
    path = tmp_path / "run.pt"
    (tmp_path / ".run.pt.k1ll3d.pt").write_bytes(b"half a checkpoint")
    warned = []
    train(SPEC, replace(CFG, epochs=1), data, resume=Checkpoint(path, {"k": 1}, warn=warned.append))
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert len(warned) == 1 and "interrupted" in warned[0] and "epoch 1" in warned[0]


KILLER = """
import os, signal, sys
from resbench.train import checkpoint
from resbench.cli.app import main
real = checkpoint.Checkpoint.save
saves = []
def save(self, doc):
    saves.append(1)
    if len(saves) == 2:  # the write after epoch 2: half a temporary file, then SIGKILL
        (self.path.parent / (checkpoint.temp_prefix(self.path) + "x1.pt")).write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGKILL)
    real(self, doc)
checkpoint.Checkpoint.save = save
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_in_a_checkpoint_write_resumes_from_the_last_whole_epoch(cli, tmp_path):
    args = ["train", "cifar-resnet8", "--dataset", "synthetic", "--subset", "32", "--test-subset", "16", "--epochs", "3",
            "--batch-size", "16", "--device", "cpu", "--results-dir", str(tmp_path)]
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLER), *args], env=env, capture_output=True, timeout=300)
    assert p.returncode == -signal.SIGKILL
    assert len(list((tmp_path / "checkpoints").iterdir())) == 2  # the epoch-1 checkpoint and the half temporary file
    code, out, err = cli(*args)
    assert code == 0, err
    assert "resuming from the checkpoint after epoch 1 of 3" in err
    assert list((tmp_path / "checkpoints").iterdir()) == []
