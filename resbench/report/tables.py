"""Rich tables built from measurement records (they return renderables; cli prints)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from resbench.cost import Complexity
from resbench.format import ms, pct, si
from resbench.spec import NetSpec

SHORTCUT_WORDS = {"A": "A (zero-pad identity)", "B": "B (projection on shape change)", "C": "C (projection everywhere)", "none": "none (plain net)"}


def spec_summary(spec) -> Text:
    if not isinstance(spec, NetSpec):  # a torchvision:/timm: reference model
        return Text.assemble((spec.name, "bold"), f"  {spec.source} model, input {spec.in_channels}×{spec.input_size}×"
                             f"{spec.input_size}, {spec.num_classes} classes, random weights")
    stride = f", stride on the {spec.stride_on}" if spec.block == "bottleneck" else ""
    return Text.assemble(
        (spec.name, "bold"),
        f"  {spec.stem} stem, {spec.block} blocks{stride}, depth {spec.depth}, "
        f"shortcut {SHORTCUT_WORDS[spec.shortcut]}, input {spec.in_channels}×{spec.input_size}×{spec.input_size}, "
        f"{spec.num_classes} classes",
    )


def complexity_table(c: Complexity) -> Table:
    table = Table(title=None, show_footer=True, header_style="bold")
    table.add_column("stage", footer="total")
    table.add_column("blocks", justify="right", footer=str(sum(s.blocks for s in c.stages)))
    table.add_column("output", justify="right")
    table.add_column("channels", justify="right")
    table.add_column("params", justify="right", footer=f"{c.params:,}")
    table.add_column("MACs", justify="right", footer=si(c.macs))
    table.add_column("% MACs", justify="right", footer="100.0")
    for s in c.stages:
        table.add_row(
            s.name,
            str(s.blocks) if s.blocks else "",
            f"{s.out_size}×{s.out_size}" if s.out_size > 1 or c.counted_by != "FlopCounterMode" else "",
            str(s.out_channels),
            f"{s.params:,}",
            si(s.macs),
            f"{100 * s.macs / c.macs:.1f}" if c.macs else "-",
        )
    return table


def complexity_notes(c: Complexity) -> str:
    lines = [
        f"MACs: conv + linear multiply-accumulates for one {c.input_size}×{c.input_size} image, counted by {c.counted_by}; "
        f"FLOPs = 2 × MACs = {si(c.flops)} (the paper's 'FLOPs' are multiply-adds, i.e. MACs)."
    ]
    if c.backward_flops is not None:
        lines.append(f"FlopCounterMode counts matrix products and convolutions: forward {si(c.flops)} FLOPs, backward "
                     f"{si(c.backward_flops)} FLOPs per image (a train step ≈ {si(c.flops + c.backward_flops)})")
    if c.other_ops:
        lines.append("fvcore also counted (not in MACs): " + ", ".join(f"{op} {si(n)}" for op, n in sorted(c.other_ops.items())))
    if c.uncounted_ops:
        lines.append("not counted by fvcore: " + ", ".join(f"{op} ×{n}" for op, n in sorted(c.uncounted_ops.items())))
    return "\n".join(lines)


def presets_table(rows: list[dict]) -> Table:
    table = Table(header_style="bold")
    for col, justify in (("name", "left"), ("family", "left"), ("block", "left"), ("depth", "right"),
                         ("stages", "left"), ("shortcut", "left"), ("params", "right"), ("MACs", "right")):
        table.add_column(col, justify=justify, no_wrap=col in ("name", "block", "params", "MACs"))
    for r in rows:
        table.add_row(r["name"], r["family"], r["block"], str(r["depth"]), ".".join(map(str, r["stages"])),
                      r["shortcut"], si(r["params"]), si(r["macs"]))
    return table


def profile_table(results) -> Table:
    table = Table(header_style="bold")
    cols = [("spec", "left"), ("device", "left"), ("dtype", "left"), ("mode", "left"), ("batch", "right"),
            ("median ms", "right"), ("p90", "right"), ("p99", "right"), ("IQR", "right"), ("n", "right"),
            ("samples/s", "right"), ("peak mem", "right"), ("TFLOP/s", "right"), ("MFU", "right")]
    for c, j in cols:
        table.add_column(c, justify=j, no_wrap=c in ("spec", "median ms"))
    for r in results:
        lat = r.latency
        layout = (" NHWC" if r.channels_last else "") + (" ORT" if r.backend == "onnxruntime" else "")
        table.add_row(
            r.spec, r.device, r.dtype + layout, r.mode, str(r.batch_size),
            ms(lat.median), ms(lat.p90), ms(lat.p99) if r.p99_estimable else "–",
            Text(pct(lat.iqr / lat.median if lat.median else None, 0), style="red" if lat.noisy else ""),
            str(lat.n), f"{r.throughput:,.1f}", si(r.peak_memory_bytes, "B"), f"{r.achieved_tflops:.3g}", pct(r.mfu),
        )
    return table


def profile_notes(results) -> str:
    r0 = results[0]
    env = r0.env
    lines = [f"{r0.device_name} · torch {env.get('torch')} · {r0.threads} threads · "
             f"MFU vs {r0.peak_source or 'unknown peak'}"
             + (f" ({r0.peak_tflops:.3g} TFLOP/s)" if r0.peak_tflops else "")
             + (" · TFLOP/s of a train step count 3 × forward FLOPs" if r0.mode == "train" else "")]
    for r in results:
        extra = []
        if r.phases_ms:
            extra.append("forward {forward:.2f} / backward {backward:.2f} / optimizer {optimizer:.2f} ms (medians)".format(**r.phases_ms))
        if r.compile_s is not None and r.backend == "onnxruntime":
            extra.append(f"onnxruntime: export + session {r.compile_s:.1f} s, not in the timings")
        elif r.compile_s is not None:
            extra.append(f"compile{f' ({r.compile_mode})' if r.compile_mode else ''} (first call) {r.compile_s:.1f} s, "
                         "not in the timings")
        if r.max_abs_diff_vs_eager is not None:
            extra.append(f"largest |output - eager| = {r.max_abs_diff_vs_eager:.3g}")
        if r.peak_memory_bytes is None:
            extra.append(f"memory: {r.memory_method}")
        if r.suggestion:
            extra.append("suggestion: " + r.suggestion)
        extra += list(r.notes)
        if not r.p99_estimable:
            extra.append(f"p99 not shown: {r.latency.n} samples; a 99th percentile needs at least 100 (raise `iters`)")
        if extra:
            lines.append(f"batch {r.batch_size}: " + "; ".join(extra))
    return "\n".join(lines)


def train_table(r) -> Table:
    table = Table(title=f"{r.spec}: {r.params:,} params, {si(r.macs)} MACs, batch {r.effective_batch_size}, lr {r.lr:g}",
                  header_style="bold")
    for c in ("epoch", "lr", "train loss", "train err %", "test err %", "seconds"):
        table.add_column(c, justify="right")
    for h in r.history:
        table.add_row(str(h.epoch), f"{h.lr:.4g}", f"{h.train_loss:.4f}", f"{100 * h.train_error:.2f}",
                      f"{100 * h.test_error:.2f}", f"{h.seconds:.1f}")
    return table


def check_table(outcome) -> Table:
    styles = {"regressed": "bold red", "changed": "yellow", "not compared": "yellow", "improved": "green"}
    table = Table(header_style="bold")
    for c, j in (("entry", "left"), ("metric", "left"), ("baseline", "right"), ("current", "right"), ("ratio", "right"),
                 ("runs", "right"), ("noise floor", "right"), ("counts from", "right"), ("p-value", "right"),
                 ("verdict", "left"), ("note", "left")):
        table.add_column(c, justify=j, no_wrap=c == "entry")
    for r in outcome.rows:
        verdict = r.verdict + (" (fails)" if r.fails else "")
        runs = f"{r.runs[0]}+{r.runs[1]}" if r.runs else ""
        floor = f"{r.noise_floor:.1%}" if r.noise_floor is not None else ("-" if r.runs else "")
        counts = f"+{r.threshold:.0%}" if r.threshold is not None else ""
        table.add_row(r.entry, r.metric, _fmt(r.baseline), _fmt(r.current), _fmt(r.ratio, 5 if r.metric in COUNTER_UNITS else 3), runs, floor, counts,
                      _fmt(r.p_value, 2), Text(verdict, style=styles.get(r.verdict, "")), r.note)
    return table


COUNTER_UNITS = {"ops": ("count", "ops"), "memory": ("total_bytes", "bytes"), "instructions": ("count", "instructions"),
                 "kernels": ("count", "kernels")}


def check_benchmark_json(outcome) -> list[dict]:
    """github-action-benchmark's customSmallerIsBetter: one point per timed entry (median
    latency of the current run medians, ms), with the runs' spread as its range, and one
    per counter measured (ops, bytes, instructions, kernels)."""
    points = []
    for e in outcome.proposed:
        for name, c in (e.get("counters") or {}).items():
            if name in COUNTER_UNITS and "unavailable" not in c:
                key, unit = COUNTER_UNITS[name]
                points.append({"name": f"{e['id']} {name}", "unit": unit, "value": c[key]})
        t = e.get("timing")
        if not t:
            continue
        medians = [r["median_ms"] for r in t["runs"]]
        spread = (max(medians) - min(medians)) / 2 if len(medians) > 1 else 0.0
        points.append({"name": f"{e['id']} latency", "unit": "ms", "value": round(t["median_ms"], 6),
                       "range": f"± {spread:.4g}", "extra": f"{len(medians)} runs; throughput {t['throughput']:.1f}/s"})
    return points


# --- the tables of results, check (Markdown) and the analyses ---------------

# Columns shown in the terminal table of `resbench results`, when present; --json/--csv carry everything.
RESULTS_COLUMNS = ["created", "kind", "spec", "device", "dtype", "mode", "batch_size", "latency_median_ms",
                   "latency_p90_ms", "throughput", "test_error", "train_error", "git_commit"]


def cell_text(v) -> str:
    if v is None or v != v:  # None or NaN
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def results_table(shown) -> Table:
    table = Table(header_style="bold")
    for c in shown.columns:
        table.add_column(c.replace("latency_", "").replace("_ms", " ms"), no_wrap=c in ("spec", "created"))
    for row in shown.itertuples(index=False):
        table.add_row(*[cell_text(v) for v in row])
    return table


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def responses_table(nets: dict[str, list[dict]]) -> Table:
    table = Table(header_style="bold", title="std of 3x3 layer responses")
    table.add_column("net")
    for c in ("layers", "mean", "first", "last", "max"):
        table.add_column(c, justify="right")
    for name, vs in nets.items():
        vals = [v["value"] for v in vs]
        table.add_row(name, str(len(vals)), f"{sum(vals) / len(vals):.3f}", f"{vals[0]:.3f}", f"{vals[-1]:.3f}", f"{max(vals):.3f}")
    return table


def gradients_table(nets: dict[str, list[dict]]) -> Table:
    table = Table(header_style="bold", title="conv weight-gradient norms")
    for c, j in (("net", "left"), ("epoch", "right"), ("first", "right"), ("last", "right"), ("verdict", "left")):
        table.add_column(c, justify=j)
    for name, pts in nets.items():
        for p in pts:
            table.add_row(name, str(p["epoch"]), f"{p['weights'][0]['value']:.3g}", f"{p['weights'][-1]['value']:.3g}", p["verdict"])
    return table


def breakdown_table(r) -> Table:
    """The paper's Table 1 with time beside it: one row per stage of one profiled result."""
    table = Table(header_style="bold", title=f"{r.spec} · {r.device} · batch {r.batch_size}: where the time goes")
    for c, j in (("stage", "left"), ("median ms", "right"), ("share", "right"), ("MACs", "right"), ("TFLOP/s", "right")):
        table.add_column(c, justify=j)
    for s in r.breakdown:
        table.add_row(s.name, f"{s.median_ms:.3f}", f"{100 * s.share:.1f} %", si(s.macs) if s.macs else "-",
                      f"{s.tflops:.3g}" if s.tflops is not None else "-")
    return table


