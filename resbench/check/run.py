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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

import resbench
from resbench import validate as v
from resbench.check.baseline import baseline_document, read_baseline
from resbench.check.suite import Entry, Suite, load_suite
from resbench.check.verdict import (
    DEFAULT_ALPHA,
    DEFAULT_ROUNDS,
    DEFAULT_TOLERANCE,
    ENV_KEYS,
    Outcome,
    compare_entries,
    merge_confirmation,
)
from resbench.errors import BenchmarkFailed, ConfigError, UsageError
from resbench.hooks import Hooks
from resbench.measure.counters import valgrind_missing
from resbench.measure.env import collect_env
from resbench.measure.timing import ProfileConfig, profile
from resbench.store import write_json_atomic
from resbench.measure.target import build_target, count_target, parse_target


def measure_entry(entry: Entry) -> dict:
    """One run in this process: params/MACs with fvcore on the built model (so a change to
    the builder shows up), plus per-iteration timings of that same model unless the entry
    is complexity-only. `check` runs this in a fresh process per run (check_worker)."""
    spec = parse_target(entry.spec)
    model = build_target(spec, init_weights=entry.timing)
    c = count_target(spec, model)
    out = {"id": entry.id, "entry": entry.to_dict(), "params": c.params, "macs": c.macs, "timing": None}
    if entry.timing:
        r = profile(spec, ProfileConfig(device=entry.device, batch_size=entry.batch_size, mode=entry.mode, dtype=entry.dtype,
                                        channels_last=entry.channels_last, warmup=entry.warmup, iters=entry.iters,
                                        min_time=entry.min_time, compare_layouts=False, backoff=entry.backoff), model=model)
        out["timing"] = {"samples_ms": list(r.samples_ms), "median_ms": r.latency.median, "throughput": r.throughput,
                         "batch_size": r.batch_size, "gpu_busy": r.gpu_busy, "launch_bound": r.launch_bound,
                         "contention": r.contention,
                         "env": {k: r.env.get(k) for k in ENV_KEYS + ("device", "cuda", "cpu")}}
    return out


def run_worker(root: Path, entry: Entry) -> dict:
    """One run of ``entry`` in a fresh process, with the resbench found in ``root``.
    resbench.check_worker is the stable entry point: REF's code may predate this package."""
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    fields = entry.measurement()
    if not entry.backoff:
        fields["backoff"] = False  # only when asked: an older REF does not know the field
    r = subprocess.run([sys.executable, "-m", "resbench.check_worker", json.dumps(fields)], capture_output=True, text=True,
                       env=env, cwd=str(root))
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkFailed(f"measuring {entry.id} with the code in {root} failed: {last}")
    (m,) = json.loads(r.stdout.strip().splitlines()[-1])
    return m


def _counters_script() -> Path:
    return Path(__file__).resolve().parent.parent / "measure" / "counters.py"


def measure_counters(root: Path, entries: list[Entry]) -> dict[str, dict]:
    """The counters of ``entries`` (those that ask for some), counted in one fresh process
    by this code's counting script on the network built by the resbench in ``root``."""
    wanted = [e for e in entries if e.counters]
    if not wanted:
        return {}
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, str(_counters_script()), *[json.dumps(e.counting()) for e in wanted]],
                       capture_output=True, text=True, env=env, cwd=str(root))
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkFailed(f"counting {', '.join(e.id for e in wanted)} with the code in {root} failed: {last}")
    return {e.id: c for e, c in zip(wanted, json.loads(r.stdout.strip().splitlines()[-1]))}


def check_counters_can_run(suite: Suite) -> None:
    """Before any work: a suite asking for instructions needs Valgrind here."""
    if any("instructions" in e.counters for e in suite.entries):
        why = valgrind_missing()
        if why:
            raise UsageError(why)


def _with_counters(results: list[dict], counted: dict[str, dict], hooks: Hooks) -> list[dict]:
    said = set()
    for m in results:
        if m["id"] in counted:
            m["counters"] = counted[m["id"]]
            for name, c in counted[m["id"]].items():
                if "unavailable" in c and name not in said:
                    said.add(name)
                    hooks.say(f"note: {name} counter unavailable ({c['unavailable']}); the other counters still ran")
    return results


