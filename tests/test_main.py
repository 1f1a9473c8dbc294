"""`python -m resbench` (resbench.__main__) is the same program as the console script."""

import subprocess
import sys

import resbench


def test_python_dash_m_runs_the_cli_with_its_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "resbench", "--version"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and resbench.__version__ in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "resbench", "show", "resnet7"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
