"""Depth specs: the small grammar that names every ResNet / plain variant resbench builds.

A spec is a *base* followed by optional ``:modifier`` parts::

    resnet50                       the paper's ImageNet ResNet-50 (shortcut B, input 224)
    plain34                        its plain twin (no shortcuts at all)
    resnet56                       the paper's CIFAR ResNet-56 (shortcut A, input 32)
    cifar-resnet8                  any CIFAR depth 6n+2 (basic blocks)
    cifar-plain164-bottleneck      CIFAR bottleneck nets of depth 9n+2, here plain
    imagenet-basic-2.2.2.2         an explicit stage list (= resnet18)
    cifar-bottleneck-3.3.3:plain   explicit stage list, plain
    resnet50:stride-on=1x1:shortcut=C:num-classes=100

Modifiers use the same words as the command-line options: ``shortcut=A|B|C``,
``plain``, ``stride-on=3x3|1x1``, ``width=N`` (first-stage width, doubling per
stage) or ``width=Kx`` (multiplier), ``widths=a.b.c``, ``num-classes=N``,
``in-channels=N``, ``input-size=N``, ``zero-init-residual``.

``format_spec`` prints the canonical string (preset name when there is one, only the
modifiers that differ from the family's defaults); it always parses back to an equal
``NetSpec``. This module imports nothing heavy, so ``resbench list`` and
``resbench --help`` stay instant.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass

from resbench.errors import SpecError
from resbench.validate import ascii_number_text

STEMS = ("imagenet", "cifar")
BLOCKS = ("basic", "bottleneck")
SHORTCUTS = ("A", "B", "C", "none")  # "none" = plain net: no addition at all
STRIDE_PLACEMENTS = ("3x3", "1x1")

# Per-family defaults: first-stage width, shortcut option, classes, input size.
# ImageNet defaults follow torchvision/the paper's Table 1 (option B); CIFAR defaults
# follow the paper's Sec. 4.2 (option A, 16 filters, 32x32 inputs).
FAMILY_DEFAULTS = {
    "imagenet": {"width": 64, "shortcut": "B", "num_classes": 1000, "input_size": 224},
    "cifar": {"width": 16, "shortcut": "A", "num_classes": 10, "input_size": 32},
}

# The paper's ImageNet nets (Table 1): depth -> (block, blocks per stage).
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
# The paper's CIFAR-10 nets (Table 6): 6n+2 layers, n blocks in each of 3 stages.
CIFAR_PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)

# Sanity bounds, far beyond any trained ResNet (resnet1202 has 200 blocks per stage),
# that keep every count and loop over a spec finite and fast. What the machine can
# actually hold is checked later, from an estimate of memory (resbench.limits).
MAX_BLOCKS_PER_STAGE = 2_000
MAX_STAGES = 16
MAX_WIDTH = 1 << 16
MAX_CLASSES = 10_000_000
MAX_IN_CHANNELS = 4096
MAX_INPUT_SIZE = 1 << 15
MAX_DIGITS = 9  # a number in a spec: at most 9 digits, before any arithmetic on it

_LAYERS_PER_BLOCK = {"basic": 2, "bottleneck": 3}
EXPANSION = {"basic": 1, "bottleneck": 4}


@dataclass(frozen=True)
class NetSpec:
    """Everything needed to build one network; validated on construction."""

    stem: str  # "imagenet": 7x7/2 conv + 3x3/2 max-pool; "cifar": one 3x3 conv
    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 with expansion 4)
    stages: tuple[int, ...]  # blocks per stage; stage i>0 halves the resolution
    widths: tuple[int, ...]  # per stage: basic channels / bottleneck inner planes
    shortcut: str = "B"  # "A" zero-pad identity, "B" project on shape change, "C" always, "none" plain
    stride_on: str = "3x3"  # bottleneck stride on the 3x3 (torchvision) or first 1x1 (paper)
    num_classes: int = 1000
    in_channels: int = 3  # 1 for grayscale input
    input_size: int = 224  # square input side in pixels (used for MACs and profiling)
    zero_init_residual: bool = False  # zero the last BN gamma of every block (Goyal et al.)

    def __post_init__(self) -> None:
        _validate(self)

    # --- derived facts -------------------------------------------------------------
    @property
    def plain(self) -> bool:
        return self.shortcut == "none"

    @property
    def expansion(self) -> int:
        return EXPANSION[self.block]

    @property
    def depth(self) -> int:
        """Weighted layers as the paper counts them: stem conv + block convs + fc."""
        return 2 + _LAYERS_PER_BLOCK[self.block] * sum(self.stages)

    @property
    def stem_width(self) -> int:
        return self.widths[0]

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels leaving each stage."""
        return tuple(w * self.expansion for w in self.widths)

    @property
    def downsampling(self) -> int:
        """Total stride from input to the last stage."""
        stem = 4 if self.stem == "imagenet" else 1
        return stem * 2 ** (len(self.stages) - 1)

    @property
    def name(self) -> str:
        return format_spec(self)

    def replace(self, **changes) -> "NetSpec":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stages"] = list(self.stages)
        d["widths"] = list(self.widths)
        return d


