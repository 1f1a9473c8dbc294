"""`--budget`, `--plan`, `--until-resolved` (resbench.cli.budget): what may go with what, checked before anything."""

import pytest

from resbench.cli.budget import budget_seconds
from resbench.errors import UsageError


def test_a_budget_is_read_in_seconds_and_none_without_one():
    assert budget_seconds("1h30m", plan=False, until_resolved=False, seeds=None) == 5400
    assert budget_seconds(None, plan=False, until_resolved=False, seeds=None) is None
    assert budget_seconds(None, plan=False, until_resolved=True, seeds=8) is None  # seeds are the limit


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(budget=None, plan=True), "--plan shows what a --budget buys"),
    (dict(budget="1h", plan=True, outputs=("t.csv",)), "no table or figure"),
    (dict(budget=None, until_resolved=True), "--until-resolved needs a limit"),
    (dict(budget=None, short_runs=True), "--short-runs accepts a budget's plan"),
    (dict(budget="1h", target_error=10.0), "--target-error is not reported"),
    (dict(budget="90"), "duration with units"),
])
def test_options_that_do_not_go_together_are_refused(kwargs, fragment):
    args = {"plan": False, "until_resolved": False, "seeds": None, **kwargs}
    with pytest.raises(UsageError, match=fragment):
        budget_seconds(**args)
