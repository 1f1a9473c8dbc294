"""Profile runs over batch sizes (resbench.measure.runs): the trace comes after the timed runs."""

def test_the_trace_runs_after_the_timed_runs(monkeypatch, tmp_path):
    """The timed figures never run under the profiler: trace() is called once, after profile()."""
    from resbench.measure import runs, timing, trace
    from resbench.spec import parse_spec

    calls = []
    real_profile, real_trace = runs.profile, runs.trace
    monkeypatch.setattr(runs, "profile", lambda *a, **k: calls.append("profile") or real_profile(*a, **k))
    monkeypatch.setattr(runs, "trace", lambda *a, **k: calls.append("trace") or real_trace(*a, **k))
    cfg = timing.ProfileConfig(device="cpu", iters=2, warmup=0, min_time=0, compare_layouts=False)
    r = runs.profile_runs(parse_spec("cifar-resnet8"), cfg, [2, 4], save=False, trace_path=str(tmp_path / "t.json"))
    assert calls == ["profile", "profile", "trace"] and r.trace.steps == trace.TRACE_STEPS
