"""Performance-regression checks for CI: suites, baselines, verdicts, and running them.

``suite``: the TOML suite format. ``baseline``: baseline files. ``verdict``: the pure
comparison of two sets of measurements. ``run``: measuring, the ``--against`` engine,
``run_baseline`` and ``run_check``.
"""

from resbench.check.baseline import SCHEMA_VERSION, baseline_document, read_baseline
from resbench.check.run import CheckReport, measure_against, measure_entry, measure_suite, run_baseline, run_check
from resbench.check.suite import TIMING_POLICIES, Entry, Suite, load_suite
from resbench.check.verdict import DEFAULT_ALPHA, ENV_KEYS, Outcome, Row, compare_entries, merge_confirmation, timing_verdict

__all__ = [
    "SCHEMA_VERSION", "TIMING_POLICIES", "DEFAULT_ALPHA", "ENV_KEYS", "Entry", "Suite", "Row", "Outcome", "CheckReport",
    "load_suite", "baseline_document", "read_baseline", "measure_entry", "measure_suite", "measure_against",
    "compare_entries", "merge_confirmation", "timing_verdict", "run_baseline", "run_check",
]