def breakdown_note(r) -> str:
    total = sum(s.median_ms for s in r.breakdown)
    whole = total + r.breakdown_rest_ms
    return (f"stages add up to {total:.3f} ms of {whole:.3f} ms, the whole-model median of the unmarked passes "
            f"interleaved with them ({100 * total / whole:.1f} %); the rest ({r.breakdown_rest_ms:+.3f} ms) is ops outside "
            f"any stage and the timing hooks. The whole-model pass above ({r.latency.median:.3f} ms) ran apart, untouched.")


def trace_table(t) -> Table:
    """`profile --trace`: the operators that took the most time per step, by self time."""
    on_device = any(o.self_device_ms is not None for o in t.top)
    table = Table(header_style="bold", title=f"top operators by self time, per step ({t.steps} traced steps)")
    for c, j in (("operator", "left"), ("calls", "right"), ("self CPU ms", "right")) + \
            ((("self device ms", "right"),) if on_device else ()):
        table.add_column(c, justify=j)
    for o in t.top:
        cells = [o.name, str(o.calls), f"{o.self_cpu_ms:.3f}"]
        if on_device:
            cells.append(f"{o.self_device_ms:.3f}" if o.self_device_ms is not None else "-")
        table.add_row(*cells)
    return table


def layers_table(c: Complexity, depth: str) -> Table:
    """`show --depth block|layer`: one row per block or leaf module, totals in the footer."""
    table = Table(header_style="bold", show_footer=True)
    table.add_column(depth, footer="total", no_wrap=True)
    table.add_column("output", justify="right")
    table.add_column("params", justify="right", footer=f"{c.params:,}")
    table.add_column("MACs", justify="right", footer=si(c.macs))
    table.add_column("activations", justify="right", footer=si(sum(r.activations for r in c.layers)))
    for r in c.layers:
        table.add_row(r.name, "×".join(map(str, r.out_shape)), f"{r.params:,}", si(r.macs) if r.macs else "", si(r.activations))
    return table
