"""The environment a measurement was taken in, recorded with every result."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess

import torch

import resbench


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _run(cmd: list[str], cwd: str | None = None) -> str | None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_state(cwd: str | None = None) -> dict:
    commit = _run(["git", "rev-parse", "HEAD"], cwd)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": commit, "dirty": bool(status)}


def _driver_version() -> str | None:
    out = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return out.splitlines()[0] if out else None


def collect_env(device: torch.device | None = None) -> dict:
    """Versions, hardware, threads, git state and time: enough to tell two runs apart."""
    cuda = torch.cuda.is_available()
    env = {
        "resbench": resbench.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(device) if device is not None else None,
        "device_name": None,
        "device_count": torch.cuda.device_count() if cuda else 0,
        "driver": None,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **{f"git_{k}": v for k, v in git_state().items()},
    }
    if device is not None and device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
        env["driver"] = _driver_version()
    elif device is not None and device.type == "cpu":
        env["device_name"] = env["cpu"]
    elif device is not None and device.type == "mps":
        env["device_name"] = "Apple MPS"
    return env
