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


class ConfigError(UsageError):
    """A config field holding a value it cannot take, said in the library's own words.

    ``field`` is the field's name (``epochs``, ``cuda_graphs``). The message, and any text
    the library writes for users (errors, warnings, notes), names a field in backticks:
    ``epochs`` alone, or with a value as Python would write it, ``device='cuda'`` or
    ``compile=False``. A Python caller reads exactly that; the CLI words it for the
    command line (``--epochs``, ``--device cuda``, ``--no-compile``) from its one
    field-to-flag table, ``resbench.cli.flags``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"`{field}` {message}")

    def __reduce__(self):
        # Raised in a worker process (a pool or Ray), it must cross back whole.
        return type(self), (self.field, self.message)


class SpecError(UsageError):
    """A depth spec that cannot be parsed or describes an impossible network."""


class DeviceError(UsageError):
    """A device, dtype or device feature that is not available here."""


class StoreError(UsageError):
    """A results record or baseline that cannot be read (corrupt, newer schema)."""


class WriteFailed(ResbenchError):
    """An output could not be written whole (a full disk, a short write): exit 1, and the
    file that was there before is left as it was."""


class BenchmarkFailed(ResbenchError):
    """The measurement itself failed (exit code 4, as ``resbench check`` documents)."""

    exit_code = 4


class ReaderGone(Exception):
    """The reader of stdout went away (`| head`, `| true`): exit 141 quietly. Not an OSError,
    so click's own EPIPE handling (a silent exit 1) never sees it."""


class Interrupted(ResbenchError):
    """Ctrl-C: what finished is kept; the message says how to resume."""

    exit_code = 130
