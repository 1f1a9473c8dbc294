"""CLI start-up, measured against references in the same run:
`resbench --help` and `resbench list` <= 1.5 x `python -c "import typer, rich.console"`;
`resbench show resnet152 --json` <= `python -c "import torch"` + 1 s.

    python benchmarks/cli_startup.py [--repeat 5]

Both sides run in this process's machine state, best of N (start-up time is a
minimum-seeking measurement: noise only ever adds), after one untimed run each. Python
writes and reuses bytecode caches here as it does for any user: PYTHONDONTWRITEBYTECODE,
if the calling shell sets it, is dropped for the timed commands (otherwise resbench, an
editable install, would be recompiled on every start while the installed references are
not).
"""

import argparse
import os
import platform
import subprocess
import sys
import time


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def best(cmd: list[str], repeat: int) -> float:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)  # caches warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    import torch

    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, best of {args.repeat}")
    torch_import = best([py, "-c", "import torch"], args.repeat)
    cli_import = best([py, "-c", "import typer, rich.console"], args.repeat)
    rows = [
        ("resbench --help", best([py, "-m", "resbench", "--help"], args.repeat), 1.5 * cli_import),
        ("resbench list", best([py, "-m", "resbench", "list"], args.repeat), 1.5 * cli_import),
        ("resbench show resnet152 --json", best([py, "-m", "resbench", "show", "resnet152", "--json"], args.repeat), torch_import + 1.0),
    ]
    for label, t in (('python -c "import torch"', torch_import), ('python -c "import typer, rich.console"', cli_import)):
        print(f"{label:34s} {t:6.3f} s")
    ok = True
    for name, t, limit in rows:
        verdict = "ok" if t <= limit else "OVER"
        ok &= t <= limit
        print(f"{name:34s} {t:6.3f} s   limit {limit:5.2f} s   ratio {t / limit:4.2f}  {verdict}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
