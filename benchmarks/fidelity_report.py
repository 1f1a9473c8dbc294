"""Tables and a figure from benchmarks/fidelity.sh's runs: resbench against the independent
reference (benchmarks/fidelity_reference.py), and optionally an older resbench, on the same
files and budget.

    python3 benchmarks/fidelity_report.py OUTDIR results/experiments/fidelity_resnet20

writes PREFIX.txt (the curves and the final errors per side, with their seed spread),
PREFIX.csv (every epoch of every run) and PREFIX.png (test error by epoch).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
from pathlib import Path

import pandas as pd

from resbench.measure.env import cpu_model

SIDES = {"resbench": "resbench (this code)", "reference": "independent reference", "old": "resbench before the fix",
         "resbench15": "resbench, 15 epochs", "bf16": "resbench, bf16 autocast"}


def load(outdir: Path) -> pd.DataFrame:
    rows = []
    for f in sorted(outdir.glob("*-s*.json")):
        side, seed = f.stem.rsplit("-s", 1)
        doc = json.loads(f.read_text())
        for h in doc["history"]:
            rows.append({"side": side, "seed": int(seed), "epoch": h["epoch"], "lr": h["lr"], "train_loss": h["train_loss"],
                         "train_error": h["train_error"], "test_error": h["test_error"], "seconds": h["seconds"]})
    return pd.DataFrame(rows)


def main(outdir: Path, prefix: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    import torchvision

    df = load(outdir)
    last = df.loc[df.groupby(["side", "seed"]).epoch.idxmax()]
    lines = [f"# ResNet-20 on the JPEG CIFAR-10 copy: resbench against an independent trainer, {df.epoch.max()} epochs",
             f"# machine: {platform.machine()} {platform.processor() or ''} ({cpu_model()}), 2 cores; torch {torch.__version__}, "
             f"torchvision {torchvision.__version__}, Python {platform.python_version()}; reference and resbench in fp32, bf16: resbench with bf16 autocast",
             f"# command: bash benchmarks/fidelity.sh DATA {outdir.name} {df.epoch.max()}; "
             f"python3 benchmarks/fidelity_report.py {outdir.name} {prefix}",
             "# schedule: the paper's (batch 128, lr 0.1, /10 at 50 % and 75 % of the iterations), scaled to the epochs",
             "", "final test error (%) by side:"]
    for side, g in last.groupby("side", sort=False):
        errs = [100 * e for e in g.sort_values("seed").test_error]
        sd = f" ± {statistics.stdev(errs):.2f} (sd over seeds)" if len(errs) > 1 else ""
        lines.append(f"  {SIDES.get(side, side):32s} seeds {sorted(g.seed.tolist())}: "
                     + ", ".join(f"{e:.2f}" for e in errs) + f"; mean {statistics.mean(errs):.2f}{sd}")
        tr = [100 * e for e in g.sort_values("seed").train_error]
        lines.append(f"  {'':32s} train error on augmented batches: " + ", ".join(f"{e:.2f}" for e in tr))
    if {"resbench", "reference"} <= set(last.side):
        a = last[last.side == "resbench"].test_error.mean() * 100
        b = last[last.side == "reference"].test_error.mean() * 100
        lines.append(f"\nresbench - reference: {a - b:+.2f} points")
    lines += ["", "per epoch (test error %, train error % on augmented batches):"]
    wide = df.pivot_table(index="epoch", columns=["side", "seed"], values=["test_error", "train_error"])
    header = "epoch  " + "  ".join(f"{s}-s{seed}:test/train" for s, seed in wide["test_error"].columns)
    lines.append(header)
    for epoch, row in wide.iterrows():
        cells = [f"{100 * row[('test_error', s, seed)]:6.2f}/{100 * row[('train_error', s, seed)]:5.2f}"
                 for s, seed in wide["test_error"].columns]
        lines.append(f"{epoch:5d}  " + "  ".join(f"{c:>{len(s) + 15}}" for c, (s, _) in zip(cells, wide["test_error"].columns)))
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.txt").write_text("\n".join(lines) + "\n")
    df.to_csv(f"{prefix}.csv", index=False)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = {"resbench": "tab:blue", "reference": "tab:green", "old": "tab:red", "bf16": "tab:purple"}
    for (side, seed), g in df.groupby(["side", "seed"]):
        ax.plot(g.epoch, 100 * g.test_error, color=colours.get(side, "k"), ls="-" if seed == 0 else "--",
                label=f"{SIDES.get(side, side)}, seed {seed}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%)")
    ax.set_ylim(0, min(60, 100 * df.test_error.max() + 5))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("ResNet-20, JPEG CIFAR-10, same files and schedule")
    fig.tight_layout()
    fig.savefig(f"{prefix}.png", dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
