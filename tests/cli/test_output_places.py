"""Every output place is checked before the work starts: a folder that cannot be written
ends the command in one line (exit 2) before any training or measuring, and outputs are
written atomically, so a failed write never replaces a good file with a partial one."""

import os
import stat

import pytest

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32", "--epochs", "1"]
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _readonly(path):
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return path


def _run_without_dac_override(*args):
    """The CLI in a subprocess that honours permission bits even as root: setpriv drops
    CAP_DAC_OVERRIDE (as a user without it would run); as another user, plainly."""
    import shutil
    import subprocess
    import sys

    prefix = []
    if ROOT:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
        prefix = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    p = subprocess.run([*prefix, sys.executable, "-m", "resbench", *map(str, args)], capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("cmd", [
    ["train", "cifar-resnet8", *SYN],
    ["compare", "--specs", "cifar-resnet8", *SYN],
    ["profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "2"],
])
def test_a_results_folder_that_is_a_file_is_refused_before_the_work(cli, tmp_path, cmd, monkeypatch):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the results folder should be")
    called = []
    from resbench.train import engine

    monkeypatch.setattr(engine, "train_members", lambda *a, **k: called.append(1))
    code, out, err = cli(*cmd, "--results-dir", blocker)
    assert code == 2 and "cannot be written" in err and "Traceback" not in err
    assert not called and blocker.read_text().startswith("a file")


@pytest.mark.parametrize("option,name", [("--markdown", "t.md"), ("--csv", "t.csv"), ("--plot", "t.png")])
def test_compare_refuses_an_unwritable_table_before_training(cli, tmp_path, option, name, monkeypatch):
    from resbench.train import engine

    called = []
    monkeypatch.setattr(engine, "train_members", lambda *a, **k: called.append(1))
    blocker = tmp_path / "f"
    blocker.write_text("x")
    code, out, err = cli("compare", "--specs", "cifar-resnet8", *SYN, option, blocker / "sub" / name,
                         "--results-dir", tmp_path / "r")
    assert code == 2 and not called and "Traceback" not in err


def test_compare_markdown_naming_a_folder_is_refused_before_training(cli, tmp_path, monkeypatch):
    from resbench.train import engine

    called = []
    monkeypatch.setattr(engine, "train_members", lambda *a, **k: called.append(1))
    (tmp_path / "out.md").mkdir()
    code, out, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--markdown", tmp_path / "out.md",
                         "--results-dir", tmp_path / "r")
    assert code == 2 and "is a folder" in err and not called


@pytest.mark.parametrize("cmd", [["train", "cifar-resnet8", *SYN], ["compare", "--specs", "cifar-resnet8", *SYN],
                                 ["profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "2"]])
def test_read_only_results_folder(tmp_path, cmd):
    ro = _readonly(tmp_path / "ro")
    try:
        code, out, err = _run_without_dac_override(*cmd, "--results-dir", ro)
    finally:
        ro.chmod(stat.S_IRWXU)
    assert code == 2 and "cannot be written" in err and "Traceback" not in err
    assert list(ro.iterdir()) == []


def test_github_step_summary_naming_a_folder_is_refused_before_measuring(cli, tmp_path, monkeypatch):
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "s"\n[[entry]]\nspec = "cifar-resnet8"\nbatch_size = 1\n')
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    code, out, err = cli("check", suite, "--baseline", tmp_path / "none.json")
    assert code == 2 and "GITHUB_STEP_SUMMARY" in err and "folder" in err


def test_a_failed_figure_write_leaves_the_old_figure(tmp_path, monkeypatch):
    """ENOSPC in the middle of writing: the earlier file is intact, no partial file is left."""
    from resbench.report import plots

    path = tmp_path / "curves.png"
    path.write_bytes(b"the good figure")
    import matplotlib.figure

    def full_disk(self, fname, **kw):
        with open(fname, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space left"):
        plots.error_curves({"a": [[{"epoch": 1, "train_error": 0.5, "test_error": 0.5}]]}, str(path), title="t")
    assert path.read_bytes() == b"the good figure"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_check_update_into_a_read_only_folder_is_refused_before_measuring(tmp_path):
    import json

    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\n')
    ro = _readonly(tmp_path / "ro")
    ro.chmod(stat.S_IRWXU)
    (ro / "b.json").write_text(json.dumps({"schema": 2, "kind": "resbench-baseline", "suite": "s", "entries": [
        {"id": "cifar-resnet8", "params": 1, "macs": 1}]}))
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, out, err = _run_without_dac_override("check", suite, "--baseline", ro / "b.json", "--update")
    finally:
        ro.chmod(stat.S_IRWXU)
    assert code == 2 and "rewritten by --update" in err and "cannot be written" in err, err
    assert len(err.strip().splitlines()) == 1


def test_search_into_a_read_only_results_folder_is_one_line(tmp_path):
    ro = _readonly(tmp_path / "ro")
    try:
        code, out, err = _run_without_dac_override("search", "--dataset", "synthetic", "--device", "cpu", "--trials", "1",
                                                   "--results-dir", ro)
    finally:
        ro.chmod(stat.S_IRWXU)
    assert code == 2 and "cannot be written" in err and "Traceback" not in err, err
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("what", ["table", "record"])
def test_a_full_disk_at_the_last_write_is_exit_1_in_one_line_and_the_old_file_stays(cli, tmp_path, monkeypatch, what):
    """The work is done, then the disk is full when its output replaces the old file: exit
    1, one line saying so, the old file as it was, and no temporary left beside it."""
    import errno
    import os

    args = ["train", "cifar-resnet8", "--dataset", "synthetic", "--subset", "32", "--test-subset", "16", "--epochs", "1",
            "--device", "cpu", "--results-dir", tmp_path / "r"]
    assert cli(*args, "--seed", "1")[0] == 0  # an earlier record, which must survive
    old_record = next((tmp_path / "r" / "records" / "train").glob("*.json"))
    before = old_record.read_bytes()
    table = tmp_path / "t.csv"
    table.write_text("the old table\n")
    real = os.replace

    def full(src, dst, *a, **k):
        if (what == "table" and str(dst).endswith(".csv")) or (what == "record" and "/records/" in str(dst)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", full)
    code, out, err = cli(*args, "--csv", table)
    lines = [x for x in err.splitlines() if x.startswith("resbench: error:")]
    assert code == 1 and len(lines) == 1 and "No space left on device" in lines[0] and "Traceback" not in err
    assert table.read_text() == "the old table\n" and old_record.read_bytes() == before
    assert not [p.name for p in tmp_path.rglob(".*") if p.is_file()]  # no temporaries
