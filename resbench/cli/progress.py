"""Progress on stderr, driven by the library's (phase, done, total) callbacks: a Rich bar
on a terminal; in a log (CI, nohup, a batch job) plain lines, one when a phase (an
epoch, a cell) starts and at least one a minute within it."""

from __future__ import annotations

import contextlib
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from resbench.cli.output import err


@contextlib.contextmanager
def progress_bar(description: str):
    """Yields a callback ``update(phase, done, total)``."""
    if not err.is_terminal:
        yield _log_lines(description)
        return
    bar = Progress(TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, disable=not err.is_terminal)
    with bar:
        task = bar.add_task(description, total=None)

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{description} · {phase}", completed=done, total=max(total, done))

        yield update


def _log_lines(description: str, every: float = 60.0):
    t0 = time.monotonic()
    last = {"phase": None, "at": -every}

    def update(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == last["phase"] and now - last["at"] < every:
            return
        last.update(phase=phase, at=now)
        minutes, seconds = divmod(int(now - t0), 60)
        err.print(f"{description} · {phase}: {done}/{max(total, done)} ({minutes}:{seconds:02d} elapsed)",
                  markup=False, highlight=False, soft_wrap=True)

    return update
