"""Performance-regression checks: suites, baselines, and the verdict logic.

Deterministic figures (params, MACs) are compared exactly and fail in both directions
(a drop is "changed", not "regressed"). Timings are a regression only when the
slowdown is beyond the tolerance AND significant by a one-sided Mann-Whitney U test
on the per-iteration samples (alpha 0.01): size and significance, as asv and
pytest-benchmark's careful users do. The comparison is a pure function of two sets
of entries, so it is tested on stored example data.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from resbench.errors import StoreError, UsageError

SCHEMA_VERSION = 1
ENV_KEYS = ("device_name", "torch", "threads")  # timings from different values are not comparable
TIMING_POLICIES = ("fail", "warn", "off")
DEFAULT_ALPHA = 0.01


# --- suites ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    spec: str  # canonical spec string
    device: str = "cpu"
    batch_size: int = 1
    mode: str = "infer"
    dtype: str = "fp32"
    channels_last: bool = False
    iters: int = 30
    warmup: int = 3
    min_time: float = 0.0
    timing: bool = True  # False: params and MACs only

    @property
    def id(self) -> str:
        if not self.timing:
            return self.spec  # params and MACs do not depend on device, dtype or batch
        return f"{self.spec} {self.device} {self.dtype} {self.mode} b{self.batch_size}" + (" nhwc" if self.channels_last else "")

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class Suite:
    name: str
    timing_policy: str  # fail | warn (report, never fail: for shared, noisy runners) | off (do not time)
    entries: tuple[Entry, ...]


def load_suite(path: str | Path) -> Suite:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    from resbench.spec import parse_spec

    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read suite {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"suite {path} is not valid TOML: {e}") from None
    head = doc.get("suite", {})
    policy = head.get("timing", "fail")
    if policy not in TIMING_POLICIES:
        raise UsageError(f"suite {path}: timing = {policy!r}; expected fail, warn or off")
    defaults = {k: head[k] for k in ("device", "mode", "dtype", "channels_last", "iters", "warmup", "min_time") if k in head}
    allowed = set(Entry.__dataclass_fields__) | {"batch_sizes"}
    entries = []
    for i, raw in enumerate(doc.get("entry", [])):
        unknown = set(raw) - allowed
        if unknown:
            raise UsageError(f"suite {path}: entry {i + 1} has unknown key(s) {', '.join(sorted(unknown))}; "
                             f"expected {', '.join(sorted(allowed))}")
        if "spec" not in raw:
            raise UsageError(f"suite {path}: entry {i + 1} has no spec")
        raw = {**defaults, **raw}
        sizes = raw.pop("batch_sizes", None) or [raw.pop("batch_size", 1)]
        raw.pop("batch_size", None)
        raw["spec"] = parse_spec(raw["spec"]).name
        if policy == "off":
            raw["timing"] = False
        for bs in sizes:
            entries.append(Entry(batch_size=int(bs), **raw))
    if not entries:
        raise UsageError(f"suite {path} has no [[entry]] tables")
    return Suite(head.get("name", path.stem), policy, tuple(entries))


# --- measuring a suite -------------------------------------------------------------------


def measure_entry(entry: Entry) -> dict:
    """Params/MACs with fvcore on the built model (so a change to the builder shows up),
    plus per-iteration timings unless the entry is complexity-only."""
    from resbench.measure.complexity import count_complexity
    from resbench.measure.timing import ProfileConfig, profile
    from resbench.spec import parse_spec

    spec = parse_spec(entry.spec)
    c = count_complexity(spec)
    out = {"id": entry.id, "entry": entry.to_dict(), "params": c.params, "macs": c.macs, "timing": None}
    if entry.timing:
        r = profile(spec, ProfileConfig(device=entry.device, batch_size=entry.batch_size, mode=entry.mode, dtype=entry.dtype,
                                        channels_last=entry.channels_last, warmup=entry.warmup, iters=entry.iters,
                                        min_time=entry.min_time, compare_layouts=False))
        out["timing"] = {"samples_ms": list(r.samples_ms), "median_ms": r.latency.median, "throughput": r.throughput,
                         "batch_size": r.batch_size, "env": {k: r.env.get(k) for k in ENV_KEYS + ("device", "cuda", "cpu")}}
    return out


def baseline_document(suite: Suite, results: list[dict], env: dict) -> dict:
    return {"schema": SCHEMA_VERSION, "kind": "resbench-baseline", "suite": suite.name,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "env": env, "entries": results}


def read_baseline(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise StoreError(f"cannot read baseline {path}: {e.strerror}") from None
    except ValueError as e:
        raise StoreError(f"baseline {path} is corrupt or truncated (not JSON: {e}); regenerate it with `resbench baseline`") from None
    if not isinstance(doc, dict) or doc.get("kind") != "resbench-baseline" or not isinstance(doc.get("entries"), list):
        raise StoreError(f"{path} is not a resbench baseline file (no kind/entries); regenerate it with `resbench baseline`")
    if not isinstance(doc.get("schema"), int) or doc["schema"] > SCHEMA_VERSION:
        raise StoreError(f"baseline {path} has schema version {doc.get('schema')}, newer than this resbench understands "
                         f"({SCHEMA_VERSION}); upgrade resbench")
    for e in doc["entries"]:
        if not isinstance(e, dict) or not {"id", "params", "macs"} <= set(e):
            raise StoreError(f"baseline {path} has a malformed entry (needs id, params, macs); regenerate it")
    return doc


# --- the verdicts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    entry: str
    metric: str  # params | macs | latency | throughput | environment | entry
    baseline: float | str | None
    current: float | str | None
    ratio: float | None
    p_value: float | None
    verdict: str  # same | changed | ok | regressed | improved | not compared | new | removed
    fails: bool  # counts towards the exit code
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    rows: tuple[Row, ...]
    exit_code: int  # 0 ok, 1 regression / unapproved complexity change, 3 environment mismatch
    proposed: list = field(default_factory=list)  # the current entries: the proposed new baseline

    @property
    def timing_regressions(self) -> list[str]:
        return sorted({r.entry for r in self.rows if r.metric == "latency" and r.verdict == "regressed" and r.fails})


def timing_verdict(base: list[float], cur: list[float], tolerance: float, alpha: float = DEFAULT_ALPHA) -> tuple[float, float, str]:
    """(ratio of medians current/baseline, one-sided p-value, verdict)."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    ratio = float(np.median(cur) / np.median(base))
    if ratio >= 1:
        p = float(mannwhitneyu(cur, base, alternative="greater").pvalue)
        return ratio, p, "regressed" if ratio > 1 + tolerance and p < alpha else "ok"
    p = float(mannwhitneyu(cur, base, alternative="less").pvalue)
    return ratio, p, "improved" if ratio < 1 / (1 + tolerance) and p < alpha else "ok"


