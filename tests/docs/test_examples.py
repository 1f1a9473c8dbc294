"""Every `resbench ...` command line shown in the README and docs/ parses: the command
exists and every option and value it uses is one the command takes. (Transcripts of
recorded output are ```console blocks or plain ``` blocks and are not commands.)"""

import re
import shlex
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines():
    for page in PAGES:
        text = page.read_text()
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
            joined = block.replace("\\\n", " ")
            for line in joined.splitlines():
                line = line.split(" #")[0].strip()
                if line.startswith("resbench ") or " -m resbench " in line:
                    yield page.name, line


CASES = list(_command_lines())


def test_the_docs_show_commands():
    assert len(CASES) >= 30


@pytest.mark.parametrize("page,line", CASES, ids=[f"{p}:{i}" for i, (p, _) in enumerate(CASES)])
def test_a_documented_command_line_parses(page, line):
    import typer

    from resbench.cli.app import build_app

    argv = shlex.split(line.replace("$(hostname)", "host").replace("$RANK", "0"))
    argv = argv[argv.index("resbench") + 1:]
    for i, a in enumerate(argv):  # shell redirections and pipes are not arguments
        if a in (">", "|", "2>", ">>") or a.startswith(">"):
            argv = argv[:i]
            break
    group = typer.main.get_command(build_app())
    ctx = group.make_context("resbench", list(argv), resilient_parsing=False)
    name, cmd, rest = group.resolve_command(ctx, ctx.protected_args + ctx.args)
    while isinstance(cmd, click.Group):  # `analyze responses ...`
        sub = cmd.make_context(name, rest, parent=ctx)
        name, cmd, rest = cmd.resolve_command(sub, sub.protected_args + sub.args)
    cmd.make_context(name, rest, parent=ctx)  # raises on an unknown option or a value of the wrong type


def _cheap(line: str) -> bool:
    """Commands that finish in a second or two here: tables of specs, and --plan on synthetic data."""
    words = line.split()
    return words[:2] in (["resbench", "show"], ["resbench", "list"]) or (
        words[:2] == ["resbench", "compare"] and "--plan" in words and "synthetic" in words)


RUNNABLE = sorted({line for _, line in CASES if _cheap(line)})


def test_some_documented_commands_are_cheap_enough_to_run():
    assert len(RUNNABLE) >= 4


@pytest.mark.parametrize("line", RUNNABLE)
def test_a_cheap_documented_command_runs_as_written(cli, tmp_path, monkeypatch, line):
    """Run as written (in a scratch folder, so any file it names lands there): exit 0 and output."""
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*shlex.split(line)[1:])
    assert code == 0, err
    assert out.strip()
