"""The search space and its constraints (resbench.search.space): narrowing, round trips, exact cost of proposals."""

import itertools

import optuna
import pytest

from resbench.cost import analytic_complexity
from resbench.errors import UsageError
from resbench.measure.complexity import count_complexity
from resbench.search.space import Constraints, SearchSpace, narrow
from resbench.spec import parse_spec
from resbench.validate import count as parse_count

# --- the space and its constraints ------------------------------------------------------

SMALL = SearchSpace(blocks=("basic",), max_blocks=(4,), widths=(4, 8), shortcuts=("A", "B"))


SMALL = SearchSpace(blocks=("basic",), max_blocks=(4,), widths=(4, 8), shortcuts=("A", "B"))


def _all_specs(space):
    for fam, block, n, width, sc, so in space.skeletons():
        for stages in itertools.product(*(range(space.block_range(i)[0], space.block_range(i)[1] + 1) for i in range(n))):
            yield space.make_spec(fam, block, stages, width, sc, so)


def test_narrowing_keeps_exactly_what_brute_force_finds_feasible():
    limit = Constraints(max_macs=2_500_000)
    feasible = [s for s in _all_specs(SMALL) if analytic_complexity(s).macs <= limit.max_macs]
    assert feasible and len(feasible) < SMALL.size()
    narrowed = narrow(SMALL, limit).space
    kept = list(_all_specs(narrowed))
    assert set(feasible) <= set(kept)  # nothing feasible is lost
    for i in range(3):  # and each stage's cap is the most blocks any feasible spec has there
        assert narrowed.block_range(i)[1] == max(s.stages[i] for s in feasible)
    assert narrowed.widths == tuple(sorted({s.widths[0] for s in feasible}))


def test_empty_space_names_the_smallest_candidate():
    smallest = min(_all_specs(SMALL), key=lambda s: analytic_complexity(s).macs)
    with pytest.raises(UsageError, match="no candidate satisfies `max_macs=") as e:
        narrow(SMALL, Constraints(max_macs=1000))
    assert smallest.name in str(e.value)


def test_space_options_that_contradict_are_usage_errors():
    with pytest.raises(UsageError, match="no bottleneck"):
        SearchSpace(blocks=("basic",), stride_on=("1x1",))
    with pytest.raises(UsageError, match="below `min_blocks_per_stage=5`"):
        SearchSpace(min_blocks=5, max_blocks=(3,))
    with pytest.raises(UsageError, match="unknown value"):
        SearchSpace(shortcuts=("D",))
    with pytest.raises(UsageError, match="downsample"):
        SearchSpace(families=("imagenet",), input_size=32, stage_counts=(5,))
    assert parse_count("60M", "--max-macs") == 60_000_000 and parse_count("1.5k", "x") == 1500
    with pytest.raises(UsageError, match="like 60M"):
        parse_count("lots", "--max-macs")


def test_suggest_and_params_of_round_trip():
    space = SearchSpace(families=("cifar", "imagenet"), blocks=("basic", "bottleneck"), max_blocks=(3,), widths=(8, 16),
                        shortcuts=("A", "B", "plain"), stride_on=("3x3", "1x1"), input_size=64)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        spec = space.suggest(trial)
        assert space.params_of(spec) == trial.params
        study.tell(trial, 0.0)
    resnet20 = SearchSpace(widths=(16,), max_blocks=(9,)).params_of(
        parse_spec("resnet20"))
    assert resnet20 == {"blocks1": 3, "blocks2": 3, "blocks3": 3, "block": "basic", "shortcut": "A"}
    assert SearchSpace(max_blocks=(2,)).params_of(parse_spec("resnet20")) is None


def test_analytic_counter_is_exact_on_specs_the_search_proposes():
    space = SearchSpace(families=("cifar", "imagenet"), blocks=("basic", "bottleneck"), max_blocks=(3,), widths=(4, 8),
                        shortcuts=("A", "B", "C", "plain"), stride_on=("3x3", "1x1"), input_size=64, num_classes=7)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(12):
        trial = study.ask()
        spec = space.suggest(trial)
        a, f = analytic_complexity(spec), count_complexity(spec)
        assert (a.macs, a.params) == (f.macs, f.params), spec.name
        study.tell(trial, 0.0)
