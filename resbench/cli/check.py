"""`resbench baseline` and `resbench check`: performance-regression tracking for CI.

Exit codes: 0 no regression; 1 regression or unapproved params/MACs change;
2 usage error (bad suite, corrupt baseline); 3 environment mismatch (timings not
compared); 4 the benchmark itself failed; 5 an entry was measured at another batch
size than its baseline (CUDA out-of-memory back-off), so its timings were not compared.
"""

import os
from dataclasses import asdict
from typing import Annotated, Optional

import typer

from resbench.cli.flags import speak
from resbench.cli.options import CsvOpt, JsonOpt, MarkdownOpt
from resbench.cli.output import TableOutputs, hooks_for, note, out, print_json, warn, warn_if_busy

SuiteArg = Annotated[str, typer.Argument(help="Suite file (TOML), e.g. benchmarks/suite.toml.", show_default=False)]
RoundsOpt = Annotated[int, typer.Option(help="Independent runs (fresh processes) per timed entry and side; a suite entry's "
                                             "rounds overrides it. The verdict is on the runs' medians.")]
BackoffOpt = Annotated[bool, typer.Option("--backoff/--no-backoff", help="CUDA: halve the batch on out-of-memory (the "
                                                                         "measured batch is recorded; check refuses to compare different batches).")]


def baseline(
    suite_file: SuiteArg,
    out_file: Annotated[str, typer.Option("--out", help="Baseline file to write (JSON).")] = "baseline.json",
    rounds: RoundsOpt = 5,
    backoff: BackoffOpt = True,
) -> None:
    """Run a suite and write a baseline file (schema-versioned JSON with per-iteration samples and the environment).

    Example:  resbench baseline benchmarks/suite.toml --out results/baselines/self.json
    """
    from resbench.check import run_baseline
    from resbench.cli.progress import progress_bar

    with progress_bar("baseline") as update:
        report = run_baseline(suite_file, out_file, rounds=rounds, backoff=backoff, hooks=hooks_for(update))
    warn_if_busy(report.contention, "the suite was timed")
    note(f"wrote {report.entries} entr{'y' if report.entries == 1 else 'ies'} to {report.path}")


def check(
    suite_file: SuiteArg,
    baseline_file: Annotated[Optional[str], typer.Option("--baseline", help="Baseline file from `resbench baseline`.")] = None,
    current: Annotated[Optional[str], typer.Option(help="Compare this stored file instead of running the suite now.")] = None,
    against: Annotated[Optional[str], typer.Option(help="Same-job mode: a git ref or a resbench folder measured interleaved with this code.")] = None,
    rounds: RoundsOpt = 5,
    tolerance: Annotated[float, typer.Option(help="A slowdown counts beyond max(this fraction, 2 x the baseline's between-run spread), when significant.")] = 0.10,
    alpha: Annotated[float, typer.Option(help="Significance level of the one-sided t-test on the runs' log medians.")] = 0.01,
    allow_complexity_change: Annotated[bool, typer.Option("--allow-complexity-change", help="Report params/MACs changes without failing.")] = False,
    allow_env_mismatch: Annotated[bool, typer.Option("--allow-env-mismatch", help="Compare timings across device/torch/threads anyway.")] = False,
    confirm: Annotated[bool, typer.Option("--confirm/--no-confirm", help="Re-measure a timing regression once before failing.")] = True,
    update: Annotated[bool, typer.Option("--update", help="Write the current measurements as the new baseline.")] = False,
    backoff: BackoffOpt = True,
    benchmark_json: Annotated[Optional[str], typer.Option("--benchmark-json", help="Write the timings for github-action-benchmark (customSmallerIsBetter JSON).")] = None,
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    markdown: MarkdownOpt = None,
) -> None:
    """Check a suite against a baseline: params/MACs exactly, timings by size AND significance.

    Exit codes: 0 ok, 1 regression or params/MACs change, 2 usage error, 3 environment mismatch, 4 benchmark failed,
    5 measured at another batch size than the baseline (CUDA OOM back-off).

    Examples:  resbench check benchmarks/suite.toml --baseline results/baselines/self.json ·
    resbench check benchmarks/suite.toml --against origin/main
    """
    from resbench.check import run_check
    from resbench.cli.progress import progress_bar
    from resbench.report.export import check_frame, to_markdown
    from resbench.outputs import appendable, prepare_output

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and markdown and os.path.abspath(markdown) == os.path.abspath(summary):
        markdown = None  # appended below; writing it would replace the earlier steps' summaries
    tables = TableOutputs(csv, markdown, as_json)
    if summary:
        appendable(summary, "GITHUB_STEP_SUMMARY")
    if benchmark_json is not None:
        prepare_output(benchmark_json, (".json",), "--benchmark-json")
    with progress_bar("check") as update_bar:
        report = run_check(suite_file, baseline=baseline_file, current=current, against=against, rounds=rounds,
                           tolerance=tolerance, alpha=alpha, allow_complexity_change=allow_complexity_change,
                           allow_env_mismatch=allow_env_mismatch, confirm=confirm, update=update, backoff=backoff,
                           hooks=hooks_for(update_bar))
    outcome = report.outcome
    if report.updated:
        note(f"updated {report.updated}")
    if benchmark_json is not None:
        from resbench.report.tables import check_benchmark_json
        from resbench.store import write_json_atomic

        write_json_atomic(benchmark_json, check_benchmark_json(outcome))
    warn_if_busy(max((r.contention or 0.0 for r in outcome.rows), default=None), "the suite or its baseline was timed")
    frame = check_frame(outcome)
    if summary:  # GitHub's job summary collects every step's tables: append, never replace
        _append(to_markdown(frame) + f"\nexit code {outcome.exit_code}\n", summary)
    if not tables.write(frame):
        _render(outcome, as_json)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _render(outcome, as_json: bool) -> None:
    if as_json:
        print_json({"exit_code": outcome.exit_code, "rows": [asdict(r) for r in outcome.rows],
                    "entries": [{"id": e["id"], "runs": len(e["timing"]["runs"]) if e.get("timing") else 0,
                                 "counters": {n: cv.to_dict() for n, cv in outcome.counters.get(e["id"], {}).items()}}
                                for e in outcome.proposed],
                    "proposed_baseline": [{k: v for k, v in e.items() if k not in ("timing", "counters")}
                                          for e in outcome.proposed]})
    else:
        from resbench.report.tables import check_table

        out.print(check_table(outcome))
        changed = [r for r in outcome.rows if r.metric in ("params", "macs") and r.verdict == "changed"]
        if changed:
            out.print("proposed new baseline values: " + "; ".join(f"{r.entry} {r.metric}={r.current:,}" for r in changed)
                      + " (write them with --update)", highlight=False)
        out.print({0: "no regression", 1: "REGRESSION", 3: "environment mismatch: timings not compared",
                   5: "batch size differs from the baseline: timings not compared"}[outcome.exit_code]
                  + f" (exit {outcome.exit_code})", highlight=False)


def _append(md: str, target: str) -> None:
    """The Markdown table appended to $GITHUB_STEP_SUMMARY."""
    try:
        with open(target, "a") as f:
            f.write(speak(md))
    except OSError as e:  # the verdict stands; the summary is a copy of it
        warn(f"could not append the table to {target} ({e.strerror or e}); the verdict below is unchanged")
