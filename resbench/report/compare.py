"""Comparison tables: per-arm means over seeds and paired differences to a reference arm."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from resbench.report.format import pct_pm, si
from resbench.spec import NetSpec
from resbench.stats import paired_difference


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    a = np.asarray(values, dtype=float)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def summarize_arms(arms: list[NetSpec], records: list[tuple[NetSpec, int, dict]], reference: NetSpec) -> list[dict]:
    """``records``: (arm spec, seed, stored record). One row per arm."""
    by_arm: dict[str, dict[int, dict]] = {a.name: {} for a in arms}
    for spec, seed, rec in records:
        by_arm.setdefault(spec.name, {})[seed] = rec["result"]
    ref_test = {s: r["final_test_error"] for s, r in by_arm[reference.name].items() if not r["diverged"]}
    rows = []
    for arm in arms:
        results = by_arm[arm.name]
        ok = {s: r for s, r in results.items() if not r["diverged"]}
        train_m, train_s = _mean_std([r["final_train_error"] for r in ok.values()])
        test_m, test_s = _mean_std([r["final_test_error"] for r in ok.values()])
        epoch_secs = [h["seconds"] for r in ok.values() for h in r["history"]]
        any_result = next(iter(results.values()), None)
        row = {
            "arm": arm.name, "spec": arm.name, "shortcut": arm.shortcut, "block": arm.block, "depth": arm.depth,
            "plain": arm.plain, "params": any_result["params"] if any_result else None,
            "macs": any_result["macs"] if any_result else None, "seeds": len(ok), "diverged": len(results) - len(ok),
            "train_error_mean": train_m, "train_error_std": train_s, "test_error_mean": test_m, "test_error_std": test_s,
            "seconds_per_epoch": float(np.mean(epoch_secs)) if epoch_secs else None,
            "reference": arm.name == reference.name,
            "delta_test_error": None, "delta_ci95": None, "p_value": None, "significant": None,
        }
        if arm.name != reference.name:
            diff = paired_difference(ref_test, {s: r["final_test_error"] for s, r in ok.items()})
            if diff is not None:
                row.update(delta_test_error=diff.mean, delta_ci95=list(diff.ci95) if diff.ci95 else None,
                           p_value=diff.p_value, significant=diff.significant)
        rows.append(row)
    return rows



def compare_table(rows: list[dict]) -> Table:
    table = Table(header_style="bold")
    for c, j in (("arm", "left"), ("depth", "right"), ("block", "left"), ("shortcut", "left"), ("params", "right"),
                 ("MACs", "right"), ("seeds", "right"), ("train err %", "right"), ("test err %", "right"),
                 ("Δ test err % [95% CI]", "right"), ("sig.", "left"), ("s/epoch", "right")):
        table.add_column(c, justify=j, no_wrap=c in ("arm", "Δ test err % [95% CI]"))
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
        table.add_row(r["arm"], str(r["depth"]), r["block"], "plain" if r["plain"] else r["shortcut"], si(r["params"]),
                      si(r["macs"]), seeds, pct_pm(r["train_error_mean"], r["train_error_std"]),
                      pct_pm(r["test_error_mean"], r["test_error_std"]), delta, sig,
                      f"{r['seconds_per_epoch']:.1f}" if r["seconds_per_epoch"] else "-")
    return table
