"""The application layer: commands only parse, call and render; the library stands alone.

Read from the source (ast), not from a running import graph, so a lazy import inside
a function counts as much as one at the top of a module.
"""

import ast
import logging
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent / "resbench"
CLI = ROOT / "cli"
PKG = ROOT  # the resbench package folder
# Modules of cli/ that are shared plumbing, not commands.
CLI_PLUMBING = {"__init__", "app", "options", "output", "progress", "budget", "flags"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_library_module_imports_the_cli():
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n == "resbench.cli" or n.startswith("resbench.cli."))
                 for p in ROOT.rglob("*.py") if CLI not in p.parents and p.name != "__main__.py"}  # python -m resbench
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_command_module_imports_another_command_module():
    commands = {p.stem for p in CLI.glob("*.py")} - CLI_PLUMBING
    assert {"show", "train", "compare", "check", "search", "analyze", "results", "profile", "presets"} <= commands
    offenders = {}
    for p in CLI.glob("*.py"):
        if p.stem not in commands:
            continue
        bad = sorted(n for n in _imports(p) if n.startswith("resbench.cli.") and n.split(".")[2] in commands - {p.stem})
        if bad:
            offenders[p.stem] = bad
    assert offenders == {}


def test_commands_are_thin():
    """A command parses, calls one library function and renders: no command function
    grows an engine (60 lines at most) or takes over 20 parameters as written (options
    that belong together reach it as one config object: training, scale, modifiers, ...)."""
    for p in CLI.glob("*.py"):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                body_lines = node.end_lineno - node.body[0].lineno + 1
                assert body_lines <= 60, f"{p.name}:{node.name} has {body_lines} lines of body"
                params = len(node.args.args) + len(node.args.kwonlyargs)
                assert params <= 20, f"{p.name}:{node.name} takes {params} parameters: group some into a config object"


def test_python_api_without_typer():
    """The documented API is importable and usable from the package, without the CLI."""
    import resbench
    from resbench.check import run_check
    from resbench.train import compare, train

    for name in ("build_model", "count_complexity", "profile", "compare", "run_search", "run_check", "parse_spec"):
        assert callable(getattr(resbench, name)), name
    assert callable(train) and callable(compare) and run_check is resbench.run_check
    assert resbench.count_complexity("resnet20").params == 269_722


def test_library_calls_leave_no_global_side_effects(tmp_path):
    import resbench
    from resbench.measure.timing import ProfileConfig

    filters = list(warnings.filters)
    level = logging.getLogger("fvcore").level
    conv_init, linear_init = torch.nn.Conv2d.reset_parameters, torch.nn.Linear.reset_parameters
    threads = torch.get_num_threads()
    resbench.count_complexity("resnet18")
    model = resbench.build_model("resnet20", init_weights=False)
    resbench.profile(resbench.parse_spec("cifar-resnet8"),
                     ProfileConfig(device="cpu", batch_size=1, iters=2, warmup=0, min_time=0, threads=1, compare_layouts=False))
    assert list(warnings.filters) == filters
    assert logging.getLogger("fvcore").level == level
    assert torch.nn.Conv2d.reset_parameters is conv_init and torch.nn.Linear.reset_parameters is linear_init
    assert torch.get_num_threads() == threads  # --threads holds for the call only
    # Skipping PyTorch's default init while building leaves later resets as torch's own.
    conv = model.conv1
    torch.manual_seed(0)
    conv.reset_parameters()
    assert conv.weight.abs().sum() > 0


def test_optuna_settings_are_restored():
    optuna = pytest.importorskip("optuna")
    from resbench.search.study import quiet_optuna

    verbosity, filters = optuna.logging.get_verbosity(), list(warnings.filters)
    with quiet_optuna():
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    assert optuna.logging.get_verbosity() == verbosity and list(warnings.filters) == filters


