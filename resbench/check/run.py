"""Measuring a suite, and the two ways `check` gets its numbers: against a stored
baseline, or against another version of the code measured in the same job
(``--against REF``: a git ref or a folder, in interleaved rounds A B A B).

``run_baseline`` and ``run_check`` are what the CLI calls; both return typed reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from resbench.check.baseline import baseline_document, read_baseline
from resbench.check.suite import Entry, Suite, load_suite
from resbench.check.verdict import ENV_KEYS, Outcome, compare_entries, merge_confirmation
from resbench.errors import BenchmarkFailed, UsageError
from resbench.hooks import Hooks
from resbench import validate as v


def measure_entry(entry: Entry) -> dict:
    """Params/MACs with fvcore on the built model (so a change to the builder shows up),
    plus per-iteration timings of that same model unless the entry is complexity-only."""
    from resbench.measure.complexity import count_complexity
    from resbench.measure.timing import ProfileConfig, profile
    from resbench.model import build_model
    from resbench.spec import parse_spec

    spec = parse_spec(entry.spec)
    model = build_model(spec, init_weights=entry.timing)
    c = count_complexity(spec, model)
    out = {"id": entry.id, "entry": entry.to_dict(), "params": c.params, "macs": c.macs, "timing": None}
    if entry.timing:
        r = profile(spec, ProfileConfig(device=entry.device, batch_size=entry.batch_size, mode=entry.mode, dtype=entry.dtype,
                                        channels_last=entry.channels_last, warmup=entry.warmup, iters=entry.iters,
                                        min_time=entry.min_time, compare_layouts=False), model=model)
        out["timing"] = {"samples_ms": list(r.samples_ms), "median_ms": r.latency.median, "throughput": r.throughput,
                         "batch_size": r.batch_size, "env": {k: r.env.get(k) for k in ENV_KEYS + ("device", "cuda", "cpu")}}
    return out


def measure_suite(suite: Suite, entries=None, hooks: Hooks = Hooks()) -> list[dict]:
    entries = entries or suite.entries
    results = []
    for i, e in enumerate(entries):
        hooks.report(e.id, i, len(entries))
        try:
            results.append(measure_entry(e))
        except UsageError:
            raise
        except Exception as ex:  # the benchmark itself broke: exit 4, not a regression
            raise BenchmarkFailed(f"measuring {e.id} failed: {type(ex).__name__}: {ex}") from ex
    return results


def _env_here() -> dict:
    import torch

    from resbench.measure.env import collect_env

    return collect_env(torch.device("cpu"))


@dataclass(frozen=True)
class BaselineReport:
    path: Path
    entries: int


def run_baseline(suite_file: str | Path, out_file: str | Path, hooks: Hooks = Hooks()) -> BaselineReport:
    """Measure a suite and write it as a baseline file (atomically)."""
    from resbench.store import write_json_atomic

    suite = load_suite(suite_file)
    out = Path(out_file)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give a file name such as {out / 'baseline.json'}")
    results = measure_suite(suite, hooks=hooks)
    write_json_atomic(out, baseline_document(suite, results, _env_here()))
    return BaselineReport(out, len(results))


# --- the same-job engine (--against) ----------------------------------------------------------


def _ref_root(ref: str, stack: contextlib.ExitStack) -> Path:
    """A directory holding REF's resbench package: REF itself if it is one, else a git
    worktree of REF in a temporary folder that is removed on every path out."""
    p = Path(ref)
    if p.is_dir():
        if not (p / "resbench" / "__init__.py").exists():
            raise UsageError(f"--against {ref}: the folder has no resbench/ package; give a checkout of resbench or a git ref")
        return p.resolve()
    if not ref or ref.startswith("-"):
        raise UsageError(f"--against {ref!r}: not a folder, and a git ref cannot begin with '-'")
    tmp = Path(tempfile.mkdtemp(prefix="resbench-ref-"))
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    # `--end-of-options`: whatever REF is, git reads it as a revision, never as an option.
    r = subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "wt"), "--end-of-options", ref],
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "git failed"
        raise UsageError(f"--against {ref}: not a folder and not a git ref here ({last})")
    stack.callback(lambda: subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "wt")], capture_output=True))
    return tmp / "wt"


def _worker(root: Path, entries) -> list[dict]:
    # resbench.check_worker is the stable entry point: REF's code may predate this package.
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-m", "resbench.check_worker", *[json.dumps(e.to_dict()) for e in entries]]
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=str(root))
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkFailed(f"measuring with the code in {root} failed: {last}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure_against(suite: Suite, ref: str, rounds: int, hooks: Hooks = Hooks()) -> tuple[list[dict], list[dict]]:
    """Baseline (REF) and candidate (this code) measured in this job, interleaved A B A B."""
    import numpy as np

    import resbench

    here = Path(resbench.__file__).resolve().parent.parent
    with contextlib.ExitStack() as stack:
        ref_root = _ref_root(ref, stack)
        base, cand = {}, {}
        for i, e in enumerate(suite.entries):
            for r in range(rounds):
                hooks.report(e.id, i * rounds + r, len(suite.entries) * rounds)
                for side, root in ((base, ref_root), (cand, here)):
                    (m,) = _worker(root, [e])
                    if e.id in side and m.get("timing"):
                        side[e.id]["timing"]["samples_ms"] += m["timing"]["samples_ms"]
                    else:
                        side[e.id] = m
    for side in (base, cand):
        for m in side.values():
            if m.get("timing"):
                m["timing"]["median_ms"] = float(np.median(m["timing"]["samples_ms"]))
    return [base[e.id] for e in suite.entries], [cand[e.id] for e in suite.entries]


# --- check -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckReport:
    outcome: Outcome
    suite: Suite
    updated: Path | None  # the baseline rewritten with --update
    confirmed: int  # entries re-measured to confirm a timing regression

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code


def run_check(suite_file: str | Path, *, baseline: str | Path | None = None, current: str | Path | None = None,
              against: str | None = None, rounds: int = 2, tolerance: float = 0.10, alpha: float = 0.01,
              allow_complexity_change: bool = False, allow_env_mismatch: bool = False, confirm: bool = True,
              update: bool = False, hooks: Hooks = Hooks()) -> CheckReport:
    """Check a suite against a baseline file (or against REF measured now)."""
    v.whole(rounds, "--rounds", 1, 1000)
    v.number(tolerance, "--tolerance", 0, 10)
    v.number(alpha, "--alpha", 0, 1, lo_open=True, hi_open=True)
    if against and (baseline or current):
        raise UsageError("--against measures both sides now; do not combine it with --baseline or --current")
    if not against and not baseline:
        raise UsageError("give --baseline FILE (from `resbench baseline`) or --against REF")
    if update and not baseline:
        raise UsageError("--update rewrites the --baseline file: give --baseline FILE")
    suite = load_suite(suite_file)
    kw = dict(tolerance=tolerance, alpha=alpha, allow_complexity_change=allow_complexity_change,
              allow_env_mismatch=allow_env_mismatch or bool(against), timing_policy=suite.timing_policy)
    if against:
        base_entries, cur_entries = measure_against(suite, against, rounds, hooks)
    else:
        base_entries = read_baseline(baseline)["entries"]
        cur_entries = read_baseline(current)["entries"] if current else measure_suite(suite, hooks=hooks)
    outcome = compare_entries(base_entries, cur_entries, **kw)
    confirmed = 0
    if confirm and not current and not against and outcome.timing_regressions:
        again = [e for e in suite.entries if e.id in outcome.timing_regressions]
        confirmed = len(again)
        hooks.say(f"timing regression in {len(again)} entr{'y' if len(again) == 1 else 'ies'}: re-measuring once to confirm")
        rerun = {m["id"]: m for m in measure_suite(suite, again, hooks)}
        outcome = compare_entries(base_entries, merge_confirmation(cur_entries, rerun), **kw)
    updated = None
    if update:
        from resbench.store import write_json_atomic

        updated = write_json_atomic(baseline, baseline_document(suite, outcome.proposed, _env_here()))
    return CheckReport(outcome, suite, updated, confirmed)
