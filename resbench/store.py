"""The results store: one schema-versioned JSON record per run, written atomically.

Layout: ``<results-dir>/records/<kind>/<id>.json``. A record is::

    {"schema": 1, "kind": "profile", "id": "...", "key": "<config hash>",
     "created": "...", "config": {...}, "result": {...}, "env": {...}}

Writes go to a temporary file in the same folder, are fsynced, then renamed over
the target (atomic on POSIX and Windows), so a killed process never leaves a
half-written record. Readers skip (and report) files that do not parse.

Readers get typed ``Record``s, never raw dicts; ``migrate`` is the one place that
brings an older record up to the current schema. A record's ``result`` stays the
JSON of the run's result; ``Record.typed_result()`` gives the
typed result (``resbench.results``: ``TrainResult`` / ``ProfileResult``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import hashlib
import json
import math
import os
import re
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from resbench.errors import StoreError, UsageError, WriteFailed

SCHEMA_VERSION = 1
DEFAULT_RESULTS_DIR = "results"


def results_dir(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get("RESBENCH_RESULTS_DIR") or DEFAULT_RESULTS_DIR)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary name to write; on success it replaces ``path`` in one step (after
    an fsync), so a full disk or a crash never leaves a partial file where a good one was.
    Links are followed to the end (the target replaced, the links kept). A device or FIFO
    (/dev/null) is never replaced: what was written is copied into it in place, and a FIFO
    that nobody reads is refused rather than waited on. The file keeps its mode, or gets
    the umask's like any new file (not mkstemp's 0600)."""
    p = Path(os.path.realpath(path))
    special = p.exists() and not p.is_file()
    if special:
        special_output_ready(p, path)
    mode = stat.S_IMODE(p.stat().st_mode) if p.exists() else 0o666 & ~_umask()
    suffix = p.suffix if p.suffix.isascii() else ".tmp"
    fd, tmp = tempfile.mkstemp(dir=None if special else p.parent, prefix=temp_prefix(p), suffix=suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        if special:
            _write_in_place(p, Path(tmp), path)
            return
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_temporaries(folder: Path, pattern: str, older_than: float = 0.0) -> bool:
    """Remove the files in ``folder`` matching ``pattern`` (an atomic write's temporaries:
    ``temp_prefix``) older than ``older_than`` seconds, left by a killed writer. True if any."""
    cutoff, found = time.time() - older_than, False
    for path in folder.glob(pattern) if folder.is_dir() else ():
        try:
            if path.is_file() and path.stat().st_mtime <= cutoff:
                path.unlink()
                found = True
        except OSError:
            pass  # gone already, or not ours to remove: it is skipped on read all the same
    return found


def temp_prefix(path: str | os.PathLike) -> str:
    """How atomic_output's temporary files beside ``path`` start: a dot, the name in safe
    ASCII (any name the OS takes, however long, gives a valid temporary name), a dot."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name)[:48]
    return f".{name}."


def special_output_ready(p: Path, given) -> None:
    """A special file as an output is written in place; a folder or a socket is refused."""
    mode = os.stat(p).st_mode
    if stat.S_ISDIR(mode) or stat.S_ISSOCK(mode):
        raise StoreError(f"{given} is {special_kind(mode)}: give a file name")


def _write_in_place(p: Path, tmp: Path, given) -> None:
    """Copy ``tmp`` into the device or FIFO ``p``. The FIFO is opened without waiting: with
    no reader that fails at once (ENXIO), and is refused; with one, it is written whole."""
    try:
        fd = os.open(p, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise StoreError(f"{given} is a FIFO that nobody reads: start its reader first, or give a file name") from None
        raise
    try:
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with open(tmp, "rb") as src:
            while chunk := src.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, allow_nan=False)
            f.write("\n")
    return path


def config_key(config: dict) -> str:
    """Stable hash of a configuration (sorted JSON), used to find a finished run again."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


RECORD_KINDS_PATTERN = "a name of letters, digits, '-' and '_'"


@dataclass(frozen=True)
class Record:
    """One stored run, as read back from the store."""

    kind: str  # profile | train | analysis-responses | ...
    id: str  # <created>-<key[:8]>-<random>: unique, sorts by time
    key: str  # hash of the configuration: the same experiment has the same key
    created: str  # ISO 8601, UTC
    config: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    typed: object = field(default=None, compare=False, repr=False)  # the result as its kind's check read it

    def to_dict(self) -> dict:
        d = asdict(self)
        del d["typed"]
        return d

    def typed_result(self):
        """The result as its kind's type (TrainResult, ProfileResult), read once, by the
        check in resbench.results, when the record was read."""
        if self.typed is None:
            raise StoreError(f"no reader for {self.kind!r} records: expected a train or profile record")
        return self.typed


def migrate(doc: dict, where: str = "record") -> dict:
    """Bring a stored record up to SCHEMA_VERSION (the one home of schema migration).
    Schema 1 is the only one; a newer schema is refused with a one-line error."""
    schema = doc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise StoreError(f"{where} has schema {schema!r}: expected a whole number 1..{SCHEMA_VERSION}; delete it or re-run")
    if schema > SCHEMA_VERSION:
        raise StoreError(f"{where} has schema version {schema}, newer than this resbench understands ({SCHEMA_VERSION}); "
                         "upgrade resbench")
    return doc


def read_record(path: str | os.PathLike) -> Record:
    """One record; StoreError (one line) if it is corrupt or from a newer resbench."""
    path = Path(path)
    try:
        rec = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        why = ("nested too deeply" if isinstance(e, RecursionError) else e.strerror if isinstance(e, OSError)
               else f"{type(e).__name__}: {e}")
        raise StoreError(f"{path} is not a readable results record ({why}); delete it or re-run") from None
    if not isinstance(rec, dict) or "schema" not in rec:
        raise StoreError(f"{path} is not a resbench record (no schema field)")
    rec = migrate(rec, str(path))
    fields = {"kind": str, "id": str, "key": str, "created": str, "config": dict, "result": dict, "env": dict}
    for name, tp in fields.items():
        if not isinstance(rec.get(name), tp):
            raise StoreError(f"{path} is not a resbench record: field {name!r} is missing or not a {tp.__name__}; delete it or re-run")
    if "spec" in rec["config"] and not isinstance(rec["config"]["spec"], str):
        raise StoreError(f"{path} is not a resbench record: its config's spec is not text; delete it or re-run")
    record = Record(**{k: rec[k] for k in fields}, schema=rec["schema"])
    check, config_check = _checks(record.kind)
    typed = None
    if config_check is not None:
        try:
            config_check(record.config)
        except Exception as e:  # a count or a seed no run could have had
            raise StoreError(f"{path} has a damaged {record.kind} config ({type(e).__name__}: {e}); "
                             "delete it or re-run") from None
    if check is not None:
        try:
            typed = check(record.result)
        except Exception as e:  # any way a tampered or foreign result fails to be what its kind promises
            raise StoreError(f"{path} has a damaged {record.kind} result ({type(e).__name__}: {e}); "
                             "delete it or re-run") from None
    return dataclasses.replace(record, typed=typed)


def _checks(kind: str):
    """(result check, config check) for a kind of record: resbench.results owns the result
    types; a kind it does not know (a newer resbench's) is read unchecked."""
    from resbench.results import check_profile_result, check_train_config, check_train_result

    return {"train": (check_train_result, check_train_config),
            "profile": (check_profile_result, None)}.get(kind, (None, None))


def read_regular(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of a regular file: a FIFO, device or socket is refused without opening it
    (opening a FIFO with no writer blocks forever), and the file is opened non-blocking."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, f"not a regular file ({special_kind(st.st_mode)})", str(path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read() if limit is None else f.read(limit)


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, word in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a regular file"


def _check_kind(kind: str) -> str:
    # A kind names a folder under records/: it must not climb out of it (--kind ../..).
    if not kind or not all(c.isascii() and (c.isalnum() or c in "-_") for c in kind):
        raise StoreError(f"record kind {kind!r} is not valid: expected {RECORD_KINDS_PATTERN}, e.g. train or profile")
    return kind


class Store:
    """``warn``: hears, once per file, of a damaged record that ``find``/``newest`` skip
    (the cell it held is then trained again)."""

    def __init__(self, root: str | os.PathLike | None = None, warn=None) -> None:
        self.root = results_dir(root)
        self._warn = warn
        self._warned: set[str] = set()

    def _skip(self, e: StoreError, path: Path) -> None:
        if self._warn is not None and str(path) not in self._warned:
            self._warned.add(str(path))
            self._warn(str(e))

    @property
    def records_dir(self) -> Path:
        return self.root / "records"

    @property
    def checkpoints_dir(self) -> Path:
        """Where unfinished training runs keep their per-epoch checkpoints (beside the records)."""
        return self.root / "checkpoints"

    STALE_SECONDS = 600  # a record is written in milliseconds: a temporary this old was left by a kill

    def put(self, kind: str, config: dict, result: dict, env: dict, key: str | None = None,
            stale_after: float = STALE_SECONDS) -> Path:
        """Write one record. Temporaries of this key's records older than ``stale_after``
        seconds were left by a killed write and are removed first (a caller holding the
        key's claim knows no one else writes it, and may pass a few seconds)."""
        _check_kind(kind)
        key = key or config_key(config)
        created = dt.datetime.now(dt.timezone.utc)
        # to the microsecond, so that file names sort as the records were made, within a second too
        rid = f"{created.strftime('%Y%m%dT%H%M%S%f')}-{key[:8]}-{uuid.uuid4().hex[:6]}"
        record = {"schema": SCHEMA_VERSION, "kind": kind, "id": rid, "key": key,
                  "created": created.isoformat(timespec="milliseconds"), "config": config, "result": result, "env": env}
        remove_temporaries(self.records_dir / kind, f".*-{key[:8]}-*", stale_after)
        return write_json_atomic(self.records_dir / kind / f"{rid}.json", record)

    def _paths(self, kind: str, key: str) -> list[Path]:
        """The record files that may hold ``key`` (never an atomic write's temporary)."""
        folder = self.records_dir / _check_kind(kind)
        return sorted(p for p in folder.glob(f"*-{key[:8]}-*.json") if not p.name.startswith("."))

    def load(self, kind: str | None = None) -> tuple[list[Record], list[str]]:
        """All readable records (oldest first) and one warning per unreadable file."""
        base = self.records_dir / _check_kind(kind) if kind else self.records_dir
        records, problems = [], []
        if not base.exists():
            return records, problems
        for path in sorted(base.rglob("*.json")):
            if path.name.startswith("."):
                continue  # an atomic write's temporary file (one in progress, or left by a kill)
            try:
                records.append(read_record(path))
            except StoreError as e:
                problems.append(str(e))
        records.sort(key=lambda r: (r.created, r.id))
        return records, problems

    def newest(self, kind: str, key: str, since: str = "",
               where: Callable[[Record], bool] | None = None) -> Record | None:
        """The newest readable record of ``key`` created at or after ``since`` (ISO 8601)
        for which ``where(record)`` holds (every one when ``where`` is None)."""
        return next(self._of_key(key, reversed(self._paths(kind, key)),
                                 lambda rec: rec.created >= since and (where is None or where(rec))), None)

    def find(self, kind: str, key: str, where: Callable[[Record], bool] | None = None) -> Record | None:
        """The oldest readable record of ``key`` for which ``where(record)`` holds (every one when None)."""
        return next(self._of_key(key, self._paths(kind, key), where), None)

    def _of_key(self, key: str, paths, where: Callable[[Record], bool] | None) -> Iterator[Record]:
        """The readable records of ``key`` among ``paths``, in their order, that ``where`` accepts."""
        for path in paths:
            try:
                rec = read_record(path)
            except StoreError as e:
                self._skip(e, path)
                continue
            if rec.key == key and (where is None or where(rec)):
                yield rec


def read_cache_table(path: Path, lo: float, hi: float, what: str, warn=None) -> dict:
    """The entries of a machine-local JSON cache (a table of key -> number) that are finite
    numbers in [lo, hi]. A damaged file (unreadable, not JSON, nested too deeply, not a table, not a
    regular file) or entry is said once through ``warn`` (``what``: what the entries are
    and what happens to them), dropped from the file, and never used."""
    try:
        doc = json.loads(read_regular(path).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as e:
        return _drop_damaged(path, {}, e.strerror or "not readable", what, warn)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else f"not readable JSON ({type(e).__name__})"
        return _drop_damaged(path, {}, why, what, warn)
    if not isinstance(doc, dict):
        return _drop_damaged(path, {}, "not a table", what, warn)
    good = {k: float(x) for k, x in doc.items() if _in_range(x, lo, hi)}
    if len(good) < len(doc):
        bad = next(x for k, x in doc.items() if k not in good)
        return _drop_damaged(path, good, f"{len(doc) - len(good)} entry(ies) out of range (e.g. {str(bad)[:40]})", what, warn)
    return good


def _in_range(x, lo: float, hi: float) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        x = float(x)  # an integer of 400 digits does not fit a float
    except OverflowError:
        return False
    return math.isfinite(x) and lo <= x <= hi


def _drop_damaged(path: Path, good: dict, why: str, what: str, warn) -> dict:
    if warn is not None:
        warn(f"{path}: {why}; {what}")
    write_cache_table(path, good)
    return good


def write_cache_table(path: Path, doc: dict) -> None:
    """Write a cache table, or nothing: a special file in its place is left alone, and a
    read-only or full cache costs a measurement next time, never the command."""
    try:
        if os.path.lexists(path) and not stat.S_ISREG(os.stat(path).st_mode):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, doc)
    except (OSError, WriteFailed, UsageError):
        pass
