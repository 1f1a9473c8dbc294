"""Benchmark suites: a TOML file of entries, each a spec measured at one setting.

Every field is validated here (type, range, known key) before anything is measured,
so a typo in a suite is one line and exit 2, not a crash halfway through a CI job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from resbench import validate as v
from resbench.errors import UsageError
from resbench.measure.target import parse_target

TIMING_POLICIES = ("fail", "warn", "off")
COUNTERS = ("ops", "memory", "instructions", "kernels")  # resbench.measure.counters


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
    backoff: bool = True  # CUDA: halve the batch on out-of-memory (the measured batch is recorded)
    # Verdict settings for this entry (None: the command's --tolerance / --alpha / --rounds).
    tolerance: float | None = None
    alpha: float | None = None
    rounds: int | None = None  # independent runs (fresh processes) per side
    # Deterministic counters measured beside the wall time (resbench.measure.counters),
    # judged by resbench.check.counter_verdict whatever the timing policy.
    counters: tuple[str, ...] = ()
    instructions_tolerance: float | None = None  # relative; None: 1 %

    @property
    def id(self) -> str:
        if not self.timing:
            # params and MACs do not depend on device, dtype or batch; counters added to
            # such an entry keep its id, so its baseline still matches (they show as new)
            return self.spec
        return f"{self.spec} {self.device} {self.dtype} {self.mode} b{self.batch_size}" + (" nhwc" if self.channels_last else "")

    def to_dict(self) -> dict:
        return asdict(self)

    def measurement(self) -> dict:
        """What a measuring process needs (not the verdict settings): the fields that
        every resbench's check_worker understands, so an older --against REF can run it."""
        d = {k: v for k, v in asdict(self).items()
             if k not in ("tolerance", "alpha", "rounds", "backoff", "counters", "instructions_tolerance")}
        return d

    def counting(self) -> dict:
        """What the counters script needs: the step to count and the counters to take."""
        return {**{k: getattr(self, k) for k in ("spec", "device", "batch_size", "mode", "dtype", "channels_last")},
                "counters": list(self.counters)}


@dataclass(frozen=True)
class Suite:
    name: str
    timing_policy: str  # fail | warn (report, never fail: for shared, noisy runners) | off (do not time)
    entries: tuple[Entry, ...]


_FIELD_CHECKS = {
    "device": lambda x, n: v.text(x, n),
    "mode": lambda x, n: v.text(x, n, ("infer", "train")),
    "dtype": lambda x, n: v.text(x, n, ("fp32", "tf32", "fp16", "bf16")),
    "channels_last": v.boolean,
    "iters": lambda x, n: v.whole(x, n, 1, 100_000),
    "warmup": lambda x, n: v.whole(x, n, 0, 100_000),
    "min_time": lambda x, n: v.number(x, n, 0, 3600),
    "timing": v.boolean,
    "batch_size": lambda x, n: v.whole(x, n, 1, 1 << 20),
    "backoff": v.boolean,
    "tolerance": lambda x, n: v.number(x, n, 0, 10),
    "alpha": lambda x, n: v.number(x, n, 0, 1, lo_open=True, hi_open=True),
    "rounds": lambda x, n: v.whole(x, n, 1, 1000),
    "counters": lambda x, n: _counter_list(x, n),
    "instructions_tolerance": lambda x, n: v.number(x, n, 0, 10),
}


def _counter_list(x, name: str) -> tuple[str, ...]:
    if not isinstance(x, list) or not all(isinstance(c, str) for c in x):
        raise UsageError(f"{name} must be a list such as [\"ops\", \"memory\"], got {x!r}; counters: {', '.join(COUNTERS)}")
    unknown = [c for c in x if c not in COUNTERS]
    if unknown:
        raise UsageError(f"{name} has unknown counter(s) {', '.join(map(repr, unknown))}; expected some of {', '.join(COUNTERS)}")
    return tuple(dict.fromkeys(x))


def _entry_fields(raw: dict, where: str) -> dict:
    return {k: _FIELD_CHECKS[k](x, f"{where}: {k}") for k, x in raw.items() if k in _FIELD_CHECKS}


def _entries(raw, where: str, defaults: dict, allowed: set, policy: str) -> list[Entry]:
    """One [[entry]] table: an Entry per batch size, the suite's settings as its defaults."""
    v.table(raw, where)
    unknown = set(raw) - allowed
    if unknown:
        raise UsageError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(allowed))}")
    if "spec" not in raw:
        raise UsageError(f"{where} has no spec")
    fields = {**defaults, **_entry_fields(raw, where)}
    if "batch_sizes" in raw and "batch_size" in raw:
        raise UsageError(f"{where}: give batch_size or batch_sizes, not both")
    sizes = raw.get("batch_sizes", [fields.pop("batch_size", 1)])
    fields.pop("batch_size", None)
    if not isinstance(sizes, list) or not sizes:
        raise UsageError(f"{where}: batch_sizes must be a list of whole numbers like [1, 8], got {sizes!r}")
    sizes = [v.whole(b, f"{where}: batch_sizes", 1, 1 << 20) for b in sizes]
    fields["spec"] = parse_target(v.text(raw["spec"], f"{where}: spec")).name
    if policy == "off":
        fields["timing"] = False
    return [Entry(batch_size=bs, **fields) for bs in sizes]


def load_suite(path: str | Path) -> Suite:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        doc = tomllib.loads(v.read_text(path, "suite"))
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"suite {path} is not valid TOML: {e}") from None
    except RecursionError:
        raise UsageError(f"suite {path} is nested too deeply to be a suite; a suite is a [suite] table and [[entry]] tables") from None
    unknown_tables = sorted(set(doc) - {"suite", "entry"})
    if unknown_tables:
        raise UsageError(f"suite {path} has unknown top-level key(s) {', '.join(unknown_tables)}: a suite is a [suite] "
                         "table (its settings are every entry's defaults) and [[entry]] tables")
    head = v.table(doc.get("suite", {}), f"suite {path}: suite")
    unknown_head = set(head) - {"name", "timing", *_FIELD_CHECKS} - {"batch_size"}
    if unknown_head:
        raise UsageError(f"suite {path}: [suite] has unknown key(s) {', '.join(sorted(unknown_head))}; expected name, timing, "
                         f"{', '.join(k for k in _FIELD_CHECKS if k not in ('timing', 'batch_size'))}")
    policy = v.text(head.get("timing", "fail"), f"suite {path}: timing", TIMING_POLICIES)
    name = v.text(head.get("name", path.stem), f"suite {path}: name")
    defaults = _entry_fields({k: head[k] for k in ("device", "mode", "dtype", "channels_last", "iters", "warmup", "min_time",
                                                   "backoff", "tolerance", "alpha", "rounds", "counters",
                                                   "instructions_tolerance", "batch_size") if k in head},
                             f"suite {path} [suite]")
    allowed = set(Entry.__dataclass_fields__) | {"batch_sizes"}
    raw_entries = doc.get("entry", [])
    if not isinstance(raw_entries, list):
        raise UsageError(f"suite {path}: entry must be [[entry]] tables, got {raw_entries!r}")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_entries):
        for e in _entries(raw, f"suite {path} entry {i + 1}", defaults, allowed, policy):
            if e.id in seen:
                raise UsageError(f"suite {path} entry {i + 1} repeats entry {seen[e.id]} ({e.id}); remove one of them")
            seen[e.id] = i + 1
            entries.append(e)
    if not entries:
        raise UsageError(f"suite {path} has no [[entry]] tables")
    return Suite(name, policy, tuple(entries))