def test_typed_results_round_trip():
    from resbench.measure.timing import ProfileConfig, profile
    from resbench.results import ProfileResult
    from resbench.spec import parse_spec
    from resbench.train.config import TrainConfig
    from resbench.train.data import load_dataset
    from resbench.train.engine import train
    from resbench.results import TrainResult

    data = load_dataset("synthetic", synthetic_size=(64, 32))
    r = train(parse_spec("cifar-resnet8"), TrainConfig(dataset="synthetic", epochs=1, batch_size=32, device="cpu"), data)
    assert TrainResult.from_dict(r.to_dict()) == r
    p = profile(parse_spec("cifar-resnet8"), ProfileConfig(device="cpu", batch_size=1, iters=2, warmup=0, min_time=0,
                                                           compare_layouts=False))
    assert ProfileResult.from_dict(p.to_dict()) == p


def test_store_hands_back_typed_records(tmp_path):
    from resbench.measure.runs import profile_runs
    from resbench.measure.timing import ProfileConfig
    from resbench.results import ProfileResult
    from resbench.spec import parse_spec
    from resbench.store import Record, Store

    (r,) = profile_runs(parse_spec("cifar-resnet8"), ProfileConfig(device="cpu", iters=2, warmup=0, min_time=0,
                                                                    compare_layouts=False), [1], results_dir=tmp_path).results
    (rec,), problems = Store(tmp_path).load("profile")
    assert problems == [] and isinstance(rec, Record)
    assert isinstance(rec.typed_result(), ProfileResult) and rec.typed_result().samples_ms == r.samples_ms


def test_data_key_carries_the_seed_exactly_when_the_split_depends_on_it():
    from resbench.train.cells import data_key
    from resbench.train.config import TrainConfig

    a, b = TrainConfig(dataset="synthetic", seed=0), TrainConfig(dataset="synthetic", seed=1)
    assert data_key(a, 32) == data_key(b, 32)  # a fixed test set: one load serves every seed
    va, vb = TrainConfig(dataset="synthetic", seed=0, val_split=0.2), TrainConfig(dataset="synthetic", seed=1, val_split=0.2)
    assert data_key(va, 32) != data_key(vb, 32)


def test_default_outputs_are_ignored_inside_a_checkout(monkeypatch):
    """Running resbench in its own checkout never dirties it: the default records, figures
    and search database under ./results are git-ignored."""
    import shutil
    import subprocess

    repo = ROOT.parent
    if not (repo / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    paths = ["results/records/train/x.json", "results/figures/degradation.png", "results/search.db"]
    r = subprocess.run(["git", "check-ignore", *paths], cwd=repo, capture_output=True, text=True)
    assert r.stdout.split() == paths
    from resbench.outputs import figure_path

    monkeypatch.delenv("RESBENCH_RESULTS_DIR", raising=False)
    monkeypatch.chdir(repo)
    assert figure_path(None, "degradation.png", results_dir=None).parts[:2] == ("results", "figures")


def _module_graph(all_imports: bool) -> dict[str, set[str]]:
    mods = {}
    for p in PKG.rglob("*.py"):
        name = ".".join(p.relative_to(PKG.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    graph = {}
    for name, p in mods.items():
        tree = ast.parse(p.read_text())
        found = set()
        for node in (ast.walk(tree) if all_imports else tree.body):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in mods and m != name}
    return graph


def test_no_import_cycles_not_even_through_function_level_imports():
    """A cycle hidden inside a function is still a cycle in the design (store must not reach
    up into measure or train; the engine must not reach into what is built on it)."""
    import graphlib

    graph = _module_graph(all_imports=True)
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None


def test_the_store_imports_nothing_above_it():
    graph = _module_graph(all_imports=True)
    assert graph["resbench.store"] <= {"resbench.errors", "resbench.results"}
    # the result types it reads records as are torch-free and import no measuring or training
    assert graph["resbench.results"] <= {"resbench.validate", "resbench.stats", "resbench.errors"}


def test_no_function_is_longer_than_60_lines():
    for p in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= 60, f"{p.relative_to(PKG.parent)}:{node.name} has {lines} lines"


# The house's floors, lowest first: a module imports only from its own floor or below
# (function-level imports included). The one place the layers are named.
LAYERS = (
    ("errors", "format", "hooks", "_lazy", "stats", "cache"),
    ("validate", "store", "results", "runtime", "spec", "refmodels"),
    ("outputs", "tracking", "cost", "limits"),
    ("model",),
    ("measure",),
    ("train", "check"),
    ("report", "search", "check_worker"),
    ("cli", "__main__"),
)


def _floor(module: str) -> int:
    if module == "resbench":
        return 2  # the package's lazy API names modules by string, importing only spec and _lazy
    part = module.split(".")[1]
    for floor, names in enumerate(LAYERS):
        if part in names:
            return floor
    raise AssertionError(f"{module} is on no floor of LAYERS: add its top-level name to one")


def test_every_import_points_down_the_named_layers():
    graph = _module_graph(all_imports=True)
    up = sorted(f"{m} (floor {_floor(m)}) -> {d} (floor {_floor(d)})"
                for m, deps in graph.items() for d in deps if _floor(d) > _floor(m))
    assert up == []


# The modules `resbench --help` and `resbench list` load. They stay free of torch, so they
# (and cli/, whose commands load their part of the library when they run) import the rest
# of the library inside the functions that need it.
START_UP = {"resbench", "resbench._lazy", "resbench.cache", "resbench.errors", "resbench.refmodels", "resbench.report",
            "resbench.report.export", "resbench.outputs", "resbench.format", "resbench.report.tables",
            "resbench.spec", "resbench.store", "resbench.measure.target", "resbench.validate", "resbench.measure",
            "resbench.cost", "resbench.hooks", "resbench.train", "resbench.train.config"}
# Optional extras, and packages heavy enough to slow every command that does not use them:
# imported inside the function that uses them, anywhere.
LAZY_PACKAGES = ("optuna", "scipy", "pandas", "matplotlib", "mlflow", "tensorboard", "ray", "onnxruntime", "timm",
                 "torchvision", "fvcore", "moocore", "PIL", "torch.profiler", "torch.utils.flop_counter",
                 "torch.utils.tensorboard", "torch.distributed")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _function_level_imports(tree):
    """(node, imported module, inside a try block) for every import inside a function."""
    parents = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        up, in_function, in_try = parents.get(id(node)), False, False
        while up is not None:
            in_try |= isinstance(up, ast.Try)
            in_function |= isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef))
            up = parents.get(id(up))
        if in_function:
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                yield node, name, in_try


