"""The small Python example in docs/api.md runs as written."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_small_api_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    small = next(b for b in blocks if "Checkpoint" in b)
    monkeypatch.chdir(tmp_path)

    exec(compile(small, str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("plan: 2 arm(s) x") and (tmp_path / "trace.json").exists()


def test_the_config_error_example_prints_what_it_says(capsys):
    """The ConfigError example: the printed line is the one its comment shows."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S) if "ConfigError" in b)
    shown = re.search(r"# (.+)$", block.strip().splitlines()[-1])[1]
    import resbench
    import resbench.errors

    exec(compile(block, str(DOC), "exec"), {"resbench": resbench})
    assert capsys.readouterr().out.strip() == shown.strip()
