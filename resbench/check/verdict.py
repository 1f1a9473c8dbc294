"""The verdicts: a pure function of two sets of measured entries.

Deterministic figures (params, MACs) are compared exactly and fail in both directions
(a drop is "changed", not "regressed"). Timings are a regression only when the
slowdown is beyond the tolerance AND significant by a one-sided Mann-Whitney U test
on the per-iteration samples (alpha 0.01): size and significance, as asv and
pytest-benchmark's careful users do. Pure, so it is tested on stored example data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resbench.errors import UsageError

ENV_KEYS = ("device_name", "torch", "threads")  # timings from different values are not comparable
DEFAULT_ALPHA = 0.01


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
