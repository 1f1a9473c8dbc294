"""Comparison tables and files: per-arm means over seeds and paired differences to a reference arm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.table import Table

from resbench.format import pct_pm, si

if TYPE_CHECKING:
    from resbench.train.comparison import ArmRow


def compare_table(rows: Sequence[ArmRow]) -> Table:
    table = Table(header_style="bold")
    for c, j in (("arm", "left"), ("depth", "right"), ("block", "left"), ("shortcut", "left"), ("params", "right"),
                 ("MACs", "right"), ("seeds", "right"), ("train err %", "right"), ("test err %", "right"),
                 ("Δ test err % [CI]", "right"), ("p adj.", "right"), ("sig.", "left"), ("detectable Δ", "right"),
                 ("seeds needed", "right"), ("s/epoch", "right")):
        table.add_column(c, justify=j, no_wrap=c in ("arm", "Δ test err % [CI]"))
    paper = any(r.paper_test_error is not None for r in rows)
    if paper:
        table.add_column("paper test err %", justify="right")
    target = next((r.time_to_target["target"] for r in rows if r.time_to_target), None)
    if target is not None:
        table.add_column(f"to {100 * target:g} % err", justify="right")
    for r in rows:
        if r.reference:
            delta, sig = "reference", ""
        elif r.delta_test_error is None:
            delta, sig = "-", ""
        elif r.delta_ci is None:
            why = "1 pair" if (r.pairs or 0) < 2 else "no spread yet"
            delta, sig = f"{100 * r.delta_test_error:+.2f} ({why}: no CI)", "n/a"
        else:
            lo, hi = r.delta_ci
            delta = f"{100 * r.delta_test_error:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
            sig = "yes" if r.significant else "no"
        seeds = str(r.seeds) + (f" (+{r.diverged} diverged)" if r.diverged else "")
        mdd = f"±{100 * r.min_detectable_diff:.2f}" if r.min_detectable_diff is not None else "-"
        needed = f"{r.seeds_needed:,}" if r.seeds_needed is not None else "-"
        cells = [r.arm, str(r.depth), r.block, "plain" if r.plain else r.shortcut, si(r.params),
                 si(r.macs), seeds, pct_pm(r.train_error_mean, r.train_error_std),
                 pct_pm(r.test_error_mean, r.test_error_std), delta,
                 f"{r.p_adjusted:.3g}" if r.p_adjusted is not None else "", sig, mdd, needed,
                 f"{r.seconds_per_epoch:.1f}" if r.seconds_per_epoch else "-"]
        if paper:
            cells.append(f"{100 * r.paper_test_error:.2f}" if r.paper_test_error is not None else "-")
        if target is not None:
            cells.append(_time_to_target_cell(r.time_to_target))
        table.add_row(*cells)
    return table


def _time_to_target_cell(t: dict | None) -> str:
    if not t or not t["reached"]:
        return f"not reached (0/{t['seeds'] if t else 0})"
    eps = sorted(e for e in t["epochs"] if e is not None)
    secs = sorted(s for s in t["seconds"] if s is not None)
    return f"ep {eps[len(eps) // 2]}, {secs[len(secs) // 2]:.1f} s ({t['reached']}/{t['seeds']})"


METHODS = {
    "paired-t": "paired t interval at {level}",
    "paired-t-bonferroni": "paired t intervals at {level} each, Bonferroni over {m} arms (95 % together); p adjusted by Holm",
    "seed-and-image": "intervals over seeds and test images (variance components, per-image results) at {level}",
    "seed-and-image-bonferroni": "intervals over seeds and test images (variance components, per-image results) at {level} each, "
                                 "Bonferroni over {m} arms (95 % together); p adjusted by Holm",
    "sequential": "sequential intervals (alpha spent over looks and split over {m} arm(s): {level} at this look); valid however often it looked",
}


def method_lines(rows: Sequence[ArmRow]) -> list[str]:
    """What the table is about and which intervals it shows, in words, under the table."""
    lines = [f"answers: {rows[0].answers}"] if rows and rows[0].answers else []
    said = {}  # one line per method and level shown, naming the arms when the table mixes methods
    for r in rows:
        if r.interval_method:
            text = METHODS[r.interval_method].format(level=f"{r.ci_level:.4g}", m=len(rows) - 1)
            said.setdefault(text, []).append(r.arm)
    for text, arms in said.items():
        lines.append("intervals: " + text + (f" ({', '.join(arms)})" if len(said) > 1 else ""))
    for r in rows:
        if r.resolution is not None or r.look:
            lines.append(f"{r.arm}: {r.resolution or 'not resolved'} at look {r.look}")
    for r in rows:
        if r.significant and r.delta_ci and r.delta_ci[0] <= 0 <= r.delta_ci[1] and r.p_adjust_method == "holm":
            lines.append(f"{r.arm}: significant by Holm's step-down (p adj. {r.p_adjusted:.2g}) though its interval "
                         "touches 0: Holm spends the alpha the arms tested before it left; the interval is the "
                         "Bonferroni one, which holds for all arms together")
    return lines


def power_lines(rows: Sequence[ArmRow]) -> list[str]:
    """The power of each comparison in words, under the table."""
    lines = method_lines(rows)
    for r in rows:
        if r.diverged:
            lines.append(f"{r.arm}: {r.diverged} seed(s) diverged ({', '.join(map(str, r.diverged_seeds))}) "
                         "and are left out of its mean and of every pair they belong to")
        if r.reference:
            continue
        effect = 100 * r.effect
        if r.min_detectable_diff is None:
            pairs = r.pairs if r.pairs is not None else r.seeds
            why = (f"with {pairs} pair(s) the spread of the paired differences is unknown; run at least 2 seeds "
                   "(3+ for a usable interval)" if pairs < 2 else
                   f"with {pairs} seeds every paired difference is equal (zero spread), so their spread has no estimate "
                   "yet and no difference is resolved; more seeds, or a larger test set (coarse errors repeat), give one")
            lines.append(f"{r.arm}: {why}")
            continue
        needed = (f"telling {effect:g} points apart needs about {r.seeds_needed:,} seeds"
                  if r.seeds_needed else f"{effect:g} points cannot be told apart at any practical number of seeds")
        m = max(1, len(rows) - 1)
        lines.append(f"{r.arm}: with {r.pairs} paired seeds, only differences of {100 * r.min_detectable_diff:.2f} points "
                     f"or more are detected (80 % power, α = {0.05 / m:.3g}{' per arm' if m > 1 else ''}); {needed}")
    return lines


def degradation_table(rows: Sequence[ArmRow]) -> Table:
    t = Table(header_style="bold")
    for c in ("net", "depth", "seeds", "final train err %", "final test err %", "paper test err %"):
        t.add_column(c, justify="left" if c == "net" else "right")
    for r in sorted(rows, key=lambda r: (not r.plain, r.depth)):
        seeds = str(r.seeds) + (f" (+{r.diverged} diverged)" if r.diverged else "")
        t.add_row(r.arm, str(r.depth), seeds, pct_pm(r.train_error_mean, r.train_error_std),
                  pct_pm(r.test_error_mean, r.test_error_std),
                  f"{100 * r.paper_test_error:.2f}" if r.paper_test_error is not None else "-")
    return t


DEGRADATION_COLUMNS = ("arm", "depth", "plain", "params", "seeds", "diverged", "train_error_mean", "train_error_std",
                       "test_error_mean", "test_error_std", "paper_test_error", "paper_gap", "answers")
