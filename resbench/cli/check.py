"""`resbench baseline` and `resbench check`: performance-regression tracking for CI.

Exit codes: 0 no regression; 1 regression or unapproved params/MACs change;
2 usage error (bad suite, corrupt baseline); 3 environment mismatch (timings not
compared); 4 the benchmark itself failed.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from resbench.cli.output import err, out, print_json
from resbench.errors import BenchmarkFailed, UsageError

SuiteArg = Annotated[str, typer.Argument(help="Suite file (TOML), e.g. benchmarks/suite.toml.", show_default=False)]


def _measure_suite(suite, entries=None) -> list[dict]:
    from resbench.check import measure_entry
    from resbench.cli.progress import progress_bar

    entries = entries or suite.entries
    results = []
    with progress_bar(f"suite {suite.name}") as update:
        for i, e in enumerate(entries):
            update(e.id, i, len(entries))
            try:
                results.append(measure_entry(e))
            except UsageError:
                raise
            except Exception as ex:  # the benchmark itself broke: exit 4, not a regression
                raise BenchmarkFailed(f"measuring {e.id} failed: {type(ex).__name__}: {ex}") from ex
    return results


def baseline(
    suite_file: SuiteArg,
    out_file: Annotated[str, typer.Option("--out", help="Baseline file to write (JSON).")] = "baseline.json",
) -> None:
    """Run a suite and write a baseline file (schema-versioned JSON with per-iteration samples and the environment).

    Example:  resbench baseline benchmarks/suite.toml --out results/baselines/self.json
    """
    from resbench.check import baseline_document, load_suite
    from resbench.measure.env import collect_env
    from resbench.store import write_json_atomic

    suite = load_suite(suite_file)
    results = _measure_suite(suite)
    import torch

    write_json_atomic(out_file, baseline_document(suite, results, collect_env(torch.device("cpu"))))
    err.print(f"wrote {len(results)} entries to {out_file}", highlight=False)


def _ref_root(ref: str, stack) -> Path:
    """A directory holding REF's resbench package: REF itself if it is one, else a git worktree."""
    p = Path(ref)
    if p.is_dir():
        if not (p / "resbench" / "__init__.py").exists():
            raise UsageError(f"--against {ref}: the folder has no resbench/ package; give a checkout of resbench or a git ref")
        return p.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="resbench-ref-"))
    r = subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "wt"), ref], capture_output=True, text=True)
    if r.returncode != 0:
        raise UsageError(f"--against {ref}: not a folder and not a git ref here ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'git failed'})")
    stack.callback(lambda: subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "wt")], capture_output=True))
    return tmp / "wt"


