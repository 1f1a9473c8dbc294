"""The one table from the library's field names to the command line's flags.

The library names a field in backticks (``epochs``, ``device='cuda'``, ``compile=False``;
see resbench.errors.ConfigError) and never a flag. Everything the CLI shows from the
library (errors, warnings, notes) passes through ``speak``, which words those names
as flags: ``--epochs``, ``--device cuda``, ``--no-compile``.
"""

from __future__ import annotations

import re

from resbench.spec import MODIFIERS as SPEC_MODIFIERS
from resbench.validate import FIELD_NAME

# field -> flag. Most flags are the field with dashes; the table lists every field the
# library names, so a test can prove each one is a real option of some command.
FLAGS: dict[str, str] = {
    "address": "--address",
    "against": "--against",
    "alpha": "--alpha",
    "allow_short": "--short-runs",
    "allow_env_mismatch": "--allow-env-mismatch",
    "at_epochs": "--at-epochs",
    "backend": "--backend",
    "backoff": "--backoff",
    "baseline": "--baseline",
    "batch_size": "--batch-size",
    "blocks": "--blocks",
    "breakdown": "--breakdown",
    "budget": "--budget",
    "channels_last": "--channels-last",
    "checkpoint": "--checkpoint",
    "compile": "--compile",
    "compile_mode": "--compile-mode",
    "cpus_per_run": "--cpus-per-run",
    "cuda_graphs": "--cuda-graphs",
    "current": "--current",
    "data_dir": "--data-dir",
    "dataset": "--dataset",
    "depth": "--depth",
    "depths": "--depths",
    "device": "--device",
    "dtype": "--dtype",
    "effect": "--effect",
    "epochs": "--epochs",
    "executor": "--executor",
    "family": "--family",
    "filters": "--filter",
    "gpus_per_run": "--gpus-per-run",
    "images": "--images",
    "kind": "--kind",
    "label": "--label",
    "iters": "--iters",
    "latency_batch_size": "--latency-batch-size",
    "lr": "--lr",
    "max_blocks_per_stage": "--max-blocks-per-stage",
    "max_latency_ms": "--max-latency-ms",
    "max_macs": "--max-macs",
    "max_seeds": "--seeds",  # with a budget or --until-resolved, --seeds is the most seeds
    "max_memory": "--max-memory",
    "max_params": "--max-params",
    "min_blocks_per_stage": "--min-blocks-per-stage",
    "min_epochs": "--min-epochs",
    "min_time": "--min-time",
    "mode": "--mode",
    "nproc": "--nproc",
    "objectives": "--objectives",
    "out_file": "--out",
    "pack": "--pack",
    "plot": "--plot",
    "pruning": "--pruning",
    "reduction_factor": "--reduction-factor",
    "reference": "--reference",
    "results_dir": "--results-dir",
    "retries": "--retries",
    "rounds": "--rounds",
    "sampler": "--sampler",
    "sampler_seed": "--sampler-seed",
    "save": "--save",
    "save_checkpoint": "--save-checkpoint",
    "schedule": "--schedule",
    "seed": "--seed",
    "seeds": "--seeds",
    "shortcuts": "--shortcuts",
    "space": "--space",
    "specs": "--specs",
    "stages": "--stages",
    "storage": "--storage",
    "study": "--study",
    "subset": "--subset",
    "test_subset": "--test-subset",
    "threads": "--threads",
    "timeout": "--timeout",
    "tolerance": "--tolerance",
    "train_epochs": "--train-epochs",
    "trials": "--trials",
    "update": "--update",
    "val_split": "--val-split",
    "warmup": "--warmup",
    "widths": "--widths",
    "workers": "--workers",
    "x": "--x",
    "y": "--y",
}
# The spec modifiers that are options of their own (per-stage widths are spelled through --width).
MODIFIER_OPTIONS = [m for m in SPEC_MODIFIERS.values() if m.key != "widths"]
FLAGS.update({m.field: f"--{m.key}" for m in MODIFIER_OPTIONS})

# `field`, or `field=value` with the value as Python writes it ('cuda', 3, True).
FIELD_REF = re.compile(rf"`({FIELD_NAME})(?:=([^`]+))?`")


def flag(field: str, value: str | None = None) -> str:
    """How the command line says ``field`` (given ``value``): --epochs, --device cuda,
    --compile for True, --no-compile for False."""
    name = FLAGS[field]
    if value is None or value == "True":
        return name
    if value == "False":
        return "--no-" + name[2:]
    if value.startswith("[") and value.endswith("]"):  # a list field given one item: filters=['spec=x']
        value = value[1:-1]
    return f"{name} {value.strip(chr(39) + chr(34))}"


def speak(text: str) -> str:
    """``text`` from the library, with every field it names worded as a flag. A backticked
    word that is not a field (`resbench baseline`, `pip`) is left as written."""

    def word(m: re.Match) -> str:
        return flag(m[1], m[2]) if m[1] in FLAGS else m[0]

    return FIELD_REF.sub(word, text)