def _validate(s: NetSpec) -> None:
    if s.stem not in STEMS:
        raise SpecError(f"unknown stem {s.stem!r}: expected one of {', '.join(STEMS)}")
    if s.block not in BLOCKS:
        raise SpecError(f"unknown block {s.block!r}: expected basic or bottleneck")
    if s.shortcut not in SHORTCUTS:
        raise SpecError(f"unknown shortcut option {s.shortcut!r}: expected A, B or C (or `plain=True` for none)")
    if s.stride_on not in STRIDE_PLACEMENTS:
        raise SpecError(f"unknown stride placement {s.stride_on!r}: expected 3x3 (torchvision) or 1x1 (paper)")
    if s.block == "basic" and s.stride_on != "3x3":
        # A basic block has no 1x1 conv: the placement is meaningless, normalise it so
        # that one network has one canonical spec.
        object.__setattr__(s, "stride_on", "3x3")
    if not s.stages:
        raise SpecError("a spec needs at least one stage, e.g. cifar-basic-3.3.3")
    if any(n < 1 for n in s.stages):
        raise SpecError(f"every stage needs at least one block, got stages {_dots(s.stages)}")
    if len(s.stages) > MAX_STAGES or max(s.stages) > MAX_BLOCKS_PER_STAGE:
        raise SpecError(f"stages {_dots(s.stages)} are too deep: at most {MAX_STAGES} stages of at most "
                        f"{MAX_BLOCKS_PER_STAGE} blocks (resnet1202 has 200 per stage)")
    if len(s.widths) != len(s.stages):
        raise SpecError(
            f"widths {_dots(s.widths)} give {len(s.widths)} stage(s) but the net has {len(s.stages)}: "
            "give one width per stage"
        )
    if any(w < 1 for w in s.widths):
        raise SpecError(f"widths must be positive, got {_dots(s.widths)}")
    if max(s.out_channels) > MAX_WIDTH:
        raise SpecError(f"widths {_dots(s.widths)} give {max(s.out_channels)} channels: at most {MAX_WIDTH} per layer")
    if s.shortcut == "A":
        chans = (s.stem_width,) + s.out_channels
        for i in range(1, len(chans)):
            if chans[i] < chans[i - 1]:
                raise SpecError(
                    f"shortcut A pads the identity with zero channels, so widths cannot shrink "
                    f"({chans[i - 1]} -> {chans[i]} channels at stage {i}); use shortcut B or C"
                )
    for what, value, most in (("num-classes", s.num_classes, MAX_CLASSES), ("in-channels", s.in_channels, MAX_IN_CHANNELS)):
        if value < 1:
            raise SpecError(f"{what} must be at least 1, got {value}")
        if value > most:
            raise SpecError(f"{what} must be at most {most:,}, got {value}")
    if s.input_size > MAX_INPUT_SIZE:
        raise SpecError(f"input size must be at most {MAX_INPUT_SIZE} pixels, got {s.input_size}")
    if s.input_size < s.downsampling:
        raise SpecError(
            f"input size {s.input_size} is too small: this net downsamples by {s.downsampling}, "
            f"so the input must be at least {s.downsampling} pixels"
        )
    if s.zero_init_residual and s.plain:
        raise SpecError("zero-init-residual would zero every block of a plain net; use it with shortcuts A, B or C")


# --- parsing -----------------------------------------------------------------------

