"""The machine-local cache folder (decoded data, the CPU roofline): never in git.

Kept free of torch so the CLI can check the setting before any command starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from resbench.errors import UsageError


def cache_dir() -> Path:
    """Machine-local cache (never in git): $RESBENCH_CACHE or ~/.cache/resbench. An empty
    value or one naming a file is refused: it would scatter caches into the current folder."""
    value = os.environ.get("RESBENCH_CACHE")
    if value is None:
        return Path.home() / ".cache" / "resbench"
    if not value.strip():
        raise UsageError("RESBENCH_CACHE is set but empty: unset it (cache in ~/.cache/resbench) or give a folder")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"RESBENCH_CACHE={value} is a file, not a folder: give a folder (it is created if missing)")
    return path
