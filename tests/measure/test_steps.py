"""The one step resbench times, traces and counts (resbench.measure.steps)."""

import time

import pytest
import torch

from resbench.errors import ConfigError
from resbench.measure.steps import STEP_PHASES, CpuTimer, is_oom, make_step, output_classes, timed_loop
from resbench.model import build_model

CPU = torch.device("cpu")


def _net_and_batch():
    torch.manual_seed(0)
    return build_model("cifar-resnet8"), torch.randn(2, 3, 32, 32)


def test_an_inference_step_changes_nothing_and_marks_its_one_phase():
    model, x = _net_and_batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    marks = []
    make_step(model, x, CPU, "infer", "fp32")(lambda: marks.append(1))
    assert not model.training and len(marks) == len(STEP_PHASES["infer"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_train_step_is_one_sgd_step_and_marks_forward_backward_optimizer():
    """The weights move exactly as torch's SGD moves them for the same loss."""
    model, x = _net_and_batch()
    twin, _ = _net_and_batch()
    torch.manual_seed(1)
    marks = []
    make_step(model, x, CPU, "train", "fp32")(lambda: marks.append(1))
    assert len(marks) == len(STEP_PHASES["train"]) == 3
    torch.manual_seed(1)
    target = torch.randint(0, 10, (2,))
    opt = torch.optim.SGD(twin.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    twin.train()
    torch.nn.CrossEntropyLoss()(twin(x), target).backward()
    opt.step()
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_the_loop_runs_the_iterations_asked_and_longer_for_a_minimum_time():
    calls = []
    runs, wall = timed_loop(lambda mark: calls.append(1) or mark(), CpuTimer(CPU), CPU, iters=3, min_time=0.0,
                            progress=None, label="x")
    assert len(runs) == len(calls) == 3 and all(len(m) == 2 for m in runs) and wall >= 0
    runs, wall = timed_loop(lambda mark: time.sleep(0.01) or mark(), CpuTimer(CPU), CPU, iters=1, min_time=0.05,
                            progress=None, label="x")
    assert len(runs) >= 4 and wall >= 0.05


def test_classes_are_read_from_the_model_or_refused():
    assert output_classes(build_model("cifar-resnet8")) == 10
    with pytest.raises(ConfigError, match="train needs to know the model's classes"):
        output_classes(torch.nn.Conv2d(3, 3, 1))


def test_out_of_memory_is_recognised_in_every_form_torch_raises_it():
    assert is_oom(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_oom(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: "
                               "you tried to allocate 4 GB. Buy new RAM! out of memory"))
    assert not is_oom(RuntimeError("shape mismatch"))
