"""Hypervolume of a search's front, and its history by trial count (moocore's WFG algorithm).

The hypervolume is the share of the objective space, between the ideal corner and a
reference point, that the front dominates: one number that grows whenever the front gets
better anywhere. Each objective is divided by its reference value first, so the result lies
in [0, 1] whatever the units. Reference point, stated with every result:

* error: 1.0 (a net that is always wrong);
* a cost (macs, params, latency): the search's constraint on it when there is one (nothing
  beyond it is feasible), else 1.1 x the largest value any finished trial had.

A single objective has no front to measure; fewer than two feasible points say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIELDS = {"error": "test_error", "macs": "macs", "params": "params", "latency": "latency_ms"}
LIMITS = {"macs": "max_macs", "params": "max_params", "latency": "max_latency_ms"}


@dataclass(frozen=True)
class Hypervolume:
    objectives: tuple[str, ...]
    reference: dict  # objective -> reference value, in the objective's own units
    value: float | None  # of the whole front, normalised to [0, 1]
    history: tuple[tuple[int, float], ...]  # (finished trials so far, hypervolume then)
    why_none: str | None = None  # when there is no value: why, in one sentence

    def to_dict(self) -> dict:
        return {"objectives": list(self.objectives), "reference_point": self.reference, "value": self.value,
                "history": [{"trials": n, "hypervolume": v} for n, v in self.history], "why_none": self.why_none}


def hypervolume(summary, objectives: tuple[str, ...], constraints) -> Hypervolume:
    """The hypervolume of the finished, non-duplicate trials of ``summary`` and its history."""
    import moocore

    if len(objectives) < 2:
        return Hypervolume(tuple(objectives), {}, None, (), "one objective has no front: search with error and a cost "
                                                             "(e.g. `objectives='error,macs'`) for a hypervolume")
    rows = [t for t in sorted(summary.trials, key=lambda t: t.number)
            if t.state == "complete" and t.status != "duplicate"
            and all(getattr(t, FIELDS[o]) is not None for o in objectives)]
    points = np.array([[float(getattr(t, FIELDS[o])) for o in objectives] for t in rows]).reshape(-1, len(objectives))
    reference = {"error": 1.0}
    for o in objectives[1:]:
        limit = getattr(constraints, LIMITS[o], None) if constraints is not None else None
        reference[o] = float(limit) if limit else (1.1 * float(points[:, objectives.index(o)].max()) if len(points) else None)
    if len(points) < 2:
        return Hypervolume(tuple(objectives), reference, None, (),
                           f"{len(points)} feasible finished trial(s): a hypervolume needs at least two")
    ref = np.array([reference[o] for o in objectives])
    scaled = points / ref
    history = []
    for n in range(1, len(scaled) + 1):
        inside = scaled[:n][(scaled[:n] < 1).all(axis=1)]  # points beyond the reference add nothing
        history.append((n, float(moocore.hypervolume(inside, ref=np.ones(len(objectives)))) if len(inside) else 0.0))
    return Hypervolume(tuple(objectives), reference, history[-1][1], tuple(history))
