"""The search front's hypervolume: checked against a hand computation and Optuna's own
implementation, with its stated reference point; and the study opens as optuna-dashboard
opens it."""

import json
from types import SimpleNamespace as NS

import numpy as np
import pytest

from resbench.search.hypervolume import hypervolume


def _rows(points):
    return [NS(number=i, state="complete", status="trained", test_error=e, macs=m, params=1, latency_ms=None)
            for i, (e, m) in enumerate(points)]


def _staircase(points, ref):
    """2-D hypervolume by hand: sweep by cost, add each step's rectangle."""
    area, best = 0.0, ref[0]
    for m, e in sorted((m / ref[1], e / ref[0]) for e, m in points):
        if e < best:
            area += (1 - m) * (best - e)
            best = e
    return area


def test_equals_a_hand_computation_and_its_history_never_falls():
    pts = [(0.5, 10), (0.3, 40), (0.4, 20), (0.2, 90), (0.6, 5)]
    h = hypervolume(NS(trials=_rows(pts)), ("error", "macs"), NS(max_macs=100))
    assert h.reference == {"error": 1.0, "macs": 100.0}
    assert h.value == pytest.approx(_staircase(pts, (1.0, 100.0)))
    values = [v for _, v in h.history]
    assert values == sorted(values) and len(values) == len(pts)


def test_agrees_with_optunas_own_hypervolume_in_three_objectives():
    hv = pytest.importorskip("optuna._hypervolume")
    rng = np.random.default_rng(0)
    rows = [NS(number=i, state="complete", status="trained", test_error=float(e), macs=float(m), params=float(p),
               latency_ms=None) for i, (e, m, p) in enumerate(rng.uniform(0.05, 0.95, (12, 3)))]
    h = hypervolume(NS(trials=rows), ("error", "macs", "params"), NS(max_macs=1.0, max_params=1.0))
    pts = np.array([[r.test_error, r.macs, r.params] for r in rows])
    assert h.value == pytest.approx(hv.compute_hypervolume(pts, np.ones(3)))


def test_without_a_constraint_the_reference_is_beyond_the_worst_point():
    h = hypervolume(NS(trials=_rows([(0.5, 10), (0.3, 40)])), ("error", "macs"), NS(max_macs=None))
    assert h.reference["macs"] == pytest.approx(44.0)


def test_too_few_points_or_one_objective_say_why():
    one = hypervolume(NS(trials=_rows([(0.5, 10)])), ("error", "macs"), NS(max_macs=100))
    assert one.value is None and "at least two" in one.why_none
    single = hypervolume(NS(trials=_rows([(0.5, 10), (0.4, 9)])), ("error",), None)
    assert single.value is None and "one objective" in single.why_none


def test_search_reports_it_and_the_study_opens_as_the_dashboard_opens_it(cli, tmp_path):
    import optuna

    db = tmp_path / "s.db"
    code, out, err = cli("search", "--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32",
                         "--epochs", "1", "--trials", "3", "--max-macs", "20M", "--storage", f"sqlite:///{db}",
                         "--study", "dash", "--results-dir", tmp_path, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["hypervolume"]["reference_point"] == {"error": 1.0, "macs": 20_000_000.0}
    assert doc["hypervolume"]["value"] is None or 0 <= doc["hypervolume"]["value"] <= 1
    # optuna-dashboard reads the storage through Optuna's public API:
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    assert "dash" in optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name="dash", storage=storage)
    assert len(study.directions) == 2 and len(study.get_trials(deepcopy=False)) >= 3
    assert all(len(t.values) == 2 for t in study.best_trials)


def test_every_trial_attribute_written_is_declared():
    """Writers and readers of a trial's user attributes agree on one table (study.TRIAL_ATTRS)."""
    import ast
    from pathlib import Path

    import resbench.search as pkg
    from resbench.search.study import STUDY_ATTRS, TRIAL_ATTRS

    declared = set(TRIAL_ATTRS) | set(STUDY_ATTRS)
    written = set()
    for p in Path(pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "set_user_attr":
                key = node.args[0]
                if isinstance(key, ast.Constant):
                    written.add(key.value)
                elif isinstance(key, ast.JoinedStr):  # f"rung_{...}"
                    written.add("rung_{epoch}")
    assert written and written <= declared, written - declared
