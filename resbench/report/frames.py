"""Records -> pandas DataFrames (the only place besides stats/store that needs pandas)."""

from __future__ import annotations

import pandas as pd


def profile_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per profile result; nested latency flattened, samples and env left out."""
    flat = []
    for r in rows:
        d = {k: v for k, v in r.items() if k not in ("samples_ms", "env", "latency_ms", "alt_layout", "phases_ms", "notes")}
        d.update({f"latency_{k}_ms": v for k, v in r["latency_ms"].items()})
        for k, v in (r.get("phases_ms") or {}).items():
            d[f"{k}_ms"] = v
        d["torch"] = r.get("env", {}).get("torch")
        flat.append(d)
    return pd.DataFrame(flat)


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Stored records of any kind, one row each: id, kind, created, config and scalar results."""
    flat = []
    for rec in records:
        d = {"id": rec["id"], "kind": rec["kind"], "created": rec["created"]}
        d.update(rec.get("config", {}))
        result = rec.get("result", {})
        for k, v in result.items():
            if isinstance(v, (int, float, str, bool)) or v is None:
                d.setdefault(k, v)
            elif k == "latency_ms" and isinstance(v, dict):
                d.update({f"latency_{m}_ms": x for m, x in v.items()})
        env = rec.get("env", {})
        d["device_name"] = env.get("device_name")
        d["torch"] = env.get("torch")
        d["git_commit"] = (env.get("git_commit") or "")[:10] or None
        flat.append(d)
    return pd.DataFrame(flat)
