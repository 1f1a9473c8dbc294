"""How busy the machine was while something was measured: the share of the cores that
other processes used, from the kernel's CPU time of all processes (Linux /proc/stat)
against this process's own (and its children's) CPU time over the same wall time.

On a 2-core machine one other busy thread takes half the cores and can make OpenMP
threads spin: a step measured then is slower than the machine can do, sometimes 10x.
Every timed result records this share as ``contention`` and says so above its table
when it is over CONTENTION_WARN."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

CONTENTION_WARN = 0.10  # share of the cores others used above which a timing is flagged


def all_cpu_seconds() -> float | None:
    """CPU seconds all processes have run (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """This process's CPU time, its threads and its finished children included."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


@dataclass
class Meter:
    """``start()`` before a measurement, ``share()`` after it: the share of the cores that
    other processes used in between (None where /proc/stat cannot be read)."""

    _all: float | None = None
    _own: float = 0.0
    _wall: float = 0.0

    def start(self) -> "Meter":
        self._all, self._own, self._wall = all_cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
        return self

    def share(self) -> float | None:
        now = all_cpu_seconds()
        wall = time.perf_counter() - self._wall
        if self._all is None or now is None or wall <= 0:
            return None
        others = (now - self._all) - (_own_cpu_seconds() - self._own)
        return min(1.0, max(0.0, others / (wall * (os.cpu_count() or 1))))


def warning(share: float | None, what: str) -> str | None:
    """One line when ``share`` says the machine was busy while ``what`` was measured."""
    if share is None or share <= CONTENTION_WARN:
        return None
    return (f"the machine was busy: other processes used {share:.0%} of the cores while {what}, so the timings "
            "are slower than this machine can do; measure again with the machine otherwise idle")
