"""The one place that says whether a number or a file field is acceptable.

Options, suite files, search spaces and baselines all check their values here, before
any work starts: finite, in range, of the right type. Each check raises one line that
names the value, what was given, and what would be valid. ``name`` is either a config
field (``epochs``: a ConfigError the CLI words as ``--epochs``) or a place written out
for the reader (``suite.toml [defaults] iters``: a UsageError as written). ``bool`` is not accepted where a number is meant (TOML ``true`` is
not ``1``).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import tempfile
from pathlib import Path

from resbench.errors import ConfigError, UsageError

# Far beyond any real run, small enough that no arithmetic on it overflows int64 or
# allocates before a later, sharper check (the memory estimate in resbench.limits).
MAX_WHOLE = 2**31 - 1
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both take 32-bit seeds


FIELD_NAME = r"[a-z][a-z0-9_]*"  # how a config field is spelt; resbench.cli.flags finds them in text by it


def is_field(name: str) -> bool:
    """A config field's name (``batch_size``), as opposed to a place written out for the reader."""
    return re.fullmatch(FIELD_NAME, name) is not None


def invalid(name: str, message: str) -> UsageError:
    """The error for ``name`` (a field, or a place in a file) and the rest of the sentence."""
    if is_field(name):
        return ConfigError(name, message)
    return UsageError(f"{name} {message}")


