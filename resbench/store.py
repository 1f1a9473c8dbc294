"""The results store: one schema-versioned JSON record per run, written atomically.

Layout: ``<results-dir>/records/<kind>/<id>.json``. A record is::

    {"schema": 1, "kind": "profile", "id": "...", "key": "<config hash>",
     "created": "...", "config": {...}, "result": {...}, "env": {...}}

Writes go to a temporary file in the same folder, are fsynced, then renamed over
the target (atomic on POSIX and Windows), so a killed process never leaves a
half-written record. Readers skip (and report) files that do not parse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path

from resbench.errors import StoreError

SCHEMA_VERSION = 1
DEFAULT_RESULTS_DIR = "results"


def results_dir(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get("RESBENCH_RESULTS_DIR") or DEFAULT_RESULTS_DIR)


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def config_key(config: dict) -> str:
    """Stable hash of a configuration (sorted JSON), used to find a finished run again."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_record(path: str | os.PathLike) -> dict:
    """One record; StoreError (one line) if it is corrupt or from a newer resbench."""
    path = Path(path)
    try:
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise StoreError(f"{path} is not a readable results record ({type(e).__name__}: {e}); delete it or re-run") from None
    if not isinstance(rec, dict) or "schema" not in rec:
        raise StoreError(f"{path} is not a resbench record (no schema field)")
    if not isinstance(rec["schema"], int) or rec["schema"] > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {rec['schema']}, newer than this resbench understands ({SCHEMA_VERSION}); upgrade resbench"
        )
    return rec


class Store:
    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = results_dir(root)

    @property
    def records_dir(self) -> Path:
        return self.root / "records"

    def put(self, kind: str, config: dict, result: dict, env: dict, key: str | None = None) -> Path:
        key = key or config_key(config)
        created = dt.datetime.now(dt.timezone.utc)
        rid = f"{created.strftime('%Y%m%dT%H%M%S')}-{key[:8]}-{uuid.uuid4().hex[:6]}"
        record = {"schema": SCHEMA_VERSION, "kind": kind, "id": rid, "key": key,
                  "created": created.isoformat(timespec="milliseconds"), "config": config, "result": result, "env": env}
        return write_json_atomic(self.records_dir / kind / f"{rid}.json", record)

    def load(self, kind: str | None = None) -> tuple[list[dict], list[str]]:
        """All readable records (oldest first) and one warning per unreadable file."""
        base = self.records_dir / kind if kind else self.records_dir
        records, problems = [], []
        if not base.exists():
            return records, problems
        for path in sorted(base.rglob("*.json")):
            try:
                records.append(read_record(path))
            except StoreError as e:
                problems.append(str(e))
        records.sort(key=lambda r: r.get("created", ""))
        return records, problems

    def find(self, kind: str, key: str) -> dict | None:
        for path in sorted((self.records_dir / kind).glob(f"*-{key[:8]}-*.json")):
            try:
                rec = read_record(path)
            except StoreError:
                continue
            if rec.get("key") == key:
                return rec
        return None
