"""The bad-input probe: every malformed input, across every command, is one line on
stderr, exit 2, no traceback, and no work started (these all fail at validation).

Cases are grouped by command; files they need (suites, baselines, data folders) are
written by the fixture below. The README's reliability section quotes the count.
"""

import json
import pickle

import pytest

from tests.conftest import assert_one_line_usage_error, run_probe_case, write_fake_cifar10

SYN = ["--dataset", "synthetic", "--device", "cpu", "--epochs", "1"]

SHOW = [
    ["show", spec] for spec in [
        "", "   ", "resnet", "resnet19", "resnet-20", "resnet20:", "resnet20:width", "resnet20:width=", "resnet20:width=nanx",
        "resnet20:width=infx", "resnet20:width=-1", "resnet20:width=0", "resnet20:width=0x", "resnet20:width=1.3x",
        "resnet20:width=abc", "resnet20:width=1000000", "resnet20:width=16.32", "resnet20:width=32.16.8",
        "resnet20:num-classes=0", "resnet20:num-classes=99999999999999999999", "resnet20:num-classes=1e3",
        "resnet20:in-channels=0", "resnet20:input-size=0", "resnet20:input-size=3", "resnet20:input-size=100000",
        "resnet20:shortcut=D", "resnet20:shortcut=", "resnet20:stride-on=2x2", "resnet20:colour=red",
        "cifar-resnet1000000004", "cifar-resnet999999998", "cifar-resnet21", "cifar-resnet٢٠", "resnet٥٠",
        "cifar-basic-3.0.3", "cifar-basic-", "cifar-basic-3..3", "cifar-basic-9999.1.1", "imagenet-resnet19",
        "imagenet-resnet50-basic", "plain20:zero-init-residual", "resnet20:plain:shortcut=B", "resnet152:input-size=20000",
        "cifar-resnet8:width=8.4.2", "cifar-resnet8:width=1 6",
    ]
] + [
    ["show", "resnet20", *opts] for opts in [
        ["--width", "nanx"], ["--width", "0"], ["--input-size", "0"], ["--input-size", "-5"], ["--input-size", "1000000"],
        ["--num-classes", "0"], ["--num-classes", "99999999999999999999"], ["--in-channels", "0"], ["--shortcut", "Z"],
        ["--stride-on", "3x1"], ["--input-size", "abc"], ["--bogus"],
    ]
]

PROFILE = [
    ["profile", "cifar-resnet8", "--device", "cpu", "--no-save", *opts] for opts in [
        ["-b", "0"], ["-b", "-1"], ["-b", "abc"], ["-b", "1,x"], ["-b", ","], ["-b", "٣"], ["-b", "1_0"], ["-b", "99999999999"],
        ["--min-time", "nan"], ["--min-time", "inf"], ["--min-time", "-1"], ["--min-time", "1e9"], ["--iters", "0"],
        ["--iters", "-3"], ["--warmup", "-1"], ["--threads", "0"], ["--dtype", "fp8"], ["--dtype", "tf32"], ["--dtype", "fp16"],
        ["--mode", "eval"], ["--device", "tpu"], ["--cuda-graphs"], ["--csv", "out.txt"], ["--csv", ""],
    ]
] + [["profile", "resnet50", "--device", "cpu", "--no-save", "-b", "4096"]]

TRAIN = [
    ["train", "cifar-resnet8", *SYN, "--no-save", *opts] for opts in [
        ["--lr", "nan"], ["--lr", "inf"], ["--lr", "-0.1"], ["--lr", "0"], ["--epochs", "0"], ["--epochs", "-2"],
        ["--batch-size", "0"], ["--seed", "-1"], ["--seed", "99999999999999999999999"], ["--val-split", "0"],
        ["--val-split", "1"], ["--val-split", "nan"], ["--val-split", "2"], ["--subset", "0"], ["--test-subset", "0"],
        ["--dataset", "mnist"], ["--schedule", "exponential"], ["--warmup", "maybe"], ["--dtype", "fp8"], ["--dtype", "fp16"],
        ["--threads", "0"], ["--save-checkpoint", "model.txt"], ["--device", "cuda:7"], ["--nproc", "0"], ["--cuda-graphs"],
        ["--subset", "3"],
    ]
] + [["train", "cifar-resnet8", "--dataset", "cifar10", "--data-dir", "{tmp}/nowhere", "--no-download"]]

