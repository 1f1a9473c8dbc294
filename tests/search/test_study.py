"""The search study (resbench.search.study): pruning, resume, failures, extra seeds (the space: test_space.py; Pareto
sorting: test_pareto.py; the CLI: tests/cli/test_search.py).

The search logic runs here against a fake trainer whose errors are a known function of
the spec and epoch, so pruning and resume are checked exactly and in milliseconds;
the CLI tests train real (tiny) networks on synthetic data.
"""

import random

import optuna
import pytest

from resbench.cost import analytic_complexity
from resbench.errors import UsageError
from resbench.search.pareto import pareto_front
from resbench.search.pruner import Halving
from resbench.search.space import Constraints, SearchSpace, narrow
from resbench.search.study import Runner, SearchConfig, open_study, summarize
from resbench.spec import parse_spec
from resbench.store import Store
from resbench.train.config import TrainConfig
from resbench.results import EpochStats, TrainResult
from resbench.train.sweep import Cell

# --- the space and its constraints ------------------------------------------------------


# --- the runner, with a fake trainer -------------------------------------------------------


class FakeTrainer:
    """Error falls with epochs towards a floor that depends on the spec: known, deterministic."""

    def __init__(self):
        self.calls = []
        self.epochs_run = 0

    def floor(self, spec):
        return 0.2 + 0.6 * random.Random(spec.name).random()

    def __call__(self, spec, cfg, on_epoch):
        self.calls.append(spec.name)
        history = []
        for e in range(1, cfg.epochs + 1):
            err = self.floor(spec) * (1 + 0.25 / e)  # a fraction: at most 0.8 x 1.25
            history.append(EpochStats(e, 0.1, 1.0, err, err, 0.0, 0.0))
            self.epochs_run += 1
            if e < cfg.epochs and not on_epoch(history[-1]):
                break
        # a whole result, as the engine returns it: the store checks what it is given
        return TrainResult(spec=spec.name, params=1, macs=1, epochs=len(history), history=tuple(history),
                           final_train_error=history[-1].train_error, final_test_error=history[-1].test_error,
                           diverged=False, diverged_at=None, seconds=1.0, images_per_second=1.0, data_fraction=0.0,
                           test_split="test", effective_batch_size=cfg.batch_size, lr=cfg.base_lr,
                           stopped_early=len(history) < cfg.epochs).to_dict()


def _search(tmp_path, objectives=("error", "macs"), halving=Halving(1, 3, 9), space=None, constraints=Constraints(max_macs=45_000_000),
            seeds=1, sampler="random", measure_fn=None):
    space = narrow(space or SearchSpace(max_blocks=(6,), widths=(8, 16)), constraints).space
    cfg = SearchConfig(space=space, constraints=constraints, train=TrainConfig(epochs=9), objectives=objectives, seeds=seeds,
                       halving=halving, sampler=sampler)
    url = f"sqlite:///{tmp_path / 'search.db'}"
    return cfg, url


def test_search_respects_constraints_prunes_and_stores_every_run(tmp_path):
    cfg, url = _search(tmp_path)
    trainer, store = FakeTrainer(), Store(tmp_path / "results")
    runner = Runner(cfg, open_study(cfg, url, "s", None), store, trainer)
    assert runner.enqueue_references() == ["resnet20"]
    runner.run(30)
    summary = summarize(runner.study, cfg, url)
    evaluated = [t for t in summary.trials if t.status != "infeasible"]
    assert len(evaluated) >= 30
    assert all(t.macs <= 45_000_000 for t in evaluated)
    assert all(analytic_complexity(parse_spec(n)).macs <= 45_000_000
               for n in trainer.calls)
    ref = next(t for t in summary.trials if t.reference == "resnet20")
    assert ref.status == "trained" and ref.epochs_trained == 9  # references are never pruned
    assert summary.counts().get("pruned", 0) > 10
    assert summary.epoch_fraction <= 0.4  # the budget: at most 40 % of full training
    assert summary.epochs_trained == trainer.epochs_run
    # every training run is a train record; full runs share compare's cell key, pruned runs never do
    records, _ = store.load("train")
    assert len(records) == len(trainer.calls)
    for rec in records:
        full = rec.result["epochs"] == 9
        spec = parse_spec(rec.config["spec"])
        assert (rec.key == Cell(spec, 0, cfg.train).key) == full
        assert rec.config["study"] == "s"
    # the front is the non-dominated set of complete trials, computed independently here
    complete = [t for t in summary.trials if t.state == "complete" and t.status != "duplicate"]
    expected = {complete[i].number for i in pareto_front([(t.test_error, t.macs) for t in complete])}
    assert {t.number for t in summary.front} == expected


