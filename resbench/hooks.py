"""How long-running library calls talk back to whoever called them, without printing.

The library never prints: it calls these hooks. The CLI connects them to a Rich
progress bar and to stderr; a Python user may leave them out (progress is then
silent, warnings go through ``warnings.warn``, notes are dropped).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

Progress = Callable[[str, int, int], None]  # (phase, done, total): how every long call reports progress


@dataclass(frozen=True)
class Hooks:
    progress: Progress | None = None  # called outside any timed window
    warn: Callable[[str], None] | None = None  # something the user should know and may act on
    note: Callable[[str], None] | None = None  # what is about to happen (the plan), once inputs are valid

    def report(self, phase: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(phase, done, total)

    def warning(self, message: str) -> None:
        if self.warn:
            self.warn(message)
        else:
            warnings.warn(message, stacklevel=2)

    def say(self, message: str) -> None:
        if self.note:
            self.note(message)

