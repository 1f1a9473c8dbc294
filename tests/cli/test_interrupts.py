"""Ctrl-C anywhere is exit 130 with one line saying what was kept (never a bare 130,
never a traceback), and `| head` is a quiet exit 141."""

import os
import signal
import subprocess
import sys
import time

import pytest


def _interrupt(args, after: float, cwd, again: float | None = None):
    """Run resbench in its own process group and send SIGINT to the group ``after`` seconds
    in, as a terminal's Ctrl-C does (and a second one ``again`` seconds later)."""
    p = subprocess.Popen([sys.executable, "-m", "resbench", *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=cwd, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after)
    os.killpg(p.pid, signal.SIGINT)
    if again is not None:
        time.sleep(again)
        try:
            os.killpg(p.pid, signal.SIGINT)
        except ProcessLookupError:  # already gone: the first one was enough
            pass
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def _suite(tmp_path, min_time: float = 2.0, rounds: int = 5):
    suite = tmp_path / f"suite{rounds}.toml"
    suite.write_text(f'[suite]\nname = "s"\n[[entry]]\nspec = "cifar-resnet8"\nbatch_size = 8\nmin_time = {min_time}\n'
                     f'rounds = {rounds}\niters = 5\nwarmup = 1\n')
    return suite


@pytest.mark.parametrize("command", ["check"])  # baseline runs the same measuring path
def test_ctrl_c_during_check_says_so(tmp_path, command):
    suite = _suite(tmp_path)
    args = ["baseline", suite, "--out", tmp_path / "b.json"]
    if command == "check":  # a quick baseline first, then Ctrl-C in a check against it
        quick = _suite(tmp_path, min_time=0.1, rounds=1)
        from resbench.cli.app import main

        assert main(["baseline", str(quick), "--out", str(tmp_path / "base.json")]) == 0
        args = ["check", suite, "--baseline", tmp_path / "base.json", "--markdown", tmp_path / "t.md"]
    code, out, err = _interrupt(args, 6, tmp_path)
    assert code == 130, err
    lines = [line for line in err.splitlines() if line.startswith("resbench: error:")]
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "t.md").exists()  # nothing half-written


def test_a_closed_pipe_is_a_quiet_141(tmp_path):
    p = subprocess.run(f"{sys.executable} -m resbench show resnet152 --depth layer | head -c 1 >/dev/null; "
                       "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True, text=True,
                       timeout=120)
    assert p.stdout.strip() in ("141", "0")  # 0 when everything fitted in the pipe before head left
    assert "Traceback" not in p.stderr and "error" not in p.stderr


@pytest.mark.parametrize("output", [["--json"], ["--csv", "-"], ["--markdown", "-"]])
def test_a_reader_gone_before_the_first_byte_is_141_for_every_output(output):
    """`| true` closes the pipe before resbench writes: JSON, CSV and Markdown go through the
    same quiet 141 as the Rich table (click's own EPIPE handling would exit 1)."""
    p = subprocess.run(f"{sys.executable} -m resbench list {' '.join(output)} | true; echo ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120)
    assert p.stdout.strip() == "141", p.stderr
    assert p.stderr == ""


def test_a_second_ctrl_c_while_the_first_is_reported_is_still_one_line(tmp_path):
    """An impatient user presses Ctrl-C twice: still exit 130, one line, no traceback, and
    the training's checkpoint is whole (the next run resumes from it)."""
    args = ["train", "cifar-resnet8", "--dataset", "synthetic", "--subset", "256", "--test-subset", "64", "--epochs", "50",
            "--device", "cpu", "--threads", "1", "--results-dir", tmp_path / "r"]
    code, out, err = _interrupt(args, 8, tmp_path, again=0.05)
    assert code == 130, err
    assert "Traceback" not in err and len([x for x in err.splitlines() if x.startswith("resbench: error:")]) == 1
    assert not [p for p in (tmp_path / "r").rglob(".*") if p.is_file()]  # no temporaries left
