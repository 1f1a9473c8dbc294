"""The verdicts: a pure function of two sets of measured entries.

Deterministic figures (params, MACs) are compared exactly and fail in both directions
(a drop is "changed", not "regressed").

Counters (ops, memory, instructions, CUDA kernels) are judged by their own rules in
resbench.check.counter_verdict, whatever the suite's timing policy: they do not depend
on how busy the machine is.

Timings are judged on runs, not iterations. A run is a fresh process measuring the
entry (benchmarks/check_runs.py: between-process spread is what separates a baseline
from a later check, and it is larger than the spread of iterations within one run, so
a test on pooled iterations calls identical code "regressed"). Each side has R runs;
the statistic is each run's median latency. An entry has regressed when

  * the ratio of the geometric means of run medians (current / baseline) exceeds
    1 + max(tolerance, k x noise floor), where the noise floor is the baseline's own
    between-run spread (sample std of log run medians), k = 2; and
  * a one-sided two-sample t-test on the log run medians (equal variances: both sides
    are the same measurement) gives p < alpha.

benchmarks/check_reliability.py simulates this rule with between-run noise: false
alarms <= 1 % at 5 / 10 / 20 % between-run noise, and the detection rate of a 20 %
slowdown per noise level and number of runs (results/benchmarks/check_reliability.txt).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from resbench.measure.busy import CONTENTION_WARN
from resbench.check.counter_verdict import DEFAULT_INSTRUCTIONS_TOLERANCE, CounterVerdict, counter_verdicts
from resbench.errors import ConfigError

ENV_KEYS = ("device_name", "torch", "threads")  # timings from different values are not comparable
DEFAULT_ALPHA = 0.01
DEFAULT_TOLERANCE = 0.10
DEFAULT_ROUNDS = 5
NOISE_K = 2.0  # a slowdown must exceed this many baseline between-run standard deviations
NOISY_FLOOR = 0.05  # a between-run spread above this marks the entry noisy in the report


@dataclass(frozen=True)
class Row:
    entry: str
    metric: str  # params | macs | ops | memory | instructions | kernels | latency | throughput | environment | batch | entry
    baseline: float | str | None
    current: float | str | None
    ratio: float | None
    p_value: float | None
    verdict: str  # same | changed | ok | regressed | improved | unknown | not compared | new | removed | info
    fails: bool  # counts towards the exit code
    note: str = ""
    noise_floor: float | None = None  # latency rows: the baseline's between-run spread (relative)
    threshold: float | None = None  # latency rows: the slowdown that counts, max(tolerance, k x noise floor)
    runs: tuple[int, int] | None = None  # latency rows: (baseline runs, current runs)
    contention: float | None = None  # latency rows: the most of the cores other processes used on either side


@dataclass(frozen=True)
class Outcome:
    rows: tuple[Row, ...]
    exit_code: int  # 0 ok, 1 regression / unapproved complexity change, 3 environment mismatch, 5 batch mismatch
    proposed: list = field(default_factory=list)  # the current entries: the proposed new baseline
    counters: dict = field(default_factory=dict)  # entry id -> {counter name: CounterVerdict}

    @property
    def timing_regressions(self) -> list[str]:
        return sorted({r.entry for r in self.rows if r.metric == "latency" and r.verdict == "regressed" and r.fails})


@dataclass(frozen=True)
class TimingVerdict:
    ratio: float  # geometric mean of current run medians / baseline's
    p_value: float | None
    noise_floor: float | None  # std of the baseline's log run medians (None with one run)
    threshold: float  # the relative change that counts
    verdict: str  # ok | regressed | improved | unknown (fewer than 2 runs on a side)


def run_medians(timing: dict) -> list[float]:
    return [r["median_ms"] for r in timing["runs"]]


def _t_test(lb: np.ndarray, lc: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """mean(lc) - mean(lb), its pooled-variance t statistic and the degrees of freedom, row
    by row (the last axis holds the runs' log medians)."""
    n1, n2 = lb.shape[-1], lc.shape[-1]
    pooled = np.sqrt(((n1 - 1) * lb.var(-1, ddof=1) + (n2 - 1) * lc.var(-1, ddof=1)) / (n1 + n2 - 2))
    diff = lc.mean(-1) - lb.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return diff, diff / (pooled * math.sqrt(1 / n1 + 1 / n2)), n1 + n2 - 2


def _threshold(lb: np.ndarray, tolerance: float, k: float) -> np.ndarray:
    """The relative change that counts: the tolerance, or k baseline run spreads if wider."""
    return np.maximum(tolerance, k * lb.std(-1, ddof=1))


def _counts(diff, threshold, p, alpha: float):
    """The rule: a change counts when it is beyond the threshold and significant."""
    return (np.exp(np.abs(diff)) > 1 + threshold) & (p < alpha)


def timing_verdict(base: list[float], cur: list[float], tolerance: float = DEFAULT_TOLERANCE,
                   alpha: float = DEFAULT_ALPHA, k: float = NOISE_K) -> TimingVerdict:
    """Judge run medians (ms) of the baseline and the current code; see the module doc."""
    from scipy import stats

    lb, lc = np.log(np.asarray(base, float)), np.log(np.asarray(cur, float))
    ratio = float(math.exp(lc.mean() - lb.mean()))
    if len(lb) < 2 or len(lc) < 2:
        return TimingVerdict(ratio, None, None, tolerance, "unknown")
    floor = float(lb.std(ddof=1))
    threshold = float(_threshold(lb, tolerance, k))
    diff, t, df = _t_test(lb, lc)
    slower = diff >= 0
    if lb.std() + lc.std() == 0:  # identical runs (simulated or quantised): the t-test is undefined; size decides
        p = 0.0 if diff != 0 else 1.0
    else:
        p = float(stats.t.sf(t, df) if slower else stats.t.cdf(t, df))
    verdict = ("regressed" if slower else "improved") if _counts(diff, threshold, p, alpha) else "ok"
    return TimingVerdict(ratio, p, floor, threshold, verdict)


DETECT_POWER = 0.8  # the share of runs in which the detectable slowdown is caught
DETECT_REPLICATES = 4000


def detectable_slowdown(noise_floor: float | None, runs: tuple[int, int], tolerance: float = DEFAULT_TOLERANCE,
                        alpha: float = DEFAULT_ALPHA) -> float | None:
    """The smallest slowdown (relative) that ``timing_verdict`` calls a regression in
    ``DETECT_POWER`` of checks, when run medians spread as ``noise_floor`` (log sd) with
    ``runs`` (baseline, current) runs. Simulated with the rule itself (the same t-test,
    threshold and rule, drawn per replicate from its own baseline spread). Seeded, so the
    same inputs give the same figure. None with fewer than two runs on a side or no spread."""
    from scipy import stats

    n1, n2 = runs
    if noise_floor is None or not noise_floor > 0 or n1 < 2 or n2 < 2:
        return None
    rng = np.random.default_rng(0)
    lb = rng.standard_normal((DETECT_REPLICATES, n1)) * noise_floor
    noise_c = rng.standard_normal((DETECT_REPLICATES, n2)) * noise_floor
    threshold = _threshold(lb, tolerance, NOISE_K)

    def caught(d: float) -> float:
        diff, t, df = _t_test(lb, noise_c + d)
        return float(np.mean((diff >= 0) & _counts(diff, threshold, stats.t.sf(t, df), alpha)))

    lo, hi = 0.0, math.log1p(tolerance) + noise_floor
    while caught(hi) < DETECT_POWER:
        lo, hi = hi, 2 * hi
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if caught(mid) < DETECT_POWER else (lo, mid)
    return math.expm1(hi)


def _timing_rows(eid: str, bt: dict, ct: dict, tolerance: float, alpha: float, warn_only: bool) -> list[Row]:
    tv = timing_verdict(run_medians(bt), run_medians(ct), tolerance, alpha)
    fails = tv.verdict == "regressed" and not warn_only
    notes = []
    if warn_only and tv.verdict == "regressed":
        notes.append("warn only (suite timing = warn)")
    if tv.verdict == "unknown":
        notes.append("single-run baseline: no between-run spread to judge by; renew it with `resbench baseline`")
    runs = (len(bt["runs"]), len(ct["runs"]))
    if tv.noise_floor is not None and tv.noise_floor > NOISY_FLOOR:
        seen = detectable_slowdown(tv.noise_floor, runs, tolerance, alpha)
        notes.append(f"noisy: runs spread {tv.noise_floor:.0%}; only a change beyond {tv.threshold:.0%} counts"
                     + (f", and a slowdown is caught {100 * DETECT_POWER:.0f} % of the time from {seen:.0%}" if seen is not None else ""))
    if bt.get("launch_bound") or ct.get("launch_bound"):
        notes.append("launch-bound (GPU idle most of the step): noisy; try `cuda_graphs=True`")
    shares = [t["contention"] for t in (bt, ct) if isinstance(t.get("contention"), (int, float))]
    for side, t in (("baseline", bt), ("current", ct)):
        busy = t.get("contention")
        if isinstance(busy, (int, float)) and busy > CONTENTION_WARN:
            notes.append(f"the {side} was timed while other processes used {busy:.0%} of the cores: its wall time is not this machine's")
    return [
        Row(eid, "latency", bt["median_ms"], ct["median_ms"], tv.ratio, tv.p_value, tv.verdict, fails, "; ".join(notes),
            tv.noise_floor, tv.threshold, runs, max(shares, default=None)),
        Row(eid, "throughput", bt["throughput"], ct["throughput"], ct["throughput"] / bt["throughput"], None, "info", False),
    ]


def compare_entries(baseline: list[dict], current: list[dict], *, tolerance: float = DEFAULT_TOLERANCE,
                    alpha: float = DEFAULT_ALPHA, allow_complexity_change: bool = False, allow_env_mismatch: bool = False,
                    timing_policy: str = "fail", settings: dict[str, dict] | None = None) -> Outcome:
    """``settings``: per entry id, {"tolerance", "alpha"} overriding the defaults (from the suite)."""
    if tolerance < 0:
        raise ConfigError("tolerance", f"must be >= 0, got {tolerance}")
    settings = settings or {}
    base = {e["id"]: e for e in baseline}
    rows: list[Row] = []
    counters: dict[str, dict[str, CounterVerdict]] = {}
    env_mismatch = batch_mismatch = regressed = False
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
        own = settings.get(cur["id"], {})
        verdicts = counter_verdicts(b.get("counters"), cur.get("counters"),
                                    instructions_tolerance=own.get("instructions_tolerance", DEFAULT_INSTRUCTIONS_TOLERANCE))
        if verdicts:
            counters[cur["id"]] = {cv.counter: cv for cv in verdicts}
        for cv in verdicts:
            regressed |= cv.fails
            rows.append(_counter_row(cur["id"], cv))
        bt, ct = b.get("timing"), cur.get("timing")
        if not bt or not ct or timing_policy == "off":
            continue
        warn_only = timing_policy == "warn"
        diffs = [k for k in ENV_KEYS if bt["env"].get(k) != ct["env"].get(k)]
        if diffs and not allow_env_mismatch:
            env_mismatch |= not warn_only
            rows.append(Row(cur["id"], "environment", ", ".join(f"{k}={bt['env'].get(k)}" for k in diffs),
                            ", ".join(f"{k}={ct['env'].get(k)}" for k in diffs), None, None, "not compared", not warn_only,
                            "timings from another environment are not comparable (`allow_env_mismatch=True` to compare anyway)"))
            continue
        if bt.get("batch_size") != ct.get("batch_size"):
            batch_mismatch |= not warn_only
            rows.append(Row(cur["id"], "batch", bt.get("batch_size"), ct.get("batch_size"), None, None, "not compared",
                            not warn_only, "measured at another batch size (CUDA out-of-memory back-off): latencies are not "
                            "comparable; free memory or use `backoff=False` on both sides"))
            continue
        new_rows = _timing_rows(cur["id"], bt, ct, own.get("tolerance", tolerance), own.get("alpha", alpha), warn_only)
        regressed |= new_rows[0].fails
        rows += new_rows
    for gone in base:
        rows.append(Row(gone, "entry", None, None, None, None, "removed", False, "in the baseline, not in the suite"))
    code = 1 if regressed else (5 if batch_mismatch else (3 if env_mismatch else 0))
    return Outcome(tuple(rows), code, proposed=list(current), counters=counters)


def _counter_row(eid: str, cv: CounterVerdict) -> Row:
    ratio = 1 + cv.relative_change if cv.relative_change is not None else None
    note = "; ".join([*cv.differences, cv.note] if cv.note else cv.differences)
    return Row(eid, cv.counter, cv.baseline, cv.current, ratio, None, cv.verdict, cv.fails, note)


def merge_confirmation(first: list[dict], rerun: dict[str, dict]) -> list[dict]:
    """Replace the timings of re-measured entries (the --confirm pass) by the rerun's."""
    return [{**rerun[e["id"]], **({"counters": e["counters"]} if "counters" in e else {})} if e["id"] in rerun else e
            for e in first]
