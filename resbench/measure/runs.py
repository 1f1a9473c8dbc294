"""`profile` over several batch sizes as one library call, each result kept as a record."""

from __future__ import annotations

from dataclasses import dataclass, replace

from resbench.errors import BenchmarkFailed, Interrupted
from resbench.hooks import Hooks
from resbench.measure.timing import ProfileConfig, profile
from resbench.measure.trace import trace
from resbench.spec import NetSpec
from resbench.store import Store
from resbench.validate import writable_folder

RECORD_CONFIG = ("spec", "device", "dtype", "mode", "batch_size", "channels_last", "compiled", "cuda_graphs", "threads",
                 "backend")


@dataclass(frozen=True)
class ProfileRuns:
    results: list  # ProfileResult per batch size that was measured
    failures: list  # one line per batch size whose benchmark itself failed (BenchmarkFailed)
    trace: object = None  # resbench.measure.trace.Trace of the first batch size, when asked for


def profile_runs(spec: NetSpec, config: ProfileConfig, batch_sizes: list[int | None] | None = None, *, save: bool = True,
                 results_dir=None, trace_path: str | None = None, hooks: Hooks = Hooks()) -> ProfileRuns:
    """Profile ``spec`` at each batch size (None: the device's default) and store each
    result as a ``profile`` record unless ``save`` is off. A batch size whose benchmark
    itself fails (e.g. the model does not export to ONNX) is reported in ``failures``
    and the others are still measured."""
    store = Store(results_dir) if save else None
    if store is not None:  # checked before measuring: a refusal after it would lose the run
        writable_folder(store.records_dir, "the results folder")
    sizes = batch_sizes or [config.batch_size]
    results, failures = [], []
    try:
        for bs in sizes:
            label = f"{spec.name} batch {bs or 'default'}"
            try:
                r = profile(spec, replace(config, batch_size=bs), progress=lambda phase, i, n: hooks.report(f"{label} {phase}", i, n))
            except BenchmarkFailed as e:
                failures.append(str(e))
                continue
            results.append(r)
            if store is not None:  # each batch size is kept as soon as it is measured
                row = r.to_dict()
                store.put("profile", config={k: row[k] for k in RECORD_CONFIG},
                          result={k: v for k, v in row.items() if k != "env"}, env=row["env"])
    except KeyboardInterrupt:
        kept = f"stored in {store.records_dir}" if store is not None else "not stored (`save=False`)"
        raise Interrupted(f"interrupted: {len(results)} of {len(sizes)} batch size(s) measured, {kept}; "
                          "run again for the rest") from None
    traced = None
    if trace_path is not None and results:
        # After the timed runs, in a pass of its own: the figures above never ran under a profiler.
        hooks.report(f"{spec.name} trace", 0, 1)
        first = results[0]
        traced = trace(spec, replace(config, batch_size=first.batch_size, channels_last=first.channels_last),
                       first.batch_size, trace_path)
    return ProfileRuns(results, failures, traced)
