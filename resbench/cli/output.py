"""Where output goes: results to stdout, progress and diagnostics to stderr."""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass

from rich.console import Console

from resbench.cli.flags import speak

# Piped output (files, CI logs) gets a wide console so tables are not truncated to 80 columns.
# markup=False: the one escaping rule. Every string printed (paths, specs, stored values,
# messages, table cells) is shown as written, never read as Rich markup, so "[/x]" in a
# folder name cannot crash a command and "[bold red]x[/]" in a record is not restyled.
# resbench's own styling uses Text objects and styles, not markup.
class _Worded(Console):
    def render_str(self, text: str, **kwargs):
        # Every string shown (messages, notes, table cells) names the library's fields
        # as this command line's flags: `epochs` -> --epochs (resbench.cli.flags).
        return super().render_str(speak(text), **kwargs)


class _Console(_Worded):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 here; the reader leaving (`| head`) is told apart by resbench.cli.app (exit 141).
        from resbench.errors import ReaderGone

        self.quiet = True
        raise ReaderGone


out = _Console(soft_wrap=False, markup=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)
err = _Worded(stderr=True, soft_wrap=True, markup=False)


def _clean(o):
    if type(o).__module__ == "numpy" and hasattr(o, "item"):  # numpy scalars (np.bool_, np.float64, ...)
        o = o.item()
    # JSON has no NaN/Infinity: emit null so every consumer can parse our output.
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def write_stdout(text: str) -> None:
    """Results that bypass Rich (JSON, CSV, Markdown) go through here."""
    from resbench.errors import ReaderGone

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise ReaderGone from None


def print_json(obj) -> None:
    write_stdout(json.dumps(_clean(obj), indent=2) + "\n")


def warn(message: str) -> None:
    from rich.text import Text

    err.print(Text.assemble(("warning:", "yellow"), " ", speak(message)), highlight=False)


def warn_if_busy(share: float | None, what: str) -> None:
    """One warning line when other processes used a large share of the cores meanwhile."""
    from resbench.measure.busy import warning

    line = warning(share, what)
    if line:
        warn(line)


def comparison_outputs(comparison, label: str, plot, draw, tracker, tables: TableOutputs) -> list[dict] | None:
    """Draw the figure (``draw(comparison, plot)``), log the run, write the tables asked
    for. The rows as dicts, or None when a table went to stdout (nothing else is printed)."""
    from resbench.report import export
    from resbench.report.tracked import log_comparison

    if plot is not None:
        draw(comparison, plot)
    rows = [r.to_dict() for r in comparison.rows]
    log_comparison(tracker, label, comparison, rows, figures=[plot] if plot else ())
    return None if tables.emit(lambda: export.comparison_frame(rows)) else rows


def print_comparison(rows) -> None:
    """The comparison table and the power lines under it."""
    from resbench.report.compare import compare_table, power_lines

    out.print(compare_table(rows))
    for line in power_lines(rows):
        out.print(line, highlight=False)


def note(message: str) -> None:
    err.print(message, highlight=False)


def hooks_for(update=None):
    """Library hooks wired to this terminal: a progress callback, warnings and notes on stderr."""
    from resbench.hooks import Hooks

    return Hooks(progress=update, warn=warn, note=note)


STDOUT = "-"
MARKDOWN_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class TableOutputs:
    """Where `--csv` and `--markdown` send a command's table: a file (written atomically,
    checked before any work) or ``-``, stdout instead of the terminal table."""

    csv: str | None = None
    markdown: str | None = None
    as_json: bool = False

    def __post_init__(self) -> None:
        from resbench.errors import UsageError
        from resbench.outputs import prepare_output

        if self.csv == STDOUT and self.markdown == STDOUT:
            raise UsageError("--csv - and --markdown - both ask for stdout: send one of them to a file")
        if self.as_json and self.to_stdout:
            raise UsageError("--json and a table on stdout (--csv - or --markdown -) cannot share stdout: "
                             "pick one, or give the table a file name")
        for path, suffixes, option in ((self.csv, (".csv",), "--csv"), (self.markdown, MARKDOWN_SUFFIXES, "--markdown")):
            if path is not None and path != STDOUT:
                prepare_output(path, suffixes, option)

    @property
    def to_stdout(self) -> bool:
        return STDOUT in (self.csv, self.markdown)

    @property
    def wanted(self) -> bool:
        return self.csv is not None or self.markdown is not None

    def emit(self, build) -> bool:
        """Build the command's frame (``build()``) only if a table was asked for, and write it;
        True when it went to stdout (print nothing else there)."""
        return self.wanted and self.write(build())

    def write(self, frame) -> bool:
        """Write the frame where asked; True when it went to stdout (print nothing else there)."""
        from resbench.report.export import to_csv, to_markdown
        from resbench.outputs import write_text_atomic

        for path, render in ((self.csv, to_csv), (self.markdown, to_markdown)):
            if path is None:
                continue
            text = speak(render(frame))  # a table, like the terminal's, names flags; JSON keeps the library's words
            if path == STDOUT:
                write_stdout(text)
            else:
                write_text_atomic(path, text)
        return self.to_stdout


def open_tracker(texts: list[str] | None, results_dir=None, outputs=()):
    """The `--log` trackers, reached before any work (None when not asked for); ``outputs``:
    the command's other output files, which no tracker store may be."""
    if not texts:
        return None
    from resbench.errors import UsageError
    from resbench.tracking import Tracker

    try:
        return Tracker.from_texts(texts, results_dir, hooks_for(), outputs)
    except UsageError as e:
        raise UsageError(f"--log {e}") from None
