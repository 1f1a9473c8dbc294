import os
import tempfile

import pytest
import torch

# Tests never write into the repository's results/ or the user's cache.
_scratch = tempfile.mkdtemp(prefix="resbench-tests-")
os.environ.setdefault("RESBENCH_RESULTS_DIR", os.path.join(_scratch, "results"))
os.environ.setdefault("RESBENCH_CACHE", os.path.join(_scratch, "cache"))

# Keep the suite predictable on small CI machines: the cores shared among pytest-xdist's
# workers, so that no worker's OpenMP threads (or its subprocesses') spin on another's core.
_THREADS = max(1, min(2, (os.cpu_count() or 2) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
torch.set_num_threads(_THREADS)
os.environ["COLUMNS"] = "160"  # Rich's tables as wide as on a terminal, whatever runs the suite


# A training command's options for a run of seconds: one epoch of a small synthetic set.
TINY_RUN = ["--dataset", "synthetic", "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--subset", "400",
            "--test-subset", "100"]


@pytest.fixture
def cli(capsys):
    """Run the resbench CLI in-process: returns (exit code, stdout, stderr)."""
    from resbench.cli.app import main

    def run(*args: str):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def write_fake_cifar10(root, n=20):
    """A tiny CIFAR-10 in the standard python layout (random pixels, other md5 sums)."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(range(10)) * (n // 10)}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    return folder


@pytest.fixture
def fake_cifar(tmp_path):
    write_fake_cifar10(tmp_path / "data")
    return tmp_path / "data"


def assert_one_line_usage_error(code: int, err: str) -> None:
    """Bad input: exit 2 and one line on stderr (progress lines aside), no traceback."""
    lines = [line for line in err.splitlines() if line.strip() and " · " not in line]
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("resbench: error: ") and "internal error" not in err and "Traceback" not in err


def run_probe_case(cli, probe_dir, monkeypatch, args):
    """One probe command line, run from ``probe_dir`` with its results there and ``{tmp}``
    standing for it: (exit code, stdout, stderr)."""
    monkeypatch.chdir(probe_dir)
    monkeypatch.setenv("RESBENCH_RESULTS_DIR", str(probe_dir / "res"))
    return cli(*[a.replace("{tmp}", str(probe_dir)) for a in args])


def arm_row(arm: str, reference: bool = False, **fields):
    """A comparison row for tests of what reads rows: required figures filled in."""
    from resbench.train.comparison import ArmRow

    base = dict(spec=arm, shortcut="A", block="basic", depth=8, plain=False, params=1, macs=1, seeds=2, diverged=0,
                diverged_seeds=(), train_error_mean=0.5, train_error_std=0.01, test_error_mean=0.5, test_error_std=0.01,
                seconds_per_epoch=1.0, effect=0.01)
    return ArmRow(arm=arm, reference=reference, **{**base, **fields})
