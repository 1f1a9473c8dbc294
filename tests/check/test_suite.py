"""Benchmark suites (resbench.check.suite): the TOML a `check` or `baseline` reads, checked field by field."""

import pytest

from resbench.check.suite import load_suite
from resbench.errors import UsageError

def test_suite_takes_counters_under_suite_or_entry(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[suite]\ncounters = ["ops"]\n[[entry]]\nspec = "resnet20"\n'
                 '[[entry]]\nspec = "resnet32"\ncounters = ["ops", "memory", "instructions"]\ninstructions_tolerance = 0.02\n')
    a, b = load_suite(p).entries
    assert a.counters == ("ops",) and b.counters == ("ops", "memory", "instructions") and b.instructions_tolerance == 0.02
    assert "counters" not in a.measurement()  # an older check_worker (--against REF) does not know the field
    for bad, fragment in (('counters = ["opz"]', "unknown counter"), ('counters = "ops"', "must be a list")):
        p.write_text(f'[suite]\n{bad}\n[[entry]]\nspec = "resnet20"\n')
        with pytest.raises(UsageError, match=fragment):
            load_suite(p)


def test_suite_parsing_and_errors(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[suite]\ntiming = "warn"\ndevice = "cpu"\n[[entry]]\nspec = "resnet20:shortcut=b"\nbatch_sizes = [1, 8]\n'
                 '[[entry]]\nspec = "resnet50"\ntiming = false\n')
    s = load_suite(p)
    assert s.timing_policy == "warn"
    assert [e.id for e in s.entries] == ["resnet20:shortcut=B cpu fp32 infer b1", "resnet20:shortcut=B cpu fp32 infer b8", "resnet50"]
    for text, fragment in [('[[entry]]\nsped = "x"\n', "unknown key"), ("[[entry\n", "not valid TOML"), ("[suite]\n", r"no \[\[entry\]\]"),
                           ('[suite]\ntiming = "maybe"\n[[entry]]\nspec="resnet20"\n', "fail, warn or off")]:
        p.write_text(text)
        with pytest.raises(UsageError, match=fragment):
            load_suite(p)
