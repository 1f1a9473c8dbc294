"""Baseline files: schema-versioned JSON with every entry's params, MACs and samples.

A baseline is untrusted input (hand-edited, truncated, from another version): every
field `check` will read is validated here, so a damaged file is one line and exit 2,
never a wrong verdict.

Schema 2 stores every run of a timed entry (``timing.runs``: one fresh process each).
Schema 1 baselines (before runs) are still read: each timed entry becomes a single
run, and ``check`` says so and does not fail on their timings (one run has no
between-run spread to judge by); `resbench baseline` renews them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from resbench.check.counter_verdict import HEADLINE
from resbench.errors import StoreError
from resbench.store import read_regular

SCHEMA_VERSION = 2


def baseline_document(suite, results: list[dict], env: dict) -> dict:
    return {"schema": SCHEMA_VERSION, "kind": "resbench-baseline", "suite": suite.name,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "env": env, "entries": results}


def _count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


# A counter's fields other than its headline, and what each must hold.
_COUNTER_FIELDS = {"flops": _count, "total_bytes": _count, "peak_bytes": _count, "count": _count,
                   "kernel_ms": lambda x: x is None or (_positive(x) or x == 0),
                   "spread": lambda x: x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)
                                                     and math.isfinite(x) and x >= 0),
                   "repeats": lambda x: isinstance(x, list) and all(_count(n) for n in x),
                   "detail": lambda x: isinstance(x, dict) and all(isinstance(k, str) and isinstance(n, int)
                                                                   and not isinstance(n, bool) for k, n in x.items()),
                   "env": lambda x: isinstance(x, dict) and all(isinstance(k, str) and isinstance(y, (str, int, float, bool, type(None)))
                                                                for k, y in x.items()),
                   "unavailable": lambda x: isinstance(x, str)}


def _counter_damage(name: str, c: dict) -> str | None:
    """What is wrong with one stored counter (None: nothing): every field it holds is of its
    type and range, and one the device could count has its headline figure."""
    head = HEADLINE.get(name)
    if "unavailable" not in c and head and not _count(c.get(head)):
        return f"has no whole-number {head}"
    for field, ok in _COUNTER_FIELDS.items():
        if field in c and not ok(c[field]):
            return f"{field} holds {str(c[field])[:40]!r}, not what a counter stores"
    return None


def _check_entry(e, path: Path, i: int) -> None:
    where = f"baseline {path}: entry {i + 1}"
    if not isinstance(e, dict) or not {"id", "params", "macs"} <= set(e):
        raise StoreError(f"{where} is malformed (needs id, params, macs); regenerate it with `resbench baseline`")
    if not isinstance(e["id"], str):
        raise StoreError(f"{where}: id must be a string, got {e['id']!r}; regenerate it")
    for k in ("params", "macs"):
        if not _count(e[k]):
            raise StoreError(f"{where} ({e['id']}): {k} must be a whole number >= 0, got {e[k]!r}; regenerate it")
    counters = e.get("counters")
    if counters is not None and not (isinstance(counters, dict) and all(isinstance(k, str) and isinstance(c, dict)
                                                                         for k, c in counters.items())):
        raise StoreError(f"{where} ({e['id']}): counters must map counter names to tables; regenerate it with `resbench baseline`")
    for name, c in (counters or {}).items():
        why = _counter_damage(name, c)
        if why:
            raise StoreError(f"{where} ({e['id']}): counter {name}: {why}; regenerate it with `resbench baseline`")
    t = e.get("timing")
    if t is None:
        return
    runs = t.get("runs") if isinstance(t, dict) else None
    ok = (isinstance(runs, list) and runs and all(isinstance(r, dict) and _positive(r.get("median_ms")) for r in runs)
          and _positive(t.get("median_ms")) and _positive(t.get("throughput")) and isinstance(t.get("env"), dict))
    if not ok:
        raise StoreError(f"{where} ({e['id']}): timing needs runs with positive finite median_ms, a median_ms, a throughput "
                         "and an env; regenerate it with `resbench baseline`")


def migrate_v1(doc: dict, path: Path) -> dict:
    """Schema 1 -> 2: a timed entry's pooled samples become its one run."""
    entries = []
    for i, e in enumerate(doc["entries"]):
        t = e.get("timing") if isinstance(e, dict) else None
        if isinstance(t, dict) and "runs" not in t:
            samples = t.get("samples_ms")
            if not (isinstance(samples, list) and samples and all(_positive(s) for s in samples)):
                raise StoreError(f"baseline {path}: entry {i + 1} has no positive finite samples_ms; regenerate it")
            t = {**t, "runs": [{"median_ms": t.get("median_ms"), "throughput": t.get("throughput"), "samples_ms": samples}]}
            e = {**e, "timing": t}
        entries.append(e)
    return {**doc, "schema": 2, "entries": entries, "single_run": True}


def read_baseline(path: str | Path, field: str = "baseline") -> dict:
    """A baseline file, read and checked; ``field`` says which input named it (baseline, current)."""
    path = Path(path)
    what = f"`{field}`"
    try:
        doc = json.loads(read_regular(path).decode("utf-8"))
    except IsADirectoryError:
        raise StoreError(f"{what} {path} is a folder, not a file") from None
    except OSError as e:
        raise StoreError(f"cannot read {what} {path}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise StoreError(f"{what} {path} is corrupt or truncated (not JSON: {e}); regenerate it with `resbench baseline`") from None
    except RecursionError:
        raise StoreError(f"{what} {path} is nested too deeply to be a baseline; regenerate it with `resbench baseline`") from None
    if not isinstance(doc, dict) or doc.get("kind") != "resbench-baseline" or not isinstance(doc.get("entries"), list):
        raise StoreError(f"{what} {path} is not a resbench baseline file (no kind/entries); regenerate it with `resbench baseline`")
    schema = doc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise StoreError(f"{what} {path} has schema {schema!r}: expected a whole number 1..{SCHEMA_VERSION}; "
                         "regenerate it with `resbench baseline`")
    if schema > SCHEMA_VERSION:
        raise StoreError(f"{what} {path} has schema version {schema}, newer than this resbench understands "
                         f"({SCHEMA_VERSION}); upgrade resbench")
    if schema == 1:
        doc = migrate_v1(doc, path)
    ids = set()
    for i, e in enumerate(doc["entries"]):
        _check_entry(e, path, i)
        if e["id"] in ids:
            raise StoreError(f"{what} {path} has entry {e['id']} twice; regenerate it with `resbench baseline`")
        ids.add(e["id"])
    return doc