def test_imports_are_at_module_top_except_the_documented_lazy_ones():
    found = []
    for p in sorted(PKG.rglob("*.py")):
        module = _module_name(p)
        start_up = module in START_UP or module.startswith("resbench.cli")
        for node, name, in_try in _function_level_imports(ast.parse(p.read_text())):
            lazy_package = any(name == lp or name.startswith(lp + ".") for lp in LAZY_PACKAGES)
            if in_try or lazy_package:  # an optional import with its fallback, or a heavy package
                continue
            if start_up and (name.split(".")[0] in ("resbench", "torch", "rich")):
                continue
            found.append(f"{p.relative_to(PKG.parent)}:{node.lineno}: import {name}")
    assert not found, "imports inside functions that belong at the module's top:\n" + "\n".join(found)


def test_the_start_up_modules_are_the_ones_the_fast_commands_load():
    import subprocess
    import sys

    code = ("import contextlib, io, sys; from resbench.cli.app import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main({argv!r})\n"
            "print(' '.join(m for m in sys.modules if m.startswith('resbench') and not m.startswith('resbench.cli')))")
    for argv in (["--help"], ["list"], ["list", "--json"]):
        r = subprocess.run([sys.executable, "-c", code.format(argv=argv)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        loaded = set(r.stdout.split())
        assert loaded and loaded <= START_UP, f"{argv}: loads {sorted(loaded - START_UP)} beyond the start-up modules"


def test_every_module_has_its_own_test_file():
    """resbench/<area>/<module>.py is tested in tests/<area>/test_<module>.py (leading and
    trailing underscores dropped: tests/test_main.py for __main__.py)."""
    tests = PKG.parent / "tests"
    missing = []
    for p in sorted(PKG.rglob("*.py")):
        if p.name == "__init__.py":
            continue
        rel = p.relative_to(PKG)
        if not (tests / rel.parent / f"test_{rel.stem.strip('_')}.py").is_file():
            missing.append(str(rel))
    assert missing == []
