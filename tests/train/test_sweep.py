"""Arms and cells of a comparison (resbench.train.sweep): the grid, and a killed sweep keeping its finished cells."""

import json
import os
import signal
import subprocess
import sys
import time

from resbench.train.config import TrainConfig
from resbench.train.sweep import build_arms, build_cells
from tests.conftest import TINY_RUN

FAST = TrainConfig(dataset="synthetic", epochs=2, batch_size=32, device="cpu")


def test_arms_grid():
    names = [a.name for a in build_arms(shortcuts=["A", "B", "C"])]
    assert names == ["resnet20", "resnet20:shortcut=B", "resnet20:shortcut=C"]
    names = [a.name for a in build_arms(depths=[20, 56], blocks=["basic", "bottleneck"], plain=True)]
    assert names == ["resnet20", "plain20", "cifar-resnet29-bottleneck", "cifar-plain29-bottleneck",
                     "resnet56", "plain56", "cifar-resnet83-bottleneck", "cifar-plain83-bottleneck"]
    basic, bott = build_arms(depths=[20], blocks=["basic", "bottleneck"])
    assert basic.stages == bott.stages  # equal blocks per stage
    cells = build_cells(build_arms(specs=["resnet20", "plain20"]), 2, FAST)
    assert [(c.spec.name, c.seed) for c in cells] == [("resnet20", 0), ("plain20", 0), ("resnet20", 1), ("plain20", 1)]
    assert len({c.key for c in cells}) == 4


def test_killed_sweep_keeps_finished_cells(cli, tmp_path):
    """SIGKILL a sweep once its first record exists; rerunning finishes without redoing it."""
    args = [sys.executable, "-m", "resbench", "compare", "--specs", "cifar-resnet8,cifar-plain8", *TINY_RUN, "--seeds", "2", "--results-dir", str(tmp_path), "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec_dir = tmp_path / "records" / "train"
    deadline = time.time() + 120
    def records():  # never an atomic write's temporary (a dot name)
        return {p.name for p in rec_dir.glob("*.json") if not p.name.startswith(".")} if rec_dir.exists() else set()

    while time.time() < deadline and not records():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = records()
    assert 1 <= len(first) < 4
    for name in first:
        json.loads((rec_dir / name).read_text())  # every record complete
    code, _, err = cli(*args[3:])  # the rerun: the same command, in this process
    assert code == 0, err
    assert first <= records() and len(records()) == 4
    assert not [p.name for p in tmp_path.rglob(".*") if p.is_file()]  # nothing the kill left behind


def test_cell_keys_are_the_ones_stored_records_already_have():
    """A cell's key names its record and checkpoint: the keys below were computed by the code
    before the cell runner was rewritten (91268af), so records and checkpoints stored then are
    found, not retrained."""
    cells = build_cells(build_arms(specs=["resnet20", "resnet20:shortcut=B", "plain20"]), 2,
                        TrainConfig(dataset="cifar10", epochs=164, device="cpu", data_dir="/x"))
    assert [c.key for c in cells] == ["7ed9ba29ca3e4459", "160c82677285d3df", "ead896331c3109c1",
                                      "fc4e838c51158dab", "7debcd27e197339b", "b8bcc7f8025fea3e"]
    small = TrainConfig(dataset="synthetic", epochs=3, batch_size=32, device="cpu", subset=96, data_dir="/x")
    assert build_cells(build_arms(specs=["resnet20"]), 1, small)[0].key == "d0061512e4ac5f3d"
