"""CLI: show, list, --version, errors (one line, exit 2, no traceback), no torch on fast paths."""

import os
import subprocess
import sys

import pytest


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("resbench ")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["show", "resnet21"], "did you mean"),
        (["show", "resnet20", "--shortcut", "D"], "expected A, B or C"),
        (["show", "resnet20", "--plain", "--shortcut", "B"], "contradicts"),
        (["show", "resnet20", "--input-size", "2"], "too small"),
        (["show", "resnet20", "--no-such-option"], "No such option"),
        (["show"], "Missing argument"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_exit_2(cli, args, fragment):
    code, out, err = cli(*args)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def _run(code: str):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})


def test_fast_paths_do_not_import_torch():
    for argv in (["--help"], ["list"], ["list", "--json"]):
        r = _run(f"import sys; from resbench.cli.app import main; main({argv!r}); assert 'torch' not in sys.modules, 'torch imported'")
        assert r.returncode == 0, r.stderr


def test_console_script_exit_code_and_no_traceback():
    r = subprocess.run([sys.executable, "-m", "resbench", "show", "cifar-resnet21"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("resbench: error:") and "6n+2" in r.stderr and "Traceback" not in r.stderr


def test_console_text_is_never_read_as_markup(capsys):
    """Paths, specs and stored values print as written: "[/x]" does not crash, and
    "[bold red]x[/]" is not restyled (the one escaping rule: consoles without markup)."""
    from rich.table import Table

    from resbench.cli.output import err, note, out, warn

    hostile = "/data/[/x] [bold red]x[/]"
    warn(hostile)
    note(hostile)
    table = Table()
    table.add_column("spec")
    table.add_row(hostile)
    out.print(table)
    captured = capsys.readouterr()
    assert captured.err.count(hostile) == 2 and "warning: " + hostile in captured.err
    assert hostile in captured.out
    assert not out._markup and not err._markup


def test_markup_in_a_data_folder_is_one_line_not_a_crash(cli, tmp_path):
    folder = tmp_path / "[/x]"
    code, _, err = cli("train", "resnet20", "--data-dir", folder, "--no-download", "--epochs", "1")
    assert code == 2 and "[/x]" in err and "Traceback" not in err and "MarkupError" not in err


@pytest.mark.parametrize("value, fragment", [("", "set but empty"), (" ", "set but empty"), ("FILE", "is a file, not a folder")])
def test_a_cache_setting_that_names_no_folder_is_refused(cli, tmp_path, monkeypatch, value, fragment):
    if value == "FILE":
        value = str(tmp_path / "f")
        (tmp_path / "f").write_text("x")
    monkeypatch.setenv("RESBENCH_CACHE", value)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("profile", "cifar-resnet8", "-b", "1", "--iters", "2", "--no-save")
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == (["f"] if fragment.startswith("is a file") else [])


@pytest.mark.parametrize("value, traceback", [("0", False), ("false", False), ("1", True)])
def test_resbench_debug_means_on_only_when_it_says_so(value, traceback):
    import subprocess
    import sys

    env = {**__import__("os").environ, "RESBENCH_DEBUG": value}
    r = subprocess.run([sys.executable, "-m", "resbench", "show", "resnet21"], capture_output=True, text=True, env=env)
    assert ("Traceback" in r.stderr) == traceback
    assert r.returncode != 0
