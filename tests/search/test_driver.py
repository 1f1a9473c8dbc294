"""The search driver (resbench.search.driver): options checked before anything is read or trained."""

import pytest

from resbench.errors import ConfigError, UsageError
from resbench.search.driver import SearchOptions, _check_config, _check_options, _cut_by_interrupt
from resbench.train.config import TrainConfig


def test_every_number_of_the_options_is_checked_and_the_trials_returned():
    assert _check_options(SearchOptions(trials=7)) == 7
    for bad, field in ((dict(trials=0), "trials"), (dict(timeout=0.0), "timeout"), (dict(seeds=0), "seeds"),
                       (dict(reduction_factor=1), "reduction_factor"), (dict(sampler_seed=-1), "sampler_seed")):
        with pytest.raises(UsageError, match=field):
            _check_options(SearchOptions(**bad))


def test_a_search_needs_one_dtype_for_all_its_specs():
    _check_config(TrainConfig(dtype="fp32"))
    with pytest.raises(ConfigError, match="a search trains many specs"):
        _check_config(TrainConfig(dtype="auto"))


def test_an_error_raised_while_handling_ctrl_c_counts_as_the_user_stopping():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise UnboundLocalError("optuna's cleanup")
    except UnboundLocalError as e:
        assert _cut_by_interrupt(e)
    assert not _cut_by_interrupt(ValueError("a bug"))
