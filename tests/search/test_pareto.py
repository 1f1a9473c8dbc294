"""Pareto sorting (resbench.search.pareto, moocore's fronts and ranks): known points, and a
cut that keeps the front's extremes first."""

from resbench.search.pareto import best_k, crowding_distances, dominates, nondominated_ranks, pareto_front


def test_pareto_front_of_known_points():
    pts = [(1, 9), (2, 7), (3, 8), (4, 4), (5, 5), (6, 1), (6, 1), (7, 2)]
    assert pareto_front(pts) == [0, 1, 3, 5, 6]  # (3,8) is dominated by (2,7); (5,5) by (4,4); (7,2) by (6,1)
    assert nondominated_ranks(pts) == [0, 0, 1, 0, 1, 0, 0, 1]
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (1, 2)) and not dominates((0, 3), (1, 2))


def test_best_k_prefers_front_then_boundary_points():
    pts = [(1, 10), (2, 6), (3, 5), (10, 1), (5, 9)]
    crowd = crowding_distances(pts, [0, 1, 2, 3])
    assert crowd[0] == crowd[3] == float("inf") and 0 < crowd[2] < float("inf")
    assert set(best_k(pts, 2)) == {0, 3}  # the front's extremes survive a cut first
    assert 4 not in best_k(pts, 4)  # the dominated point goes last
