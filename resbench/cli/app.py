"""The `resbench` command: wires the commands together and maps errors to exit codes.

Exit codes: 0 ok; 1 a failure (or, for `check`, a regression); 2 bad input (usage);
3 environment mismatch (`check`); 4 the benchmark itself failed; 130 interrupted.
Set RESBENCH_DEBUG=1 to see tracebacks.
"""

import importlib
import errno
import os
import signal
import sys
import warnings
import threading
from typing import Annotated

import typer
from typer.core import TyperGroup

from resbench import __version__
from resbench.errors import ReaderGone, ResbenchError
from resbench.validate import ascii_number_text

# name -> (module, function, one-line help for the command index). A command's module
# is imported only when that command runs (or for the index): start-up stays near the
# bare typer + rich import (benchmarks/cli_startup.py).
COMMANDS = {
    "show": ("show", "show", "A network's stages, params and MACs (the paper's Table 1)."),
    "list": ("presets", "list_presets", "Every named preset with its size."),
    "profile": ("profile", "profile", "Latency percentiles, throughput, memory and MFU."),
    "train": ("train", "train", "One short training job (the paper's CIFAR recipe)."),
    "compare": ("compare", "compare", "Paired sweep of arms x seeds with 95 % intervals."),
    "degradation": ("analyze", "degradation", "Plain vs residual over depth (the paper's Fig. 6)."),
    "analyze": ("analyze", "app", "Layer responses (Fig. 7) and gradient norms."),
    "search": ("search", "search", "Pareto front of error vs cost (Optuna)."),
    "baseline": ("check", "baseline", "Measure a suite and write a baseline file."),
    "check": ("check", "check", "Check a suite against a baseline (exit 1 on regression)."),
    "results": ("results", "results", "The stored runs as a table."),
    "plot": ("results", "plot", "Scatter two columns of the stored runs."),
}


class _IndexGroup(TyperGroup):
    """The root: its help is the command index, printed as plain text. Rich's help
    renderer costs ~60 ms of imports (markdown, pygments), more than all of resbench's
    own; every command's own --help keeps Rich's panels."""

    def format_help(self, ctx, formatter) -> None:
        return super(TyperGroup, self).format_help(ctx, formatter)


def _version(value: bool) -> None:
    if value:
        print(f"resbench {__version__}")
        raise typer.Exit()


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or with ``only`` that one (a faster start)."""
    app = typer.Typer(
        name="resbench",
        help="Build, profile, train and compare ResNet variants from depth specs (He et al. 2015).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=_IndexGroup,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    ) -> None:
        """Build, profile, train and compare ResNet variants from depth specs (He et al. 2015)."""

    for name, (module, attr, short) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(f"resbench.cli.{module}"), attr)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name, short_help=short)
        else:
            app.command(name, short_help=short)(target)
    return app


def _command_named(argv: list[str]) -> str | None:
    """The command a command line runs, when it is plainly one of ours (else None: build all)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in COMMANDS and argv and argv[0] == first:
        return first
    return None


INTERRUPTED = ("interrupted before finishing: nothing partial was written (records and files are written whole, "
               "when done); run the same command again")


def _strict_numbers(command) -> None:
    """Numbers on the command line by the rule the spec grammar uses too
    (``validate.ascii_number_text``): click's INT and FLOAT would read '٣' as 3 and '1_0'
    as 10. Each whole-number or real option's type is given a stricter subclass of the
    click type it has."""
    for param in getattr(command, "params", []):
        kind = getattr(param.type, "name", "")
        if kind in ("integer", "integer range", "float", "float range") and not getattr(param.type, "_strict", False):
            base = type(param.type)
            whole = kind.startswith("integer")

            def convert(self, value, p, ctx, _base=base, _whole=whole):
                if isinstance(value, str) and not ascii_number_text(value, _whole):
                    self.fail(f"{value!r} is not a {'whole number' if _whole else 'number'} in ASCII digits "
                              f"(e.g. {'10' if _whole else '0.5'})", p, ctx)
                return _base.convert(self, value, p, ctx)

            strict = object.__new__(type(f"Strict{base.__name__}", (base,), {"convert": convert, "_strict": True}))
            strict.__dict__.update(param.type.__dict__)
            param.type = strict
    for sub in getattr(command, "commands", {}).values():
        _strict_numbers(sub)


def _fail(message: str, code: int) -> int:
    from resbench.cli.flags import speak

    sys.stderr.write(f"resbench: error: {speak(message)}\n")
    return code


def _is_click_error(e: BaseException) -> bool:
    # Click's usage errors, and any family of exceptions with their interface.
    return hasattr(e, "format_message") and hasattr(e, "exit_code")


def _streams_ready() -> str | None:
    """Make stdout/stderr safe to print to; a reason when stdout cannot be written at all."""
    for stream in (sys.stdout, sys.stderr):
        # A C locale (ascii) must not turn a '×' into a crash: unencodable characters are escaped.
        if stream is not None and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    if sys.stdout is None:
        return "standard output is closed: run with its output sent somewhere (a file, a pipe or /dev/null)"
    return None


