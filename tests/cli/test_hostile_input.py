"""The bad-input probe, second round: kinds the first round missed. Each case is one line on
stderr, exit 2, no traceback, and no work started; files written by earlier runs are intact.

Kinds: numbers in other scripts or with underscores on every whole-number and real option;
empty lists; malformed budgets; deeply nested suites, baselines and space files; data sets
that leave nothing to train on; checkpoints that are not state_dicts; output places that
cannot be written; nonsense arms.
"""

import json

import pytest
import torch

from tests.conftest import assert_one_line_usage_error, run_probe_case, write_fake_cifar10

SYN = ["--dataset", "synthetic", "--device", "cpu", "--epochs", "1"]
WEIRD = ["٣", "1_0", "３"]  # Arabic-Indic 3, an underscore, a full-width 3

INT_OPTIONS = {
    "train": ["--epochs", "--batch-size", "--seed", "--subset", "--test-subset", "--threads"],
    "compare": ["--seeds", "--workers", "--retries", "--pack"],
    "degradation": ["--seeds", "--batch-size"],
    "profile": ["--iters", "--warmup", "--threads"],
    "show": ["--input-size", "--num-classes", "--in-channels"],
    "search": ["--trials", "--seeds", "--min-epochs", "--reduction-factor", "--sampler-seed"],
}
FLOAT_OPTIONS = {"train": ["--lr", "--val-split"], "compare": ["--effect", "--target-error"], "profile": ["--min-time"],
                 "search": ["--timeout"]}
PREFIX = {
    "train": ["train", "cifar-resnet8", *SYN, "--no-save"],
    "compare": ["compare", *SYN, "--results-dir", "{tmp}/r"],
    "degradation": ["degradation", *SYN, "--results-dir", "{tmp}/r"],
    "profile": ["profile", "cifar-resnet8", "--device", "cpu", "--no-save"],
    "show": ["show", "resnet20"],
    "search": ["search", *SYN, "--results-dir", "{tmp}/s"],
}

NUMBERS = [[*PREFIX[cmd], opt, w] for table in (INT_OPTIONS, FLOAT_OPTIONS) for cmd, opts in table.items()
           for opt in opts for w in WEIRD]

EMPTY_LISTS = [
    ["compare", *SYN, "--specs", ""], ["compare", *SYN, "--depths", ""], ["compare", *SYN, "--shortcuts", ""],
    ["compare", *SYN, "--blocks", ""], ["compare", *SYN, "--specs", " "], ["degradation", *SYN, "--depths", ""],
    ["profile", "cifar-resnet8", "--device", "cpu", "--no-save", "-b", ""], ["search", *SYN, "--widths", ""],
    ["search", *SYN, "--stages", ""], ["search", *SYN, "--shortcuts", ""],
]

BUDGETS = [[cmd, *SYN, "--specs", "cifar-resnet8,cifar-plain8", "--budget", b] if cmd == "compare" else
           [cmd, *SYN, "--depths", "8", "--budget", b]
           for cmd in ("compare", "degradation")
           for b in ["45", "-1h", "1e99s", "nan", "", "0m", "31d", "1h 30m", "inf", "١h", "1_0m", "m", "45 m"]] + [
    ["compare", *SYN, "--specs", "cifar-resnet8,cifar-plain8", "--plan"],
    ["compare", *SYN, "--specs", "cifar-resnet8,cifar-plain8", "--until-resolved"],
    ["degradation", *SYN, "--depths", "8", "--plan"],
    ["degradation", *SYN, "--depths", "8", "--until-resolved"],
    ["compare", *SYN, "--specs", "cifar-resnet8", "--budget", "1h", "--plan"],
    ["compare", *SYN, "--specs", "cifar-resnet8,cifar-plain8", "--until-resolved", "--seeds", "1"],
    ["compare", *SYN, "--specs", "cifar-resnet8,cifar-plain8", "--dtype", "bf 16"],
    ["train", "cifar-resnet8", *SYN, "--no-save", "--dtype", "AUTOMATIC"],
]

DEEP = [
    ["check", "{tmp}/deep_array.toml", "--baseline", "{tmp}/good.json"],
    ["check", "{tmp}/deep_table.toml", "--baseline", "{tmp}/good.json"],
    ["baseline", "{tmp}/deep_array.toml", "--out", "{tmp}/b.json"],
    ["check", "{tmp}/good.toml", "--baseline", "{tmp}/deep_array.json"],
    ["check", "{tmp}/good.toml", "--baseline", "{tmp}/deep_object.json"],
    ["search", *SYN, "--results-dir", "{tmp}/s", "--space", "{tmp}/deep_array.toml"],
]

DATA = [
    ["train", "cifar-resnet8", "--device", "cpu", "--epochs", "1", "--no-save", "--dataset", "imagefolder",
     "--data-dir", "{tmp}/one_image"],
    ["train", "cifar-resnet8", "--device", "cpu", "--epochs", "1", "--no-save", "--dataset", "imagefolder",
     "--data-dir", "{tmp}/one_image", "--val-split", "0.5"],
    ["train", "cifar-resnet8", "--device", "cpu", "--epochs", "1", "--no-save", "--dataset", "cifar10",
     "--data-dir", "{tmp}/cifar_folder", "--no-download"],
    ["train", "cifar-resnet8", "--device", "cpu", "--epochs", "1", "--no-save", "--dataset", "cifar10",
     "--data-dir", "{tmp}/[/x]", "--no-download"],
]

CHECKPOINTS = [["analyze", "responses", "cifar-resnet8", *SYN, "--checkpoint", f"{{tmp}}/{name}"]
               for name in ("list.pt", "strings.pt", "tensor.pt", "int_keys.pt")]

