"""Verdicts on the deterministic counters (resbench.measure.counters): a pure function
of a baseline's and the current code's counters for one entry.

Each counter has its own rule:

* ``ops`` and ``kernels`` are exact: any change is reported. It is a regression when it
  adds work (more ops or kernels, more FLOPs) and an improvement when it only removes
  work; a change that does neither (an op swapped for another) is "changed" and passes.
  The report names the largest differences: ``+1 aten::mul (8,16,32,32)float32 in layer1.0``.
* ``memory`` is exact: more bytes allocated (total or peak) is a regression.
* ``instructions`` counts under callgrind vary by about 1e-4 between repeats (Python's
  allocator, hash seeds): a relative tolerance, 1 % unless the suite says otherwise.

A counter the baseline lacks (a baseline made before it was asked for) is "new" and
never fails; one the device cannot give is "unavailable" and never fails; one counted
under another torch, Python or CPU than the baseline's (each counter records what it
depends on) is "not compared" and never fails: measure both sides on one runner with
`check --against REF` instead.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

DEFAULT_INSTRUCTIONS_TOLERANCE = 0.01
TOP_DIFFERENCES = 5


@dataclass(frozen=True)
class CounterVerdict:
    counter: str  # ops | memory | instructions | kernels
    baseline: float | None  # the counter's headline figure (ops, bytes, instructions, kernels)
    current: float | None
    relative_change: float | None  # current / baseline - 1
    verdict: str  # same | ok | changed | regressed | improved | new | unavailable | not measured
    fails: bool
    differences: tuple[str, ...] = ()  # the largest op / kernel differences, or what else moved
    note: str = ""

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "current": self.current, "relative_change": self.relative_change,
                "verdict": self.verdict, "fails": self.fails, "differences": list(self.differences), "note": self.note}


HEADLINE = {"ops": "count", "memory": "total_bytes", "instructions": "count", "kernels": "count"}


def _relative(b, c) -> float | None:
    return (c / b - 1) if b else None


def _detail_differences(base: dict, cur: dict) -> list[str]:
    """The largest differences between two {key: count} maps, as readable lines."""
    delta = collections.Counter(cur)
    delta.subtract(collections.Counter(base))
    moved = sorted(((k, n) for k, n in delta.items() if n), key=lambda kn: (-abs(kn[1]), kn[0]))
    lines = []
    for key, n in moved[:TOP_DIFFERENCES]:
        parts = key.split(" | ")
        if len(parts) == 3:  # scope | op | signature
            scope, op, sig = parts
            lines.append(f"{n:+d} {op} {sig} in {scope}".replace("  ", " "))
        else:
            lines.append(f"{n:+d} {key}")
    if len(moved) > TOP_DIFFERENCES:
        lines.append(f"... and {len(moved) - TOP_DIFFERENCES} more")
    return lines


def _exact(name: str, b: dict, c: dict, work_keys: tuple[str, ...]) -> CounterVerdict:
    head = HEADLINE[name]
    diffs = _detail_differences(b.get("detail", {}), c.get("detail", {})) if "detail" in b and "detail" in c else []
    moved = {k: (b.get(k), c.get(k)) for k in work_keys if b.get(k) != c.get(k)}
    rel = _relative(b[head], c[head])
    if not diffs and not moved:
        return CounterVerdict(name, b[head], c[head], rel, "same", False)
    more = any(cv is not None and bv is not None and cv > bv for bv, cv in moved.values())
    less = any(cv is not None and bv is not None and cv < bv for bv, cv in moved.values())
    note = "; ".join(f"{k} {bv:,} -> {cv:,}" for k, (bv, cv) in moved.items() if bv is not None and cv is not None)
    verdict = "regressed" if more else ("improved" if less else "changed")
    return CounterVerdict(name, b[head], c[head], rel, verdict, verdict == "regressed", tuple(diffs), note)


def _instructions(b: dict, c: dict, tolerance: float) -> CounterVerdict:
    rel = _relative(b["count"], c["count"])
    spread = max(b.get("spread") or 0.0, c.get("spread") or 0.0)
    note = f"repeat spread {spread:.1e}; tolerance {tolerance:.1%}"
    if rel is None:
        return CounterVerdict("instructions", b["count"], c["count"], None, "changed", False, note=note)
    verdict = "regressed" if rel > tolerance else ("improved" if rel < -tolerance else "ok")
    return CounterVerdict("instructions", b["count"], c["count"], rel, verdict, verdict == "regressed", note=note)


def counter_verdicts(base: dict | None, cur: dict | None, *,
                     instructions_tolerance: float = DEFAULT_INSTRUCTIONS_TOLERANCE) -> list[CounterVerdict]:
    """One verdict per counter the current code measured (or the baseline holds)."""
    base, cur = base or {}, cur or {}
    out = []
    for name in [n for n in HEADLINE if n in cur or n in base]:
        b, c = base.get(name), cur.get(name)
        if c is None:
            out.append(CounterVerdict(name, None, None, None, "not measured", False, note="in the baseline, not asked for now"))
        elif "unavailable" in c or (b is not None and "unavailable" in b):
            why = c.get("unavailable") or b.get("unavailable")
            out.append(CounterVerdict(name, None, None, None, "unavailable", False, note=why))
        elif b is None:
            out.append(CounterVerdict(name, None, c[HEADLINE[name]], None, "new", False,
                                      note="not in the baseline: renew it with `resbench baseline` to compare"))
        elif (b.get("env") or {}) != (c.get("env") or {}):
            be, ce = b.get("env") or {}, c.get("env") or {}
            diff = ", ".join(f"{k} {be.get(k)} vs {ce.get(k)}" for k in sorted(set(be) | set(ce)) if be.get(k) != ce.get(k))
            out.append(CounterVerdict(name, b[HEADLINE[name]], c[HEADLINE[name]], _relative(b[HEADLINE[name]], c[HEADLINE[name]]),
                                      "not compared", False, note=f"counted elsewhere ({diff}); use `against` on one runner"))
        elif name == "ops":
            out.append(_exact(name, b, c, ("count", "flops")))
        elif name == "kernels":
            out.append(_exact(name, b, c, ("count",)))
        elif name == "memory":
            out.append(_exact(name, b, c, ("total_bytes", "peak_bytes")))
        else:
            out.append(_instructions(b, c, instructions_tolerance))
    return out
