"""The one training engine: a lone run is a pack of one; checkpoints and exact resume."""

from dataclasses import replace

import pytest
import torch

from resbench.errors import UsageError
from resbench.spec import parse_spec
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import Checkpoint, train, train_members

SPEC = parse_spec("cifar-resnet8")
CFG = TrainConfig(dataset="synthetic", epochs=3, batch_size=32, device="cpu")


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", synthetic_size=(128, 64))


def _interrupt_at(epoch: int):
    """A progress hook that raises Ctrl-C at the first step of ``epoch`` (1-based)."""
    def hook(phase, i, n):
        if phase.endswith(f"epoch {epoch}/{CFG.epochs}") and i == 1:
            raise KeyboardInterrupt
    return hook


def _same_run(a, b):
    strip = lambda r: [(h.epoch, h.lr, h.train_loss, h.train_error, h.test_error) for h in r.history]
    return strip(a) == strip(b) and a.final_test_error == b.final_test_error


def test_a_resumed_run_ends_exactly_as_an_uninterrupted_one(tmp_path, data):
    whole = train(SPEC, CFG, data, checkpoint=str(tmp_path / "whole.pt"))
    ck = Checkpoint(tmp_path / "run.pt", {"spec": SPEC.name, "keys": ["k"]})
    with pytest.raises(KeyboardInterrupt):
        train(SPEC, CFG, data, resume=ck, progress=_interrupt_at(3))
    assert ck.path.exists()  # epochs 1 and 2 are kept
    resumed = train(SPEC, CFG, data, resume=ck, checkpoint=str(tmp_path / "resumed.pt"))
    assert _same_run(whole, resumed)
    assert any("resumed from a checkpoint after epoch 2" in n for n in resumed.notes)
    a, b = torch.load(tmp_path / "whole.pt"), torch.load(tmp_path / "resumed.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same weights, bit for bit
    assert not ck.path.exists()  # removed once the run is done


def test_packed_members_resume_exactly_too(tmp_path, data):
    cfgs = [CFG, replace(CFG, seed=1)]
    whole = train_members(SPEC, cfgs, [data, data])
    ck = Checkpoint(tmp_path / "pack.pt", {"spec": SPEC.name, "keys": ["a", "b"]})
    with pytest.raises(KeyboardInterrupt):
        train_members(SPEC, cfgs, [data, data], checkpoint=ck, progress=_interrupt_at(2))
    resumed = train_members(SPEC, cfgs, [data, data], checkpoint=ck, keep_checkpoint=True)
    assert all(_same_run(w, r) for w, r in zip(whole, resumed))
    assert ck.path.exists()  # kept when asked


def test_a_checkpoint_of_another_run_is_refused_and_left_alone(tmp_path, data):
    ck = Checkpoint(tmp_path / "run.pt", {"spec": SPEC.name, "keys": ["k"]})
    with pytest.raises(KeyboardInterrupt):
        train(SPEC, CFG, data, resume=ck, progress=_interrupt_at(2))
    before = ck.path.read_bytes()
    other = Checkpoint(ck.path, {"spec": SPEC.name, "keys": ["other"]})
    with pytest.raises(UsageError, match="belongs to another run .*keys"):
        train(SPEC, CFG, data, resume=other)
    assert ck.path.read_bytes() == before


def test_a_damaged_checkpoint_is_set_aside_and_the_run_starts_over(tmp_path, data):
    path = tmp_path / "run.pt"
    path.write_bytes(b"not a checkpoint")
    said = []
    result = train(SPEC, replace(CFG, epochs=1), data, resume=Checkpoint(path, {"k": 1}, warn=said.append))
    assert result.epochs == 1 and not path.exists()
    assert (tmp_path / "run.pt.bad").read_bytes() == b"not a checkpoint"
    assert len(said) == 1 and "cannot be read" in said[0] and "starts over" in said[0]


def test_the_cli_resumes_the_same_command_and_cleans_up(cli, tmp_path, monkeypatch):
    """Ctrl-C in epoch 2 keeps epoch 1; the same command then finishes the run."""
    from resbench.train import engine

    args = ["train", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "2", "--batch-size", "64",
            "--device", "cpu", "--results-dir", tmp_path, "--json"]
    real = engine.train_members

    def interrupted(*a, progress=None, **kw):
        def hook(phase, i, n):
            if "epoch 2/2" in phase:
                raise KeyboardInterrupt
        return real(*a, progress=hook, **kw)

    monkeypatch.setattr(engine, "train_members", interrupted)
    code, out, err = cli(*args)
    assert code == 130 and "resume" in err and len(list((tmp_path / "checkpoints").glob("*.pt"))) == 1
    monkeypatch.setattr(engine, "train_members", real)
    code, out, err = cli(*args)
    assert code == 0, err
    assert "resumed from a checkpoint after epoch 1" in out
    assert list((tmp_path / "checkpoints").glob("*.pt")) == []
