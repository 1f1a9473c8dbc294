"""Comparison tables and files: per-arm means over seeds and paired differences to a reference arm."""

from __future__ import annotations

from rich.table import Table

from resbench.report.format import pct_pm, si


def compare_table(rows: list[dict]) -> Table:
    table = Table(header_style="bold")
    for c, j in (("arm", "left"), ("depth", "right"), ("block", "left"), ("shortcut", "left"), ("params", "right"),
                 ("MACs", "right"), ("seeds", "right"), ("train err %", "right"), ("test err %", "right"),
                 ("Δ test err % [95% CI]", "right"), ("sig.", "left"), ("detectable Δ", "right"),
                 ("seeds needed", "right"), ("s/epoch", "right")):
        table.add_column(c, justify=j, no_wrap=c in ("arm", "Δ test err % [95% CI]"))
    target = next((r["time_to_target"]["target"] for r in rows if r.get("time_to_target")), None)
    if target is not None:
        table.add_column(f"to {100 * target:g} % err", justify="right")
    for r in rows:
        if r["reference"]:
            delta, sig = "reference", ""
        elif r["delta_test_error"] is None:
            delta, sig = "-", ""
        elif r["delta_ci95"] is None:
            delta, sig = f"{100 * r['delta_test_error']:+.2f} (1 seed: no CI)", "n/a"
        else:
            lo, hi = r["delta_ci95"]
            delta = f"{100 * r['delta_test_error']:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
            sig = "yes" if r["significant"] else "no"
        seeds = str(r["seeds"]) + (f" (+{r['diverged']} diverged)" if r["diverged"] else "")
        mdd = f"±{100 * r['min_detectable_diff']:.2f}" if r.get("min_detectable_diff") is not None else "-"
        needed = f"{r['seeds_needed']:,}" if r.get("seeds_needed") is not None else "-"
        cells = [r["arm"], str(r["depth"]), r["block"], "plain" if r["plain"] else r["shortcut"], si(r["params"]),
                 si(r["macs"]), seeds, pct_pm(r["train_error_mean"], r["train_error_std"]),
                 pct_pm(r["test_error_mean"], r["test_error_std"]), delta, sig, mdd, needed,
                 f"{r['seconds_per_epoch']:.1f}" if r["seconds_per_epoch"] else "-"]
        if target is not None:
            cells.append(_time_to_target_cell(r.get("time_to_target")))
        table.add_row(*cells)
    return table


def _time_to_target_cell(t: dict | None) -> str:
    if not t or not t["reached"]:
        return f"not reached (0/{t['seeds'] if t else 0})"
    eps = sorted(e for e in t["epochs"] if e is not None)
    secs = sorted(s for s in t["seconds"] if s is not None)
    return f"ep {eps[len(eps) // 2]}, {secs[len(secs) // 2]:.1f} s ({t['reached']}/{t['seeds']})"


def power_lines(rows: list[dict]) -> list[str]:
    """The power of each comparison in words, under the table."""
    lines = []
    for r in rows:
        if r["reference"]:
            continue
        effect = 100 * r["effect"]
        if r.get("min_detectable_diff") is None and r["seeds"] >= 2 and r.get("delta_ci95") is not None:
            lines.append(f"{r['arm']}: with {r['seeds']} seeds every paired difference is equal (zero spread), so their "
                         "spread has no estimate yet and no difference is resolved; more seeds, or a larger test set "
                         "(coarse errors repeat), give one")
            continue
        if r.get("min_detectable_diff") is None:
            lines.append(f"{r['arm']}: with {r['seeds']} seed(s) the spread of the paired differences is unknown, so no "
                         f"difference can be shown; run at least 2 seeds (3+ for a usable interval)")
            continue
        needed = (f"telling {effect:g} points apart needs about {r['seeds_needed']:,} seeds"
                  if r.get("seeds_needed") else f"{effect:g} points cannot be told apart at any practical number of seeds")
        lines.append(f"{r['arm']}: with {r['seeds']} seeds, only differences of {100 * r['min_detectable_diff']:.2f} points "
                     f"or more are detected (80 % power, α = 0.05); {needed}")
    return lines


def degradation_table(rows: list[dict]) -> Table:
    t = Table(header_style="bold")
    for c in ("net", "depth", "seeds", "final train err %", "final test err %"):
        t.add_column(c, justify="left" if c == "net" else "right")
    for r in sorted(rows, key=lambda r: (not r["plain"], r["depth"])):
        t.add_row(r["arm"], str(r["depth"]), str(r["seeds"]), pct_pm(r["train_error_mean"], r["train_error_std"]),
                  pct_pm(r["test_error_mean"], r["test_error_std"]))
    return t


DEGRADATION_COLUMNS = ("arm", "depth", "plain", "params", "seeds", "train_error_mean", "train_error_std",
                       "test_error_mean", "test_error_std")
