"""Records -> pandas DataFrames (the only place besides stats/store that needs pandas)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from resbench.errors import ConfigError, UsageError
from resbench.store import Store


def profile_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per profile result; nested latency flattened, samples and env left out."""
    flat = []
    for r in rows:
        d = {k: v for k, v in r.items() if k not in ("samples_ms", "env", "latency_ms", "alt_layout", "phases_ms", "notes",
                                                     "breakdown", "trace")}
        for s in r.get("breakdown") or ():
            d[f"{s['name']}_ms"] = s["median_ms"]
        d.update({f"latency_{k}_ms": v for k, v in r["latency_ms"].items()})
        for k, v in (r.get("phases_ms") or {}).items():
            d[f"{k}_ms"] = v
        d["torch"] = r.get("env", {}).get("torch")
        flat.append(d)
    return pd.DataFrame(flat)


def records_frame(records) -> pd.DataFrame:
    """Stored records of any kind (``store.Record``), one row each: id, kind, key, created,
    config and scalar results."""
    flat = []
    for rec in records:
        d = {"id": rec.id, "kind": rec.kind, "key": rec.key, "created": rec.created}
        # Records come from users' disks and other versions: a value of an unexpected type
        # is shown as text, never trusted to be what its name promises.
        d.update({k: _scalar(v) for k, v in rec.config.items()})
        for k, v in rec.result.items():
            if isinstance(v, (int, float, str, bool)) or v is None:
                d.setdefault(k, v)
            elif k == "latency_ms" and isinstance(v, dict):
                d.update({f"latency_{m}_ms": _scalar(x) for m, x in v.items()})
        env = rec.env
        d["device_name"] = _text(env.get("device_name"))
        d["torch"] = _text(env.get("torch"))
        d["git_commit"] = (_text(env.get("git_commit")) or "")[:10] or None
        flat.append(d)
    return pd.DataFrame(flat)


def _scalar(v):
    return v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v, default=str)[:200]


def _text(v) -> str | None:
    return None if v is None else v if isinstance(v, str) else json.dumps(v, default=str)[:200]


def latest_per_key(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per (kind, configuration key): the newest. Returns it and how many older
    duplicates were dropped (two runs of one cell, e.g. concurrent sweeps before locking).
    Profile records are repeated measurements by design and are all kept."""
    if df.empty or "key" not in df.columns:
        return df, 0
    repeatable = df["kind"] == "profile"
    once = df[~repeatable].sort_values("created").drop_duplicates(subset=["kind", "key"], keep="last")
    kept = pd.concat([df[repeatable], once]).sort_values("created")
    return kept, len(df) - len(kept)


@dataclass(frozen=True)
class RecordQuery:
    frame: pd.DataFrame
    records_dir: object  # Path
    problems: list  # one line per unreadable record file
    duplicates: int  # older records of the same configuration left out


def _parse_filters(filters: list[str]) -> list[tuple[str, str]]:
    out = []
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq or not key:
            raise ConfigError("filters", f"takes key=value, e.g. `filters=['spec=resnet50']`; got {f!r}")
        out.append((key, value))
    return out


def _apply_filters(df: pd.DataFrame, filters: list[str]) -> pd.DataFrame:
    for key, value in _parse_filters(filters):
        if key not in df.columns:
            raise ConfigError("filters", f"{key!r} names no column; columns are {', '.join(map(str, df.columns))}")
        df = df[df[key].astype(str) == value]
    return df


def query_records(results_dir, kind: str | None, filters: list[str], dedupe: bool = True) -> RecordQuery:
    """The records of a results folder as one frame, filtered, one per configuration."""
    _parse_filters(filters)  # a malformed filter is an error even when there is nothing to filter
    store = Store(results_dir)
    records, problems = store.load(kind)
    df = records_frame(records)
    dropped = 0
    if not df.empty:
        if dedupe:
            df, dropped = latest_per_key(df)
        df = _apply_filters(df, filters)
    return RecordQuery(df, store.records_dir, problems, dropped)


def scatter_points(results_dir, kind: str | None, filters: list[str], x: str, y: str, label: str | None) -> pd.DataFrame:
    """Rows with numeric x and y, for `resbench plot`."""
    q = query_records(results_dir, kind, filters)
    df = q.frame
    if df.empty and not filters:
        if kind:
            raise UsageError(f"no records of kind {kind!r} under {q.records_dir} to plot (`kind` chooses one: profile, train, ...)")
        raise UsageError(f"no records under {q.records_dir} to plot; run resbench train, compare, profile (with `save=True`) or search first")
    for field, col in (("x", x), ("y", y), ("label", label)):
        if col is not None and col not in df.columns:
            raise ConfigError(field, f"{col!r} is no column of the records; columns are {', '.join(map(str, df.columns))}")
    points = df.assign(**{x: pd.to_numeric(df[x], errors="coerce"), y: pd.to_numeric(df[y], errors="coerce")}).dropna(subset=[x, y])
    if points.empty:
        raise UsageError(f"no record has numeric {x} and {y}" + (" after the filters" if filters else ""))
    return points
