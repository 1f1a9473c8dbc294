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