COMPARE = [
    ["compare", *SYN, *opts] for opts in [
        ["--seeds", "0"], ["--workers", "0"], ["--retries", "-1"], ["--executor", "dask"], ["--depths", "21"],
        ["--depths", "x"], ["--depths", ","], ["--blocks", "wide"], ["--shortcuts", "D"], ["--reference", "resnet56"],
        ["--cpus-per-run", "0"], ["--cpus-per-run", "nan"], ["--gpus-per-run", "-1"], ["--specs", "resnet20", "--depths", "20"],
        ["--shortcuts", "A,B", "--shortcut", "C"], ["--plot", "curves.txt"], ["--lr", "nan"],
        ["--pack", "0"], ["--pack", "65"], ["--cuda-graphs"], ["--effect", "0"], ["--effect", "-0.5"], ["--effect", "nan"], ["--target-error", "0"], ["--target-error", "150"],
    ]
] + [["degradation", *SYN, *opts] for opts in [["--depths", "21"], ["--seeds", "0"], ["--plot", "x.gif"], ["--shortcut", "Q"]]]

CHECK_FILES = {
    "suite_not_table.toml": "suite = 5\n[[entry]]\nspec = \"resnet20\"\n",
    "suite_batch_word.toml": "[[entry]]\nspec = \"resnet20\"\nbatch_sizes = \"eight\"\n",
    "suite_iters_word.toml": "[[entry]]\nspec = \"resnet20\"\niters = \"many\"\n",
    "suite_dup.toml": "[[entry]]\nspec = \"resnet20\"\n[[entry]]\nspec = \"resnet20\"\n",
    "suite_unknown.toml": "[[entry]]\nspec = \"resnet20\"\nbatchsize = 8\n",
    "suite_empty.toml": "[suite]\nname = \"x\"\n",
    "suite_bad_spec.toml": "[[entry]]\nspec = \"resnet21\"\n",
    "suite_bad_toml.toml": "[[entry\n",
    "suite_min_time_nan.toml": "[[entry]]\nspec = \"resnet20\"\nmin_time = nan\n",
    "suite_timing_int.toml": "[[entry]]\nspec = \"resnet20\"\ntiming = 1\n",
    "suite_entry_not_list.toml": "entry = 3\n",
    "suite_policy.toml": "[suite]\ntiming = \"sometimes\"\n[[entry]]\nspec = \"resnet20\"\n",
    "suite_dtype.toml": "[[entry]]\nspec = \"resnet20\"\ndtype = \"fp64\"\n",
    "suite_bs_zero.toml": "[[entry]]\nspec = \"resnet20\"\nbatch_sizes = [0]\n",
    "suite_bs_and_sizes.toml": "[[entry]]\nspec = \"resnet20\"\nbatch_size = 1\nbatch_sizes = [2]\n",
    "suite_rounds_zero.toml": "[[entry]]\nspec = \"resnet20\"\nrounds = 0\n",
    "suite_tolerance_negative.toml": "[[entry]]\nspec = \"resnet20\"\ntolerance = -0.1\n",
    "suite_alpha_one.toml": "[[entry]]\nspec = \"resnet20\"\nalpha = 1.0\n",
}


def _baseline(entries):
    return json.dumps({"schema": 1, "kind": "resbench-baseline", "suite": "s", "entries": entries})