ARMS = [["degradation", *SYN, "--shortcut", s] for s in ("none", "plain", "", "a b")] + [
    ["compare", *SYN, "--specs", "cifar-resnet8,,cifar-plain8x"], ["compare", *SYN, "--reference", "resnet56"]]

OUTPUTS = [
    ["compare", *SYN, "--results-dir", "{tmp}/r", "--markdown", "{tmp}/a_folder.md"],
    ["compare", *SYN, "--results-dir", "{tmp}/r", "--csv", "{tmp}/a_file/t.csv"],
    ["compare", *SYN, "--results-dir", "{tmp}/r", "--plot", "{tmp}/a_file/p.png"],
    ["compare", *SYN, "--results-dir", "{tmp}/a_file"],
    ["train", "cifar-resnet8", *SYN, "--results-dir", "{tmp}/a_file"],
    ["train", "cifar-resnet8", *SYN, "--no-save", "--save-checkpoint", "{tmp}/a_file/w.pt"],
    ["profile", "cifar-resnet8", "--device", "cpu", "--results-dir", "{tmp}/a_file"],
    ["profile", "cifar-resnet8", "--device", "cpu", "--no-save", "--csv", "{tmp}/a_file/p.csv"],
    ["baseline", "{tmp}/good.toml", "--out", "{tmp}/a_file/b.json"],
    ["check", "{tmp}/good.toml", "--baseline", "{tmp}/good.json", "--markdown", "{tmp}/a_file/t.md"],
    ["check", "{tmp}/good.toml", "--baseline", "{tmp}/good.json", "--benchmark-json", "{tmp}/a_file/b.json"],
    ["degradation", *SYN, "--results-dir", "{tmp}/r", "--plot", "{tmp}/a_file/d.png"],
    ["plot", "{tmp}/a_file/p.png", "--results-dir", "{tmp}/r"],
    ["search", *SYN, "--results-dir", "{tmp}/s", "--csv", "{tmp}/a_file/t.csv"],
]

CASES = NUMBERS + EMPTY_LISTS + BUDGETS + DEEP + DATA + CHECKPOINTS + ARMS + OUTPUTS


def _write_fixtures(tmp):
    from PIL import Image

    (tmp / "good.toml").write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\n')
    (tmp / "good.json").write_text(json.dumps({"schema": 1, "kind": "resbench-baseline", "suite": "s", "entries": [
        {"id": "cifar-resnet8", "params": 78_042, "macs": 12_000_000}]}))
    (tmp / "deep_array.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp / "deep_table.toml").write_text("a = " + "{b=" * 5000 + "1" + "}" * 5000 + "\n")
    (tmp / "deep_array.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "deep_object.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    one = tmp / "one_image" / "train" / "cat"
    one.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(one / "a.png")
    base = write_fake_cifar10(tmp / "cifar_folder")
    (base / "data_batch_1").unlink()
    (base / "data_batch_1").mkdir()
    torch.save([1, 2, 3], tmp / "list.pt")
    torch.save({"conv1.weight": "a string"}, tmp / "strings.pt")
    torch.save(torch.zeros(3), tmp / "tensor.pt")
    torch.save({1: torch.zeros(1)}, tmp / "int_keys.pt")
    (tmp / "a_folder.md").mkdir()
    (tmp / "a_file").write_text("a file where a folder should be")
    (tmp / "r").mkdir()


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probe2")
    _write_fixtures(tmp)
    return tmp


def test_the_second_probe_is_big_enough():
    assert len(CASES) >= 150


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c)[:90] for c in CASES])
def test_bad_input_is_one_line_exit_2(cli, probe_dir, monkeypatch, args):
    before = (probe_dir / "a_file").read_text()
    code, out, err = run_probe_case(cli, probe_dir, monkeypatch, args)
    assert_one_line_usage_error(code, err)
    assert (probe_dir / "a_file").read_text() == before  # nothing already written is lost


@pytest.mark.parametrize("value", ["0", "-1", "nan", "100"])
def test_degradation_refuses_an_effect_compare_refuses(cli, tmp_path, value):
    code, _, err = cli("degradation", "--depths", "8", "--dataset", "synthetic", "--effect", value, "--results-dir", tmp_path)
    assert code == 2 and "--effect" in err and len(err.strip().splitlines()) == 1


def test_an_empty_kind_says_which_kind(cli, tmp_path):
    code, out, _ = cli("results", "--kind", "bogus", "--results-dir", tmp_path)
    assert code == 0 and "no records of kind 'bogus'" in out
    code, _, err = cli("plot", tmp_path / "p.png", "--kind", "bogus", "--results-dir", tmp_path)
    assert code == 2 and "no records of kind 'bogus'" in err and "--kind" in err


@pytest.mark.parametrize("given, named", [(["--address", "auto"], "--address"), (["--cpus-per-run", "2"], "--cpus-per-run"),
                                          (["--gpus-per-run", "1"], "--gpus-per-run")])
def test_ray_settings_without_the_ray_executor_are_refused(cli, tmp_path, given, named):
    code, _, err = cli("compare", "--specs", "cifar-resnet8", "--dataset", "synthetic", *given, "--results-dir", tmp_path)
    assert code == 2 and err.strip() == f"resbench: error: {named} applies to --executor ray only: add that, or leave it out"


def test_a_shortcut_a_plain_arm_cannot_take_names_the_arm(cli, tmp_path):
    code, _, err = cli("compare", "--specs", "resnet20,plain20", "--shortcuts", "A,B", "--dataset", "synthetic",
                       "--results-dir", tmp_path)
    assert code == 2 and err.startswith("resbench: error: arm plain20: this is a plain net")
