"""The library speaks in its own field names; the CLI alone words them as flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
import typer

from resbench.cli.app import build_app, main
from resbench.cli.flags import FIELD_REF, FLAGS, flag, speak
from resbench.errors import ConfigError, UsageError
from resbench.validate import is_field

PACKAGE = Path(__file__).resolve().parents[2] / "resbench"
FLAG_LITERAL = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# Fields the Python API sets and no command exposes: the CLI has no flag to word them as.
API_ONLY = {"momentum", "weight_decay"}
# Fields of stored records, named in the one warning about a damaged file: never an option.
RECORD_FIELDS = {"data_fraction"}
# Calls whose second argument names a field in a message (validate's helpers and their kin).
NAMING_CALLS = {"whole", "number", "text", "boolean", "table", "parse_list", "duration", "invalid", "count",
                "_list", "opt", "need", "prepare_output", "figure_path"}


def _library_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" not in path.relative_to(PACKAGE).parts[:1]:
            yield path, ast.parse(path.read_text(), str(path))


def _docstrings(tree) -> set[int]:
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, nodes) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _parents(tree) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _strings(tree):
    """(node, text) for every string literal that is not a docstring, f-string parts included."""
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node, node.value


def _cli_options() -> set[str]:
    names: set[str] = set()

    def walk(cmd):
        for p in cmd.params:
            if isinstance(p, click.Option):
                names.update(p.opts, p.secondary_opts)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(build_app()))
    return names


def test_no_flag_literals_in_the_library():
    """Outside cli/, a `--flag` appears only in an argv list handed to another program
    (git, torchrun, valgrind, nvidia-smi, resbench's own counter worker)."""
    found = []
    for path, tree in _library_modules():
        parents = _parents(tree)
        for node, text in _strings(tree):
            if not FLAG_LITERAL.search(text):
                continue
            up = parents.get(id(node))
            if isinstance(up, ast.JoinedStr):
                up = parents.get(id(up))
            if isinstance(up, ast.List):  # an argv element
                continue
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {text!r}")
    assert not found, "library text names command-line flags:\n" + "\n".join(found)


def _named_fields() -> dict[str, str]:
    """Every field the library names in user-facing text -> where."""
    named: dict[str, str] = {}
    for path, tree in _library_modules():
        where = lambda n: f"{path.relative_to(PACKAGE.parent)}:{n.lineno}"  # noqa: E731
        for node, text in _strings(tree):
            for m in FIELD_REF.finditer(text):
                named.setdefault(m[1], where(node))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            args = node.args
            if fn == "ConfigError" and args and isinstance(args[0], ast.Constant):
                named.setdefault(args[0].value, where(node))
            elif fn in NAMING_CALLS and len(args) >= 2 and isinstance(args[1], ast.Constant) \
                    and isinstance(args[1].value, str) and is_field(args[1].value):
                named.setdefault(args[1].value, where(node))
            elif fn in NAMING_CALLS and fn in ("prepare_output",) and len(args) >= 3 \
                    and isinstance(args[2], ast.Constant) and is_field(args[2].value):
                named.setdefault(args[2].value, where(node))
    return named


def test_every_field_the_library_names_has_a_flag():
    named = _named_fields()
    assert len(named) > 60  # the scan sees the library's messages, not nothing
    unknown = {f: w for f, w in named.items() if f not in FLAGS and f not in API_ONLY | RECORD_FIELDS}
    assert not unknown, f"fields named by the library with no entry in resbench.cli.flags.FLAGS: {unknown}"


def test_every_flag_in_the_table_is_a_real_option():
    options = _cli_options()
    missing = {field: f for field, f in FLAGS.items() if f not in options}
    assert not missing, f"the table words these fields as flags no command has: {missing}"


def test_every_field_value_the_library_writes_becomes_a_real_option():
    """`field=False` must word as a --no-flag that exists; any other value as flag + value."""
    options = _cli_options()
    for path, tree in _library_modules():
        for node, text in _strings(tree):
            for m in FIELD_REF.finditer(text):
                if m[1] in FLAGS:
                    worded = flag(m[1], m[2]).split(" ")[0]
                    assert worded in options, f"{path.name}:{node.lineno}: `{m[0]}` words as {worded}, no such option"


@pytest.mark.parametrize("text, worded", [
    ("`epochs` must be at least 1, got 0", "--epochs must be at least 1, got 0"),
    ("it needs `device='cuda'` (or drop it)", "it needs --device cuda (or drop it)"),
    ("use `channels_last=False` or widen the net", "use --no-channels-last or widen the net"),
    ("try `cuda_graphs=True`", "try --cuda-graphs"),
    ("`warmup` takes auto, on or off", "--warmup takes auto, on or off"),
    ("`filters` takes key=value, e.g. `filters='spec=resnet50'`", "--filter takes key=value, e.g. --filter spec=resnet50"),
    ("a baseline from `resbench baseline`, see `pip`", "a baseline from `resbench baseline`, see `pip`"),
    ("`momentum` must be < 1", "`momentum` must be < 1"),
])
def test_speak_words_fields_as_flags(text, worded):
    assert speak(text) == worded


def test_config_error_names_the_field_in_library_words():
    from resbench.train import TrainConfig

    with pytest.raises(ConfigError, match="^`epochs` must be at least 1") as e:
        TrainConfig(dataset="synthetic", epochs=0)
    assert e.value.field == "epochs"
    assert "--" not in str(e.value) and str(e.value).startswith("`epochs` must be at least 1")
    assert isinstance(e.value, UsageError)  # exit 2 on the command line, as before


@pytest.mark.parametrize("kwargs, field", [
    ({"epochs": 0}, "epochs"), ({"batch_size": -1}, "batch_size"), ({"lr": 0.0}, "lr"), ({"seed": -1}, "seed"),
    ({"subset": 0}, "subset"), ({"test_subset": 0}, "test_subset"), ({"val_split": 1.0}, "val_split"),
    ({"schedule": "exp"}, "schedule"), ({"warmup": "yes"}, "warmup"), ({"dtype": "fp8"}, "dtype"),
    ({"dataset": "mnist"}, "dataset"), ({"cuda_graphs": True, "device": "cpu"}, "cuda_graphs"),
    ({"momentum": 1.0}, "momentum"),
])
def test_train_config_validates_itself_on_construction(kwargs, field):
    from resbench.train import TrainConfig

    with pytest.raises(ConfigError, match=f"^`{field}`") as e:
        TrainConfig(**{"dataset": "synthetic", **kwargs})
    assert e.value.field == field


def test_val_split_is_checked_once_with_one_error_type():
    """The config and the data loader refuse a bad fraction with the same error."""
    from resbench.train import TrainConfig
    from resbench.train.data import load_dataset

    with pytest.raises(ConfigError, match="val_split") as from_config:
        TrainConfig(dataset="synthetic", val_split=1.5)
    with pytest.raises(ConfigError, match="val_split") as from_loader:
        load_dataset("synthetic", val_split=1.5)
    assert str(from_config.value) == str(from_loader.value)


def test_the_cli_words_a_config_error_as_its_flag(capsys, tmp_path):
    code = main(["train", "resnet20", "--dataset", "synthetic", "--epochs", "0", "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "resbench: error: --epochs must be at least 1, got 0"


def test_the_cli_words_a_hint_inside_a_message(capsys, tmp_path):
    code = main(["train", "resnet20", "--dataset", "synthetic", "--cuda-graphs", "--device", "cpu",
                 "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "--cuda-graphs captures CUDA work: it needs --device cuda" in err and "`" not in err


def test_a_limit_is_named_as_it_can_be_typed_back():
    from resbench.search.space import Constraints

    c = Constraints(max_macs=5_000_000, max_params=1_234_567)
    assert speak(c.describe()) == "--max-macs 5M and --max-params 1234567"
    assert "`max_macs='5M'`" in c.analytic_violation(6_000_000, 10)


def test_places_that_are_not_fields_keep_their_own_words(cli, tmp_path):
    code, _, err = cli("plot", tmp_path / "p.txt", "--results-dir", tmp_path)
    assert code == 2 and "`" not in err and "OUTPUT" in err


def test_the_input_that_named_a_file_is_the_one_the_message_names(tmp_path):
    from resbench.check.baseline import read_baseline

    with pytest.raises(UsageError, match="cannot read") as e:
        read_baseline(tmp_path / "nope.json", "current")
    assert speak(str(e.value)).startswith(f"cannot read --current {tmp_path / 'nope.json'}")


def test_a_filter_on_a_missing_column_reads_as_a_sentence():
    import pandas as pd

    from resbench.report.frames import _apply_filters

    with pytest.raises(ConfigError, match="names no column") as e:
        _apply_filters(pd.DataFrame({"spec": ["resnet20"]}), ["nosuchcol=1"])
    assert speak(str(e.value)) == "--filter 'nosuchcol' names no column; columns are spec"


def test_a_config_error_crosses_a_process_boundary_whole():
    """Raised in a worker (a pool or Ray), it must unpickle as itself, not break the pool."""
    import pickle

    e = pickle.loads(pickle.dumps(ConfigError("epochs", "must be at least 1, got 0")))
    assert type(e) is ConfigError and e.field == "epochs" and str(e) == "`epochs` must be at least 1, got 0"


def test_table_files_name_flags_like_the_terminal(tmp_path):
    import pandas as pd

    from resbench.cli.output import TableOutputs

    frame = pd.DataFrame({"note": ["try `cuda_graphs=True`"]})
    TableOutputs(csv=str(tmp_path / "t.csv"), markdown=str(tmp_path / "t.md")).write(frame)
    for name in ("t.csv", "t.md"):
        text = (tmp_path / name).read_text()
        assert "try --cuda-graphs" in text and "`" not in text


def test_a_compile_mode_leaves_the_callers_config_as_given():
    from resbench.measure.timing import ProfileConfig

    cfg = ProfileConfig(compile_mode="default")
    assert cfg.compile is False and cfg.compile_mode == "default"
    with pytest.raises(ConfigError, match="^`breakdown`") as e:
        ProfileConfig(compile_mode="default", breakdown=True)
    assert e.value.field == "breakdown"
