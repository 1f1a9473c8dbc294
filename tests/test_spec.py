"""The spec grammar: presets, explicit forms, modifiers, canonical round trip, errors."""

import random

import re

import pytest

from resbench.errors import SpecError
from resbench.spec import NetSpec, format_spec, parse_spec, preset_names


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips(name):
    spec = parse_spec(name)
    assert format_spec(spec) == name
    assert parse_spec(format_spec(spec)) == spec


@pytest.mark.parametrize(
    "name, stem, block, stages, shortcut, depth",
    [
        ("resnet18", "imagenet", "basic", (2, 2, 2, 2), "B", 18),
        ("resnet34", "imagenet", "basic", (3, 4, 6, 3), "B", 34),
        ("resnet50", "imagenet", "bottleneck", (3, 4, 6, 3), "B", 50),
        ("resnet101", "imagenet", "bottleneck", (3, 4, 23, 3), "B", 101),
        ("resnet152", "imagenet", "bottleneck", (3, 8, 36, 3), "B", 152),
        ("resnet20", "cifar", "basic", (3, 3, 3), "A", 20),
        ("resnet110", "cifar", "basic", (18, 18, 18), "A", 110),
        ("resnet1202", "cifar", "basic", (200, 200, 200), "A", 1202),
        ("plain34", "imagenet", "basic", (3, 4, 6, 3), "none", 34),
        ("plain56", "cifar", "basic", (9, 9, 9), "none", 56),
        ("cifar-resnet8", "cifar", "basic", (1, 1, 1), "A", 8),
        ("cifar-resnet50", "cifar", "basic", (8, 8, 8), "A", 50),
        ("cifar-resnet29-bottleneck", "cifar", "bottleneck", (3, 3, 3), "A", 29),
        ("cifar-resnet164-bottleneck", "cifar", "bottleneck", (18, 18, 18), "A", 164),
        ("cifar-plain164-bottleneck", "cifar", "bottleneck", (18, 18, 18), "none", 164),
        ("imagenet-resnet50", "imagenet", "bottleneck", (3, 4, 6, 3), "B", 50),
    ],
)
def test_named_and_depth_forms(name, stem, block, stages, shortcut, depth):
    s = parse_spec(name)
    assert (s.stem, s.block, s.stages, s.shortcut, s.depth) == (stem, block, stages, shortcut, depth)


def test_family_defaults():
    r50, r20 = parse_spec("resnet50"), parse_spec("resnet20")
    assert (r50.widths, r50.input_size, r50.num_classes, r50.shortcut) == ((64, 128, 256, 512), 224, 1000, "B")
    assert (r20.widths, r20.input_size, r20.num_classes, r20.shortcut) == ((16, 32, 64), 32, 10, "A")


def test_explicit_stage_lists_canonicalise_to_names():
    assert format_spec(parse_spec("imagenet-basic-2.2.2.2")) == "resnet18"
    assert format_spec(parse_spec("cifar-basic-3.3.3")) == "resnet20"
    assert format_spec(parse_spec("cifar-bottleneck-3.3.3")) == "cifar-resnet29-bottleneck"
    assert format_spec(parse_spec("cifar-basic-1.2.3:plain")) == "cifar-basic-1.2.3:plain"
    assert format_spec(parse_spec("imagenet-bottleneck-1.1")) == "imagenet-bottleneck-1.1"


def test_modifiers_in_string_and_as_overrides_agree():
    a = parse_spec("resnet50:shortcut=c:stride-on=1x1:num-classes=100:input-size=128")
    b = parse_spec("resnet50", shortcut="C", stride_on="1x1", num_classes=100, input_size=128)
    assert a == b
    assert format_spec(a) == "resnet50:shortcut=C:stride-on=1x1:num-classes=100:input-size=128"


def test_plain_modifier_gives_the_twin():
    assert parse_spec("resnet20", plain=True) == parse_spec("plain20")
    assert parse_spec("resnet20:plain") == parse_spec("plain20")
    assert format_spec(parse_spec("cifar-resnet8", plain=True)) == "cifar-plain8"


