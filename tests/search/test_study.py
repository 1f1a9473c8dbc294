"""resbench search: space and constraints, pruning, study resume, the CLI (Pareto sorting: test_pareto.py).

The search logic runs here against a fake trainer whose errors are a known function of
the spec and epoch, so pruning and resume are checked exactly and in milliseconds;
the CLI tests train real (tiny) networks on synthetic data.
"""

import itertools
import json
import random

import optuna
import pytest

from resbench.cost import analytic_complexity
from resbench.errors import UsageError
from resbench.measure.complexity import count_complexity
from resbench.search.pareto import pareto_front
from resbench.search.pruner import Halving
from resbench.search.space import Constraints, SearchSpace, narrow
from resbench.search.study import Runner, SearchConfig, open_study, summarize
from resbench.spec import parse_spec
from resbench.store import Store
from resbench.train.config import TrainConfig
from resbench.results import EpochStats, TrainResult
from resbench.train.sweep import Cell
from resbench.validate import count as parse_count

# --- the space and its constraints ------------------------------------------------------

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


# --- the command line -------------------------------------------------------------------

TINY = ["--dataset", "synthetic", "--subset", "100", "--test-subset", "50", "--batch-size", "50", "--epochs", "3",
        "--widths", "4", "--max-blocks-per-stage", "2", "--blocks", "basic", "--threads", "1"]


def test_cli_search_on_synthetic_data(cli, tmp_path):
    out_csv, out_png = tmp_path / "t.csv", tmp_path / "f.png"
    args = ["search", *TINY, "--trials", "4", "--results-dir", tmp_path / "r", "--csv", out_csv, "--plot", out_png]
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["pareto"] and {"spec", "params", "macs", "latency_ms", "test_error"} <= set(d["pareto"][0])
    assert all(p["fvcore_confirmed"] for p in d["pareto"])
    assert sum(n for k, n in d["counts"].items() if k != "infeasible") >= 4
    assert out_csv.read_text().startswith("number,spec") and out_png.stat().st_size > 10_000
    records = list((tmp_path / "r" / "records" / "train").glob("*.json"))
    assert records
    code, out, err = cli(*args)  # the same command continues (here: finds) the study: nothing new trained
    assert code == 0 and "Pareto front" in out
    assert len(list((tmp_path / "r" / "records" / "train").glob("*.json"))) == len(records)
    code, out, _ = cli("results", "--results-dir", tmp_path / "r", "--json")
    assert code == 0 and len(json.loads(out)) == len(records)
    code, out, _ = cli("plot", tmp_path / "s.png", "--results-dir", tmp_path / "r", "--filter", f"study={d['study']}", "--json")
    assert code == 0 and len(json.loads(out)["points"]) == len(records) and (tmp_path / "s.png").stat().st_size > 5000
    code, _, err = cli("plot", tmp_path / "s.png", "--results-dir", tmp_path / "r", "--y", "colour")
    assert code == 2 and "--y 'colour' is no column of the records" in err


@pytest.mark.parametrize("extra, message", [
    (["--max-macs", "1000"], "no candidate satisfies --max-macs"),
    (["--objectives", "macs"], "--objectives starts with error"),
    (["--stride-on", "1x1"], "no bottleneck"),
    (["--max-memory", "1G"], "needs --device cuda"),
    (["--storage", "sqlite:////nonexistent-dir/x/search.db"], "cannot open the study storage"),
    (["--min-epochs", "3"], "--min-epochs 3 leaves nothing to prune"),
    (["--space", "missing.toml"], "does not exist"),
])
def test_cli_search_bad_input_is_one_line_exit_2(cli, tmp_path, extra, message):
    code, out, err = cli("search", *TINY, "--results-dir", tmp_path / "r", *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) <= 2 and "Traceback" not in err


def test_cli_space_file(cli, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('blocks = ["basic"]\nwidths = [4]\nmax_blocks_per_stage = 2\nshortcuts = ["B"]\nmax_macs = "2M"\n')
    code, out, err = cli("search", *TINY[:10], "--threads", "1", "--space", space, "--trials", "2", "--no-pruning",
                         "--no-references", "--results-dir", tmp_path / "r", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["space"]["shortcuts"] == ["B"] and d["constraints"]["max_macs"] == 2_000_000
    assert all(t["macs"] <= 2_000_000 and ":shortcut=B" in t["spec"] for t in d["trials"])
    space.write_text("colour = 3\n")
    code, _, err = cli("search", *TINY, "--space", space, "--results-dir", tmp_path / "r")
    assert code == 2 and "unknown key(s) colour" in err


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


def test_a_candidate_that_cannot_fit_here_is_infeasible_not_the_end(cli, tmp_path, monkeypatch):
    """Memory that fits only the smallest nets: the big ones are skipped as infeasible, the
    search goes on, and Optuna's traceback for them never reaches the user."""
    from resbench import limits

    small = limits.estimate_bytes(parse_spec("cifar-resnet14:width=4"), 50, True)
    monkeypatch.setattr(limits, "machine_memory", lambda device=None: (int(sum(small) * 1.5), "this machine has"))
    code, out, err = cli("search", *TINY, "--epochs", "1", "--trials", "2", "--widths", "4,64", "--sampler-seed", "0",
                         "--results-dir", tmp_path / "r", "--json")
    assert code == 0, err
    trials = json.loads(out)["trials"]
    infeasible = [t for t in trials if t["status"] == "infeasible"]
    assert infeasible and all("does not fit here" in t["why"] for t in infeasible)
    assert any(t["status"] == "trained" for t in trials)
    assert "Traceback" not in err and "failed" not in err


def test_a_bad_storage_is_the_only_line(cli, tmp_path):
    """No note about the search (pruning off at one epoch) before the storage is known to open."""
    code, _, err = cli("search", *TINY, "--epochs", "1", "--storage", "foo://bar", "--results-dir", tmp_path / "r")
    assert code == 2 and err.strip().splitlines() == [l for l in err.strip().splitlines() if "cannot open the study storage" in l]


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
