"""Non-dominated sorting for minimisation problems (every objective: lower is better).

The front and the ranks are moocore's (``is_nondominated``, ``pareto_rank``); the
crowding distance and the NSGA-II selection built on them are here, because the
multi-objective pruner needs them for partial results, which Optuna does not expose.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Point = Sequence[float]


def dominates(a: Point, b: Point) -> bool:
    """a is no worse than b in every objective and better in at least one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indices of the non-dominated points (duplicates of a front point are all kept)."""
    import moocore

    if not len(points):
        return []
    return [int(i) for i in np.flatnonzero(moocore.is_nondominated(np.asarray(points, dtype=float), keep_weakly=True))]


def nondominated_ranks(points: Sequence[Point]) -> list[int]:
    """Front number of every point: 0 for the Pareto front, 1 for the front without it, ..."""
    import moocore

    if not len(points):
        return []
    return [int(r) for r in moocore.pareto_rank(np.asarray(points, dtype=float))]


def crowding_distances(points: Sequence[Point], members: Sequence[int]) -> dict[int, float]:
    """NSGA-II crowding distance of each member within its front: boundary points get
    infinity, so the cheapest and the most accurate survive a cut."""
    dist = {i: 0.0 for i in members}
    if len(members) <= 2:
        return {i: float("inf") for i in members}
    for k in range(len(points[members[0]])):
        order = sorted(members, key=lambda i: points[i][k])
        lo, hi = points[order[0]][k], points[order[-1]][k]
        dist[order[0]] = dist[order[-1]] = float("inf")
        if hi == lo:
            continue
        for a, b, c in zip(order, order[1:], order[2:]):
            dist[b] += (points[c][k] - points[a][k]) / (hi - lo)
    return dist


def best_k(points: Sequence[Point], k: int) -> list[int]:
    """The k best points by (non-dominated rank, then larger crowding distance), the
    selection of NSGA-II and of multi-objective successive halving."""
    ranks = nondominated_ranks(points)
    order = []
    for r in range(max(ranks, default=-1) + 1):
        members = [i for i, x in enumerate(ranks) if x == r]
        crowd = crowding_distances(points, members)
        order += sorted(members, key=lambda i: (-crowd[i], i))
    return order[:k]
