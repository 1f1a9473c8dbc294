import os
import tempfile

import pytest
import torch

# Tests never write into the repository's results/ or the user's cache.
_scratch = tempfile.mkdtemp(prefix="resbench-tests-")
os.environ.setdefault("RESBENCH_RESULTS_DIR", os.path.join(_scratch, "results"))
os.environ.setdefault("RESBENCH_CACHE", os.path.join(_scratch, "cache"))

# Keep the suite predictable on small CI machines: two cores, one thread per test.
torch.set_num_threads(2)


@pytest.fixture
def cli(capsys):
    """Run the resbench CLI in-process: returns (exit code, stdout, stderr)."""
    from resbench.cli.app import main

    def run(*args: str):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