def merge_runs(runs: list[dict]) -> dict:
    """Single-run measurements of one entry -> one entry whose timing holds every run."""
    first = dict(runs[0])
    timings = [m["timing"] for m in runs]
    if timings[0] is None:
        return first
    batches = sorted({t["batch_size"] for t in timings})
    first["timing"] = {
        "runs": [{k: t.get(k) for k in ("median_ms", "throughput", "batch_size", "samples_ms")} for t in timings],
        "median_ms": float(np.median([t["median_ms"] for t in timings])),
        "throughput": float(np.median([t["throughput"] for t in timings])),
        "batch_size": batches[0] if len(batches) == 1 else batches,
        "launch_bound": any(t.get("launch_bound") for t in timings),
        "gpu_busy": None if any(t.get("gpu_busy") is None for t in timings) else float(np.median([t["gpu_busy"] for t in timings])),
        "contention": max((t["contention"] for t in timings if isinstance(t.get("contention"), (int, float))), default=None),
        "env": timings[0]["env"],
    }
    return first


def _here() -> Path:
    return Path(resbench.__file__).resolve().parent.parent


def measure_suite(suite: Suite, entries=None, hooks: Hooks = Hooks(), rounds: int = DEFAULT_ROUNDS) -> list[dict]:
    """Every entry: complexity in this process; timed entries in R runs, one fresh process each."""
    entries = entries or suite.entries
    results = []
    for i, e in enumerate(entries):
        hooks.report(e.id, i, len(entries))
        try:
            if not e.timing:
                results.append(measure_entry(e))
                continue
            results.append(merge_runs([run_worker(_here(), e) for _ in range(e.rounds or rounds)]))
        except (UsageError, BenchmarkFailed):
            raise
        except Exception as ex:  # the benchmark itself broke: exit 4, not a regression
            raise BenchmarkFailed(f"measuring {e.id} failed: {type(ex).__name__}: {ex}") from ex
    if any(e.counters for e in entries):
        hooks.report("counters", len(entries), len(entries))
    return _with_counters(results, measure_counters(_here(), list(entries)), hooks)


def _env_here() -> dict:
    return collect_env(torch.device("cpu"))


@dataclass(frozen=True)
class BaselineReport:
    path: Path
    entries: int
    contention: float | None = None  # the most of the cores other processes used while an entry was timed


def run_baseline(suite_file: str | Path, out_file: str | Path, *, rounds: int = DEFAULT_ROUNDS, backoff: bool = True,
                 hooks: Hooks = Hooks()) -> BaselineReport:
    """Measure a suite (R runs per timed entry) and write it as a baseline file (atomically)."""
    v.whole(rounds, "rounds", 1, 1000)
    suite = _with_backoff(load_suite(suite_file), backoff)
    check_counters_can_run(suite)
    out = Path(out_file)
    if out.is_dir():
        raise ConfigError("out_file", f"{str(out)!r} is a folder: give a file name such as {out / 'baseline.json'}")
    if out.parent.exists() and not out.parent.is_dir():
        raise ConfigError("out_file", f"{str(out)!r}: {out.parent} is a file, not a folder; give a path in a folder")
    v.writable_folder(out.parent, f"`out_file` {str(out)!r}: its folder")
    results = measure_suite(suite, hooks=hooks, rounds=rounds)
    doc = baseline_document(suite, results, _env_here())
    write_json_atomic(out, doc)
    busy = [e["timing"]["contention"] for e in doc["entries"] if (e.get("timing") or {}).get("contention") is not None]
    return BaselineReport(out, len(results), max(busy, default=None))


# --- the same-job engine (--against) ----------------------------------------------------------


def _ref_root(ref: str, stack: contextlib.ExitStack) -> Path:
    """A directory holding REF's resbench package: REF itself if it is one, else a git
    worktree of REF in a temporary folder that is removed on every path out."""
    p = Path(ref)
    if p.is_dir():
        if not (p / "resbench" / "__init__.py").exists():
            raise ConfigError("against", f"{ref}: the folder has no resbench/ package; give a checkout of resbench or a git ref")
        return p.resolve()
    if not ref or ref.startswith("-"):
        raise ConfigError("against", f"{ref!r}: not a folder, and a git ref cannot begin with '-'")
    tmp = Path(tempfile.mkdtemp(prefix="resbench-ref-"))
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    # `--end-of-options`: whatever REF is, git reads it as a revision, never as an option.
    r = subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "wt"), "--end-of-options", ref],
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "git failed"
        raise ConfigError("against", f"{ref}: not a folder and not a git ref here ({last})")
    stack.callback(lambda: subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "wt")], capture_output=True))
    return tmp / "wt"


