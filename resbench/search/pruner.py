"""Early stopping over epochs: successive halving, asynchronous, for one or many objectives.

Single objective (error only): Optuna's own ``SuccessiveHalvingPruner`` decides, fed with
``trial.report``. Optuna's ``report``/``should_prune`` raise NotImplementedError in
multi-objective studies, so for error + cost(s) this module applies the same rule with
the multi-objective ranking of MO-ASHA (Schmucker et al. 2021, "Multi-objective
Asynchronous Successive Halving"): at rung epochs ``min_epochs * eta**k`` a trial
continues only if its point (costs..., error at that epoch) is among the best
``max(1, n // eta)`` of the n trials that reached the rung, ranked by non-dominated
front then crowding distance. Costs are known before training, so a cheap net is
judged against the nets of similar cost, not against the most accurate big one.

Rung values live in the Optuna storage as trial user attributes, so workers on other
machines sharing the study see them (asynchronous, like Optuna's own pruner).
"""

from __future__ import annotations

from dataclasses import dataclass

from resbench.search.pareto import best_k, dominates

RUNG_ATTR = "rung_{epoch}"  # user attr: [costs..., error] at a rung epoch


@dataclass(frozen=True)
class Halving:
    min_epochs: int = 1
    eta: int = 3
    epochs: int = 9  # full budget: no rung at or beyond it (a finished trial is simply complete)

    def rung_epochs(self) -> list[int]:
        out, e = [], self.min_epochs
        while e < self.epochs:
            out.append(e)
            e *= self.eta
        return out

    def optuna_pruner(self):
        import optuna

        return optuna.pruners.SuccessiveHalvingPruner(min_resource=self.min_epochs, reduction_factor=self.eta)

    def decide(self, study, trial, epoch: int, costs: list[float], error: float) -> bool:
        """Record this trial's rung value and say whether it should stop (multi-objective).
        ``trial``: the live optuna Trial. Returns True to prune."""
        if epoch not in self.rung_epochs():
            return False
        key = RUNG_ATTR.format(epoch=epoch)
        point = [*costs, error]
        trial.set_user_attr(key, point)
        others = [t.user_attrs[key] for t in study.get_trials(deepcopy=False)
                  if key in t.user_attrs and t.number != trial.number]
        points = others + [point]
        if len(points) < self.eta:
            # Too few to cut a fraction: like Optuna's pruner, continue only if nothing
            # seen so far is better, i.e. if this point is not dominated.
            return any(dominates(p, point) for p in others)
        return len(points) - 1 not in best_k(points, len(points) // self.eta)
