"""Figures (headless matplotlib, PNG)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Sequence

from pathlib import Path

import numpy as np

from resbench.store import atomic_output

if TYPE_CHECKING:
    from resbench.train.comparison import ArmRow


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed, ever
    import matplotlib.pyplot as plt

    return plt


def _curves(ax, arms: dict[str, list[list[dict]]], color_of) -> None:
    for name, histories in arms.items():
        n = min(len(h) for h in histories)
        if n == 0:
            continue
        epochs = np.arange(1, n + 1)
        color = color_of(name)
        for key, style, width in (("train_error", "--", 1.0), ("test_error", "-", 2.0)):
            v = np.array([[e[key] for e in h[:n]] for h in histories]) * 100
            mean = v.mean(0)
            # a short run (a budget's one or two epochs) is points, not a line: mark them, and
            # show the seeds' range as error bars where a band would have no width
            ax.plot(epochs, mean, style, color=color, lw=width, marker="o" if n <= 3 else None,
                    label=f"{name} ({'train' if key == 'train_error' else 'test'})")
            if len(histories) > 1 and n == 1:
                ax.errorbar(epochs, mean, yerr=[mean - v.min(0), v.max(0) - mean], color=color, capsize=4, lw=width)
            elif len(histories) > 1:
                ax.fill_between(epochs, v.min(0), v.max(0), color=color, alpha=0.15, lw=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.grid(alpha=0.3)


# The paper's direction in each panel of Fig. 6: what a reproduction should show.
PAPER_DIRECTION = {"plain": "paper (Fig. 6 left): plain-56 trains WORSE than plain-20 (higher training error)",
                   "residual": "paper (Fig. 6 middle): ResNet-56 trains better than ResNet-20"}


def error_curves(arms: dict[str, list[list[dict]]], path: str, title: str = "", panels: dict[str, list[str]] | None = None,
                 references: dict[str, float] | None = None) -> str:
    """Training (dashed, thin) and test (solid, bold) error against epoch, mean over seeds
    with a min-max band: the paper's Fig. 6 style. ``panels`` splits arms over subplots;
    a panel named plain or residual carries the paper's direction as a caption.
    ``references`` (label -> test error, a fraction) are drawn as horizontal lines, on a
    log error axis (linear below 0.1 %, so that an error of 0 is drawn) so that a trained
    net's last points and the lines stay apart."""
    plt = pyplot()
    panels = panels or {"": list(arms)}
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab10")
    order = list(arms)
    for ax, (panel_title, names) in zip(axes[0], panels.items()):
        _curves(ax, {n: arms[n] for n in names if n in arms}, lambda n: cmap(order.index(n) % 10))
        for i, (label, error) in enumerate((references or {}).items()):
            ax.axhline(100 * error, color="tab:red" if i == 0 else "0.4", lw=1.0, ls=(":", "-.", (0, (5, 1, 1, 1, 1, 1)))[i % 3],
                       label=f"{label}: {error:.2%}")
        if references:  # log above 0.1 %, linear below: a training error of exactly 0 is still drawn
            ax.set_yscale("symlog", linthresh=0.1)
            ax.set_ylim(bottom=0)  # errors are never negative: no ticks below 0
            ax.set_ylabel("error (%, log scale above 0.1)")
        ax.set_title(panel_title)
        ax.legend(fontsize=7)
        if panel_title in PAPER_DIRECTION:
            ax.text(0.02, 0.02, PAPER_DIRECTION[panel_title], transform=ax.transAxes, fontsize=7, style="italic")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def run_curves(result, paper, path: str, title: str = "", env: dict | None = None) -> str:
    """One training run's error curves (a TrainResult), with the paper's figure and the
    published reproductions' as lines when ``paper`` (a PaperFigure) is given; ``env`` (the
    record's environment) puts the machine and torch version under the title."""
    where = ", ".join(v for v in ((env or {}).get("device_name"), (env or {}).get("torch") and f"torch {env['torch']}") if v)
    title = f"{title}\n{where}" if where else title
    return error_curves({result.spec: [[asdict(h) for h in result.history]]}, path, title=title,
                        references=paper.references if paper else None)