BASELINES = {
    "b_params_word.json": _baseline([{"id": "resnet20", "params": "lots", "macs": 1}]),
    "b_params_nan.json": _baseline([{"id": "resnet20", "params": float("nan"), "macs": 1}]),
    "b_params_negative.json": _baseline([{"id": "resnet20", "params": -5, "macs": 1}]),
    "b_missing_macs.json": _baseline([{"id": "resnet20", "params": 1}]),
    "b_dup.json": _baseline([{"id": "resnet20", "params": 1, "macs": 1}, {"id": "resnet20", "params": 1, "macs": 1}]),
    "b_bad_timing.json": _baseline([{"id": "resnet20", "params": 1, "macs": 1, "timing": {"samples_ms": [-1], "median_ms": 1,
                                                                                        "throughput": 1, "env": {}}}]),
    "b_schema_str.json": json.dumps({"schema": "1", "kind": "resbench-baseline", "entries": []}),
    "b_schema_new.json": json.dumps({"schema": 99, "kind": "resbench-baseline", "entries": []}),
    "b_not_json.json": "{\"schema\": 1, \"kind\"",
    "b_no_kind.json": json.dumps({"schema": 1, "entries": []}),
    "b_list.json": "[]",
}

CHECK = (
    [["check", f"{{tmp}}/{name}", "--baseline", "{tmp}/good.json"] for name in CHECK_FILES]
    + [["check", "{tmp}/good.toml", "--baseline", f"{{tmp}}/{name}"] for name in BASELINES]
    + [["check", "{tmp}/good.toml", "--baseline", "{tmp}/good.json", *opts] for opts in [
        ["--alpha", "nan"], ["--alpha", "0"], ["--alpha", "1"], ["--tolerance", "-1"], ["--tolerance", "nan"],
        ["--rounds", "0"], ["--markdown", "summary.png"], ["--against", "main"]]]
    + [["check", "{tmp}/good.toml", *opts] for opts in [[], ["--against", "-x"], ["--against", "--output=/tmp/x"],
                                                         ["--update", "--against", "{tmp}"]]]
    + [["check", "{tmp}/latin1.toml", "--baseline", "{tmp}/good.json"], ["check", "{tmp}", "--baseline", "{tmp}/good.json"],
       ["check", "{tmp}/missing.toml", "--baseline", "{tmp}/good.json"], ["check", "{tmp}/good.toml", "--baseline", "{tmp}"],
       ["baseline", "{tmp}/suite_dup.toml", "--out", "{tmp}/b.json"], ["baseline", "{tmp}/good.toml", "--out", "{tmp}"],
       ["baseline", "{tmp}/good.toml", "--out", "{tmp}/b.json", "--rounds", "0"],
       ["check", "{tmp}/good.toml", "--baseline", "{tmp}/good.json", "--benchmark-json", "bench.csv"]]
)

RESULTS = [
    ["results", "--kind", "../.."], ["results", "--kind", "/etc"], ["results", "--kind", "a b"],
    ["results", "--results-dir", "{tmp}/res", "--filter", "spec"], ["results", "--results-dir", "{tmp}/res", "--filter", "=1"],
    ["plot", ""], ["plot", "p.txt"], ["plot", ".png"], ["plot", "{tmp}"], ["plot", "out.png", "--results-dir", "{tmp}/res", "--x", "nope"],
    ["plot", "out.png", "--results-dir", "{tmp}/empty"], ["plot", "out.png", "--kind", "../x"],
]

SEARCH = [
    ["search", *SYN[:-1], "3", "--results-dir", "{tmp}/s", *opts] for opts in [
        ["--trials", "0"], ["--max-latency-ms", "nan"], ["--max-latency-ms", "-1"], ["--max-macs", "abc"], ["--max-macs", "nan"],
        ["--max-macs", "inf"], ["--max-macs", "0"], ["--max-macs", "1k"], ["--objectives", "macs"], ["--objectives", "error,flops"],
        ["--sampler", "grid"], ["--min-epochs", "0"], ["--reduction-factor", "1"], ["--seeds", "0"], ["--max-memory", "1G"],
        ["--space", "{tmp}/missing.toml"], ["--space", "{tmp}/space_bad.toml"], ["--space", "{tmp}/space_types.toml"],
        ["--space", "{tmp}/latin1.toml"], ["--widths", "a,b"], ["--stages", "0"], ["--blocks", "wide"], ["--shortcuts", "E"],
        ["--timeout", "nan"], ["--sampler-seed", "-1"], ["--max-blocks-per-stage", "x"], ["--min-blocks-per-stage", "0"],
        ["--csv", "trials.json"],
    ]
]

