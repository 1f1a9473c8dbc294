"""Output files: each written where the user said, with its parent folders created,
and refused in one line when its name or suffix cannot be what the user meant."""

from __future__ import annotations

import os
from pathlib import Path

from resbench.errors import UsageError
from resbench.store import atomic_output, special_output_ready
from resbench.store import results_dir as resolve
from resbench.validate import is_field, make_folder, writable_folder

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def prepare_output(path: str | Path, suffixes: tuple[str, ...], option: str) -> Path:
    """Check ``path`` for an output of one of ``suffixes`` and create its parent folder.
    ``option`` names where the path came from: a field (``plot``) or words as written."""
    option = f"`{option}`" if is_field(option) else option
    p = Path(path)
    if not str(path).strip() or p.name in ("", ".", ".."):
        raise UsageError(f"{option} {str(path)!r} is not a file name: give one ending in {' or '.join(suffixes)}")
    if p.name.lower() in suffixes:  # e.g. '.png': a hidden file with no name
        raise UsageError(f"{option} {str(path)!r} has no name before the suffix: give e.g. out{suffixes[0]}")
    if p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {str(path)!r}: unsupported file type {p.suffix or '(none)'!r}; "
                         f"give a name ending in {' or '.join(suffixes)}")
    try:
        is_dir = p.is_dir()
    except OSError as e:  # e.g. a name longer than the file system allows
        raise UsageError(f"{option} {str(path)[:80]!r}...: not a usable file name ({e.strerror}); give a shorter one") from None
    if is_dir:
        raise UsageError(f"{option} {str(path)!r} is a folder: give a file name ending in {suffixes[0]}")
    real = Path(os.path.realpath(p))  # a link is written through: its target's place is what must be writable
    special = os.path.lexists(real) and not real.is_file()  # written in place: its folder is not written
    if special:
        special_output_ready(real, f"{option} {str(path)!r}")
    for folder in dict.fromkeys((p.parent,) if special else (p.parent, real.parent)):
        try:
            make_folder(folder)
        except OSError as e:
            raise UsageError(f"{option} {str(path)!r}: cannot create its folder {folder} ({e.strerror})") from None
        writable_folder(folder, f"{option} {str(path)!r}: its folder")
    return p


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def appendable(path: str | Path, what: str) -> Path:
    """A file that a report is appended to (e.g. $GITHUB_STEP_SUMMARY): not a folder, and
    its folder writable; checked before the work."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{what}={str(path)!r} is a folder: it must name a file to append to")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"{what}={str(path)!r} is not writable: fix its permissions or unset it")
    if not p.exists():
        writable_folder(p.parent, f"{what}={str(path)!r}: its folder")
    return p


def figure_path(path: str | None, default_name: str, results_dir=None, option: str = "plot") -> Path:
    """A figure's path: the user's, or ``figures/<default_name>`` in the results folder
    (never the current folder, which may be a checkout)."""
    if path is None:
        path = resolve(results_dir) / "figures" / default_name
    return prepare_output(path, FIGURE_SUFFIXES, option)


def finish_report(lines: list[str], out: str | Path | None) -> None:
    """A benchmark's report: written whole to ``out`` (atomically) when given, and printed."""
    text = "\n".join(lines) + "\n"
    if out:
        write_text_atomic(out, text)
    print(text, end="")