def test_width_forms():
    assert parse_spec("resnet20", width="32").widths == (32, 64, 128)
    assert parse_spec("resnet20", width="2x").widths == (32, 64, 128)
    assert parse_spec("resnet20", width="16.16.32").widths == (16, 16, 32)
    assert format_spec(parse_spec("resnet20", width="2x")) == "resnet20:width=32"
    assert format_spec(parse_spec("resnet20:widths=16.16.32")) == "resnet20:widths=16.16.32"


def test_stride_on_is_normalised_for_basic_blocks():
    assert parse_spec("resnet18", stride_on="1x1") == parse_spec("resnet18")


def _random_spec(rng: random.Random) -> NetSpec:
    stem = rng.choice(["cifar", "imagenet"])
    n = rng.randint(1, 5)
    stages = tuple(rng.randint(1, 4) for _ in range(n))
    w0 = rng.choice([8, 16, 24, 64])
    return NetSpec(
        stem=stem,
        block=rng.choice(["basic", "bottleneck"]),
        stages=stages,
        widths=tuple(w0 * 2**i for i in range(n)) if rng.random() < 0.7 else tuple(sorted(rng.choice([8, 16, 32]) for _ in range(n))),
        shortcut=rng.choice(["A", "B", "C", "none"]),
        stride_on=rng.choice(["3x3", "1x1"]),
        num_classes=rng.choice([10, 100, 1000, 7]),
        in_channels=rng.choice([1, 3]),
        input_size=rng.choice([32, 64, 224, 256]) if stem == "imagenet" and n <= 4 else rng.choice([64, 128, 512]),
        zero_init_residual=False,
    )


def test_random_specs_round_trip():
    rng = random.Random(0)
    for _ in range(300):
        s = _random_spec(rng)
        assert parse_spec(format_spec(s)) == s, format_spec(s)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("resnet21", "did you mean"),
        ("resnet21", "resnet20"),
        ("resnt50", "resnet50"),
        ("cifar-resnet21", "6n+2"),
        ("cifar-resnet21-bottleneck", "9n+2"),
        ("imagenet-resnet26", "give stages"),
        ("cifar-basic-3.0.3", "at least one block"),
        ("resnet20:shortcut=D", "expected A, B or C"),
        ("resnet20:colour=red", "unknown modifier"),
        ("resnet20:input-size=2", "too small"),
        ("resnet50:input-size=16", "at least 32"),
        ("resnet20:num-classes=0", "at least 1"),
        ("resnet20:num-classes=ten", "whole number"),
        ("resnet20:widths=64.32.16", "cannot shrink"),
        ("resnet20:widths=16.32", "one width per stage"),
        ("plain20:shortcut=B", "plain net"),
        ("plain20:zero-init-residual", "plain net"),
        ("resnet20:width=0.3x", "non-integer"),
        ("", "empty spec"),
    ],
)
def test_bad_specs_say_what_is_wrong(text, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)) as e:
        parse_spec(text)
    assert "\n" not in str(e.value)


def test_plain_and_shortcut_together_is_a_contradiction():
    with pytest.raises(SpecError, match="contradicts"):
        parse_spec("resnet20", plain=True, shortcut="B")


def test_the_modifier_table_is_the_one_source_of_the_options_and_flags():
    """Each spec modifier with an option of its own is an option of every spec command, with
    the table's help, and the field-to-flag table names it; spec strings take every key."""
    from typer.testing import CliRunner

    from resbench.cli.app import build_app
    from resbench.cli.flags import FLAGS, MODIFIER_OPTIONS
    from resbench.spec import MODIFIERS, parse_spec

    help_text = CliRunner().invoke(build_app(), ["show", "--help"], env={"COLUMNS": "250"}).output
    for m in MODIFIERS.values():
        if m in MODIFIER_OPTIONS:
            assert f"--{m.key}" in help_text and m.help[:30] in help_text and FLAGS[m.field] == f"--{m.key}"
        spelled = f"cifar-resnet8:{m.key}" + ("" if m.kind == "flag" else f"={m.example}")
        if m.key != "stride-on":  # a bottleneck setting
            parse_spec(spelled)
        if m.kind != "flag":
            with pytest.raises(SpecError, match=f"needs a value, e.g. :{m.key}={m.example}"):
                parse_spec(f"cifar-resnet8:{m.key}")
    assert [m.key for m in MODIFIERS.values() if m not in MODIFIER_OPTIONS] == ["widths"]  # spelled through --width