def _worker(root: Path, entries) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-m", "resbench.check_worker", *[json.dumps(e.to_dict()) for e in entries]]
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=str(root))
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkFailed(f"measuring with the code in {root} failed: {last}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _same_job(suite, ref: str, rounds: int) -> tuple[list[dict], list[dict]]:
    """Baseline (REF) and candidate (this code) measured in this job, interleaved A B A B."""
    import contextlib

    import resbench
    from resbench.cli.progress import progress_bar

    here = Path(resbench.__file__).resolve().parent.parent
    with contextlib.ExitStack() as stack:
        ref_root = _ref_root(ref, stack)
        base, cand = {}, {}
        with progress_bar(f"{suite.name}: {ref} vs working tree") as update:
            for i, e in enumerate(suite.entries):
                for r in range(rounds):
                    update(e.id, i * rounds + r, len(suite.entries) * rounds)
                    for side, root in ((base, ref_root), (cand, here)):
                        (m,) = _worker(root, [e])
                        if e.id in side and m.get("timing"):
                            side[e.id]["timing"]["samples_ms"] += m["timing"]["samples_ms"]
                        else:
                            side[e.id] = m
        import numpy as np

        for side in (base, cand):
            for m in side.values():
                if m.get("timing"):
                    m["timing"]["median_ms"] = float(np.median(m["timing"]["samples_ms"]))
        return [base[e.id] for e in suite.entries], [cand[e.id] for e in suite.entries]


def _markdown(outcome) -> str:
    lines = ["| entry | metric | baseline | current | ratio | p-value | verdict |", "|---|---|---|---|---|---|---|"]
    for r in outcome.rows:
        lines.append(f"| {r.entry} | {r.metric} | {_fmt(r.baseline)} | {_fmt(r.current)} | {_fmt(r.ratio, 3)} | "
                     f"{_fmt(r.p_value, 2)} | {r.verdict}{' ❌' if r.fails else ''} {r.note} |")
    lines.append(f"\nexit code {outcome.exit_code}")
    return "\n".join(lines) + "\n"


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def check(
    suite_file: SuiteArg,
    baseline_file: Annotated[Optional[str], typer.Option("--baseline", help="Baseline file from `resbench baseline`.")] = None,
    current: Annotated[Optional[str], typer.Option(help="Compare this stored file instead of running the suite now.")] = None,
    against: Annotated[Optional[str], typer.Option(help="Same-job mode: a git ref or a resbench folder measured interleaved with this code.")] = None,
    rounds: Annotated[int, typer.Option(help="--against: interleaved rounds per entry (A B A B ...).")] = 2,
    tolerance: Annotated[float, typer.Option(help="Slowdown beyond this fraction (and significant) is a regression.")] = 0.10,
    alpha: Annotated[float, typer.Option(help="Significance level of the one-sided Mann-Whitney U test.")] = 0.01,
    allow_complexity_change: Annotated[bool, typer.Option("--allow-complexity-change", help="Report params/MACs changes without failing.")] = False,
    allow_env_mismatch: Annotated[bool, typer.Option("--allow-env-mismatch", help="Compare timings across device/torch/threads anyway.")] = False,
    confirm: Annotated[bool, typer.Option("--confirm/--no-confirm", help="Re-measure a timing regression once before failing.")] = True,
    update: Annotated[bool, typer.Option("--update", help="Write the current measurements as the new baseline.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    markdown: Annotated[Optional[str], typer.Option(help="Append a Markdown table to this file ($GITHUB_STEP_SUMMARY is appended to as well when set).")] = None,
) -> None:
    """Check a suite against a baseline: params/MACs exactly, timings by size AND significance.

    Exit codes: 0 ok, 1 regression or params/MACs change, 2 usage error, 3 environment mismatch, 4 benchmark failed.

    Examples:  resbench check benchmarks/suite.toml --baseline results/baselines/self.json ·
    resbench check benchmarks/suite.toml --against origin/main
    """
    from resbench.check import compare_entries, load_suite, merge_confirmation, read_baseline

    suite = load_suite(suite_file)
    if against and (baseline_file or current):
        raise UsageError("--against measures both sides now; do not combine it with --baseline or --current")
    if not against and not baseline_file:
        raise UsageError("give --baseline FILE (from `resbench baseline`) or --against REF")
    if rounds < 1:
        raise UsageError(f"--rounds must be at least 1, got {rounds}")
    kw = dict(tolerance=tolerance, alpha=alpha, allow_complexity_change=allow_complexity_change,
              allow_env_mismatch=allow_env_mismatch or bool(against), timing_policy=suite.timing_policy)
    if against:
        base_entries, cur_entries = _same_job(suite, against, rounds)
        doc = None
    else:
        doc = read_baseline(baseline_file)
        base_entries = doc["entries"]
        cur_entries = read_baseline(current)["entries"] if current else _measure_suite(suite)
    outcome = compare_entries(base_entries, cur_entries, **kw)
    if confirm and not current and not against and outcome.timing_regressions:
        again = [e for e in suite.entries if e.id in outcome.timing_regressions]
        err.print(f"timing regression in {len(again)} entr{'y' if len(again) == 1 else 'ies'}: re-measuring once to confirm", highlight=False)
        rerun = {m["id"]: m for m in _measure_suite(suite, again)}
        outcome = compare_entries(base_entries, merge_confirmation(cur_entries, rerun), **kw)
    if update and baseline_file:
        import torch

        from resbench.check import baseline_document
        from resbench.measure.env import collect_env
        from resbench.store import write_json_atomic

        write_json_atomic(baseline_file, baseline_document(suite, outcome.proposed, collect_env(torch.device("cpu"))))
        err.print(f"updated {baseline_file}", highlight=False)
    md = _markdown(outcome)
    for target in filter(None, [markdown, os.environ.get("GITHUB_STEP_SUMMARY")]):
        with open(target, "a") as f:
            f.write(md)
    if as_json:
        from dataclasses import asdict

        print_json({"exit_code": outcome.exit_code, "rows": [asdict(r) for r in outcome.rows],
                    "proposed_baseline": [{k: v for k, v in e.items() if k != "timing"} for e in outcome.proposed]})
    else:
        from resbench.report.tables import check_table

        out.print(check_table(outcome))
        changed = [r for r in outcome.rows if r.metric in ("params", "macs") and r.verdict == "changed"]
        if changed:
            out.print("proposed new baseline values: " + "; ".join(f"{r.entry} {r.metric}={r.current:,}" for r in changed)
                      + " (write them with --update)", highlight=False)
        out.print({0: "no regression", 1: "REGRESSION", 3: "environment mismatch: timings not compared"}[outcome.exit_code]
                  + f" (exit {outcome.exit_code})", highlight=False)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