def test_search_resumes_without_retraining(tmp_path):
    cfg, url = _search(tmp_path)
    trainer, store = FakeTrainer(), Store(tmp_path / "results")
    Runner(cfg, open_study(cfg, url, "s", None), store, trainer).run(6)
    first = len(trainer.calls)
    again = Runner(cfg, open_study(cfg, url, "s", None), store, trainer)
    again.run(6)
    assert len(trainer.calls) == first  # the study already has its 6 trials
    again.run(10)
    summary = summarize(again.study, cfg, url)
    assert len([t for t in summary.trials if t.status != "infeasible"]) >= 10
    assert len(trainer.calls) < first + 10  # only the new trials trained (duplicates answered from the study)
    other = SearchConfig(space=cfg.space, constraints=Constraints(max_macs=20_000_000), train=cfg.train)
    with pytest.raises(UsageError, match="different search"):
        open_study(other, url, "s", None)


def test_a_failed_trial_loses_only_itself(tmp_path):
    cfg, url = _search(tmp_path, halving=None)
    trainer, store = FakeTrainer(), Store(tmp_path / "results")

    def crashing(spec, c, on_epoch):
        if len(trainer.calls) == 2:
            trainer.calls.append("crash")
            raise RuntimeError("worker died")
        return trainer(spec, c, on_epoch)

    runner = Runner(cfg, open_study(cfg, url, "s", None), store, crashing)
    with pytest.raises(RuntimeError, match="worker died"):
        runner.run(5)
    runner = Runner(cfg, open_study(cfg, url, "s", None), store, trainer)
    runner.run(5)
    states = [t.state for t in runner.study.get_trials() if t.user_attrs.get("status") != "infeasible"]
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 4 and states.count(optuna.trial.TrialState.FAIL) == 1


def test_duplicate_proposals_are_answered_from_the_study(tmp_path):
    cfg, url = _search(tmp_path, halving=None)
    trainer = FakeTrainer()
    study = open_study(cfg, url, "s", None)
    params = {"blocks1": 2, "blocks2": 2, "blocks3": 2, "block": "basic", "width": 8, "shortcut": "B"}
    study.enqueue_trial(params)
    study.enqueue_trial(params)
    Runner(cfg, study, Store(tmp_path / "results"), trainer).run(2)
    assert len(trainer.calls) == 1
    statuses = [t.user_attrs["status"] for t in study.get_trials()]
    assert statuses == ["trained", "duplicate"]
    assert len(summarize(study, cfg, url).front) == 1


def test_extra_seeds_train_only_survivors_and_report_spread(tmp_path):
    cfg, url = _search(tmp_path, seeds=2)
    trainer = FakeTrainer()
    runner = Runner(cfg, open_study(cfg, url, "s", None), Store(tmp_path / "results"), trainer)
    runner.run(12)
    summary = summarize(runner.study, cfg, url)
    for t in summary.trials:
        if t.state == "complete" and t.status == "trained":
            assert t.seeds == 2 and t.test_error_std is not None and t.epochs_trained == 18
        if t.status == "pruned":
            assert t.epochs_trained < 9  # pruned on its first seed: no second seed trained


def test_single_objective_uses_optunas_successive_halving(tmp_path):
    cfg, url = _search(tmp_path, objectives=("error",))
    runner = Runner(cfg, open_study(cfg, url, "s", None), Store(tmp_path / "results"), FakeTrainer())
    assert isinstance(runner.study.pruner, optuna.pruners.SuccessiveHalvingPruner)
    runner.run(15)
    summary = summarize(runner.study, cfg, url)
    assert summary.counts().get("pruned", 0) > 0
    assert len(summary.front) == 1 and summary.front[0].test_error == min(
        t.test_error for t in summary.trials if t.state == "complete")