def _quiet_stdout() -> None:
    """The reader of our output went away (`| head`): later flushes must not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def _bare_table_options(argv: list[str]) -> list[str]:
    """`--csv` or `--markdown` with no file after it means stdout (``-``), as for `results --csv`."""
    fixed = []
    for i, a in enumerate(argv):
        fixed.append(a)
        if a == "--":
            return fixed + argv[i + 1:]
        if a in ("--csv", "--markdown"):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or (nxt.startswith("-") and nxt != "-"):
                fixed.append("-")
    return fixed


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from resbench.cli.output import warn

    warn(" ".join(str(message).split()))


def _run_command(argv: list[str]) -> int:
    from resbench.cache import cache_dir

    cache_dir()  # a cache setting that names no folder is refused before any work
    command = typer.main.get_command(build_app(_command_named(argv)))
    _strict_numbers(command)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning  # a library warning is one line, like the CLI's own
        rv = command.main(args=argv, prog_name="resbench", standalone_mode=False)
    if rv == 130:  # Typer turns Ctrl-C in a command into a bare exit code 130: say what it means
        return _fail(INTERRUPTED, 130)
    return rv if isinstance(rv, int) else 0


def main(argv: list[str] | None = None) -> int:
    debug = os.environ.get("RESBENCH_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    argv = _bare_table_options(sys.argv[1:] if argv is None else list(argv))
    closed = _streams_ready()
    if closed:
        return _fail(closed, 2)
    from resbench import validate

    with validate.folders_made() as made:
        return _guarded(argv, debug, made)


def _guarded(argv: list[str], debug: bool, made: list) -> int:
    """Run one command, every way it can end turned into an exit code and at most one line."""
    from resbench import validate

    try:
        return _run_command(argv)
    except ResbenchError as e:
        if e.exit_code == 130:
            _hold_interrupts()
        if e.exit_code == 2:  # refused: the folders its checks made go again
            validate.remove_folders(made)
        if debug:
            raise
        return _fail(str(e), e.exit_code)
    except (BrokenPipeError, ReaderGone):
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a tool killed by the closed pipe would report
    except OSError as e:
        if debug or e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            if debug:
                raise
            return _fail(f"internal error: {type(e).__name__}: {e} (rerun with RESBENCH_DEBUG=1 for a traceback)", 1)
        return _fail(f"cannot write the output ({e.strerror}): free space or send it elsewhere, then run again; "
                     "files are written whole, so none was left half-written", 1)
    except (KeyboardInterrupt, typer.Abort) as e:
        _hold_interrupts()
        # click turns an EOFError into Abort as if it were Ctrl-C; an EOFError is a bug, not the user.
        if isinstance(e.__context__, EOFError) and not debug:
            return _fail(f"internal error: EOFError: {e.__context__} (rerun with RESBENCH_DEBUG=1 for a traceback)", 1)
        return _fail(INTERRUPTED, 130)
    except Exception as e:
        if type(e).__name__ == "NoArgsIsHelpError" and getattr(e, "ctx", None):
            print(e.ctx.get_help())
            return 0
        if debug:
            raise
        if _is_click_error(e):
            ctx = getattr(e, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx else ""
            return _fail(e.format_message().replace("\n", " ") + where, e.exit_code)
        # A bug, not bad input: say so in one line; the traceback is one variable away.
        return _fail(f"internal error: {type(e).__name__}: {e} (rerun with RESBENCH_DEBUG=1 for a traceback)", 1)
    finally:
        _release_interrupts()


_HELD: list = []  # the SIGINT handler set aside while an interruption is being reported
_AS_PROGRAM: list = []  # non-empty when run() is the program: an interruption then holds SIGINT until exit


def _hold_interrupts() -> None:
    """A second Ctrl-C while the first is being reported is the same request: ignore it
    until the report is out (main restores the handler on the way out)."""
    if not _HELD and threading.current_thread() is threading.main_thread():
        _HELD.append(signal.signal(signal.SIGINT, signal.SIG_IGN))


def _release_interrupts() -> None:
    while _HELD and not _AS_PROGRAM:  # the program keeps ignoring them through its own shutdown
        signal.signal(signal.SIGINT, _HELD.pop())


def run() -> None:
    _AS_PROGRAM.append(True)
    try:
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C landed before the first was caught: still an interruption
        sys.stderr.write(f"resbench: error: {INTERRUPTED}\n")
        code = 130
    if code == 130:
        _exit_interrupted()
    sys.exit(code)


def _exit_interrupted() -> None:
    """Leave at once after an interruption was reported: what was kept is on disk (every
    writer cleans up in its own ``finally``), and a Ctrl-C pending from a second press
    must neither print a traceback from an exit handler nor leave the program waiting,
    deaf to Ctrl-C, on a helper thread (a study's heartbeat) that the first press cut off."""
    for _ in range(3):  # a pending Ctrl-C is raised at the next Python step: take it here
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.stdout.flush()
            sys.stderr.flush()
            break
        except KeyboardInterrupt:
            continue
        except (OSError, ValueError):
            break
    os._exit(130)
