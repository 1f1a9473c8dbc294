"""CUDA-graph training steps (resbench.train.graphs): the graphed SGD equals torch SGD step for step."""

import pytest
import torch

from resbench.spec import parse_spec
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import train

SYN = dict(synthetic_size=(256, 64))
FAST = TrainConfig(dataset="synthetic", epochs=2, batch_size=32, device="cpu")


def test_graph_sgd_equals_torch_sgd_step_for_step():
    """The optimizer a CUDA graph can capture (tensor lr) is torch.optim.SGD, step for step (CPU)."""
    from resbench.train.graphs import GraphSGD

    torch.manual_seed(0)
    a = torch.nn.Linear(6, 3)
    b = torch.nn.Linear(6, 3)
    b.load_state_dict(a.state_dict())
    ref = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    ours = GraphSGD(b.parameters(), 0.9, 1e-4, torch.device("cpu"))
    for step, lr in enumerate([0.1, 0.1, 0.05, 0.01]):
        x = torch.randn(8, 6)
        for m, opt in ((a, ref), (b, ours)):
            opt.zero_grad()
            m(x).pow(2).mean().backward()
        for g in ref.param_groups:
            g["lr"] = lr
        ours.lr.fill_(lr)
        ref.step()
        ours.step()
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.allclose(p, q, atol=1e-7), step


def test_cuda_graphs_needs_cuda_and_is_not_part_of_the_key(cli, tmp_path):
    code, _, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "1", "--device", "cpu", "--cuda-graphs",
                       "--no-save")
    assert code == 2 and "--cuda-graphs" in err and len(err.strip().splitlines()) == 1
    assert "cuda_graphs" not in FAST.key_fields()  # how the steps launch, not what they compute


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_steps_match_eager_on_cuda():
    """Same seed, same data: the first epochs with --cuda-graphs match eager within float error."""
    from dataclasses import replace

    data = load_dataset("synthetic", **SYN)
    cfg = TrainConfig(dataset="synthetic", epochs=2, batch_size=32, device="cuda", channels_last=False)
    eager = train(parse_spec("cifar-resnet8"), cfg, data)
    graphed = train(parse_spec("cifar-resnet8"), replace(cfg, cuda_graphs=True), data)
    for a, b in zip(eager.history, graphed.history):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-3)
        assert b.test_error == pytest.approx(a.test_error, abs=0.02)
