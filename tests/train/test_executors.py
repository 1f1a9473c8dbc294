"""Scale-out: torchrun DDP on CPU (gloo), the local process pool, and Ray (a local instance)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from resbench.train.loader import DeviceLoader

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "400", "--test-subset", "100"]


def test_sharded_augmentation_equals_single_process():
    """Two ranks' batches, put back together, are exactly the single-process batches."""
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(16)
    kw = dict(device=torch.device("cpu"), mean=torch.zeros(3), std=torch.ones(3), train=True, seed=3, drop_last=True)
    single = list(DeviceLoader(x, y, 8, **kw))
    ranks = [list(DeviceLoader(x, y, 4, shard=(r, 2), **kw)) for r in range(2)]
    for i, (xs, ys) in enumerate(single):
        xr = torch.stack([ranks[0][i][0], ranks[1][i][0]], 1).reshape(8, 3, 8, 8)  # interleave rank 0 and 1
        yr = torch.stack([ranks[0][i][1], ranks[1][i][1]], 1).reshape(8)
        assert torch.equal(yr, ys) and torch.equal(xr, xs)


def _train_json(cmd, results_dir):
    env = {**os.environ, "RESBENCH_RESULTS_DIR": str(results_dir)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout[r.stdout.index("{"):])


def test_nproc_launches_torchrun_and_two_processes_match_one(cli, tmp_path):
    """`--nproc 2` relaunches under torchrun. Same global batch (100 = 2 x 50) and the same
    samples and augmentation per step: the runs differ only in BatchNorm statistics (per
    rank over 50 images instead of 100) and float summation order. Measured |delta train
    loss| after 2 epochs: 4e-4; we allow 0.02 after 1."""
    args = ["train", "cifar-resnet8", *SYN, "--epochs", "1", "--batch-size", "100", "--json"]
    ddp = _train_json([sys.executable, "-m", "resbench", *args, "--nproc", "2"], tmp_path / "ddp")
    code, out, err = cli(*args, "--results-dir", tmp_path / "one")  # the single process: in this one
    assert code == 0, err
    one = json.loads(out)
    assert ddp["world_size"] == 2 and ddp["effective_batch_size"] == 100
    assert any("identical across 2 ranks" in n for n in ddp["notes"])
    assert len(list((tmp_path / "ddp" / "records" / "train").glob("*.json"))) == 1  # only rank 0 writes
    for a, b in zip(ddp["history"], one["history"]):
        assert abs(a["train_loss"] - b["train_loss"]) < 0.02


def test_local_pool_two_workers_and_rerun_skips(cli, tmp_path):
    args = ["compare", "--specs", "cifar-resnet8,cifar-plain8", *SYN, "--epochs", "1", "--seeds", "2", "--json",
            "--results-dir", tmp_path, "--workers", "2"]
    code, out, err = cli(*args)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["seeds"] for r in rows] == [2, 2]
    records = sorted(p.name for p in (tmp_path / "records" / "train").glob("*.json"))
    assert len(records) == 4
    code, out2, _ = cli(*args)
    assert json.loads(out2) == rows and sorted(p.name for p in (tmp_path / "records" / "train").glob("*.json")) == records


def test_executor_usage_errors(cli, tmp_path):
    code, _, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--results-dir", tmp_path, "--executor", "slurm")
    assert code == 2 and "local or ray" in err
    code, _, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--results-dir", tmp_path, "--workers", "0")
    assert code == 2 and "--workers" in err


ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"RESBENCH_RAY_WORKER": "1"}})
    yield
    ray.shutdown()


def test_ray_sweep_loses_only_a_killed_tasks_cell_and_stores_records_like_local(cli, tmp_path, ray_instance, monkeypatch):
    """One sweep on Ray whose plain cell's worker dies: the other cell is stored (with the
    resources Ray gave it), the lost one is reported and trained by the next run."""
    import ray.cloudpickle

    import resbench.train.executors as ex

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    real = ex.execute_cell
    monkeypatch.setattr(ex, "execute_cell", _crash_on_plain)
    args = ["compare", "--specs", "cifar-resnet8,cifar-plain8", *SYN, "--epochs", "1", "--json", "--results-dir", tmp_path,
            "--executor", "ray", "--gpus-per-run", "0.5"]
    code, out, err = cli(*args)
    assert code == 0 and "failed" in err
    assert [r["seeds"] for r in json.loads(out)] == [1, 0]
    recs = [json.loads(p.read_text()) for p in (tmp_path / "records" / "train").glob("*.json")]
    assert len(recs) == 1 and recs[0]["config"]["spec"] == "cifar-resnet8"
    # --gpus-per-run reached Ray's scheduler: the task held half of a (declared) GPU
    assert recs[0]["env"]["ray_resources"].get("GPU") == 0.5
    monkeypatch.setattr(ex, "execute_cell", real)
    code, out, err = cli(*args)  # the next run retries only the lost cell
    rows = json.loads(out)
    assert code == 0 and [r["arm"] for r in rows] == ["cifar-resnet8", "cifar-plain8"] and [r["seeds"] for r in rows] == [1, 1]
    assert len(list((tmp_path / "records" / "train").glob("*.json"))) == 2


def _crash_on_plain(cell, threads=None, checkpoints=None):
    if cell.spec.plain:
        os._exit(1)  # the worker process dies, as a node failure would
    from resbench.train.executors import execute_cell

    return execute_cell(cell, threads, checkpoints)


def test_val_split_seeds_through_a_pool_equal_in_process(cli, tmp_path, monkeypatch):
    """The bug this layer removed: with --val-split, a pool worker trained seed 1 on seed 0's
    held-out split. Two seeds through --workers 2 must give the records of --workers 1."""
    import json
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # pool workers pinned to 1 thread, like --threads 1 here
    args = ["compare", "--specs", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "64",
            "--subset", "200", "--test-subset", "100", "--val-split", "0.25", "--seeds", "2", "--device", "cpu", "--threads", "1", "--json"]
    code1, out1, err1 = cli(*args, "--results-dir", tmp_path / "one")
    code2, out2, err2 = cli(*args, "--results-dir", tmp_path / "two", "--workers", "2")
    assert code1 == 0 and code2 == 0, err1 + err2

    def histories(root):
        from resbench.store import Store

        recs, _ = Store(root).load("train")
        return {r.key: [h["train_loss"] for h in r.result["history"]] for r in recs}

    one, two = histories(tmp_path / "one"), histories(tmp_path / "two")
    assert len(one) == 2 and one.keys() == two.keys()
    for key in one:
        assert one[key] == pytest.approx(two[key], rel=1e-5)
    assert json.loads(out1)[0]["test_error_mean"] == pytest.approx(json.loads(out2)[0]["test_error_mean"], abs=1e-9)
