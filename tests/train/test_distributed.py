"""Data-parallel runs (resbench.train.distributed): the world from torchrun's or Slurm's variables, and the launch."""

import pytest
import torch

from resbench.errors import ConfigError
from resbench.train.distributed import _env_world, launch

WORLD_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "MASTER_ADDR",
                   "MASTER_PORT")


@pytest.fixture
def clean_env(monkeypatch):
    """No world variables, and none left behind: _env_world sets some itself (a Slurm job's),
    so each is first set through monkeypatch, whose undo then removes it."""
    for name in WORLD_VARIABLES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def test_torchruns_variables_name_the_world(clean_env):
    assert _env_world() is None
    clean_env.setenv("WORLD_SIZE", "4")
    clean_env.setenv("RANK", "2")
    assert _env_world() == (2, 4, 0)


def test_a_slurm_job_of_several_tasks_is_a_world_and_one_task_is_not(clean_env):
    clean_env.setenv("SLURM_NTASKS", "1")
    clean_env.setenv("SLURM_PROCID", "0")
    clean_env.setenv("MASTER_ADDR", "node1")
    assert _env_world() is None
    clean_env.setenv("SLURM_NTASKS", "2")
    clean_env.setenv("SLURM_PROCID", "1")
    clean_env.setenv("SLURM_LOCALID", "1")
    assert _env_world() == (1, 2, 1)
    import os

    assert os.environ["MASTER_PORT"] == "29500" and os.environ["WORLD_SIZE"] == "2"


def test_a_launch_needs_a_gpu_per_process_on_cuda_and_a_whole_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="3 needs 3 GPUs; 1 visible"):
        launch(3, "cuda", ["train", "resnet20"])
    with pytest.raises(ConfigError, match="nproc"):
        launch(0, "cpu", ["train", "resnet20"])
