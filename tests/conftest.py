import pytest
import torch

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
