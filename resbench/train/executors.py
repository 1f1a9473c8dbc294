"""Where sweep cells run: in this process, a local process pool, or a Ray cluster.

Every executor returns results to the driver, which alone writes records, so the
store, the resume-by-key and the tables are the same whichever ran the cells. A
worker that dies loses only its own cell: it is reported as failed, retried up to
``retries`` times, and otherwise left for the next run of the same command.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from resbench.errors import ConfigError, UsageError
from resbench.train.cells import run_cell

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class CellFailure:
    key: str
    error: str


def execute_cell(cell, threads: int | None = None, checkpoints=None) -> tuple[dict, dict]:
    """A worker's entry point (process pool or Ray): ``run_cell`` plus what Ray assigned."""
    result, env = run_cell(cell, threads=threads, checkpoints=checkpoints)
    if os.environ.get("RESBENCH_RAY_WORKER"):
        import ray

        env["ray_resources"] = ray.get_runtime_context().get_assigned_resources()
    return result, env


def _pin_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def run_local_pool(cells, workers: int, retries: int, checkpoints=None) -> Iterator[tuple[object, tuple[dict, dict] | CellFailure]]:
    """Up to ``workers`` cells at once, each worker pinned to cores/workers threads so that
    N workers do not oversubscribe the machine."""
    threads = max(1, (os.cpu_count() or 1) // workers)

    pending = list(cells)
    tries = {c.key: 0 for c in cells}
    while pending:
        # spawn, not fork: a forked child of a process that already ran torch can deadlock.
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_pin_threads,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(execute_cell, c, threads, checkpoints): c for c in pending}
            pending = []
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for f in done:
                    cell = futures.pop(f)
                    try:
                        yield cell, f.result()
                    except Exception as e:
                        # A dead worker breaks the whole pool: every cell in flight with it
                        # is queued again (within its retries) for a fresh pool.
                        tries[cell.key] += 1
                        if tries[cell.key] <= retries:
                            pending.append(cell)
                        else:
                            why = f"worker died: {e}" if isinstance(e, BrokenProcessPool) else f"{type(e).__name__}: {e}"
                            yield cell, CellFailure(cell.key, why)


def run_ray(cells, address: str | None, cpus_per_run: float, gpus_per_run: float,
            retries: int, checkpoints=None) -> Iterator[tuple[object, tuple[dict, dict] | CellFailure]]:
    try:
        import ray
    except ImportError:
        raise ConfigError("executor", 'ray needs Ray: pip install -e ".[ray]" (or pip install "ray[default]")') from None
    if not cpus_per_run > 0:
        raise ConfigError("cpus_per_run", f"must be > 0, got {cpus_per_run}")
    if not gpus_per_run >= 0:
        raise ConfigError("gpus_per_run", f"must be >= 0, got {gpus_per_run}")
    started_here = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, runtime_env={"env_vars": {"RESBENCH_RAY_WORKER": "1"}}, log_to_driver=False)
            else:
                ray.init(runtime_env={"env_vars": {"RESBENCH_RAY_WORKER": "1"}}, log_to_driver=False, include_dashboard=False)
            started_here = True
        except Exception as e:
            raise UsageError(f"cannot reach Ray at {address or 'a new local instance'}: {type(e).__name__}: {e}") from None
    task = ray.remote(execute_cell).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=retries,
                                           runtime_env={"env_vars": {"RESBENCH_RAY_WORKER": "1"}})
    threads = max(1, int(cpus_per_run))
    # A local instance shares this file system; a remote cluster's workers may not see it.
    here = checkpoints if not address else None
    refs = {task.remote(c, threads, here): c for c in cells}
    # Ray's driver prints worker deaths to stdout from a background thread; stdout is for
    # results (--json), so send everything printed while tasks run to stderr.
    redirect = contextlib.redirect_stdout(sys.stderr)
    redirect.__enter__()
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                cell = refs.pop(ref)
                try:
                    yield cell, ray.get(ref)
                except Exception as e:  # WorkerCrashedError, RayTaskError, ...: this cell only
                    yield cell, CellFailure(cell.key, f"{type(e).__name__}: {str(e).splitlines()[0]}")
    finally:
        if started_here:
            ray.shutdown()
        redirect.__exit__(None, None, None)


def run_cells(cells, *, executor: str = "local", workers: int = 1, retries: int = 0,
              address: str | None = None, cpus_per_run: float = 1, gpus_per_run: float = 0,
              run_here: Callable | None = None, checkpoints=None):
    if executor not in EXECUTORS:
        raise ConfigError("executor", f"{executor!r} is unknown: expected local or ray")
    if workers < 1:
        raise ConfigError("workers", f"must be at least 1, got {workers}")
    if retries < 0:
        raise ConfigError("retries", f"must be >= 0, got {retries}")
    if executor == "ray":
        return run_ray(cells, address, cpus_per_run, gpus_per_run, retries, checkpoints)
    if workers == 1 and run_here is not None:
        return ((c, run_here(c)) for c in cells)
    return run_local_pool(cells, workers, retries, checkpoints)
