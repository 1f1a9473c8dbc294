"""Typed errors with messages meant for users.

Domain code raises these; only the CLI turns them into a one-line message and an
exit code (see ``resbench.cli.app.main``). The exit codes are part of the public
contract documented in the README.
"""

from __future__ import annotations


class ResbenchError(Exception):
    """Base class: a failure the user should read about, without a traceback."""

    exit_code = 1


class UsageError(ResbenchError):
    """Bad input (spec, option, file): exit code 2, like click's own usage errors."""

    exit_code = 2


class SpecError(UsageError):
    """A depth spec that cannot be parsed or describes an impossible network."""


class DeviceError(UsageError):
    """A device, dtype or device feature that is not available here."""


class StoreError(UsageError):
    """A results record or baseline that cannot be read (corrupt, newer schema)."""


class BenchmarkFailed(ResbenchError):
    """The measurement itself failed (exit code 4, as ``resbench check`` documents)."""

    exit_code = 4


class ReaderGone(Exception):
    """The reader of stdout went away (`| head`, `| true`): exit 141 quietly. Not an OSError,
    so click's own EPIPE handling (a silent exit 1) never sees it."""


class Interrupted(ResbenchError):
    """Ctrl-C: what finished is kept; the message says how to resume."""

    exit_code = 130