def test_measured_latency_is_an_objective_and_a_constraint(tmp_path):
    limit = Constraints(max_macs=30_000_000, max_latency_ms=5.0)
    cfg, url = _search(tmp_path, objectives=("error", "latency"), constraints=limit, halving=None)
    trainer = FakeTrainer()

    def fake_latency(spec):  # a known function of MACs
        return {"latency_ms": analytic_complexity(spec).macs / 2e6, "memory_bytes": None}

    runner = Runner(cfg, open_study(cfg, url, "s", None), Store(tmp_path / "results"), trainer, measure_fn=fake_latency)
    runner.run(8)
    summary = summarize(runner.study, cfg, url)
    for t in summary.trials:
        if t.macs > 30_000_000:  # rejected by the free analytic check: never measured
            assert t.status == "infeasible" and t.latency_ms is None
        else:
            assert t.latency_ms == pytest.approx(t.macs / 2e6)
            assert (t.status == "infeasible") == (t.latency_ms > 5.0)
    assert all(analytic_complexity(parse_spec(n)).macs <= 10_000_000
               for n in trainer.calls)


# --- the command line -------------------------------------------------------------------


KILLED_WORKER = """
import sys, time
sys.path.insert(0, {tests!r})
from test_study import FakeTrainer, _search
from pathlib import Path
from resbench.search.study import Runner, open_study
from resbench.store import Store
cfg, url = _search(Path({tmp!r}), halving=None)
trainer = FakeTrainer()
def slow(spec, c, on_epoch):
    time.sleep(2.5)  # let the heartbeat thread record a beat first (a trial killed before its first beat is never seen as stale)
    print("training", spec.name, flush=True)
    time.sleep(60)
runner = Runner(cfg, open_study(cfg, url, "s", None, heartbeat=(1, 2)), Store({tmp!r}), slow)
runner.run(3)
"""


def test_a_killed_worker_loses_only_its_running_trial(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = KILLED_WORKER.format(tests=os.path.dirname(__file__), tmp=str(tmp_path))
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().startswith("training")  # the worker is inside its first trial
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    time.sleep(4)  # longer than the grace period (2 s, sqlite timestamps in whole seconds): the heartbeat is stale
    cfg, url = _search(tmp_path, halving=None)
    trainer = FakeTrainer()
    runner = Runner(cfg, open_study(cfg, url, "s", None, heartbeat=(1, 2)), Store(tmp_path), trainer)
    runner.run(3)
    trials = runner.study.get_trials()
    dead = trials[0]
    assert dead.state == optuna.trial.TrialState.FAIL
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == dead.number)
    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.params == dead.params
    assert trainer.calls[0] == dead.user_attrs["spec"]  # the retry trained the dead worker's candidate first


def test_two_workers_on_one_candidate_train_and_store_it_once(tmp_path):
    """Two search workers (threads here, each its own Runner) given the same seed of the same
    spec: the second waits for the first's claim and reads its record."""
    import threading
    import time

    cfg, url = _search(tmp_path, halving=None)
    store, trainer = Store(tmp_path / "results"), FakeTrainer()

    def slow(spec, c, on_epoch):
        time.sleep(0.3)  # long enough for the other worker to reach the claim
        return trainer(spec, c, on_epoch)

    spec = parse_spec("cifar-resnet8")
    outcomes, errors = [], []

    def worker():
        try:
            runner = Runner(cfg, open_study(cfg, url, "s", None), store, slow)
            trial = runner.study.ask()
            outcomes.append(runner._train_one(trial, spec, cfg.train, [0.0], prune=False))
        except Exception as e:  # surfaced below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(outcomes) == 2
    assert trainer.calls == ["cifar-resnet8"]  # trained once
    assert sorted(trained for _, _, trained in outcomes) == [0, cfg.train.epochs]  # the other read it
    assert outcomes[0][1] == outcomes[1][1]  # one record id
    assert len(list((tmp_path / "results" / "records" / "train").glob("*.json"))) == 1
