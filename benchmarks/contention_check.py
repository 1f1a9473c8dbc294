"""profile's contention record beside a busy process and alone (resbench.measure.busy).

    python benchmarks/contention_check.py [--out results/benchmarks/contention_check.txt]

Runs `resbench profile resnet20 -b 8 --json` twice: alone, then beside one process that
spins on a core (half the cores of a 2-core machine). Alone it must record contention below
0.1 and print no warning; beside the spinner, above 0.1 with one warning line on stderr.
Run it with the machine otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import torch

from resbench.measure.env import collect_env
from resbench.outputs import finish_report

CMD = [sys.executable, "-m", "resbench", "profile", "resnet20", "-b", "8", "--json", "--no-save"]


def _run() -> tuple[float, float, list[str]]:
    r = subprocess.run(CMD, capture_output=True, text=True, check=True)
    doc = json.loads(r.stdout)
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    return doc["contention"], doc["latency_ms"]["median"], warnings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    args = ap.parse_args()
    env = collect_env(torch.device("cpu"))
    lines = [f"# {' '.join(['benchmarks/contention_check.py', *sys.argv[1:]])}",
             f"# {env['cpu']}, {os.cpu_count()} cores, torch {torch.__version__}, Python {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d')}",
             f"# alone: resbench {' '.join(CMD[3:])}",
             f"# busy:  python3 -c 'while True: pass' & resbench {' '.join(CMD[3:])}",
             "run    contention  median ms  warning lines  verdict"]
    ok = True
    for label in ("alone", "busy"):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if label == "busy" else None
        try:
            time.sleep(0.5 if spinner else 0)
            share, median, warned = _run()
        finally:
            if spinner:
                spinner.kill()
                spinner.wait()
        good = (share < 0.1 and not warned) if label == "alone" else (share > 0.1 and len(warned) == 1)
        ok &= good
        lines.append(f"{label:6s} {share:10.3f}  {median:9.2f}  {len(warned):13d}  {'as it should' if good else 'WRONG'}")
    lines.append(f"# {'both as they should' if ok else 'NOT as they should'}")
    finish_report(lines, args.out)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
