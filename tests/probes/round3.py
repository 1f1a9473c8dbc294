"""The third hostile probe: stored numbers, checkpoints, output places, trackers, counter
baselines, plans, suites, reference models and special files, driven through the CLI as
a user would. Each case says what a clean outcome is; every outcome is classified:

* clean: bad input is exit 2 with one line on stderr; good input succeeds as it should
  (a damaged stored file: exit 0 with one warning naming it);
* traceback, hang (past the case's time limit), data loss (a file the case must leave
  alone was changed or removed), code execution (a planted pickle ran), exit 1 for bad
  input, a file left behind, or wrong.

Run it all (cheap and expensive cases) and write the summary:

    PYTHONPATH=. python3 -m tests.probes.round3 results/benchmarks/probe_round3.txt

`tests/probes/test_round3.py` runs the cheap cases in the suite and asserts each is clean.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "32", "--test-subset", "16", "--batch-size", "16"]
TRAIN = ["train", "cifar-resnet8", *SYN, "--epochs", "2", "--results-dir", "{tmp}/res"]
PROFILE = ["profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "1", "--min-time", "0", "--no-save",
           "--no-compare-layouts"]


@dataclass(frozen=True)
class Case:
    kind: str  # the surface: records, outputs, trackers, ...
    args: tuple[str, ...]  # the command line; {tmp} is the case's own folder
    expect: str  # refuse (exit 2, one line) | ok (exit 0) | warn (exit 0, one warning naming `names`) | either (ok or refuse)
    setup: Callable[[Path], None] | None = None  # makes the case's files in its folder
    check: Callable[[Path, str, str], str | None] | None = None  # after: what is wrong (None: nothing)
    names: str = ""  # what the one warning must name
    env: dict = field(default_factory=dict)
    expensive: bool = False  # trains or measures: run from the script, not the suite
    limit: int = 60  # seconds before the case counts as a hang

    @property
    def label(self) -> str:
        return f"{self.kind}: {' '.join(self.args)[:110]}"


# ---------------------------------------------------------------- stored records

GOOD: dict = {}  # the good record's text, filled by prepare()


def _record_damage(how: str):
    def damage(doc):
        r, c = doc["result"], doc["config"]
        if how.startswith("error="):
            r["final_test_error"] = json.loads(how.split("=", 1)[1])
        elif how.startswith("history-error="):
            r["history"][0]["test_error"] = json.loads(how.split("=", 1)[1])
        elif how.startswith("epochs="):
            c["epochs"] = json.loads(how.split("=", 1)[1])
        elif how.startswith("seconds="):
            r["seconds"] = json.loads(how.split("=", 1)[1])
        elif how.startswith("params="):
            r["params"] = json.loads(how.split("=", 1)[1])
        elif how.startswith("result:"):  # result:field=value
            name, value = how[len("result:"):].split("=", 1)
            r[name] = json.loads(value)
        elif how == "result-empty":
            doc["result"] = {}
        elif how == "history-text":
            r["history"] = "oops"
        elif how == "history-empty":
            r["history"], r["epochs"] = [], 0
        elif how == "epochs-mismatch":
            r["epochs"] = 7
        elif how == "seed-negative":
            c["seed"] = -1
        elif how == "batch-zero":
            c["batch_size"] = 0
        elif how == "train-error-none":
            r["final_train_error"] = None
        return doc
    return damage


RECORD_DAMAGES = ["error=NaN", "error=1e308", "error=-1e308", "error=-3.0", "error=1.5", "error=\"low\"", "error=Infinity",
                  "history-error=NaN", "history-error=2", "history-error=-0.5", "epochs=0", "epochs=-1", "epochs=1.5",
                  "seconds=-1", "seconds=Infinity", "params=-5", "params=1.5", "result-empty", "history-text",
                  "history-empty", "epochs-mismatch", "seed-negative", "batch-zero", "train-error-none",
                  "result:contention=1.5", "result:contention=NaN", "result:world_size=0", "result:seconds=0",
                  "result:test_correct=\"!!\"", "result:test_images=0"]
RAW_RECORDS = {"fifo": None, "folder": None, "empty": b"", "binary": b"\xff\xfe\x00", "deep": b"[" * 100_000 + b"]" * 100_000}


def _plant_record(how: str):
    def setup(tmp: Path):
        folder = tmp / "res" / "records" / "train"
        folder.mkdir(parents=True)
        (folder / GOOD["name"]).write_text(GOOD["text"])
        bad = folder / "20990101T000000-badbadba-000000.json"
        if how == "fifo":
            os.mkfifo(bad)
        elif how == "folder":
            bad.mkdir()
        elif how in RAW_RECORDS:
            bad.write_bytes(RAW_RECORDS[how])
        else:
            text = json.dumps(_record_damage(how)(json.loads(GOOD["text"])))  # NaN/Infinity written as Python does
            bad.write_text(text)
    return setup


def _lists_the_good_record(tmp: Path, out: str, err: str) -> str | None:
    if GOOD["id"] not in out:
        return "the good record is not listed"
    if not (tmp / "res" / "records" / "train" / GOOD["name"]).exists():
        return "the good record is gone"
    return None


def record_cases() -> list[Case]:
    out = []
    for how in RECORD_DAMAGES + list(RAW_RECORDS):
        for view in (["--json"], ["--csv", "-"], ["--markdown", "-"]):
            out.append(Case("records", ("results", "--results-dir", "{tmp}/res", *view), "warn", _plant_record(how),
                            _lists_the_good_record, names="20990101T000000-badbadba-000000.json"))
    return out


# ---------------------------------------------------------------- output places

def _special_outputs(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo.csv")
    os.mkfifo(tmp / "fifo.md")
    (tmp / "dir.csv").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp / "sock.csv"))
    (tmp / "keep.txt").write_text("keep")
    (tmp / "target.csv").write_text("old")
    (tmp / "link.csv").symlink_to(tmp / "target.csv")
    (tmp / "null.csv").symlink_to(os.devnull)
    (tmp / "null.md").symlink_to(os.devnull)
    (tmp / "chain.csv").symlink_to(tmp / "link.csv")
    (tmp / "dangling.csv").symlink_to(tmp / "made" / "there.csv")
    (tmp / "to_fifo.csv").symlink_to(tmp / "fifo.csv")


def _devnull_intact(tmp, out, err):
    st = os.stat(os.devnull)
    return None if stat.S_ISCHR(st.st_mode) else "/dev/null is no longer a device"


def _link_kept(tmp, out, err):
    if not (tmp / "link.csv").is_symlink():
        return "the link was replaced"
    return None if "params" in (tmp / "target.csv").read_text() or "spec" in (tmp / "target.csv").read_text() else \
        "the link's target was not written"


def _fifo_intact(tmp, out, err):
    return None if stat.S_ISFIFO(os.stat(tmp / "fifo.csv").st_mode) else "the FIFO was replaced"


def _exists(name: str):
    def check(tmp, out, err):
        return None if os.path.exists(os.path.join(os.fsencode(tmp), os.fsencode(name))) else f"{name!r} was not written"
    return check


def output_cases() -> list[Case]:
    cases = []
    def with_record(tmp: Path) -> None:
        _special_outputs(tmp)
        _record_with()(tmp)

    for cmd in (["show", "resnet20"], ["list"], ["results", "--results-dir", "{tmp}/res"]):
        for option, name, expect, check in [
            ("--csv", "fifo.csv", "refuse", _fifo_intact), ("--csv", "to_fifo.csv", "refuse", _fifo_intact),
            ("--csv", "dir.csv", "refuse", None), ("--csv", "sock.csv", "refuse", None),
            ("--csv", "null.csv", "ok", _devnull_intact), ("--markdown", "null.md", "ok", _devnull_intact),
            ("--csv", "link.csv", "ok", _link_kept), ("--csv", "chain.csv", "ok", _link_kept),
            ("--csv", "dangling.csv", "ok", _exists("made/there.csv")),
            ("--csv", os.fsdecode(b"t\xff\xfe.csv"), "ok", _exists(os.fsdecode(b"t\xff\xfe.csv"))),
            ("--csv", "n" * 200 + ".csv", "ok", _exists("n" * 200 + ".csv")),
            ("--markdown", "fifo.md", "refuse", None), ("--csv", "keep.txt/x.csv", "refuse", None),
        ]:
            cases.append(Case("outputs", (*cmd, option, "{tmp}/" + name), expect,
                              with_record if cmd[0] == "results" else _special_outputs, check))
    fifo_json = lambda tmp, out, err: None if stat.S_ISFIFO(os.stat(tmp / "fifo.json").st_mode) else "the FIFO was replaced"  # noqa: E731
    for name, check in [("fifo.json", fifo_json), ("dir.json", None), ("target.json/x.json", None)]:
        cases.append(Case("outputs", (*PROFILE, "--trace", "{tmp}/" + name), "refuse", _trace_places, check, expensive=True))
    for name, check in [("link.json", None), (os.fsdecode(b"tr\xff.json"), _exists(os.fsdecode(b"tr\xff.json"))),
                        ("null.json", _devnull_intact), ("made/deep/t.json", _exists("made/deep/t.json"))]:
        cases.append(Case("outputs", (*PROFILE, "--trace", "{tmp}/" + name), "ok", _trace_places, check, expensive=True))
    return cases


def _trace_places(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo.json")
    (tmp / "dir.json").mkdir()
    (tmp / "target.json").write_text("old")
    (tmp / "link.json").symlink_to(tmp / "target.json")
    (tmp / "null.json").symlink_to(os.devnull)


def _markdown_cells(tmp, out, err):
    rows = [line for line in out.splitlines() if line.startswith("|")]
    counts = {line.count("|") - line.count("\\|") for line in rows}
    return None if len(counts) == 1 else f"rows have different column counts {sorted(counts)}"


def _literal(text: str):
    def check(tmp, out, err):
        return None if text in out else f"{text!r} is not shown as written"
    return check


def _record_with(**config):
    def setup(tmp: Path):
        folder = tmp / "res" / "records" / "train"
        folder.mkdir(parents=True)
        doc = json.loads(GOOD["text"])
        doc["config"].update(config)
        (folder / GOOD["name"]).write_text(json.dumps(doc))
    return setup


def value_cases() -> list[Case]:
    return [
        Case("values", ("results", "--results-dir", "{tmp}/res", "--markdown", "-"), "ok",
             _record_with(data_dir="/data/a|b"), _markdown_cells),
        Case("values", ("results", "--results-dir", "{tmp}/res", "--markdown", "-"), "ok",
             _record_with(data_dir="/data/x\ny|z"), _markdown_cells),
        Case("values", ("results", "--results-dir", "{tmp}/res", "--all"), "ok",
             _record_with(spec="[bold red]x[/]"), _literal("[bold red]x[/]")),
        Case("values", ("results", "--results-dir", "{tmp}/res", "--all"), "ok",
             _record_with(spec="[link=file:///etc]y[/link]"), _literal("[link=file:///etc]y[/link]")),
        Case("values", ("results", "--results-dir", "{tmp}/res", "--csv", "-"), "ok",
             _record_with(dataset='a,"b"'), None),
    ]


# ---------------------------------------------------------------- trackers

def _tracker_files(tmp: Path) -> None:
    con = sqlite3.connect(tmp / "optuna.db")
    con.execute("CREATE TABLE studies (study_id INTEGER)")
    con.commit()
    con.close()
    (tmp / "notes.db").write_text("my notes")
    (tmp / "afile").write_text("a file")
    (tmp / "adir.db").mkdir()
    os.mkfifo(tmp / "fifo.db")


def _unchanged(*names: str):
    def check(tmp, out, err):
        if (tmp / "optuna.db").exists():
            tables = {r[0] for r in sqlite3.connect(tmp / "optuna.db").execute("SELECT name FROM sqlite_master")}
            if tables != {"studies"}:
                return f"optuna.db was given tables {sorted(tables - {'studies'})}"
        if (tmp / "notes.db").read_text() != "my notes":
            return "notes.db was changed"
        left = sorted(set(os.listdir(tmp)) - {"optuna.db", "notes.db", "afile", "adir.db", "fifo.db", *names})
        return f"left behind: {left}" if left else None
    return check


def tracker_cases() -> list[Case]:
    cases = []
    for where in ["sqlite:///{tmp}/optuna.db", "sqlite:///optuna.db", "sqlite:///notes.db", "sqlite:///adir.db",
                  "sqlite:///fifo.db", "afile", "sqlite:///afile/x.db", "{tmp}/fstore", "sqlite://", "ftp://x/y",
                  "http://", "sqlite:///"]:
        cases.append(Case("trackers", (*PROFILE, "--log", f"mlflow={where}"), "refuse", _tracker_files, _unchanged()))
    cases.append(Case("trackers", (*PROFILE, "--log", "mlflow=sqlite:///runs/m.db"), "ok", _tracker_files,
                      _unchanged("runs"), expensive=True))
    cases.append(Case("trackers", (*PROFILE, "--log", "mlflow"), "ok", _tracker_files, _unchanged("res"),
                      env={"MLFLOW_TRACKING_URI": "  ", "RESBENCH_RESULTS_DIR": "{tmp}/res"}, expensive=True))
    cases.append(Case("trackers", (*PROFILE, "--log", "mlflow=fs"), "ok", _tracker_files, _unchanged("fs"),
                      env={"MLFLOW_ALLOW_FILE_STORE": "true"}, expensive=True))
    return cases


# ---------------------------------------------------------------- counter baselines and suites

OPS = {"count": 10, "flops": 100, "detail": {"stem | aten::conv2d | (1,3,32,32)float32": 10}, "env": {"torch": "2"}}


def _baseline_with(counters: dict):
    def setup(tmp: Path):
        (tmp / "s.toml").write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\ncounters = ["ops"]\n')
        entry = {"id": "cifar-resnet8", "params": 78_042, "macs": 12_000_000, "counters": counters}
        (tmp / "b.json").write_text(json.dumps({"schema": 2, "kind": "resbench-baseline", "suite": "s", "entries": [entry]}))
    return setup


def _baseline_intact(tmp, out, err):
    return None if json.loads((tmp / "b.json").read_text())["kind"] == "resbench-baseline" else "the baseline changed"


BASELINE_DAMAGES = {
    "ops.detail list": {"ops": {**OPS, "detail": ["x"]}}, "ops.detail text": {"ops": {**OPS, "detail": "x"}},
    "ops.detail value": {"ops": {**OPS, "detail": {"k": 1.5}}}, "ops.flops text": {"ops": {**OPS, "flops": "x"}},
    "ops.flops negative": {"ops": {**OPS, "flops": -3}}, "ops.env text": {"ops": {**OPS, "env": "x"}},
    "ops.env nested": {"ops": {**OPS, "env": {"a": [1]}}}, "ops.count float": {"ops": {**OPS, "count": 1.5}},
    "ops.unavailable number": {"ops": {"unavailable": 1}}, "ops not a table": {"ops": [1]},
    "memory.peak_bytes text": {"memory": {"total_bytes": 1, "peak_bytes": "x"}},
    "memory.total_bytes missing": {"memory": {"peak_bytes": 1}},
    "instructions.spread text": {"instructions": {"count": 1, "spread": "x"}},
    "instructions.spread negative": {"instructions": {"count": 1, "spread": -1}},
    "instructions.repeats text": {"instructions": {"count": 1, "repeats": "x"}},
    "kernels.count bool": {"kernels": {"count": True}},
}


def _suite(text: str):
    def setup(tmp: Path):
        (tmp / "s.toml").write_text(text)
    return setup


SUITES = [
    '[suite]\ntiming = "off"\nbatch_size = -5\n[[entry]]\nspec = "cifar-resnet8"\n',
    '[suite]\ntiming = "off"\nbatch_size = 0\n[[entry]]\nspec = "cifar-resnet8"\n',
    '[suite]\ntiming = "off"\nbatch_size = "8"\n[[entry]]\nspec = "cifar-resnet8"\n',
    '[suite]\ntiming = "off"\nbatch_size = 1.5\n[[entry]]\nspec = "cifar-resnet8"\n',
    '[suite]\ntiming = "off"\nbatch_size = true\n[[entry]]\nspec = "cifar-resnet8"\n',
    '[suite]\ntiming = "off"\n[defaults]\nbatch_size = -5\n[[entry]]\nspec = "cifar-resnet8"\n',
    '[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\nbatch_size = -5\n',
    '[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\nbatch_sizes = [8, -5]\n',
    '[suite]\ntiming = "off"\nbogus = 1\n[[entry]]\nspec = "cifar-resnet8"\n',
    'entries = []\n[suite]\ntiming = "off"\n[[entry]]\nspec = "cifar-resnet8"\n',
]


def check_cases() -> list[Case]:
    cases = [Case("baselines", ("check", "{tmp}/s.toml", "--baseline", "{tmp}/b.json"), "refuse", _baseline_with(c),
                  _baseline_intact) for c in BASELINE_DAMAGES.values()]
    cases.append(Case("baselines", ("check", "{tmp}/s.toml", "--baseline", "{tmp}/fifo.json"), "refuse",
                      lambda t: (_baseline_with({"ops": OPS})(t), os.mkfifo(t / "fifo.json"))))
    cases += [Case("suites", ("baseline", "{tmp}/s.toml", "--out", "{tmp}/b.json"), "refuse", _suite(text),
                   lambda tmp, out, err: "a baseline was written" if (tmp / "b.json").exists() else None) for text in SUITES]
    return cases


# ---------------------------------------------------------------- plans, references, checkpoints, special inputs

COMPARE = ["compare", "--specs", "cifar-resnet8,cifar-plain8", *SYN, "--results-dir", "{tmp}/res"]


def _nothing_made(tmp, out, err):
    left = os.listdir(tmp)
    return f"left behind: {left}" if left else None


def plan_cases() -> list[Case]:
    cases = [Case("plans", (*COMPARE, *extra), "refuse", None, _nothing_made) for extra in [
        ("--budget", "1h", "--plan", "--csv", "{tmp}/p.csv"), ("--budget", "1h", "--plan", "--markdown", "{tmp}/p.md"),
        ("--budget", "1h", "--plan", "--plot", "{tmp}/p.png"), ("--until-resolved", "--seeds", "3", "--target-error", "40"),
        ("--budget", "1h", "--target-error", "40"), ("--budget", "1h", "--plan", "--target-error", "40"),
        ("--until-resolved", "--target-error", "40"), ("--plan", "--csv", "{tmp}/p.csv"),
    ]]
    cases.append(Case("plans", ("degradation", "--depths", "8", *SYN, "--results-dir", "{tmp}/res", "--budget", "1h",
                                "--plan", "--csv", "{tmp}/p.csv"), "refuse", None, _nothing_made))
    cases.append(Case("plans", (*COMPARE, "--budget", "0.001s", "--plan"), "refuse", None, None, expensive=True, limit=300))
    cases.append(Case("plans", (*COMPARE, "--budget", "20s", "--plan"), "ok", None,
                      lambda tmp, out, err: None if "cannot resolve a useful difference" in err else "no warning",
                      expensive=True, limit=300))
    return cases


def reference_cases() -> list[Case]:
    return [Case("references", ("show", spec), expect) for spec, expect in [
        ("torchvision:inception_v3:input-size=8", "refuse"), ("torchvision:vit_b_16:input-size=32", "refuse"),
        ("torchvision:alexnet:input-size=8", "refuse"), ("torchvision:googlenet:input-size=8", "either"),
        ("torchvision:squeezenet1_0:input-size=8", "either"), ("torchvision:swin_t:input-size=8", "either"),
        ("torchvision:resnet18:input-size=64", "ok"), ("torchvision:mobilenet_v2:input-size=32", "ok"),
    ]]


def _checkpoint(how: str):
    """The checkpoint file that `train TRAIN` would resume from, planted damaged."""
    def setup(tmp: Path):
        from resbench.spec import parse_spec
        from resbench.train.cells import Cell, checkpoint_for
        from resbench.train.config import TrainConfig

        cfg = TrainConfig(dataset="synthetic", device="cpu", subset=32, test_subset=16, batch_size=16, epochs=2)
        folder = tmp / "res" / "checkpoints"
        folder.mkdir(parents=True)
        ck = checkpoint_for([Cell(parse_spec("cifar-resnet8"), 0, cfg)], folder)
        if how == "fifo":
            os.mkfifo(ck.path)
        elif how == "folder":
            ck.path.mkdir()
        elif how == "temp":
            (folder / f".{ck.path.name}.abc123.pt").write_bytes(b"half")
        elif how == "garbage":
            ck.path.write_bytes(b"garbage")
        else:
            import torch

            doc = {"version": 1, "identity": ck.identity if how != "identity" else {"spec": "x"},
                   "state": {"k": 1, "epoch": 99 if how == "epoch" else 1, "histories": "oops" if how == "history" else [[]],
                             **({"mystery": 1} if how == "field" else {})},
                   "model": {}, "opt": {"state": {}, "param_groups": []}, "scaler": {}}
            torch.save(doc, ck.path)
    return setup


def _trained_and_clean(tmp, out, err):
    left = [p for p in (tmp / "res" / "checkpoints").iterdir() if not p.name.endswith(".bad")] \
        if (tmp / "res" / "checkpoints").exists() else []
    if left:
        return f"left behind: {[p.name for p in left]}"
    return None if list((tmp / "res" / "records" / "train").glob("*.json")) else "no record"


def checkpoint_cases() -> list[Case]:
    cases = [Case("checkpoints", TRAIN, "warn", _checkpoint(how), _trained_and_clean, names="checkpoints",
                  expensive=True, limit=300) for how in ("garbage", "epoch", "history", "field", "temp")]
    cases += [Case("checkpoints", TRAIN, "refuse", _checkpoint(how), None, expensive=True, limit=120)
              for how in ("fifo", "folder", "identity")]
    return cases


def _image_folder_with_fifo(tmp: Path) -> None:
    from PIL import Image

    for split in ("train", "test"):
        for c in ("a", "b"):
            d = tmp / "imgs" / split / c
            d.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(d / f"{i}.png")
            os.mkfifo(d / "fifo.png")


def _constant_channel(tmp: Path) -> None:
    from PIL import Image

    for split in ("train", "test"):
        for c in ("a", "b"):
            d = tmp / "imgs" / split / c
            d.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (32, 32), (i * 40 + (c == "a") * 10, 7, 200)).save(d / f"{i}.png")


def _not_diverged(tmp, out, err):
    return "diverged" if "diverged" in out + err else None


def special_input_cases() -> list[Case]:
    imgs = ["train", "cifar-resnet8:num-classes=2", "--dataset", "imagefolder", "--data-dir", "{tmp}/imgs", "--device",
            "cpu", "--epochs", "1", "--batch-size", "2", "--no-save"]
    return [
        Case("special inputs", ("results", "--results-dir", "{tmp}/res", "--json"), "warn", _plant_record("fifo"),
             _lists_the_good_record, names="badbadba"),
        Case("special inputs", tuple(imgs), "ok", _image_folder_with_fifo, None, expensive=True, limit=300),
        Case("special inputs", tuple(imgs), "ok", _constant_channel, _not_diverged, expensive=True, limit=300),
        Case("special inputs", ("analyze", "responses", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu",
                                "--checkpoint", "{tmp}/w.pt", "--no-save"), "refuse", lambda t: os.mkfifo(t / "w.pt")),
        Case("special inputs", ("check", "{tmp}/fifo.toml", "--baseline", "{tmp}/b.json"), "refuse",
             lambda t: os.mkfifo(t / "fifo.toml"), limit=20),
        Case("special inputs", ("search", *SYN, "--results-dir", "{tmp}/res", "--space", "{tmp}/fifo.toml"), "refuse",
             lambda t: os.mkfifo(t / "fifo.toml"), limit=20),
    ]


# ---------------------------------------------------------------- planted code

MARKER = "CODE-RAN"  # a payload that runs creates this file in the case's folder


class _Payload:
    """Pickled, it calls os.system when unpickled by anything but a restricted loader."""

    def __init__(self, tmp: Path):
        self.cmd = f"touch {tmp / MARKER}"

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _cifar_payload(tmp: Path) -> None:
    import pickle

    folder = tmp / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6))):
        (folder / name).write_bytes(pickle.dumps({"data": _Payload(tmp), "labels": [0]}))


def _torch_payload(where: str):
    def setup(tmp: Path):
        import torch

        if where == "checkpoint":
            from resbench.spec import parse_spec
            from resbench.train.cells import Cell, checkpoint_for
            from resbench.train.config import TrainConfig

            cfg = TrainConfig(dataset="synthetic", device="cpu", subset=32, test_subset=16, batch_size=16, epochs=2)
            folder = tmp / "res" / "checkpoints"
            folder.mkdir(parents=True)
            torch.save({"version": 1, "state": _Payload(tmp)}, checkpoint_for([Cell(parse_spec("cifar-resnet8"), 0, cfg)], folder).path)
        else:
            torch.save({"conv1.weight": _Payload(tmp)}, tmp / "w.pt")
    return setup


def _cache_payload(tmp: Path) -> None:
    import torch

    (tmp / "cache").mkdir()
    torch.save({"x": _Payload(tmp)}, tmp / "cache" / "cpu_roofline.json")  # a cache is JSON: never unpickled


def payload_cases() -> list[Case]:
    data = ("train", "cifar-resnet8", "--data-dir", "{tmp}/data", "--no-download", "--device", "cpu", "--epochs", "1",
            "--results-dir", "{tmp}/res")
    return [Case("payloads", data, "refuse", _cifar_payload),
            Case("payloads", ("compare", "--specs", "cifar-resnet8", *data[2:]), "refuse", _cifar_payload),
            Case("payloads", ("analyze", "responses", "cifar-resnet8", "--checkpoint", "{tmp}/w.pt", "--dataset", "synthetic",
                              "--device", "cpu"), "refuse", _torch_payload("weights")),
            Case("payloads", ("analyze", "gradients", "cifar-resnet8", "--checkpoint", "{tmp}/w.pt", "--dataset", "synthetic",
                              "--device", "cpu"), "either", _torch_payload("weights")),
            Case("payloads", (*PROFILE, "--json"), "warn", _cache_payload, names="cpu_roofline.json",
                 env={"RESBENCH_CACHE": "{tmp}/cache"}, expensive=True),
            Case("payloads", TRAIN, "warn", _torch_payload("checkpoint"), _trained_and_clean, names="checkpoints",
                 expensive=True, limit=300)]


def all_cases() -> list[Case]:
    return (record_cases() + output_cases() + value_cases() + tracker_cases() + check_cases() + plan_cases()
            + reference_cases() + checkpoint_cases() + special_input_cases() + payload_cases())


# ---------------------------------------------------------------- running and classifying

class _Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise _Hang


def prepare(scratch: Path) -> None:
    """One real train record, the good record every stored-file case sits beside."""
    from resbench.cli.app import main

    if GOOD:
        return
    res = scratch / "seed-record"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["train", "cifar-resnet8", *SYN, "--epochs", "1", "--results-dir", str(res)])
    assert code == 0, "the seed record could not be trained"
    path = next((res / "records" / "train").glob("*.json"))
    GOOD.update(name=path.name, text=path.read_text(), id=json.loads(path.read_text())["id"])


def run_case(case: Case, tmp: Path) -> tuple[int | None, str, str, str]:
    """(exit code, stdout, stderr, outcome) of one case run in-process from ``tmp``."""
    from resbench.cli.app import main

    args = [a.replace("{tmp}", str(tmp)) for a in case.args]
    env = {k: v.replace("{tmp}", str(tmp)) for k, v in case.env.items()}
    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "RESBENCH_RESULTS_DIR", *env)}
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    code, crash = None, None
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        os.chdir(tmp)  # before the setup: relative paths (a config's data folder) are the command's
        if case.setup:
            case.setup(tmp)
        os.environ["RESBENCH_RESULTS_DIR"] = str(tmp / "res")
        for k in ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE"):
            os.environ.pop(k, None)
        os.environ.update(env)
        signal.alarm(case.limit)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    except _Hang:
        crash = "hang"
    except BaseException as e:  # noqa: BLE001 - anything escaping main is a traceback for the user
        crash = f"traceback ({type(e).__name__})"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    o, e = out.getvalue(), err.getvalue()
    return code, o, e, crash or classify(case, tmp, code, o, e)


def classify(case: Case, tmp: Path, code, out: str, err: str) -> str:
    if (tmp / MARKER).exists():
        return "code execution"
    lines = [line for line in err.splitlines() if line.strip() and " · " not in line]
    if "Traceback" in err or "internal error" in err:
        return "traceback"
    if case.expect == "either" and code == 2:
        return "clean" if len(lines) == 1 and lines[0].startswith("resbench: error: ") else f"wrong ({len(lines)} lines)"
    if case.expect == "refuse":
        if code == 1:
            return "exit 1 for bad input"
        if code != 2 or len(lines) != 1 or not lines[0].startswith("resbench: error: "):
            return f"wrong (exit {code}, {len(lines)} line(s))"
    elif case.expect == "warn":
        warnings = [line for line in lines if line.startswith("warning:")]
        if code != 0 or len(warnings) != 1 or case.names not in err:
            return f"wrong (exit {code}, {len(warnings)} warning(s))"
    elif code != 0:
        return f"wrong (exit {code}: {lines[-1][:100] if lines else ''})"
    try:
        why = case.check(tmp, out, err) if case.check else None
    except OSError as e:  # what the check looks for is not there at all
        why = f"gone ({e.strerror}: {e.filename})"
    if why:
        return "file left behind" if why.startswith("left behind") else (
            "data loss" if any(w in why for w in ("gone", "changed", "replaced", "no longer", "given tables")) else f"wrong ({why})")
    return "clean"


def main(argv: list[str]) -> int:
    out_file = Path(argv[0]) if argv else None
    cases = all_cases()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="resbench-probe3-") as scratch:
        prepare(Path(scratch))
        for i, case in enumerate(cases):
            tmp = Path(scratch) / f"case{i:03d}"
            tmp.mkdir()
            t0 = time.perf_counter()
            code, out, err, outcome = run_case(case, tmp)
            outcomes.append((case, outcome, code, err, time.perf_counter() - t0))
            print(f"[{i + 1}/{len(cases)}] {outcome:24s} {case.label}", file=sys.__stderr__, flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
    report = summary(outcomes)
    print(report)
    if out_file:
        out_file.write_text(report)
    return 0 if all(o == "clean" for _, o, *_ in outcomes) else 1


def summary(outcomes) -> str:
    import collections

    n = len(outcomes)
    counts = collections.Counter(o.split(" (")[0] for _, o, *_ in outcomes)
    by_kind = collections.defaultdict(collections.Counter)
    for case, o, *_ in outcomes:
        by_kind[case.kind][o == "clean"] += 1
    lines = ["Hostile probe, round three (tests/probes/round3.py): the surfaces of issue #33 and the two rounds before",
             f"command: PYTHONPATH=. python3 -m tests.probes.round3 {'results/benchmarks/probe_round3.txt'}",
             f"cases: {n}   clean: {counts['clean']} ({100 * counts['clean'] / n:.1f} %)",
             f"tracebacks: {counts['traceback'] + sum(v for k, v in counts.items() if k.startswith('traceback '))}   "
             f"hangs: {counts['hang']}   data loss: {counts['data loss']}   code execution: {counts['code execution']}   "
             f"exit 1 for bad input: "
             f"{counts['exit 1 for bad input']}   files left behind: {counts['file left behind']}   "
             f"wrong outcome: {counts['wrong']}", "", "by surface (clean / cases):"]
    lines += [f"  {kind:16s} {c[True]:3d} / {c[True] + c[False]}" for kind, c in by_kind.items()]
    bad = [(case, o, err) for case, o, _, err, _ in outcomes if o != "clean"]
    if bad:
        lines += ["", "not clean:"] + [f"  {o}: {case.label}\n    {err.strip().splitlines()[-1][:200] if err.strip() else ''}"
                                       for case, o, err in bad]
    import platform

    import torch

    lines += ["", f"environment: Python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
              f"{'root' if hasattr(os, 'geteuid') and os.geteuid() == 0 else 'user'}; "
              f"date {time.strftime('%Y-%m-%d')}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
