"""Multi-objective successive halving (resbench.search.pruner): who survives a rung."""

from resbench.search.pruner import Halving

# --- the space and its constraints ------------------------------------------------------


# --- the runner, with a fake trainer -------------------------------------------------------


def test_multi_objective_halving_keeps_the_cheap_end():
    """At a rung, a cheap net with a worse error survives if nothing cheaper beats it."""

    class T:
        def __init__(self, number, attrs):
            self.number, self.user_attrs = number, attrs

        def set_user_attr(self, k, v):
            self.user_attrs[k] = v

    class S:
        def __init__(self, trials):
            self.trials = trials

        def get_trials(self, deepcopy=False):
            return self.trials

    others = [T(i, {"rung_1": [macs, err]}) for i, (macs, err) in enumerate([(40, 0.5), (41, 0.45), (42, 0.48), (50, 0.6), (60, 0.7)])]
    h = Halving(1, 3, 9)
    assert h.rung_epochs() == [1, 3]
    cheap = T(9, {})
    assert not h.decide(S(others + [cheap]), cheap, 1, [5], 0.8)  # cheapest of all: kept though its error is worst
    mid = T(10, {})
    assert h.decide(S(others + [mid]), mid, 1, [45], 0.55)  # dominated by (41, 0.45): pruned
    assert not h.decide(S(others), T(11, {}), 2, [45], 0.99)  # epoch 2 is not a rung
