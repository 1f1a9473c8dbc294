"""The search report: the Pareto front as a table, and cost-vs-error as a scatter."""

from __future__ import annotations

from rich.table import Table

from resbench.format import ms, pct_pm, si
from resbench.report.plots import pyplot, save_figure


def front_table(summary, confirmed: dict[str, bool], split: str = "test") -> Table:
    measured = any(t.latency_ms is not None for t in summary.trials)
    table = Table(title=f"Pareto front of study {summary.study} ({', '.join(summary.objectives)})", header_style="bold")
    for name, justify in (("trial", "right"), ("spec", "left"), ("params", "right"), ("MACs", "right"),
                          *((("latency ms", "right"),) if measured else ()), (f"{split} err %", "right"), ("seeds", "right"),
                          ("fvcore", "center"), ("preset", "left")):
        table.add_column(name, justify=justify)
    for row in summary.front:
        table.add_row(str(row.number), row.spec, si(row.params), si(row.macs), *((ms(row.latency_ms),) if measured else ()),
                      pct_pm(row.test_error, row.test_error_std), str(row.seeds), {True: "✓", False: "✗"}.get(confirmed.get(row.spec), "-"), row.reference or "")
    return table


def search_scatter(summary, path: str, presets: dict[str, dict], cost: str = "macs", title: str = "",
                   limit: float | None = None, split: str = "test", hypervolume=None) -> str:
    """Every evaluated trial as cost vs error: complete (filled), pruned (hollow, error at the
    epoch it stopped), the front as a step line, and the paper's presets: a star where the
    study trained them, a dashed line at their cost where it did not (outside the space or
    constraints)."""
    plt = pyplot()
    key = {"macs": "macs", "params": "params", "latency": "latency_ms"}[cost]
    label = {"macs": "MACs per image", "params": "parameters", "latency": "latency (ms)"}[cost]
    history = hypervolume.history if hypervolume is not None and hypervolume.history else ()
    if history:  # a second panel: the hypervolume after each finished trial
        fig, (ax, hv_ax) = plt.subplots(1, 2, figsize=(11.5, 5), gridspec_kw={"width_ratios": [2.2, 1]})
        hv_ax.plot([n for n, _ in history], [v for _, v in history], marker=".", color="tab:purple")
        hv_ax.set_xlabel("finished trials")
        hv_ax.set_ylabel("hypervolume (normalised)")
        ref = ", ".join(f"{o} {v:g}" for o, v in hypervolume.reference.items())
        hv_ax.set_title(f"reference point: {ref}", fontsize=8)
        hv_ax.grid(alpha=0.3)
    else:
        fig, ax = plt.subplots(figsize=(7.5, 5))
    done = [t for t in summary.trials if t.state == "complete" and t.status != "duplicate" and t.test_error is not None
            and getattr(t, key) is not None]
    pruned = [t for t in summary.trials if t.status == "pruned" and t.test_error is not None and getattr(t, key) is not None]
    if pruned:
        ax.scatter([getattr(t, key) for t in pruned], [100 * t.test_error for t in pruned], s=18, facecolors="none",
                   edgecolors="0.6", label=f"pruned ({len(pruned)}, error when stopped)")
    ax.scatter([getattr(t, key) for t in done], [100 * t.test_error for t in done], s=22, color="tab:blue",
               label=f"trained fully ({len(done)})")
    front = sorted((t for t in done if t.on_front), key=lambda t: getattr(t, key))
    if front:
        ax.step([getattr(t, key) for t in front], [100 * t.test_error for t in front], where="post", color="tab:red", lw=1.5)
        ax.scatter([getattr(t, key) for t in front], [100 * t.test_error for t in front], s=40, color="tab:red",
                   label=f"Pareto front ({len(front)})", zorder=3)
    for name, p in presets.items():
        if p.get("test_error") is not None:
            ax.scatter([p[key]], [100 * p["test_error"]], marker="*", s=160, color="tab:green", zorder=4, edgecolors="k")
            ax.annotate(name, (p[key], 100 * p["test_error"]), textcoords="offset points", xytext=(6, 6), fontsize=8)
        elif p.get(key) is not None:
            ax.axvline(p[key], color="tab:green", ls="--", lw=0.8, alpha=0.7)
            ax.annotate(f"{name} (not in study)", (p[key], 0.02), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, va="bottom", ha="right", color="tab:green")
    if limit is not None:
        ax.axvline(limit, color="k", ls=":", lw=1)
        ax.annotate("constraint", (limit, 0.98), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                    va="top", ha="right")
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel(f"{split} error (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or f"study {summary.study}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def front_lines(report) -> list[str]:
    """The lines under the front table: trial counts, the epoch budget used, the presets."""
    summary, split = report.summary, report.split
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts().items()))
    lines = [f"{len(summary.trials)} trial{'' if len(summary.trials) == 1 else 's'}: {counts}"]
    if summary.epoch_fraction is not None:
        lines.append(f"epochs trained: {summary.epochs_trained} of the {summary.epochs_if_full} that training every evaluated "
                     f"candidate fully would take ({100 * summary.epoch_fraction:.0f} %)")
    for name, p in report.presets.items():
        where = (f"trial {p['trial']}, {split} error {100 * p['test_error']:.2f} %" if p["test_error"] is not None
                 else "not in this study (outside the space or constraints)")
        lines.append(f"  {name}: {p['macs'] / 1e6:.1f} MMACs, {p['params'] / 1e3:.0f} k params; {where}")
    return lines


def hypervolume_line(h) -> str:
    """The hypervolume in one sentence, with its reference point (resbench.search.hypervolume)."""
    if h is None:
        return "hypervolume: not computed"
    if h.value is None:
        return f"hypervolume: none ({h.why_none})"
    ref = ", ".join(f"{o} {v:g}" for o, v in h.reference.items())
    trend = ""
    if len(h.history) > 1:
        first_best = next(n for n, v in h.history if v >= h.value)
        trend = f"; reached after {first_best} of {len(h.history)} finished trials"
    return f"hypervolume {h.value:.4f} of the normalised objective space (reference point: {ref}){trend}"