def forest(rows: Sequence[ArmRow], seed_errors: dict[str, dict[int, float]], path: str, title: str = "") -> str:
    """Each arm's difference to the reference (points of test error) with the interval the
    table shows, and the per-seed paired differences as small points behind it."""
    plt = pyplot()
    ref = next(r.arm for r in rows if r.reference)
    others = [r for r in rows if not r.reference]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.6 * max(1, len(others))))
    for y, r in enumerate(others):
        a, b = seed_errors.get(r.arm, {}), seed_errors.get(ref, {})
        per_seed = [100 * (a[s] - b[s]) for s in sorted(set(a) & set(b))]
        ax.scatter(per_seed, [y] * len(per_seed), s=12, color="0.6", zorder=2, label="per seed" if y == 0 else None)
        if r.delta_test_error is None:
            continue
        mean = 100 * r.delta_test_error
        if r.delta_ci:
            lo, hi = (100 * x for x in r.delta_ci)
            ax.errorbar([mean], [y], xerr=[[mean - lo], [hi - mean]], fmt="o", color="C0", capsize=5, lw=2, zorder=3,
                        label=f"mean, {r.interval_method} interval" if y == 0 else None)
        else:
            ax.plot([mean], [y], "o", color="C0", zorder=3)
    effect = 100 * rows[0].effect
    ax.axvline(0, color="k", lw=1)
    for x in (-effect, effect):
        ax.axvline(x, color="k", lw=0.8, ls=":")
    ax.set_yticks(range(len(others)), [r.arm for r in others])
    ax.set_xlabel(f"test error minus {ref}'s (points); dotted: ±{effect:g}, the effect asked about")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def comparison_figure(cmp, path: str) -> str:
    """`compare --plot`: the forest plot, and learning curves beside it when the runs had
    more than one epoch (a one-epoch curve is a dot)."""
    if cmp.config.epochs <= 1:
        return forest(cmp.rows, cmp.seed_errors, path, title=cmp.title)
    stem = Path(path)
    curves = str(stem.with_name(stem.stem + "-curves" + stem.suffix))
    error_curves(cmp.histories, curves, title=cmp.title)
    return forest(cmp.rows, cmp.seed_errors, path, title=cmp.title)


def layer_values(nets: dict[str, list[float]], path: str, ylabel: str, title: str, log: bool = False, sorted_panel: bool = True) -> str:
    """Per-layer values for several nets: original order (left) and sorted by magnitude
    (right), as the paper's Fig. 7."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 if sorted_panel else 1, figsize=(12 if sorted_panel else 6.5, 4.2), squeeze=False)
    for name, values in nets.items():
        x = np.arange(1, len(values) + 1)
        axes[0][0].plot(x, values, marker=".", lw=1, label=name)
        if sorted_panel:
            axes[0][1].plot(x, sorted(values, reverse=True), marker=".", lw=1, label=name)
    axes[0][0].set_title("layer index (original)")
    if sorted_panel:
        axes[0][1].set_title("layer index (sorted by magnitude)")
    for ax in axes[0]:
        ax.set_xlabel("layer index")
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def scatter(xs: list[float], ys: list[float], path: str, xlabel: str, ylabel: str, labels: list[str] | None = None,
            logx: bool = True) -> str:
    """One point per stored record (``resbench plot``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.scatter(xs, ys, s=22, color="tab:blue")
    for x, y, text in zip(xs, ys, labels or []):
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if logx and min(xs) > 0:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def breakdown_bars(results, path: str) -> str:
    """A stacked bar per profiled result (spec, batch): each stage's median ms, the rest on top."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(results) + 2), 4.5))
    names = []
    for r in results:
        for s in r.breakdown:
            if s.name not in names:
                names.append(s.name)
    cmap = plt.get_cmap("viridis", max(2, len(names)))
    labels = [f"{r.spec}\nbatch {r.batch_size}" for r in results]
    bottom = np.zeros(len(results))
    for i, name in enumerate(names):
        v = np.array([next((s.median_ms for s in r.breakdown if s.name == name), 0.0) for r in results])
        ax.bar(labels, v, bottom=bottom, color=cmap(i), label=name)
        bottom += v
    rest = np.array([max(0.0, r.breakdown_rest_ms or 0.0) for r in results])
    if rest.any():
        ax.bar(labels, rest, bottom=bottom, color="lightgrey", label="rest (outside stages)")
    ax.set_ylabel("median ms per batch")
    ax.set_title("where the time goes: per-stage latency")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def save_figure(fig, path) -> None:
    """Write the figure atomically: a failed write never replaces an existing figure."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".").lower() or "png")