ANALYZE = [
    ["analyze", "responses", "cifar-resnet8", *SYN, *opts] for opts in [
        ["--images", "0"], ["--train-epochs", "-1"], ["--plot", "r.txt"], ["--checkpoint", "{tmp}/nope.pt"], ["--lr", "nan"]]
] + [
    ["analyze", "gradients", "cifar-resnet8", *SYN, *opts] for opts in [["--at-epochs", "x"], ["--at-epochs", "-1"], ["--images", "0"]]
] + [["analyze", "responses", "cifar-resnet8", "resnet20", *SYN, "--checkpoint", "{tmp}/c.pt"], ["analyze", "colours", "resnet20"]]

DATA = [
    ["train", "cifar-resnet8", "--device", "cpu", "--epochs", "1", "--no-save", "--dataset", kind, "--data-dir", f"{{tmp}}/{folder}"]
    for kind, folder in [("cifar10", "cifar_truncated"), ("cifar10", "cifar_random"), ("cifar10", "cifar_empty"),
                         ("cifar10", "cifar_meta"), ("cifar10", "cifar_payload"), ("cifar10", "cifar_labels"),
                         ("imagefolder", "if_not_image"), ("imagefolder", "if_no_train"), ("imagefolder", "if_empty_class")]
]

CASES = SHOW + PROFILE + TRAIN + COMPARE + CHECK + RESULTS + SEARCH + ANALYZE + DATA


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PAYLOAD_RAN",))


def _write_fixtures(tmp):
    (tmp / "good.toml").write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\n')
    (tmp / "good.json").write_text(_baseline([{"id": "cifar-resnet8", "params": 78_042, "macs": 12_000_000}]))
    (tmp / "latin1.toml").write_bytes('name = "é"\n'.encode("latin-1"))
    (tmp / "space_bad.toml").write_text("[[family\n")
    (tmp / "space_types.toml").write_text('widths = "wide"\n')
    (tmp / "c.pt").write_text("not a checkpoint")
    for name, text in {**CHECK_FILES, **BASELINES}.items():
        (tmp / name).write_text(text)
    for folder, damage in [("cifar_truncated", "trunc"), ("cifar_random", "random"), ("cifar_empty", "empty"),
                           ("cifar_meta", "meta"), ("cifar_payload", "payload"), ("cifar_labels", "labels")]:
        base = write_fake_cifar10(tmp / folder)
        target = base / "data_batch_1"
        if damage == "trunc":
            target.write_bytes(target.read_bytes()[:100])
        elif damage == "random":
            target.write_bytes(bytes(range(256)) * 40)
        elif damage == "empty":
            target.write_bytes(b"")
        elif damage == "meta":
            (base / "batches.meta").write_bytes(pickle.dumps({"names": ["a"]}))
        elif damage == "payload":
            target.write_bytes(pickle.dumps({"data": _Payload(), "labels": []}))
        elif damage == "labels":
            target.write_bytes(pickle.dumps({"data": b"x", "labels": "abc"}))
    good_png = tmp / "if_not_image" / "train" / "cat" / "a.png"
    good_png.parent.mkdir(parents=True)
    good_png.write_text("this is not a PNG")
    (tmp / "if_no_train").mkdir()
    (tmp / "if_empty_class" / "train" / "dog").mkdir(parents=True)
    (tmp / "res" / "records" / "profile").mkdir(parents=True)
    (tmp / "empty").mkdir()


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probe")
    _write_fixtures(tmp)
    return tmp


def test_the_probe_is_big_enough():
    assert len(CASES) >= 150


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c)[:80] for c in CASES])
def test_bad_input_is_one_line_exit_2(cli, probe_dir, monkeypatch, args):
    code, out, err = run_probe_case(cli, probe_dir, monkeypatch, args)
    assert_one_line_usage_error(code, err)
    assert not (probe_dir / "PAYLOAD_RAN").exists()  # no code ran from data
