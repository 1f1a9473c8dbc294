"""Many members in one pass: a grouped network of K members equals K lone networks."""

import json

import pytest
import torch

from resbench.model import build_model
from resbench.model.packed import pack_models, unpack_state
from resbench.spec import parse_spec
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import train, train_packed


@pytest.mark.parametrize("spec", ["resnet20", "resnet20:shortcut=B", "resnet20:shortcut=C", "cifar-plain8",
                                  "cifar-resnet29-bottleneck", "resnet18:input-size=64", "resnet50:stride-on=1x1:input-size=64"])
def test_packed_forward_equals_each_member(spec):
    members = []
    for seed in range(3):
        m = build_model(spec)
        m.reset_parameters(seed=seed)
        members.append(m)
    packed = pack_models(members)
    size = members[0].spec.input_size
    xs = [torch.randn(2, 3, size, size) for _ in members]
    for training in (True, False):
        for m in members + [packed]:
            m.train(training)
        ref = torch.stack([m(x) for m, x in zip(members, xs)], 1)
        assert torch.allclose(packed(torch.cat(xs, 1)), ref, atol=1e-3, rtol=1e-3)  # grouped vs lone kernels: float error only
    plain = build_model(spec)
    plain.load_state_dict(unpack_state(packed, members[1], 1, 3))
    plain.eval()
    members[1].eval()
    assert torch.allclose(plain(xs[0]), members[1](xs[0]), atol=1e-3, rtol=1e-3)


DATA = dict(synthetic_size=(384, 128))


def _configs(seeds, **kw):
    return [TrainConfig(dataset="synthetic", epochs=2, batch_size=64, device="cpu", seed=s, **kw) for s in seeds]


def test_k_members_trained_together_match_k_lone_runs():
    data = load_dataset("synthetic", **DATA)
    spec = parse_spec("cifar-resnet8")
    cfgs = _configs([0, 1, 2])
    alone = [train(spec, c, data) for c in cfgs]
    packed = train_packed(spec, cfgs, [data] * 3)
    for a, p in zip(alone, packed):
        assert p.packed == 3 and len(p.history) == len(a.history) == 2
        for ha, hp in zip(a.history, p.history):
            assert hp.train_loss == pytest.approx(ha.train_loss, rel=1e-4)
            assert hp.train_error == pytest.approx(ha.train_error, abs=1e-6)
            assert hp.test_error == pytest.approx(ha.test_error, abs=1e-6)


def test_a_diverging_member_does_not_stop_the_others(monkeypatch):
    from resbench.model.net import ResNet

    original = ResNet.reset_parameters

    def explosive(self, seed=None):
        original(self, seed=seed)
        if seed == 1:  # member 1 starts with a head that makes its loss explode
            with torch.no_grad():
                self.fc.weight.mul_(1e6)

    data = load_dataset("synthetic", **DATA)
    spec = parse_spec("cifar-resnet8")
    cfgs = _configs([0, 1, 2])
    alone = [train(spec, c, data) for c in (cfgs[0], cfgs[2])]
    monkeypatch.setattr(ResNet, "reset_parameters", explosive)
    packed = train_packed(spec, cfgs, [data] * 3)
    assert packed[1].diverged and packed[1].final_test_error is None and "diverged" in " ".join(packed[1].notes)
    for a, p in zip(alone, (packed[0], packed[2])):
        assert not p.diverged and p.final_train_error == pytest.approx(a.final_train_error, abs=1e-6)


def test_compare_packs_seeds_and_says_so_in_the_records(cli, tmp_path):
    args = ["compare", "--specs", "cifar-resnet8", "--seeds", "3", "--dataset", "synthetic", "--epochs", "1",
            "--batch-size", "64", "--device", "cpu", "--subset", "512", "--test-subset", "128", "--json"]
    code, out, err = cli(*args, "--pack", "3", "--results-dir", tmp_path / "packed")
    assert code == 0, err
    code1, out1, _ = cli(*args, "--pack", "1", "--results-dir", tmp_path / "alone")
    assert json.loads(out)[0]["test_error_mean"] == pytest.approx(json.loads(out1)[0]["test_error_mean"], abs=1e-6)
    recs = [json.loads(p.read_text()) for p in (tmp_path / "packed" / "records" / "train").glob("*.json")]
    assert len(recs) == 3 and all(r["result"]["packed"] == 3 for r in recs)
    keys_alone = {json.loads(p.read_text())["key"] for p in (tmp_path / "alone" / "records" / "train").glob("*.json")}
    assert {r["key"] for r in recs} == keys_alone  # packing changes no record key: either run resumes the other


def test_cells_that_cannot_pack_fall_back_with_one_line(cli, tmp_path):
    code, out, err = cli("compare", "--specs", "cifar-resnet8", "--seeds", "2", "--dataset", "synthetic", "--epochs", "1",
                         "--device", "cpu", "--warmup", "on", "--pack", "2", "--results-dir", tmp_path, "--json")
    assert code == 0, err
    assert "one at a time" in err and "warm-up" in err
    recs = [json.loads(p.read_text()) for p in (tmp_path / "records" / "train").glob("*.json")]
    assert len(recs) == 2 and all(r["result"]["packed"] == 1 for r in recs)


def test_out_of_memory_halves_the_pack(monkeypatch):
    from resbench.train import cells as cells_mod
    from resbench.train.cells import Cell, run_packed

    calls = []
    real = train_packed

    def fake_train_packed(spec, configs, datas, progress=None, resume=None):
        calls.append(len(configs))
        if len(configs) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(spec, configs, datas, progress, resume)

    monkeypatch.setattr("resbench.train.cells.train_packed", fake_train_packed)
    spec = parse_spec("cifar-resnet8")
    cells = [Cell(spec, s, c) for s, c in zip(range(4), _configs(range(4), subset=128))]
    notes = []
    out = list(run_packed(cells, warn=notes.append))
    assert calls == [4, 2, 2] and len(out) == 4 and "out of memory packing 4" in notes[0]
    assert {c.seed for c, _ in out} == {0, 1, 2, 3} and all(r["packed"] == 2 for _, (r, env) in out)
    assert cells_mod is not None


def test_search_trains_a_candidates_extra_seeds_together(cli, tmp_path):
    args = ["search", "--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--trials", "1", "--max-macs", "15M",
            "--no-references", "--seeds", "3", "--no-pruning", "--sampler-seed", "0", "--subset", "512", "--test-subset", "128",
            "--json"]
    code, out, err = cli(*args, "--pack", "2", "--results-dir", tmp_path / "packed")
    assert code == 0, err
    code1, out1, err1 = cli(*args, "--pack", "1", "--results-dir", tmp_path / "alone")
    assert code1 == 0, err1
    packed = {(json.loads(p.read_text())["config"]["seed"], json.loads(p.read_text())["result"]["packed"])
              for p in (tmp_path / "packed" / "records" / "train").glob("*.json")}
    assert packed == {(0, 1), (1, 2), (2, 2)}  # the first seed alone (it may be pruned), the extra two in one pass
    e_packed = json.loads(out)["trials"][0]["test_error"]
    e_alone = json.loads(out1)["trials"][0]["test_error"]
    assert e_packed == pytest.approx(e_alone, abs=0.01)  # grouped kernels differ in float rounding: a prediction may flip
