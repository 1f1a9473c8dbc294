"""SIGKILL a training run at random moments; the same command must finish it exactly.

    python benchmarks/kill_resume.py [--kills 10] [--out results/benchmarks/kill_resume.txt]

One uninterrupted `resbench train` of a 3-epoch run on synthetic data gives the reference
result. Then, K times, in a fresh results folder: start the same command, SIGKILL it at a
moment drawn uniformly over the reference's wall time (mid-epoch, mid-evaluation,
mid-checkpoint write alike), run the same command again to the end, and compare. A kill
passes when the rerun's per-epoch history (losses, errors, learning rates) and its
per-image results equal the reference's exactly, and the results folder holds
what an uninterrupted run leaves there (its one record and the cell's lock file): no
checkpoint, no temporary file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resbench.outputs import finish_report

CMD = [sys.executable, "-m", "resbench", "train", "cifar-resnet8", "--dataset", "synthetic", "--subset", "512",
       "--test-subset", "256", "--epochs", "3", "--device", "cpu", "--threads", "1", "--json"]
TIMING = {"seconds", "step_seconds", "images_per_second", "data_fraction", "contention", "notes"}


def _run(results: Path) -> tuple[dict, float]:
    t = time.perf_counter()
    r = subprocess.run([*CMD, "--results-dir", str(results)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout), time.perf_counter() - t


def _comparable(d: dict) -> dict:
    out = {k: v for k, v in d.items() if k not in TIMING and k != "env"}
    out["history"] = [{k: v for k, v in h.items() if k not in TIMING} for h in d["history"]]
    return out


def _files(folder: Path) -> set[str]:
    """Every file under ``folder`` but the training records (their names hold a time stamp)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
            and not (p.parent.name == "train" and p.parent.parent.name == "records" and p.suffix == ".json")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--out")
    args = ap.parse_args()
    rng = random.Random(20261203)
    with tempfile.TemporaryDirectory() as tmp:
        ref, wall = _run(Path(tmp) / "reference")
        want = _comparable(ref)
        expected = _files(Path(tmp) / "reference")  # what an uninterrupted run leaves (its record, the cell's lock file)
        lines = [f"# {' '.join(sys.argv)}", f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
                 f"command: resbench {' '.join(CMD[3:])} --results-dir DIR; uninterrupted run {wall:.1f} s",
                 "kill  at (s)  killed while running  same result  leftover files"]
        passed = 0
        for k in range(args.kills):
            results = Path(tmp) / f"kill{k}"
            at = rng.uniform(0.05, 1.0) * wall
            proc = subprocess.Popen([*CMD, "--results-dir", str(results)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
            time.sleep(at)
            alive = proc.poll() is None
            if alive:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            got, _ = _run(results)
            same = _comparable(got) == want
            left = sorted(_files(results) - expected)
            records = list(results.rglob("records/train/*.json"))
            ok = same and not left and len(records) == 1
            passed += ok
            lines.append(f"{k:>4}  {at:>6.1f}  {'yes' if alive else 'no (had ended)':>20}  {'yes' if same else 'NO':>11}  "
                         f"{', '.join(left) or 'none'}")
            print(lines[-1], flush=True)
        lines.append(f"# {passed} of {args.kills} kills ended with exactly the uninterrupted result and no leftover files")
    finish_report(lines, args.out)


if __name__ == "__main__":
    main()