def compare_entries(baseline: list[dict], current: list[dict], *, tolerance: float = 0.10, alpha: float = DEFAULT_ALPHA,
                    allow_complexity_change: bool = False, allow_env_mismatch: bool = False,
                    timing_policy: str = "fail") -> Outcome:
    if tolerance < 0:
        raise UsageError(f"--tolerance must be >= 0, got {tolerance}")
    base = {e["id"]: e for e in baseline}
    rows: list[Row] = []
    env_mismatch = False
    regressed = False
    for cur in current:
        b = base.pop(cur["id"], None)
        if b is None:
            rows.append(Row(cur["id"], "entry", None, None, None, None, "new", False, "not in the baseline"))
            continue
        for metric in ("params", "macs"):
            same = b[metric] == cur[metric]
            fails = not same and not allow_complexity_change
            regressed |= fails
            rows.append(Row(cur["id"], metric, b[metric], cur[metric], cur[metric] / b[metric] if b[metric] else None, None,
                            "same" if same else "changed", fails,
                            "" if same else f"{cur[metric] - b[metric]:+,}" + (" (allowed)" if allow_complexity_change else "")))
        bt, ct = b.get("timing"), cur.get("timing")
        if not bt or not ct or timing_policy == "off":
            continue
        warn_only = timing_policy == "warn"
        diffs = [k for k in ENV_KEYS if bt["env"].get(k) != ct["env"].get(k)]
        if diffs and not allow_env_mismatch:
            env_mismatch |= not warn_only
            rows.append(Row(cur["id"], "environment", ", ".join(f"{k}={bt['env'].get(k)}" for k in diffs),
                            ", ".join(f"{k}={ct['env'].get(k)}" for k in diffs), None, None, "not compared", not warn_only,
                            "timings from another environment are not comparable (--allow-env-mismatch to compare anyway)"))
            continue
        ratio, p, verdict = timing_verdict(bt["samples_ms"], ct["samples_ms"], tolerance, alpha)
        fails = verdict == "regressed" and not warn_only
        regressed |= fails
        note = "warn only (suite timing = warn)" if warn_only and verdict == "regressed" else ""
        rows.append(Row(cur["id"], "latency", bt["median_ms"], ct["median_ms"], ratio, p, verdict, fails, note))
        rows.append(Row(cur["id"], "throughput", bt["throughput"], ct["throughput"], ct["throughput"] / bt["throughput"], None,
                        "info", False))
    for gone in base:
        rows.append(Row(gone, "entry", None, None, None, None, "removed", False, "in the baseline, not in the suite"))
    code = 1 if regressed else (3 if env_mismatch else 0)
    return Outcome(tuple(rows), code, proposed=list(current))


def merge_confirmation(first: list[dict], rerun: dict[str, dict]) -> list[dict]:
    """Replace the timings of re-measured entries (the --confirm pass) by the rerun's."""
    return [rerun.get(e["id"], e) for e in first]
