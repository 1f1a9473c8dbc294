"""A Rich progress bar on stderr, driven by the measure layer's (phase, done, total) callbacks."""

from __future__ import annotations

import contextlib

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from resbench.cli.output import err


@contextlib.contextmanager
def progress_bar(description: str):
    """Yields a callback ``update(phase, done, total)``; silent when stderr is not a terminal."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, disable=not err.is_terminal)
    with bar:
        task = bar.add_task(description, total=None)

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{description} · {phase}", completed=done, total=max(total, done))

        yield update