def measure_against(suite: Suite, ref: str, rounds: int, hooks: Hooks = Hooks()) -> tuple[list[dict], list[dict]]:
    """Baseline (REF) and candidate (this code) measured in this job: R runs per side, each
    a fresh process, interleaved A B A B so that machine drift hits both sides alike."""
    with contextlib.ExitStack() as stack:
        ref_root = _ref_root(ref, stack)
        base, cand = [], []
        for i, e in enumerate(suite.entries):
            n = (e.rounds or rounds) if e.timing else 1
            runs: dict[str, list] = {"base": [], "cand": []}
            for r in range(n):
                hooks.report(e.id, i, len(suite.entries))
                runs["base"].append(run_worker(ref_root, e))
                runs["cand"].append(run_worker(_here(), e))
            base.append(merge_runs(runs["base"]))
            cand.append(merge_runs(runs["cand"]))
        if any(e.counters for e in suite.entries):
            hooks.report("counters", len(suite.entries), len(suite.entries))
            _with_counters(base, measure_counters(ref_root, list(suite.entries)), hooks)
            _with_counters(cand, measure_counters(_here(), list(suite.entries)), Hooks())
    return base, cand


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


def _with_backoff(suite: Suite, backoff: bool) -> Suite:
    """--no-backoff: no entry may halve its batch on CUDA out-of-memory."""
    return suite if backoff else replace(suite, entries=tuple(replace(e, backoff=False) for e in suite.entries))


def run_check(suite_file: str | Path, *, baseline: str | Path | None = None, current: str | Path | None = None,
              against: str | None = None, rounds: int = DEFAULT_ROUNDS, tolerance: float = DEFAULT_TOLERANCE,
              alpha: float = DEFAULT_ALPHA, allow_complexity_change: bool = False, allow_env_mismatch: bool = False,
              confirm: bool = True, update: bool = False, backoff: bool = True, hooks: Hooks = Hooks()) -> CheckReport:
    """Check a suite against a baseline file (or against REF measured now): params/MACs
    exactly, timings on R independent runs per side (see resbench.check.verdict)."""
    v.whole(rounds, "rounds", 1, 1000)
    v.number(tolerance, "tolerance", 0, 10)
    v.number(alpha, "alpha", 0, 1, lo_open=True, hi_open=True)
    if against and (baseline or current):
        raise ConfigError("against", "measures both sides now; do not combine it with `baseline` or `current`")
    if not against and not baseline:
        raise ConfigError("baseline", "is needed (a file from `resbench baseline`), or `against` (a ref to measure now)")
    if update and not baseline:
        raise ConfigError("update", "rewrites the `baseline` file: give `baseline`")
    if update:  # the rewrite must be possible before anything is measured
        v.writable_folder(Path(baseline).resolve().parent, f"`baseline` {str(baseline)!r} (rewritten by `update`): its folder")
    suite = _with_backoff(load_suite(suite_file), backoff)
    if not current:
        check_counters_can_run(suite)
    settings = {e.id: {k: getattr(e, k) for k in ("tolerance", "alpha", "instructions_tolerance") if getattr(e, k) is not None}
                for e in suite.entries}
    kw = dict(tolerance=tolerance, alpha=alpha, allow_complexity_change=allow_complexity_change,
              allow_env_mismatch=allow_env_mismatch or bool(against), timing_policy=suite.timing_policy, settings=settings)
    if against:
        base_entries, cur_entries = measure_against(suite, against, rounds, hooks)
    else:
        doc = read_baseline(baseline)
        if doc.get("single_run") and suite.timing_policy != "off":
            hooks.say(f"note: {baseline} is a schema-1 baseline with one run per entry: its timings are reported but "
                      "cannot fail (no between-run spread to judge by); renew it with `resbench baseline`")
        base_entries = doc["entries"]
        if not {e.id for e in suite.entries} & {e["id"] for e in base_entries}:
            # a gate that compares nothing must not pass
            raise UsageError(f"{baseline} (suite {doc.get('suite')!r}) shares no entry with suite {suite.name!r}: nothing "
                             "would be compared; give this suite's baseline, or make one with `resbench baseline`")
        cur_entries = read_baseline(current, "current")["entries"] if current else measure_suite(suite, hooks=hooks, rounds=rounds)
    outcome = compare_entries(base_entries, cur_entries, **kw)
    confirmed = 0
    if confirm and not current and not against and outcome.timing_regressions:
        # counters are deterministic: the confirmation re-times, it does not recount
        again = [replace(e, counters=()) for e in suite.entries if e.id in outcome.timing_regressions]
        confirmed = len(again)
        hooks.say(f"timing regression in {len(again)} entr{'y' if len(again) == 1 else 'ies'}: re-measuring once to confirm")
        rerun = {m["id"]: m for m in measure_suite(suite, again, hooks, rounds)}
        outcome = compare_entries(base_entries, merge_confirmation(cur_entries, rerun), **kw)
    updated = None
    if update:
        updated = write_json_atomic(baseline, baseline_document(suite, outcome.proposed, _env_here()))
    return CheckReport(outcome, suite, updated, confirmed)
