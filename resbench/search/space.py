"""The search space: which specs a search may propose, and the hard constraints on them.

A space is a box over the spec grammar's dimensions (family, block, number of stages,
blocks in each stage, first-stage width, shortcut option incl. plain, bottleneck stride
placement). Analytic constraints (MACs, params) are applied *before* sampling where
they can be: a categorical value none of whose candidates can satisfy them is dropped,
and each stage's block range is capped at the most that any candidate can afford. So
the sampler rarely proposes what cannot be trained, and an empty space is an error that
names the smallest candidate there is. Measured constraints (latency, memory) are
checked per candidate.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace

from resbench.errors import ConfigError, UsageError
from resbench.cost import analytic_complexity
from resbench.format import si
from resbench.spec import FAMILY_DEFAULTS, NetSpec
from resbench.validate import count as parse_count, read_text

SHORTCUT_CHOICES = ("A", "B", "C", "plain")
DEFAULT_STAGES = {"cifar": 3, "imagenet": 4}


@dataclass(frozen=True)
class Constraints:
    max_macs: int | None = None
    max_params: int | None = None
    max_latency_ms: float | None = None
    max_memory: int | None = None  # bytes, peak device memory of one inference batch

    @property
    def measured(self) -> bool:
        return self.max_latency_ms is not None or self.max_memory is not None

    def analytic_violation(self, macs: int, params: int) -> str | None:
        if self.max_macs is not None and macs > self.max_macs:
            return f"{si(macs, 'MACs')} > `max_macs={_typed(self.max_macs)}`"
        if self.max_params is not None and params > self.max_params:
            return f"{si(params)} params > `max_params={_typed(self.max_params)}`"
        return None

    def measured_violation(self, latency_ms: float | None, memory: int | None) -> str | None:
        if self.max_latency_ms is not None and latency_ms is not None and latency_ms > self.max_latency_ms:
            return f"latency {latency_ms:.2f} ms > `max_latency_ms={self.max_latency_ms:g}`"
        if self.max_memory is not None and memory is not None and memory > self.max_memory:
            return f"peak memory {si(memory, 'B')} > `max_memory={_typed(self.max_memory, 'B')}`"
        return None

    def describe(self) -> str:
        parts = []
        if self.max_macs is not None:
            parts.append(f"`max_macs={_typed(self.max_macs)}`")
        if self.max_params is not None:
            parts.append(f"`max_params={_typed(self.max_params)}`")
        return " and ".join(parts)


def _typed(count: int, unit: str = "") -> str:
    """A limit as it can be typed back: '60M' when that is exact, else the whole number."""
    short = si(count, unit).replace(" ", "")
    try:
        return f"'{short}'" if parse_count(short, "a limit") == count else str(count)
    except UsageError:  # not a count a user could give (0, a negative)
        return str(count)


@dataclass(frozen=True)
class SearchSpace:
    families: tuple[str, ...] = ("cifar",)
    blocks: tuple[str, ...] = ("basic", "bottleneck")
    stage_counts: tuple[int, ...] | None = None  # None: each family's own (cifar 3, imagenet 4)
    min_blocks: int = 1
    max_blocks: tuple[int, ...] = (18,)  # per stage position; one value = every stage
    widths: tuple[int, ...] | None = None  # first-stage widths (doubling per stage); None: family default
    shortcuts: tuple[str, ...] = ("A", "B", "C")  # "plain" = no shortcuts
    stride_on: tuple[str, ...] = ("3x3",)  # bottleneck only
    # Fixed by the data set, not searched:
    num_classes: int = 10
    in_channels: int = 3
    input_size: int = 32

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    # --- the dimensions ----------------------------------------------------------
    def stage_choices(self, family: str) -> tuple[int, ...]:
        return self.stage_counts or (DEFAULT_STAGES[family],)

    def width_choices(self, family: str) -> tuple[int, ...]:
        return self.widths or (FAMILY_DEFAULTS[family]["width"],)

    def block_range(self, stage: int) -> tuple[int, int]:
        """Inclusive range of blocks for stage index ``stage`` (0-based)."""
        hi = self.max_blocks[min(stage, len(self.max_blocks) - 1)]
        return self.min_blocks, hi

    def make_spec(self, family: str, block: str, stages: tuple[int, ...], width: int, shortcut: str,
                  stride_on: str = "3x3") -> NetSpec:
        return NetSpec(stem=family, block=block, stages=tuple(stages), widths=tuple(width * 2**i for i in range(len(stages))),
                       shortcut="none" if shortcut == "plain" else shortcut, stride_on=stride_on if block == "bottleneck" else "3x3",
                       num_classes=self.num_classes, in_channels=self.in_channels, input_size=self.input_size)

    def skeletons(self):
        """Every choice of the categorical dimensions: (family, block, n_stages, width, shortcut, stride_on)."""
        for fam in self.families:
            for block, n, width, sc in itertools.product(self.blocks, self.stage_choices(fam), self.width_choices(fam), self.shortcuts):
                for so in (self.stride_on if block == "bottleneck" else ("3x3",)):
                    yield fam, block, n, width, sc, so

    # --- sampling ------------------------------------------------------------------
    def suggest(self, trial) -> NetSpec:
        """Sample a spec with an Optuna trial (define-by-run). Dimensions with a single
        choice are fixed, not suggested, so trial parameters name only what varies."""
        fam = _choose(trial, "family", self.families)
        block = _choose(trial, "block", self.blocks)
        n = _choose(trial, self._per_family("stages", fam), self.stage_choices(fam))
        stages = []
        for i in range(n):
            lo, hi = self.block_range(i)
            stages.append(trial.suggest_int(f"blocks{i + 1}", lo, hi) if hi > lo else lo)
        width = _choose(trial, self._per_family("width", fam), self.width_choices(fam))
        sc = _choose(trial, "shortcut", self.shortcuts)
        so = _choose(trial, "stride_on", self.stride_on) if block == "bottleneck" else "3x3"
        return self.make_spec(fam, block, tuple(stages), width, sc, so)

    def _per_family(self, name: str, family: str) -> str:
        # The families' choices differ (e.g. default widths 16 vs 64), and Optuna needs one
        # distribution per parameter name: so each family gets its own parameter.
        return f"{family}_{name}" if len(self.families) > 1 else name

    def params_of(self, spec: NetSpec) -> dict | None:
        """The trial parameters that make ``suggest`` return ``spec``, or None when the spec
        is outside this space (used to enqueue the paper's presets as reference trials)."""
        sc = "plain" if spec.plain else spec.shortcut
        fam = spec.stem
        if (fam not in self.families or spec.block not in self.blocks or sc not in self.shortcuts
                or len(spec.stages) not in self.stage_choices(fam) or spec.widths[0] not in self.width_choices(fam)
                or spec.widths != tuple(spec.widths[0] * 2**i for i in range(len(spec.stages)))
                or (spec.block == "bottleneck" and spec.stride_on not in self.stride_on)
                or (spec.num_classes, spec.in_channels, spec.input_size) != (self.num_classes, self.in_channels, self.input_size)):
            return None
        params: dict = {}
        for i, b in enumerate(spec.stages):
            lo, hi = self.block_range(i)
            if not lo <= b <= hi:
                return None
            if hi > lo:
                params[f"blocks{i + 1}"] = b
        for name, value, choices in (("family", fam, self.families), ("block", spec.block, self.blocks),
                                     (self._per_family("stages", fam), len(spec.stages), self.stage_choices(fam)),
                                     (self._per_family("width", fam), spec.widths[0], self.width_choices(fam)),
                                     ("shortcut", sc, self.shortcuts)):
            if len(choices) > 1:
                params[name] = value
        if spec.block == "bottleneck" and len(self.stride_on) > 1:
            params["stride_on"] = spec.stride_on
        return params

    def size(self) -> int:
        """How many distinct specs the box holds (before constraints)."""
        total = 0
        for fam, block, n, width, sc, so in self.skeletons():
            total += math.prod(hi - lo + 1 for lo, hi in (self.block_range(i) for i in range(n)))
        return total


def _choose(trial, name: str, choices: tuple):
    return trial.suggest_categorical(name, list(choices)) if len(choices) > 1 else choices[0]


def _validate(s: SearchSpace) -> None:
    def need(values, allowed, name):
        if not values:
            raise ConfigError(name, f"needs at least one value: expected some of {', '.join(map(str, allowed))}")
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ConfigError(name, f"has unknown value(s) {', '.join(map(str, bad))}: expected some of {', '.join(map(str, allowed))}")

    need(s.families, ("cifar", "imagenet"), "family")
    need(s.blocks, ("basic", "bottleneck"), "blocks")
    need(s.shortcuts, SHORTCUT_CHOICES, "shortcuts")
    need(s.stride_on, ("3x3", "1x1"), "stride_on")
    if s.stage_counts is not None and (not s.stage_counts or any(n < 1 for n in s.stage_counts)):
        raise ConfigError("stages", f"takes numbers of stages >= 1, e.g. 3 or 3,4; got {','.join(map(str, s.stage_counts))}")
    if s.min_blocks < 1:
        raise ConfigError("min_blocks_per_stage", f"must be at least 1, got {s.min_blocks}")
    if not s.max_blocks or min(s.max_blocks) < s.min_blocks:
        raise ConfigError("max_blocks_per_stage", f"{'.'.join(map(str, s.max_blocks))} is below `min_blocks_per_stage={s.min_blocks}`: "
                          "give a maximum >= the minimum")
    if s.widths is not None and (not s.widths or any(w < 1 for w in s.widths)):
        raise ConfigError("widths", f"takes positive first-stage widths, e.g. 16,32; got {','.join(map(str, s.widths))}")
    if "1x1" in s.stride_on and "bottleneck" not in s.blocks:
        raise ConfigError("stride_on", "1x1 places the stride on a bottleneck's first 1x1, but `blocks` has no bottleneck: "
                          "add bottleneck to `blocks` or drop `stride_on`")
    for fam in s.families:
        for n in s.stage_choices(fam):
            down = (4 if fam == "imagenet" else 1) * 2 ** (n - 1)
            if s.input_size < down:
                raise ConfigError("stages", f"{n}: {fam} nets with {n} stages downsample by {down}, more than the {s.input_size}px input; "
                                 "use fewer `stages` or the cifar family")


@dataclass(frozen=True)
class Narrowed:
    space: SearchSpace
    notes: tuple[str, ...] = field(default_factory=tuple)  # what the constraints removed, for the user


def narrow(space: SearchSpace, constraints: Constraints) -> Narrowed:
    """Remove what the analytic constraints rule out; raise UsageError when nothing is left.

    Costs grow with every block, so a skeleton's cheapest candidate has ``min_blocks`` in
    every stage, and adding a block to stage i always adds the same cost (every block of a
    stage after its first is identical): the largest affordable count is exact arithmetic.
    """
    def cost(spec: NetSpec) -> tuple[int, int]:
        c = analytic_complexity(spec)
        return c.macs, c.params

    feasible, smallest = [], None
    caps: dict[int, int] = {}
    for fam, block, n, width, sc, so in space.skeletons():
        lo_stages = tuple(space.min_blocks for _ in range(n))
        try:
            base = space.make_spec(fam, block, lo_stages, width, sc, so)
        except Exception as e:  # e.g. shortcut A with a width that cannot pad: not in the space
            raise UsageError(f"the space holds an impossible net ({e}); narrow the options") from None
        m0, p0 = cost(base)
        if smallest is None or (m0, p0) < smallest[:2]:
            smallest = (m0, p0, base.name)
        if constraints.analytic_violation(m0, p0):
            continue
        feasible.append((fam, block, n, width, sc, so))
        for i in range(n):
            lo, hi = space.block_range(i)
            more = tuple(s + (1 if j == i else 0) for j, s in enumerate(lo_stages))
            m1, p1 = cost(space.make_spec(fam, block, more, width, sc, so))
            afford = hi
            for limit, c0, c1 in ((constraints.max_macs, m0, m1), (constraints.max_params, p0, p1)):
                if limit is not None and c1 > c0:
                    afford = min(afford, lo + (limit - c0) // (c1 - c0))
            caps[i] = max(caps.get(i, lo), afford)
    if not feasible:
        m, p, name = smallest
        raise UsageError(f"no candidate satisfies {constraints.describe()}: the smallest in this space is {name} "
                         f"with {si(m, 'MACs')} and {si(p)} params; raise the limit or widen the space")
    out, notes = _keep_feasible(space, feasible, caps, constraints.describe())
    return Narrowed(out, tuple(notes))


def _keep_feasible(space: SearchSpace, feasible: list[tuple], caps: dict[int, int], limits: str):
    """The space with only the choices some feasible skeleton uses, and a note per cut."""
    notes = []
    kept = {}
    for dim, idx, values in (("family", 0, space.families), ("blocks", 1, space.blocks), ("shortcuts", 4, space.shortcuts)):
        keep = tuple(v for v in values if any(f[idx] == v for f in feasible))
        if keep != values:
            notes.append(f"--{dim}: dropped {', '.join(v for v in values if v not in keep)} (no candidate fits {limits})")
        kept[dim] = keep
    out = replace(space, families=kept["family"], blocks=kept["blocks"], shortcuts=kept["shortcuts"])
    if space.widths:
        widths = tuple(w for w in space.widths if any(f[3] == w for f in feasible))
        if widths != space.widths:
            notes.append(f"`widths`: dropped {', '.join(str(w) for w in space.widths if w not in widths)} "
                         f"(no candidate fits {limits})")
        out = replace(out, widths=widths)
    if space.stage_counts:
        counts = tuple(n for n in space.stage_counts if any(f[2] == n for f in feasible))
        out = replace(out, stage_counts=counts)
    n_max = max(caps) + 1
    new_max = tuple(min(space.block_range(i)[1], caps.get(i, space.min_blocks)) for i in range(n_max))
    if new_max != tuple(space.block_range(i)[1] for i in range(n_max)):
        notes.append(f"blocks per stage capped at {'.'.join(map(str, new_max))} (more cannot fit {limits})")
        out = replace(out, max_blocks=new_max)
    if "bottleneck" not in out.blocks and out.stride_on != ("3x3",):
        out = replace(out, stride_on=("3x3",))
    return out, notes


def load_space_file(path: str) -> dict:
    """A TOML space file: the same keys as the options, e.g.

        family = ["cifar"]
        blocks = ["basic", "bottleneck"]
        stages = [3]
        max_blocks_per_stage = 9
        widths = [16, 32]
        shortcuts = ["A", "B"]
        max_macs = "60M"
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        data = tomllib.loads(read_text(path, "space file"))
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"space file {path} is not valid TOML: {e}") from None
    except RecursionError:
        raise UsageError(f"space file {path} is nested too deeply; a space file holds plain keys and lists") from None
    unknown = set(data) - set(SPACE_FILE_TYPES)
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(sorted(unknown))} in {path}: expected some of {', '.join(sorted(SPACE_FILE_TYPES))}")
    for key, value in data.items():
        kinds = SPACE_FILE_TYPES[key]
        items = value if isinstance(value, list) and list in kinds else [value]
        ok = bool(items) and all(type(x) in kinds and not isinstance(x, bool) for x in items)
        if not ok:
            words = {str: "a string", int: "a whole number", float: "a number", list: "a list"}
            raise UsageError(f"{path}: {key} must be {' or '.join(words[k] for k in kinds)}"
                             f"{' (or a list of them)' if list in kinds else ''}, got {value!r}")
    return data


# What each key of a --space file may hold (list: a list of the other kinds).
SPACE_FILE_TYPES = {
    "family": (str, list), "blocks": (str, list), "shortcuts": (str, list), "stride_on": (str, list),
    "stages": (int, list), "widths": (int, list), "min_blocks_per_stage": (int,), "max_blocks_per_stage": (int, list),
    "max_macs": (str, int), "max_params": (str, int), "max_memory": (str, int), "max_latency_ms": (int, float),
}


