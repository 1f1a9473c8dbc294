"""`profile` over several batch sizes as one library call, each result kept as a record."""

from __future__ import annotations

from dataclasses import replace

from resbench.hooks import Hooks
from resbench.measure.timing import ProfileConfig, ProfileResult, profile
from resbench.spec import NetSpec

RECORD_CONFIG = ("spec", "device", "dtype", "mode", "batch_size", "channels_last", "compiled", "cuda_graphs", "threads")


def profile_runs(spec: NetSpec, config: ProfileConfig, batch_sizes: list[int | None] | None = None, *, save: bool = True,
                 results_dir=None, hooks: Hooks = Hooks()) -> list[ProfileResult]:
    """Profile ``spec`` at each batch size (None: the device's default) and store each
    result as a ``profile`` record unless ``save`` is off."""
    from resbench.store import Store

    results = []
    for bs in batch_sizes or [config.batch_size]:
        label = f"{spec.name} batch {bs or 'default'}"
        results.append(profile(spec, replace(config, batch_size=bs),
                               progress=lambda phase, i, n: hooks.report(f"{label} {phase}", i, n)))
    if save:
        store = Store(results_dir)
        for r in results:
            row = r.to_dict()
            store.put("profile", config={k: row[k] for k in RECORD_CONFIG},
                      result={k: v for k, v in row.items() if k != "env"}, env=row["env"])
    return results