def whole(value, name: str, lo: int | None = None, hi: int | None = MAX_WHOLE) -> int:
    """A whole number in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            bounds = " and ".join(w for w in (f">= {lo}" if lo is not None else "", f"<= {hi}" if hi is not None else "") if w)
            raise invalid(name, f"must be a whole number{' ' + bounds if bounds else ''}, got {value!r}")
    if lo is not None and value < lo:
        raise invalid(name, f"must be at least {lo}, got {value}")
    if hi is not None and value > hi:
        raise invalid(name, f"must be at most {hi}, got {value}")
    return value


def number(value, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False) -> float:
    """A finite real number in the range (bounds closed unless *_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(name, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise invalid(name, f"must be a finite number, got {value}")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
    if bad_lo or bad_hi:
        lo_w = "" if lo is None else (f"> {lo:g}" if lo_open else f">= {lo:g}")
        hi_w = "" if hi is None else (f"< {hi:g}" if hi_open else f"<= {hi:g}")
        raise invalid(name, f"must be {' and '.join(w for w in (lo_w, hi_w) if w)}, got {value:g}")
    return value


def boolean(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(name, f"must be true or false, got {value!r}")
    return value


def text(value, name: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise invalid(name, f"must be a string{' (' + ', '.join(choices) + ')' if choices else ''}, got {value!r}")
    if choices is not None and value not in choices:
        words = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise invalid(name, f"{value!r}: expected {words}")
    return value


def table(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise invalid(name, f"must be a table ([{name}] with key = value lines), got {value!r}")
    return value


def read_text(path, what: str) -> str:
    """A text file's contents, or a one-line UsageError naming it (missing, unreadable, not UTF-8)."""
    p = regular_file(path, what)  # a FIFO is refused, not waited on
    try:
        return p.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise UsageError(f"{what} {p} is a folder, not a file") from None
    except FileNotFoundError:
        raise UsageError(f"{what} {p} does not exist") from None
    except OSError as e:
        raise UsageError(f"cannot read {what} {p}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{what} {p} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None


def regular_file(path, what: str) -> Path:
    """``path`` when it is a regular file, found with os.stat before anything opens it: a
    FIFO, device or socket is refused in one line (opening a FIFO would wait for a writer)."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise UsageError(f"{what} {p} does not exist") from None
    except OSError as e:
        raise UsageError(f"cannot read {what} {p}: {e.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{what} {p} is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{what} {p} is not a regular file (a FIFO, device or socket): give a file")
    return p


_DIGITS = re.compile(r"[0-9]+")
_SIGNED_DIGITS = re.compile(r"\s*[+-]?[0-9]+\s*")


def ascii_number_text(text: str, whole: bool, signed: bool = True) -> bool:
    """The one rule for numbers typed as text (options, spec modifiers): ASCII only and no
    underscores (int() and float() read '٣' as 3 and '1_0' as 10); a whole number is digits,
    with a sign and surrounding spaces where ``signed``."""
    if not text.isascii() or "_" in text:
        return False
    return not whole or bool((_SIGNED_DIGITS if signed else _DIGITS).fullmatch(text))


def comma_list(text, cast=str) -> list | None:
    """'a, b,c' (or a TOML list) -> [cast(a), cast(b), cast(c)]; None when not given.
    A value ``cast`` rejects raises ValueError: callers word the error for their option."""
    if text is None or text == "":
        return None
    items = text if isinstance(text, list) else [t.strip() for t in str(text).split(",") if t.strip()]
    return [cast(v) for v in items]


def parse_list(text, option: str, cast=str, example: str | None = None) -> list | None:
    """The one list parser of the CLI: comma-separated values, each ``cast``; a value that
    does not cast is one line naming the option and an example of what it takes. Not given
    (None) is None; given but empty ('') is an error, not the default."""
    if isinstance(text, str) and not text.strip():
        raise invalid(option, f"is empty: give values separated by commas, e.g. {example or ('1,8' if cast is int else 'A,B')}")
    try:
        values = comma_list(text, _strict_int if cast is int else cast)
    except (ValueError, TypeError, OverflowError):
        kind = "whole numbers" if cast is int else "values"
        raise invalid(option, f"takes {kind} separated by commas, e.g. {example or ('1,8' if cast is int else 'A,B')}; "
                         f"got {text!r}") from None
    if values is not None and not values:
        raise invalid(option, f"is empty: give values separated by commas, e.g. {example or ('1,8' if cast is int else 'A,B')}")
    return values


def _strict_int(text) -> int:
    # int() accepts '١٢' (non-ASCII digits) and '1_000'; options take plain ASCII digits.
    t = str(text).strip()
    if not (t.isascii() and t.lstrip("+-").isdigit()):
        raise ValueError(t)
    return int(t)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 30 * 86400  # a month of training: beyond it a plan is a typo


def count(text, option: str) -> int:
    """'60M', '1.5G', '270k', '2e9' or a plain integer -> int."""
    if isinstance(text, bool):
        raise invalid(option, f"takes a count like 60M, 1.5G or 270k, got {text!r}")
    s = str(text).strip().upper().removesuffix("B")
    mult = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    try:
        if s and s[-1] in mult:
            value = float(s[:-1]) * mult[s[-1]]
        else:
            value = float(s)
    except ValueError:
        raise invalid(option, f"takes a count like 60M, 1.5G or 270k, got {text!r}") from None
    if not math.isfinite(value) or value >= 1e18:
        raise invalid(option, f"must be a finite count below 1e18, got {text!r}")
    if value <= 0:
        raise invalid(option, f"must be positive, got {text!r}")
    return int(value)


def duration(text, name: str) -> float:
    """A duration with units: 90s, 45m, 2h, 1h30m, 1.5h; seconds. A bare number is refused
    (45 what?), and so are signs, exponents, nan and anything beyond a month."""
    s = str(text).strip().lower() if text is not None else ""
    parts = re.fullmatch(r"((?:[0-9]+(?:\.[0-9]+)?[smhd])+)", s)
    if not parts:
        raise invalid(name, f"takes a duration with units such as 45m, 2h, 1h30m or 90s, got {str(text)!r}")
    total = sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+(?:\.[0-9]+)?)([smhd])", s))
    if not 0 < total <= MAX_DURATION:
        raise invalid(name, f"must be more than 0s and at most 30d, got {str(text)!r}")
    return total


_MADE: list[list[Path]] = []  # the folders made within each open ``folders_made`` scope, innermost last


@contextlib.contextmanager
def folders_made():
    """Within it, ``make_folder`` remembers the folders it creates (in the order it creates
    them), so that work refused after its checks can remove them again (``remove_folders``).
    Outside any scope (the library called on its own) nothing is remembered."""
    made: list[Path] = []
    _MADE.append(made)
    try:
        yield made
    finally:
        _MADE.remove(made)


def make_folder(path: str | Path) -> None:
    """``mkdir -p``, telling the open ``folders_made`` scope which folders it created."""
    p, missing = Path(path), []
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    Path(path).mkdir(parents=True, exist_ok=True)
    if _MADE:
        _MADE[-1].extend(reversed(missing))  # parents first


def remove_folders(made: list[Path]) -> None:
    """Remove the folders a ``folders_made`` scope recorded, newest first, each only while
    it is still empty: a refused command leaves nothing behind, and loses nothing."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty (something was written there after all) or gone
    made.clear()


def writable_folder(path: str | Path, what: str) -> Path:
    """Create ``path`` and prove a file can be written in it, before any work that would
    be lost if the write failed at the end (a file in the way, a read-only or full disk)."""
    p = Path(path)
    try:
        make_folder(p)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".resbench-probe-")
        try:
            os.write(fd, b"x")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise UsageError(f"{what} {str(p)!r} cannot be written ({e.strerror or e}): "
                         "give a writable folder") from None
    return p
