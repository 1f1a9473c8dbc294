"""torch.distributed for one training job: works unchanged under torchrun (or SLURM's srun).

Process group from ``env://`` (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*;
under srun we map SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID). NCCL with one GPU per
local rank on CUDA, gloo on CPU. The model is wrapped in DistributedDataParallel.

BatchNorm: plain per-rank BN, not SyncBatchNorm. The paper's BN statistics are per
mini-batch of 128 on each of its GPUs' shares; a 2-rank run of global batch 128 has
per-rank BN batches of 64. We keep per-rank BN because it is what DDP users get by
default and costs no extra communication; the record states the world size and the
per-rank batch, so a reader can tell the runs apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from resbench.errors import ConfigError, ResbenchError, UsageError
from resbench.train.recipe import DistContext
from resbench.validate import whole


def _env_world() -> tuple[int, int, int] | None:
    env = os.environ
    if "WORLD_SIZE" in env and "RANK" in env:
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0))
    if "SLURM_NTASKS" in env and "SLURM_PROCID" in env and int(env["SLURM_NTASKS"]) > 1 and "MASTER_ADDR" in env:
        env.setdefault("RANK", env["SLURM_PROCID"])
        env.setdefault("WORLD_SIZE", env["SLURM_NTASKS"])
        env.setdefault("LOCAL_RANK", env.get("SLURM_LOCALID", "0"))
        env.setdefault("MASTER_PORT", "29500")
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"])
    return None


class TorchDist(DistContext):
    def __init__(self, rank: int, world: int, local_rank: int, device: torch.device) -> None:
        self.rank, self.world, self.local_rank, self.device = rank, world, local_rank, device

    def wrap(self, model):
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(model, device_ids=ids)

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        torch.distributed.all_reduce(t)
        return t


@contextlib.contextmanager
def dist_context(device_name: str, timeout_s: int = 600):
    """Yields a TorchDist when launched by torchrun/srun with WORLD_SIZE > 1, else None."""
    world = _env_world()
    if world is None or world[1] == 1:
        yield None
        return
    rank, size, local_rank = world
    want_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if want_cuda:
        if local_rank >= torch.cuda.device_count():
            raise UsageError(f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; "
                             "start at most one process per GPU")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    # A finite timeout: a crashed rank ends the others with an error instead of a hang.
    torch.distributed.init_process_group(backend, init_method="env://", timeout=dt.timedelta(seconds=timeout_s))
    try:
        yield TorchDist(rank, size, local_rank, device)
    finally:
        torch.distributed.destroy_process_group()


def launch(nproc: int, device: str, argv: list[str]) -> None:
    """Re-run a resbench command line (``argv``, without its process count) on ``nproc`` processes
    under torch.distributed.run; raises when any rank fails."""
    whole(nproc, "nproc", 1, 4096)
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if wants_cuda and nproc > torch.cuda.device_count():
        raise ConfigError("nproc", f"{nproc} needs {nproc} GPUs; {torch.cuda.device_count()} visible (one GPU per process)")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "resbench", *argv]
    code = subprocess.call(cmd)
    if code:
        raise ResbenchError(f"distributed run failed (exit {code}); see the ranks' messages above")
