"""Output files: each written where the user said, with its parent folders created,
and refused in one line when its name or suffix cannot be what the user meant."""

from __future__ import annotations

from pathlib import Path

from resbench.errors import UsageError

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def prepare_output(path: str | Path, suffixes: tuple[str, ...], option: str) -> Path:
    """Check ``path`` for an output of one of ``suffixes`` and create its parent folder."""
    p = Path(path)
    if not str(path).strip() or p.name in ("", ".", ".."):
        raise UsageError(f"{option} {str(path)!r} is not a file name: give one ending in {' or '.join(suffixes)}")
    if p.name.lower() in suffixes:  # e.g. '.png': a hidden file with no name
        raise UsageError(f"{option} {str(path)!r} has no name before the suffix: give e.g. out{suffixes[0]}")
    if p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {str(path)!r}: unsupported file type {p.suffix or '(none)'!r}; "
                         f"give a name ending in {' or '.join(suffixes)}")
    if p.exists() and p.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a folder: give a file name ending in {suffixes[0]}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{option} {str(path)!r}: cannot create its folder {p.parent} ({e.strerror})") from None
    return p


def writable_folder(path: str | Path, what: str) -> Path:
    """Create ``path`` and prove a file can be written in it, before any work that would
    be lost if the write failed at the end (a file in the way, a read-only or full disk)."""
    import os
    import tempfile

    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
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


def figure_path(path: str | None, default_name: str, results_dir=None, option: str = "--plot") -> Path:
    """A figure's path: the user's, or ``figures/<default_name>`` in the results folder
    (never the current folder, which may be a checkout)."""
    if path is None:
        from resbench.store import results_dir as resolve

        path = resolve(results_dir) / "figures" / default_name
    return prepare_output(path, FIGURE_SUFFIXES, option)
