"""Fault tests for the hardening issue: untrusted data, damaged caches, --against refs,
concurrent sweeps, killed lock holders, Ctrl-C, duplicates in `results`."""

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from resbench.errors import UsageError
from resbench.train.data import DataError, load_dataset, read_cifar_pickle
from tests.conftest import write_fake_cifar10

REPO = Path(__file__).resolve().parent.parent


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # creating a file is proof enough that code ran


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_safe_unpickler_reads_real_batches_and_refuses_code(tmp_path, protocol):
    ok = tmp_path / "ok"
    data = {"data": np.zeros((2, 3072), dtype=np.uint8), "labels": [0, 1], "batch_label": "b", "filenames": [b"a", "b"]}
    ok.write_bytes(pickle.dumps(data, protocol=protocol))
    d = read_cifar_pickle(ok)
    assert d["labels"] == [0, 1] and d["data"].shape == (2, 3072)
    marker = tmp_path / "ran"
    bad = tmp_path / "bad"
    bad.write_bytes(pickle.dumps({"data": _Payload(str(marker))}, protocol=protocol))
    with pytest.raises(DataError, match="refusing to load"):
        read_cifar_pickle(bad)
    assert not marker.exists()


def test_planted_payload_in_a_cifar_folder_is_exit_2_and_runs_nothing(cli, tmp_path):
    folder = write_fake_cifar10(tmp_path / "d")
    marker = tmp_path / "ran"
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": _Payload(str(marker)), "labels": []}))
    code, _, err = cli("train", "cifar-resnet8", "--data-dir", tmp_path / "d", "--device", "cpu", "--epochs", "1", "--no-save")
    assert code == 2 and "data_batch_3" in err and "refusing" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_a_cache_with_the_wrong_contents_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path / "cache"))
    write_fake_cifar10(tmp_path / "d")
    with pytest.warns(UserWarning):
        first = load_dataset("cifar10", tmp_path / "d")
    (cache,) = (tmp_path / "cache" / "data").glob("cifar10-*.pt")
    torch.save({"train_x": torch.zeros(3)}, cache)  # loads fine, wrong contents
    with pytest.warns(UserWarning, match="holds the wrong contents; rebuilding"):
        again = load_dataset("cifar10", tmp_path / "d")
    assert torch.equal(first.train_x, again.train_x) and torch.equal(first.test_y, again.test_y)


def test_against_refs_are_never_git_options_and_leave_no_temp_folder(cli, tmp_path, monkeypatch):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\n')
    monkeypatch.chdir(REPO)
    before = set(Path(tempfile.gettempdir()).glob("resbench-ref-*"))
    for ref in ("-x", "--output=/tmp/pwned", "no-such-ref-anywhere"):
        code, _, err = cli("check", suite, "--against", ref)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert set(Path(tempfile.gettempdir()).glob("resbench-ref-*")) == before
    assert not Path("/tmp/pwned").exists()


def _compare_cmd(results: Path) -> list[str]:
    return [sys.executable, "-m", "resbench", "compare", "--specs", "cifar-resnet8,cifar-plain8", "--seeds", "2",
            "--dataset", "synthetic", "--subset", "128", "--test-subset", "64", "--epochs", "1", "--device", "cpu",
            "--threads", "1", "--results-dir", str(results), "--json"]


def test_concurrent_sweeps_train_each_cell_once(tmp_path):
    """Two compares on one results folder at once: 4 cells, 4 records, both runs see them."""
    env = {**os.environ, "RESBENCH_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen(_compare_cmd(tmp_path / "r"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    records = list((tmp_path / "r" / "records" / "train").glob("*.json"))
    assert len(records) == 4  # each cell trained once
    rows = [json.loads(o[0]) for o in outs]
    assert all(len(r) == 2 and all(a["seeds"] == 2 for a in r) for r in rows)
    assert rows[0] == rows[1]  # both report the same stored cells


def test_a_killed_lock_holder_never_blocks(tmp_path):
    from resbench.store import Store
    from resbench.train.runs import CellRuns

    runs = CellRuns(Store(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom resbench.store import Store\nfrom resbench.train.runs import CellRuns\n"
        f"lock = CellRuns(Store({str(tmp_path)!r})).try_claim('abc')\nassert lock is not None\nprint('held', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert runs.try_claim("abc") is None  # really held
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    lock = runs.try_claim("abc")
    assert lock is not None  # the kernel released it with the process
    lock.release()


def test_results_shows_one_record_per_configuration(cli, tmp_path):
    from resbench.store import Store

    store = Store(tmp_path)
    for loss in (0.5, 0.4):
        store.put("analysis-demo", config={"spec": "resnet20"}, result={"test_error": loss}, env={})
        time.sleep(0.01)
    code, out, err = cli("results", "--results-dir", tmp_path, "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1 and rows[0]["test_error"] == 0.4  # the newest
    code, out, _ = cli("results", "--results-dir", tmp_path, "--json", "--all")
    assert len(json.loads(out)) == 2
    code, out, err = cli("results", "--results-dir", tmp_path)
    assert "1 older record(s) of the same configuration not shown" in err


def test_ctrl_c_during_train_says_what_was_kept(tmp_path):
    cmd = [sys.executable, "-m", "resbench", "train", "cifar-resnet8", "--dataset", "synthetic", "--epochs", "50",
           "--device", "cpu", "--threads", "1", "--results-dir", str(tmp_path)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "RESBENCH_CACHE": str(tmp_path / "cache")})
    time.sleep(8)  # past start-up, inside training
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err and "Traceback" not in err


def test_search_with_one_epoch_switches_pruning_off_with_a_note(cli, tmp_path):
    code, out, err = cli("search", "--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--trials", "1",
                         "--max-macs", "15M", "--no-references", "--results-dir", tmp_path, "--json")
    assert code == 0, err
    assert "pruning is off" in err and json.loads(out)["counts"]


def test_validation_module_refuses_what_it_should():
    from resbench import validate as v

    for bad in (float("nan"), float("inf"), "1", True, None):
        with pytest.raises(UsageError, match=r"--x must be a (finite )?number"):
            v.number(bad, "--x", 0, 1)
    for bad in (1.5, "3", False, -1, 2**40):
        with pytest.raises(UsageError, match=r"--n must be"):
            v.whole(bad, "--n", 0)
    assert v.whole(3.0, "--n", 0) == 3 and v.number(0.5, "--x", 0, 1) == 0.5
    with pytest.raises(UsageError, match="digits|whole numbers"):
        v.parse_list("١,2", "--batch-size", int)


def test_outputs_into_missing_folders_are_created(cli, tmp_path):
    csv = tmp_path / "new" / "deeper" / "p.csv"
    code, _, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "2", "--min-time", "0",
                       "--no-compare-layouts", "--no-save", "--csv", csv)
    assert code == 0, err
    assert csv.read_text().startswith("spec,")
