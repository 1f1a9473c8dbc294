"""The `resbench` command: wires the commands together and maps errors to exit codes.

Exit codes: 0 ok; 1 a failure (or, for `check`, a regression); 2 bad input (usage);
3 environment mismatch (`check`); 4 the benchmark itself failed; 130 interrupted.
Set RESBENCH_DEBUG=1 to see tracebacks.
"""

import os
import sys
from typing import Annotated

import typer

from resbench import __version__
from resbench.cli import analyze, check, compare, presets, profile, results, search, show, train
from resbench.errors import ResbenchError

app = typer.Typer(
    name="resbench",
    help="Build, profile, train and compare ResNet variants from depth specs (He et al. 2015).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"resbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Build, profile, train and compare ResNet variants from depth specs (He et al. 2015)."""


app.command("show")(show.show)
app.command("list")(presets.list_presets)
app.command("profile")(profile.profile)
app.command("train")(train.train)
app.command("compare")(compare.compare)
app.command("results")(results.results)
app.command("plot")(results.plot)
app.command("baseline")(check.baseline)
app.command("degradation")(analyze.degradation)
app.add_typer(analyze.app, name="analyze")
app.command("check")(check.check)
app.command("search")(search.search)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"resbench: error: {message}\n")
    return code


def _is_click_error(e: BaseException) -> bool:
    # Typer >= 0.20 vendors click as typer._click; older releases use click itself.
    # Both exception families share this interface, so check it rather than a class.
    return hasattr(e, "format_message") and hasattr(e, "exit_code")


def main(argv: list[str] | None = None) -> int:
    debug = bool(os.environ.get("RESBENCH_DEBUG"))
    try:
        rv = app(args=argv, prog_name="resbench", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except ResbenchError as e:
        if debug:
            raise
        return _fail(str(e), e.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        return _fail("interrupted", 130)
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


def run() -> None:
    sys.exit(main())
