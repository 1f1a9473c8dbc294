"""What a search costs: scoring candidates, and the epochs pruning saves.

    python benchmarks/search_cost.py [--candidates 1000] [--fvcore 30] [--trials 24] [--data-dir DIR]

1. Complexity of N random candidates of a CIFAR space (basic/bottleneck, 1-18 blocks per
   stage, widths 8-32, shortcuts A/B/C/plain): the analytic counter over all N, and fvcore
   (build the net, trace it) over a sample, extrapolated per candidate; the two must agree
   exactly on the sample. Target: analytic <= 2 s for 1,000 candidates.
2. A real search (multi-objective TPE + successive halving, 9 epochs per candidate) of
   --trials candidates, trained on CIFAR-10 from --data-dir (a subset) or on synthetic
   data: epochs trained vs the epochs that training every evaluated candidate fully would
   take, in the same run. Target: <= 40 %.
"""

import argparse
import platform
import random
import tempfile
import time

import optuna
import torch

from resbench.cost import analytic_complexity
from resbench.measure.complexity import count_complexity
from resbench.measure.env import collect_env
from resbench.search.pruner import Halving
from resbench.search.space import Constraints, SearchSpace, narrow
from resbench.search.study import Runner, SearchConfig, open_study, summarize
from resbench.store import Store
from resbench.train.config import TrainConfig
from resbench.train.data import load_dataset
from resbench.train.engine import train

SPACE = SearchSpace(blocks=("basic", "bottleneck"), max_blocks=(18,), widths=(8, 16, 32), shortcuts=("A", "B", "C", "plain"))


def random_candidates(n: int, seed: int = 0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    specs = []
    for _ in range(n):
        trial = study.ask()
        specs.append(SPACE.suggest(trial))
        study.tell(trial, 0.0)
    return specs


def complexity_cost(n: int, n_fvcore: int) -> None:
    specs = random_candidates(n)
    t = time.perf_counter()
    counts = [analytic_complexity(s) for s in specs]
    analytic_s = time.perf_counter() - t
    sample = random.Random(0).sample(range(n), n_fvcore)
    t = time.perf_counter()
    exact = 0
    for i in sample:
        f = count_complexity(specs[i])
        exact += (f.macs, f.params) == (counts[i].macs, counts[i].params)
    fvcore_each = (time.perf_counter() - t) / n_fvcore
    print(f"analytic: {n} candidates in {analytic_s:.3f} s ({1e3 * analytic_s / n:.3f} ms each)   target <= 2 s: "
          f"{'met' if analytic_s <= 2 else 'MISSED'}")
    print(f"fvcore:   {1e3 * fvcore_each:.0f} ms per candidate (sample of {n_fvcore}) -> {n * fvcore_each:.0f} s for {n}; "
          f"analytic is {fvcore_each * n / analytic_s:.0f}x faster")
    print(f"agreement on the fvcore sample: {exact}/{n_fvcore} exact (MACs and params)")


def pruning_cost(trials: int, data_dir: str | None) -> None:
    if data_dir:
        cfg = TrainConfig(dataset="cifar10", data_dir=data_dir, subset=600, test_subset=300, epochs=9, batch_size=100)
        data = load_dataset("cifar10", data_dir, subset=600, test_subset=300)
    else:
        cfg = TrainConfig(dataset="synthetic", epochs=9, batch_size=100)
        data = load_dataset("synthetic", synthetic_size=(600, 300))
    space = narrow(SearchSpace(blocks=("basic", "bottleneck"), max_blocks=(5,), widths=(8, 16)), Constraints(max_macs=30_000_000)).space
    sc = SearchConfig(space=space, constraints=Constraints(max_macs=30_000_000), train=cfg, halving=Halving(1, 3, 9))
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/search.db"
        runner = Runner(sc, open_study(sc, url, "bench", None), Store(d), lambda s, c, cb: train(s, c, data, on_epoch=cb).to_dict())
        t = time.perf_counter()
        runner.run(trials)
        seconds = time.perf_counter() - t
        s = summarize(runner.study, sc, url)
    c = s.counts()
    print(f"search: {trials} candidates on {data.name} ({len(data.train_y)} train images), 9 epochs each at most, "
          f"{seconds:.0f} s; {c.get('trained', 0)} trained fully, {c.get('pruned', 0)} pruned, {c.get('infeasible', 0)} infeasible proposals")
    print(f"epochs trained: {s.epochs_trained} of {s.epochs_if_full} for full training of every evaluated candidate = "
          f"{s.epoch_fraction:.1%}   target <= 40 %: {'met' if s.epoch_fraction <= 0.4 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=1000)
    ap.add_argument("--fvcore", type=int, default=30)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    env = collect_env(torch.device("cpu"))
    print(f"# {env['cpu']}, {env['threads']} threads, torch {env['torch']}, optuna {optuna.__version__}, "
          f"Python {platform.python_version()}")
    complexity_cost(args.candidates, args.fvcore)
    pruning_cost(args.trials, args.data_dir)


if __name__ == "__main__":
    main()
