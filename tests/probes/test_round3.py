"""The third hostile probe's cheap cases, in the suite: each must come out clean (bad input
one line and exit 2, a damaged stored file one warning naming it, good input working, no
file changed or left behind). The expensive cases (training, measuring) run from the
script: `PYTHONPATH=. python3 -m tests.probes.round3 results/benchmarks/probe_round3.txt`."""

import pytest

from tests.probes.round3 import all_cases, prepare, run_case

CASES = all_cases()
CHEAP = [c for c in CASES if not c.expensive]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    prepare(tmp_path_factory.mktemp("probe3-seed"))


def test_the_probe_has_150_new_cases_over_every_surface():
    assert len(CASES) >= 150
    assert {c.kind for c in CASES} >= {"records", "outputs", "trackers", "baselines", "suites", "plans", "references",
                                       "checkpoints", "special inputs", "values", "payloads"}


@pytest.mark.parametrize("case", CHEAP, ids=[c.label[:100] for c in CHEAP])
def test_a_cheap_probe_case_is_clean(seeded, tmp_path, case):
    code, out, err, outcome = run_case(case, tmp_path)
    assert outcome == "clean", (code, err[-2000:])
