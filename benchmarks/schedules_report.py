"""Summarise benchmarks/schedules.sh: test error per schedule and budget, the seed spread,
and each schedule's paired difference to step (same seeds: same init and data order).

    python3 benchmarks/schedules_report.py OUTDIR results/experiments/schedules

writes PREFIX.txt (the table and the machine) and PREFIX.csv (one row per run).
"""

from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path

import pandas as pd
from scipy import stats

RUN = re.compile(r"(?P<schedule>step|linear|cosine)-e(?P<epochs>\d+)-s(?P<seed>\d+)\.json$")


def runs(folder: Path) -> pd.DataFrame:
    rows = []
    for p in sorted(folder.glob("*.json")):
        m = RUN.match(p.name)
        if not m:
            continue
        d = json.loads(p.read_text())
        rows.append({"schedule": m["schedule"], "epochs": int(m["epochs"]), "seed": int(m["seed"]),
                     "test_error": d["final_test_error"], "train_error": d["final_train_error"],
                     "seconds": d["seconds"], "images_per_second": d["images_per_second"],
                     "torch": d.get("env", {}).get("torch"), "cpu": d.get("env", {}).get("cpu"),
                     "threads": d.get("env", {}).get("threads")})
    return pd.DataFrame(rows)


def table(df: pd.DataFrame) -> list[str]:
    lines = [f"{'epochs':>6} {'schedule':>8} {'seeds':>5} {'test err % per seed':>22} {'mean':>6} {'sd':>5} "
             f"{'vs step (paired) [95% CI]':>28}"]
    for epochs, g in df.groupby("epochs"):
        step = g[g.schedule == "step"].set_index("seed").test_error
        for schedule in ("step", "cosine", "linear"):
            s = g[g.schedule == schedule].set_index("seed").test_error.sort_index()
            if s.empty:
                continue
            per = " ".join(f"{100 * v:.2f}" for v in s)
            sd = f"{100 * s.std():.2f}" if len(s) > 1 else "-"
            vs = "reference"
            if schedule != "step":
                both = s.index.intersection(step.index)
                d = (s[both] - step[both]) * 100
                if len(d) > 1:
                    half = stats.t.ppf(0.975, len(d) - 1) * d.std() / len(d) ** 0.5
                    vs = f"{d.mean():+.2f} [{d.mean() - half:+.2f}, {d.mean() + half:+.2f}]"
                elif len(d) == 1:
                    vs = f"{d.mean():+.2f} (1 seed)"
            lines.append(f"{epochs:>6} {schedule:>8} {len(s):>5} {per:>22} {100 * s.mean():>6.2f} {sd:>5} {vs:>28}")
    return lines


def main(folder: str, prefix: str) -> None:
    df = runs(Path(folder))
    if df.empty:
        sys.exit(f"no runs in {folder}: run benchmarks/schedules.sh first")
    out = Path(prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.drop(columns=["cpu"]).to_csv(out.with_suffix(".csv"), index=False)
    head = [f"ResNet-20, CIFAR-10 (the JPEG copy, full 50k training set), batch 128, bf16 autocast, lr 0.1, one thread per "
            f"run, two runs side by side. Machine: {df.cpu.iloc[0]}, torch {df.torch.iloc[0]}, Python "
            f"{platform.python_version()}. Command: bash benchmarks/schedules.sh DATA OUT; "
            f"python3 benchmarks/schedules_report.py OUT {prefix}",
            "Final test error after the whole budget; 'vs step' is the mean paired difference over the seeds "
            "(same seed: same init, order and augmentation) with a t interval. The seconds in the CSV were taken while "
            "other work shared the cores: they are not speed figures.", ""]
    text = "\n".join(head + table(df)) + "\n"
    out.with_suffix(".txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