# [0-9], not \d: a spec is ASCII (\d would take '١٢' and other scripts' digits).
_DEPTH_FORM = re.compile(r"^(?P<stem>cifar|imagenet)-(?P<kind>resnet|plain)(?P<depth>[0-9]+)(?:-(?P<block>basic|bottleneck))?$")
_STAGE_FORM = re.compile(r"^(?P<stem>cifar|imagenet)-(?P<block>basic|bottleneck)-(?P<stages>[0-9]+(?:\.[0-9]+)*)$")
_PRESET_FORM = re.compile(r"^(?P<kind>resnet|plain)(?P<depth>[0-9]+)$")

@dataclass(frozen=True)
class Modifier:
    """One spec modifier: how a spec string spells it (``:key`` or ``:key=value``), the
    NetSpec field it sets, and what it means. The CLI's modifier options are generated
    from this table (resbench.cli.options)."""

    key: str  # in a spec string, and the CLI option --key
    kind: str  # flag (no value) | int | text
    example: str | None  # a value, for messages (flags have none)
    help: str

    @property
    def field(self) -> str:
        return self.key.replace("-", "_")


MODIFIERS = {m.key: m for m in (
    Modifier("shortcut", "text", "B", "A: zero-pad identity; B: projection where shapes change; C: projection everywhere."),
    Modifier("plain", "flag", None, "The plain twin: no shortcuts at all."),
    Modifier("stride-on", "text", "1x1", "Bottleneck stride on the 3x3 (torchvision, default) or the first 1x1 (the paper)."),
    Modifier("width", "text", "32", "First-stage width (doubling per stage), a multiplier like 2x, or per-stage widths 16.32.64."),
    Modifier("widths", "text", "16.32.64", "Per-stage widths."),
    Modifier("num-classes", "int", "100", "Classes of the fc head."),
    Modifier("in-channels", "int", "1", "Input channels (1 for grayscale)."),
    Modifier("input-size", "int", "64", "Square input side in pixels."),
    Modifier("zero-init-residual", "flag", None, "Zero the last BN of every block."),
)}
MODIFIER_KEYS = tuple(MODIFIERS)


def preset_names() -> list[str]:
    """Every named preset, residual then plain, ImageNet then CIFAR."""
    names = []
    for kind in ("resnet", "plain"):
        names += [f"{kind}{d}" for d in IMAGENET_DEPTHS]
        names += [f"{kind}{d}" for d in CIFAR_PAPER_DEPTHS]
    return names


def _family_spec(stem: str, block: str, stages: tuple[int, ...], plain: bool) -> dict:
    """NetSpec fields with the family's defaults (a dict: modifiers apply before validation)."""
    d = FAMILY_DEFAULTS[stem]
    return dict(
        stem=stem,
        block=block,
        stages=stages,
        widths=tuple(d["width"] * 2**i for i in range(len(stages))),
        shortcut="none" if plain else d["shortcut"],
        stride_on="3x3",
        num_classes=d["num_classes"],
        in_channels=3,
        input_size=d["input_size"],
        zero_init_residual=False,
    )


