"""`--csv` and `--markdown` mean the same on every table command: the command's one
DataFrame, to a file, or to stdout with ``-`` (or the option alone) instead of the table."""

import io
import json

import pandas as pd
import pytest

from tests.conftest import assert_one_line_usage_error

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32", "--epochs", "1",
       "--batch-size", "32", "--threads", "1"]
TINY_SEARCH = ["--dataset", "synthetic", "--subset", "64", "--test-subset", "32", "--batch-size", "32", "--epochs", "1",
               "--widths", "4", "--max-blocks-per-stage", "1", "--blocks", "basic", "--threads", "1", "--trials", "2",
               "--no-pruning", "--no-references"]


def _commands(tmp_path):
    """Each table command with the smallest inputs, the columns its table must have and
    the rows it must have at least."""
    r = ["--results-dir", str(tmp_path / "r")]
    return {
        "list": (["list"], {"name", "params", "macs"}, 10),
        "show": (["show", "resnet20"], {"name", "params", "macs", "macs_share"}, 5),
        "show-layers": (["show", "cifar-resnet8", "--depth", "block"], {"name", "output", "activations"}, 3),
        "train": (["train", "cifar-resnet8", *SYN, *r], {"epoch", "test_error", "train_error", "lr"}, 1),
        "compare": (["compare", "--specs", "cifar-resnet8,cifar-plain8", *SYN, *r],
                    {"arm", "test_error_mean", "delta_test_error"}, 2),
        "degradation": (["degradation", "--depths", "8", *SYN, *r, "--plot", str(tmp_path / "d.png")],
                        {"arm", "plain", "test_error_mean"}, 2),
        "profile": (["profile", "cifar-resnet8", "--device", "cpu", "-b", "2", "--iters", "2", "--warmup", "0",
                     "--min-time", "0", "--no-compare-layouts", "--no-save", "--threads", "1"],
                    {"spec", "batch_size", "latency_median_ms"}, 1),
        "responses": (["analyze", "responses", "cifar-resnet8", *SYN, "--images", "8", *r,
                       "--plot", str(tmp_path / "a.png")], {"net", "name", "value"}, 3),
        "gradients": (["analyze", "gradients", "cifar-resnet8", *SYN, "--images", "8", *r,
                       "--plot", str(tmp_path / "g.png")], {"net", "epoch", "weight_grad_norm", "verdict"}, 3),
        "search": (["search", *TINY_SEARCH, *r], {"number", "spec", "test_error", "on_front"}, 1),
        "results": (["results", *r], {"id", "kind", "key"}, 1),
    }


# results reads what the others stored, so it runs last
ORDER = ["list", "show", "show-layers", "train", "compare", "degradation", "profile", "responses", "gradients", "search",
         "results"]


def test_every_table_command_writes_the_same_frame_as_csv_and_markdown(cli, tmp_path):
    commands = _commands(tmp_path)
    for name in ORDER:
        args, columns, rows = commands[name]
        csv_file, md_file = tmp_path / f"{name}.csv", tmp_path / f"{name}.md"
        code, out, err = cli(*args, "--csv", csv_file, "--markdown", md_file)
        assert code == 0, (name, err)
        assert out.strip(), name  # the terminal table is still printed
        frame = pd.read_csv(csv_file)
        assert columns <= set(frame.columns), (name, list(frame.columns))
        assert len(frame) >= rows, name
        md = md_file.read_text().splitlines()
        assert md[0].startswith("|") and set(md[1]) <= set("|-: "), name
        assert len(md) == len(frame) + 2, name  # header, rule, one line per row: the same frame
        for col in columns:
            assert col in md[0], (name, col)
        # stdout instead of the table: nothing but the CSV
        code, out, err = cli(*args, "--csv", "-")
        assert code == 0, (name, err)
        again = pd.read_csv(io.StringIO(out))
        assert list(again.columns) == list(frame.columns) and len(again) == len(frame), name


def test_a_bare_option_means_stdout(cli):
    code, out, err = cli("list", "--markdown")
    assert code == 0 and out.startswith("| name") and "Also:" not in out
    code, out, err = cli("list", "--csv", "--json")  # the option alone, then another option
    assert_one_line_usage_error(code, err)


@pytest.mark.parametrize("args, message", [
    (["--csv", "-", "--markdown", "-"], "both ask for stdout"),
    (["--json", "--csv", "-"], "cannot share stdout"),
    (["--csv", "t.txt"], "give a name ending in .csv"),
    (["--markdown", "t.csv"], "give a name ending in .md"),
])
def test_table_outputs_refused_before_work(cli, tmp_path, args, message):
    code, out, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--results-dir", tmp_path / "r", *args)
    assert_one_line_usage_error(code, err)
    assert message in err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))  # nothing trained


def test_check_writes_its_table_and_still_fails_on_regression(cli, tmp_path):
    from tests.check.test_verdict import _write, entry

    (tmp_path / "suite.toml").write_text('[suite]\nname = "t"\n[[entry]]\nspec = "resnet20"\nbatch_sizes = [8]\n')
    base = _write(tmp_path / "b.json", [entry()])
    slow = _write(tmp_path / "c.json", [entry(scale=1.5, seed=1)])
    code, out, err = cli("check", tmp_path / "suite.toml", "--baseline", base, "--current", slow, "--csv", "-")
    assert code == 1, err  # the verdict's exit code stands with the table on stdout
    frame = pd.read_csv(io.StringIO(out))
    assert "regressed" in set(frame["verdict"]) and {"entry", "metric", "ratio", "fails"} <= set(frame.columns)
    code, out, err = cli("check", tmp_path / "suite.toml", "--baseline", base, "--current", slow, "--markdown",
                         tmp_path / "c.md", "--json")
    assert code == 1 and json.loads(out)["exit_code"] == 1
    assert "regressed" in (tmp_path / "c.md").read_text()


def test_a_table_file_keeps_its_mode_and_its_link(cli, tmp_path):
    """Written atomically, yet like any file: an existing file keeps its mode, a new one gets
    the umask's (not mkstemp's 0600), and a symbolic link is written through, not replaced."""
    import os
    import stat

    kept = tmp_path / "kept.csv"
    kept.write_text("old\n")
    kept.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(kept)
    for target in (kept, link, tmp_path / "new.csv"):
        code, out, err = cli("list", "--csv", target)
        assert code == 0, err
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text().startswith("name,")
    assert link.is_symlink() and link.resolve() == kept
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o666 & ~umask