def _cifar_stages(depth: int, block: str) -> tuple[int, ...]:
    per = 6 if block == "basic" else 9
    if depth < per + 2 or (depth - 2) % per:
        near = sorted({max(per + 2, (depth - 2) // per * per + 2), ((depth - 2) // per + 1) * per + 2})
        raise SpecError(
            f"CIFAR {block} nets have depth {per}n+2 (e.g. {', '.join(map(str, near))}), got {depth}"
        )
    n = (depth - 2) // per
    return (n, n, n)


def _parse_base(base: str) -> dict:
    m = _PRESET_FORM.match(base)
    if m:
        depth, plain = _number("depth", m["depth"]), m["kind"] == "plain"
        if depth in IMAGENET_DEPTHS:
            block, stages = IMAGENET_DEPTHS[depth]
            return _family_spec("imagenet", block, stages, plain)
        if depth in CIFAR_PAPER_DEPTHS:
            return _family_spec("cifar", "basic", _cifar_stages(depth, "basic"), plain)
        hint = f"; for a CIFAR depth 6n+2 use cifar-{m['kind']}{depth}" if depth >= 8 and (depth - 2) % 6 == 0 else ""
        raise SpecError(f"unknown spec {base!r}: did you mean {_suggest(base)}?{hint}")
    m = _DEPTH_FORM.match(base)
    if m:
        stem, depth, plain = m["stem"], _number("depth", m["depth"]), m["kind"] == "plain"
        if stem == "imagenet":
            if depth not in IMAGENET_DEPTHS:
                raise SpecError(
                    f"ImageNet depth {depth} is not one of the paper's "
                    f"({', '.join(map(str, IMAGENET_DEPTHS))}); give stages instead, e.g. imagenet-basic-2.2.2.2"
                )
            block, stages = IMAGENET_DEPTHS[depth]
            if m["block"] and m["block"] != block:
                raise SpecError(
                    f"ImageNet ResNet-{depth} uses {block} blocks; for {m['block']} blocks give stages, "
                    f"e.g. imagenet-{m['block']}-{_dots(stages)}"
                )
            return _family_spec(stem, block, stages, plain)
        block = m["block"] or "basic"
        return _family_spec(stem, block, _cifar_stages(depth, block), plain)
    m = _STAGE_FORM.match(base)
    if m:
        stages = tuple(_number("blocks per stage", x) for x in m["stages"].split("."))
        return _family_spec(m["stem"], m["block"], stages, plain=False)
    raise SpecError(f"unknown spec {base!r}: did you mean {_suggest(base)}? (see `resbench list`)")


def _suggest(base: str) -> str:
    candidates = preset_names() + ["cifar-resnet8", "cifar-resnet164-bottleneck", "imagenet-basic-2.2.2.2", "cifar-basic-3.3.3"]
    close = difflib.get_close_matches(base, candidates, n=3, cutoff=0.5)
    return " or ".join(close) if close else "resnet20, resnet50 or cifar-resnet8"


def _number(what: str, digits: str) -> int:
    if len(digits) > MAX_DIGITS:
        raise SpecError(f"{what} {digits[:12]}{'...' if len(digits) > 12 else ''} is far too large: at most {MAX_DIGITS} digits")
    return int(digits)


def _parse_int(key: str, value: str) -> int:
    if not ascii_number_text(value, whole=True, signed=False):
        raise SpecError(f"{key} takes a whole number (digits 0-9), got {value!r}")
    return _number(key, value)


def _parse_widths(value: str, fields: dict) -> tuple[int, ...]:
    """``32`` (first stage, doubling), ``2x`` / ``0.5x`` (multiplier) or ``16.32.64``."""
    if "." in value and not value.endswith("x"):
        return tuple(_parse_int("widths", v) for v in value.split("."))
    if value.endswith("x"):
        k = float("nan")
        if value[:-1].isascii() and value[:-1].replace(".", "", 1).isdigit():
            k = float(value[:-1])
        if not math.isfinite(k) or not 0 < k <= MAX_WIDTH:
            raise SpecError(f"width multiplier must look like 2x or 0.5x, got {value!r}")
        scaled = [w * k for w in fields["widths"]]
        if k <= 0 or any(abs(w - round(w)) > 1e-9 for w in scaled):
            raise SpecError(f"width multiplier {value} gives non-integer widths {scaled}; pick one that divides evenly")
        return tuple(int(round(w)) for w in scaled)
    w0 = _parse_int("width", value)
    return tuple(w0 * 2**i for i in range(len(fields["stages"])))


def apply_modifiers(spec: NetSpec, **mods) -> NetSpec:
    """A copy of ``spec`` with modifier values applied (None = leave as is), validated.

    Keys: the fields of ``MODIFIERS`` (width as text: "32", "2x" or "16.32.64").
    """
    return NetSpec(**_modified(dataclasses.asdict(spec), mods))


def _modified(fields: dict, mods: dict) -> dict:
    unknown = set(mods) - {m.field for m in MODIFIERS.values()}
    if unknown:
        raise SpecError(f"unknown modifier(s) {', '.join(sorted(unknown))}: expected {', '.join(MODIFIER_KEYS)}")
    fields = dict(fields)
    shortcut, plain = mods.get("shortcut"), mods.get("plain")
    if shortcut is not None:
        shortcut = "none" if str(shortcut).lower() == "none" else str(shortcut).upper()
        if shortcut not in SHORTCUTS:
            raise SpecError(f"unknown shortcut option {shortcut!r}: expected A, B or C")
        if plain and shortcut != "none":
            raise SpecError(f"`plain=True` removes every shortcut, so `shortcut={shortcut!r}` contradicts it; give one of them")
        if fields["shortcut"] == "none" and shortcut != "none":
            raise SpecError(f"this is a plain net (no shortcuts); use its residual twin to choose shortcut {shortcut}")
        fields["shortcut"] = shortcut
    if plain:
        fields["shortcut"] = "none"
    if mods.get("stride_on") is not None:
        fields["stride_on"] = str(mods["stride_on"]).lower()
    for key in ("widths", "width"):
        if mods.get(key) is not None:
            fields["widths"] = _parse_widths(str(mods[key]).lower(), fields)
    for key in ("num_classes", "in_channels", "input_size"):
        if mods.get(key) is not None:
            fields[key] = _parse_int(key.replace("_", "-"), mods[key]) if isinstance(mods[key], str) else int(mods[key])
    if mods.get("zero_init_residual"):
        fields["zero_init_residual"] = True
    fields["stages"], fields["widths"] = tuple(fields["stages"]), tuple(fields["widths"])
    return fields


def parse_spec(text: str, **overrides) -> NetSpec:
    """Parse a spec string; keyword overrides (the CLI's modifier options) apply last."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty spec: give a name such as resnet20 or resnet50 (see `resbench list`)")
    base, *parts = text.strip().lower().split(":")
    fields = _parse_base(base)
    mods: dict = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if key not in MODIFIER_KEYS:
            close = difflib.get_close_matches(key, MODIFIER_KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; expected one of {', '.join(MODIFIER_KEYS)}"
            raise SpecError(f"unknown modifier {key!r} in {text!r}{hint}")
        m = MODIFIERS[key]
        if m.kind == "flag":
            if eq:
                raise SpecError(f"modifier {key!r} is a flag and takes no value: write :{key}")
            mods[m.field] = True
        else:
            if not value:
                raise SpecError(f"modifier {key!r} needs a value, e.g. :{key}={m.example}")
            mods[m.field] = value
    fields = _modified(fields, mods)
    overrides = {k: v for k, v in overrides.items() if v is not None and v is not False}
    return NetSpec(**_modified(fields, overrides))


# --- formatting --------------------------------------------------------------------


def _dots(xs) -> str:
    return ".".join(str(x) for x in xs)


def _base_name(s: NetSpec) -> tuple[str, bool]:
    """The shortest base naming (stem, block, stages, plain); bool: plain is in the name."""
    kind = "plain" if s.plain else "resnet"
    if s.stem == "imagenet":
        for depth, (block, stages) in IMAGENET_DEPTHS.items():
            if (block, stages) == (s.block, s.stages):
                return f"{kind}{depth}", True
    elif len(s.stages) == 3 and len(set(s.stages)) == 1:
        if s.block == "basic":
            return (f"{kind}{s.depth}" if s.depth in CIFAR_PAPER_DEPTHS else f"cifar-{kind}{s.depth}"), True
        return f"cifar-{kind}{s.depth}-bottleneck", True
    return f"{s.stem}-{s.block}-{_dots(s.stages)}", False


def format_spec(s: NetSpec) -> str:
    """Canonical spec string; ``parse_spec(format_spec(s)) == s`` always holds."""
    d = FAMILY_DEFAULTS[s.stem]
    base, plain_in_name = _base_name(s)
    mods = []
    if s.plain and not plain_in_name:
        mods.append("plain")
    if not s.plain and s.shortcut != d["shortcut"]:
        mods.append(f"shortcut={s.shortcut}")
    if s.stride_on != "3x3":
        mods.append(f"stride-on={s.stride_on}")
    doubling = tuple(s.widths[0] * 2**i for i in range(len(s.widths)))
    if s.widths != doubling:
        mods.append(f"widths={_dots(s.widths)}")
    elif s.widths[0] != d["width"]:
        mods.append(f"width={s.widths[0]}")
    if s.num_classes != d["num_classes"]:
        mods.append(f"num-classes={s.num_classes}")
    if s.in_channels != 3:
        mods.append(f"in-channels={s.in_channels}")
    if s.input_size != d["input_size"]:
        mods.append(f"input-size={s.input_size}")
    if s.zero_init_residual:
        mods.append("zero-init-residual")
    return ":".join([base] + mods)
