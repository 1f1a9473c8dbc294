"""`resbench check`: every verdict path and exit code, statistics on known distributions,
markdown output, environment mismatch, corrupt baselines (running suites: test_run.py)."""

import json

import numpy as np
import pytest

from resbench.check import SCHEMA_VERSION, compare_entries, read_baseline, timing_verdict
from resbench.errors import StoreError

ENV = {"device_name": "cpu0", "torch": "2.x", "threads": 2, "device": "cpu", "cuda": None, "cpu": "cpu0"}


def entry(id="resnet20 cpu fp32 infer b8", params=100, macs=1000, median=10.0, n=30, seed=0, scale=1.0, env=ENV, noise=0.03,
          runs=5, batch=8):
    """One measured entry with ``runs`` runs: each run's level varies by ``noise`` (between
    runs), its ``n`` samples by 5 % around that level (within a run)."""
    rng = np.random.default_rng(seed)
    rs = []
    for level in median * scale * np.exp(rng.normal(0, noise, runs)):
        samples = list(level * np.exp(rng.normal(0, 0.05, n)))
        rs.append({"median_ms": float(np.median(samples)), "throughput": 8000 / np.median(samples), "batch_size": batch,
                   "samples_ms": samples})
    med = float(np.median([r["median_ms"] for r in rs]))
    return {"id": id, "params": params, "macs": macs,
            "timing": {"runs": rs, "median_ms": med, "throughput": 8000 / med, "batch_size": batch, "env": dict(env)}}


def verdicts(outcome, metric):
    return [r.verdict for r in outcome.rows if r.metric == metric]


def test_identical_is_ok():
    o = compare_entries([entry()], [entry(seed=1)])
    assert o.exit_code == 0 and verdicts(o, "latency") == ["ok"] and verdicts(o, "params") == ["same"]


def test_slowdown_beyond_tolerance_and_significant_is_a_regression():
    o = compare_entries([entry()], [entry(seed=1, scale=1.3)])
    assert o.exit_code == 1 and verdicts(o, "latency") == ["regressed"]
    assert o.timing_regressions == ["resnet20 cpu fp32 infer b8"]


def test_significant_but_within_tolerance_is_ok():
    o = compare_entries([entry(noise=0.001)], [entry(seed=1, scale=1.05, noise=0.001)])
    r = [r for r in o.rows if r.metric == "latency"][0]
    assert r.p_value < 0.01 and r.verdict == "ok" and o.exit_code == 0


def test_large_but_insignificant_is_ok():
    o = compare_entries([entry(runs=3, noise=0.5)], [entry(runs=3, seed=1, scale=1.3, noise=0.5)])
    assert verdicts(o, "latency") == ["ok"] and o.exit_code == 0


def test_a_slowdown_inside_the_noise_floor_does_not_count():
    """The between-run spread of the baseline sets the bar: 2 x a 12 % spread is 24 %."""
    from resbench.check.verdict import timing_verdict as tv

    base = [10.0, 11.5, 9.0, 10.8, 8.9]
    v = tv(base, [x * 1.2 for x in base], tolerance=0.10, alpha=0.01)
    assert v.noise_floor == pytest.approx(float(np.std(np.log(base), ddof=1)))
    assert v.threshold == pytest.approx(2 * v.noise_floor) and v.threshold > 0.2
    assert v.verdict == "ok"
    quiet = [10.0, 10.1, 9.9, 10.05, 9.95]
    assert tv(quiet, [x * 1.2 for x in quiet], 0.10, 0.01).verdict == "regressed"


def test_per_entry_tolerance_and_alpha_override_the_defaults():
    e = "resnet20 cpu fp32 infer b8"
    o = compare_entries([entry(noise=0.005)], [entry(seed=1, scale=1.15, noise=0.005)])
    assert verdicts(o, "latency") == ["regressed"]
    o = compare_entries([entry(noise=0.005)], [entry(seed=1, scale=1.15, noise=0.005)], settings={e: {"tolerance": 0.25}})
    assert verdicts(o, "latency") == ["ok"]


def test_another_measured_batch_is_refused_with_exit_5():
    o = compare_entries([entry()], [entry(seed=1, batch=4)])
    assert o.exit_code == 5 and verdicts(o, "batch") == ["not compared"] and verdicts(o, "latency") == []


def test_noise_floor_and_runs_are_reported():
    o = compare_entries([entry(noise=0.15)], [entry(seed=1)])
    (r,) = [r for r in o.rows if r.metric == "latency"]
    assert r.runs == (5, 5) and r.noise_floor > 0.05 and "noisy" in r.note
    assert "a slowdown is caught 80 % of the time from" in r.note


def test_the_detectable_slowdown_is_caught_80_percent_of_the_time():
    """The figure a noisy baseline prints, checked against the rule itself on fresh draws."""
    import math

    import numpy as np

    from resbench.check.verdict import detectable_slowdown, timing_verdict

    rng = np.random.default_rng(11)
    sigma, n = 0.08, 5
    d = detectable_slowdown(sigma, (n, n), 0.10, 0.01)
    assert 0.10 < d < 0.5 and detectable_slowdown(sigma, (n, n), 0.10, 0.01) == d  # seeded: the same figure
    caught = np.mean([timing_verdict(list(np.exp(rng.normal(0, sigma, n))), list(np.exp(rng.normal(math.log1p(d), sigma, n))),
                                     0.10, 0.01).verdict == "regressed" for _ in range(1000)])
    assert 0.75 <= caught <= 0.85  # 80 %, within the Monte Carlo error of 1,000 draws
    assert detectable_slowdown(sigma, (1, 5), 0.10, 0.01) is None and detectable_slowdown(0.0, (5, 5)) is None
    assert detectable_slowdown(0.02, (5, 5), 0.10, 0.01) < d  # a quieter baseline sees smaller slowdowns


def test_improvement_is_reported():
    o = compare_entries([entry()], [entry(seed=1, scale=0.7)])
    assert verdicts(o, "latency") == ["improved"] and o.exit_code == 0


def test_complexity_change_in_either_direction_fails_unless_allowed():
    for params in (99, 101):
        o = compare_entries([entry()], [entry(params=params)])
        assert o.exit_code == 1 and verdicts(o, "params") == ["changed"]
    o = compare_entries([entry()], [entry(macs=900)], allow_complexity_change=True)
    assert o.exit_code == 0 and verdicts(o, "macs") == ["changed"] and "-100" in [r for r in o.rows if r.metric == "macs"][0].note
    assert o.proposed[0]["macs"] == 900


def test_environment_mismatch_is_exit_3_unless_allowed():
    other = {**ENV, "torch": "3.x"}
    o = compare_entries([entry()], [entry(seed=1, scale=2.0, env=other)])
    assert o.exit_code == 3 and verdicts(o, "environment") == ["not compared"] and verdicts(o, "latency") == []
    o = compare_entries([entry()], [entry(seed=1, scale=2.0, env=other)], allow_env_mismatch=True)
    assert o.exit_code == 1


def test_warn_policy_never_fails_on_timing_but_still_on_complexity():
    o = compare_entries([entry()], [entry(seed=1, scale=2.0)], timing_policy="warn")
    assert o.exit_code == 0 and verdicts(o, "latency") == ["regressed"]
    o = compare_entries([entry()], [entry(seed=1, scale=2.0, params=5)], timing_policy="warn")
    assert o.exit_code == 1


def test_new_and_removed_entries():
    o = compare_entries([entry(id="a")], [entry(id="b")])
    assert {r.verdict for r in o.rows} == {"new", "removed"} and o.exit_code == 0


def test_false_alarm_and_detection_rates_with_between_run_noise():
    """5 runs a side, 10 % between-run noise: false alarms stay <= 1 %; at 2 % noise a 20 %
    slowdown is caught >= 95 % of the time (benchmarks/check_reliability.py has the full table)."""
    rng = np.random.default_rng(0)
    trials = 400

    def runs(noise, scale=1.0):
        return list(10 * scale * np.exp(rng.normal(0, noise, 5)))

    false = sum(timing_verdict(runs(0.10), runs(0.10)).verdict == "regressed" for _ in range(trials))
    hits = sum(timing_verdict(runs(0.02), runs(0.02, 1.2)).verdict == "regressed" for _ in range(trials))
    assert false / trials <= 0.01
    assert hits / trials >= 0.95


def test_schema_1_baselines_are_read_as_single_runs_that_cannot_fail(cli, tmp_path, suite):
    old = {"id": "resnet20 cpu fp32 infer b8", "params": 100, "macs": 1000,
           "timing": {"samples_ms": [10.0] * 30, "median_ms": 10.0, "throughput": 800.0, "batch_size": 8, "env": dict(ENV)}}
    base = _write(tmp_path / "old.json", [old], schema=1)
    doc = read_baseline(base)
    assert doc["single_run"] and len(doc["entries"][0]["timing"]["runs"]) == 1
    slow = _write(tmp_path / "slow.json", [entry(seed=1, scale=2.0)])
    code, out, err = cli("check", suite, "--baseline", base, "--current", slow, "--json")
    rows = {r["metric"]: r for r in json.loads(out)["rows"]}
    assert code == 0 and rows["latency"]["verdict"] == "unknown" and "schema-1 baseline with one run" in err


def test_benchmark_json_for_github_action_benchmark(cli, tmp_path, suite):
    base = _write(tmp_path / "b.json", [entry()])
    cur = _write(tmp_path / "c.json", [entry(seed=1)])
    out_file = tmp_path / "bench" / "out.json"
    assert cli("check", suite, "--baseline", base, "--current", cur, "--benchmark-json", out_file)[0] == 0
    (point,) = json.loads(out_file.read_text())
    assert set(point) == {"name", "unit", "value", "range", "extra"} and point["unit"] == "ms" and point["value"] > 0


def _write(path, entries, schema=SCHEMA_VERSION):
    path.write_text(json.dumps({"schema": schema, "kind": "resbench-baseline", "suite": "t", "env": {}, "entries": entries}))
    return path


@pytest.fixture
def suite(tmp_path):
    p = tmp_path / "suite.toml"
    p.write_text('[suite]\nname = "t"\n[[entry]]\nspec = "resnet20"\nbatch_sizes = [8]\n')
    return p


def test_cli_exit_codes_with_stored_files(cli, tmp_path, suite):
    base = _write(tmp_path / "b.json", [entry()])
    same = _write(tmp_path / "same.json", [entry(seed=1)])
    slow = _write(tmp_path / "slow.json", [entry(seed=1, scale=1.5)])
    bigger = _write(tmp_path / "big.json", [entry(seed=1, params=101)])
    moved = _write(tmp_path / "env.json", [entry(seed=1, env={**ENV, "threads": 16})])
    md = tmp_path / "summary.md"
    assert cli("check", suite, "--baseline", base, "--current", same)[0] == 0
    code, out, _ = cli("check", suite, "--baseline", base, "--current", slow, "--markdown", md)
    assert code == 1 and "regressed" in out
    text = md.read_text()
    header = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    assert header[:7] == ["entry", "metric", "baseline", "current", "ratio", "p_value", "verdict"]
    assert {"noise_floor", "fails", "note"} <= set(header)
    regressed = next(line for line in text.splitlines() if "| latency" in line)
    assert "regressed" in regressed and "True" in regressed  # the failing row says it fails
    assert cli("check", suite, "--baseline", base, "--current", bigger)[0] == 1
    assert cli("check", suite, "--baseline", base, "--current", bigger, "--allow-complexity-change")[0] == 0
    assert cli("check", suite, "--baseline", base, "--current", moved)[0] == 3
    code, out, _ = cli("check", suite, "--baseline", base, "--current", slow, "--json")
    d = json.loads(out)
    assert d["exit_code"] == 1 and {"entry", "metric", "baseline", "current", "ratio", "p_value", "verdict"} <= set(d["rows"][0])
    lat = next(r for r in d["rows"] if r["metric"] == "latency")
    assert lat["noise_floor"] > 0 and lat["runs"] == [5, 5] and d["entries"][0]["runs"] == 5


def test_github_step_summary_is_appended(cli, tmp_path, suite, monkeypatch):
    summary = tmp_path / "gh.md"
    summary.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    base = _write(tmp_path / "b.json", [entry()])
    cli("check", suite, "--baseline", base, "--current", base)
    assert summary.read_text().startswith("earlier\n| entry ")


@pytest.mark.parametrize("content, fragment", [
    ('{"schema": 1, "kind": "resbench-baseline", "entr', "corrupt or truncated"),
    ('{"hello": 1}', "not a resbench baseline"),
    ('{"schema": 99, "kind": "resbench-baseline", "entries": []}', "newer"),
])
def test_bad_baselines_are_one_line_exit_2(cli, tmp_path, suite, content, fragment):
    p = tmp_path / "b.json"
    p.write_text(content)
    with pytest.raises(StoreError, match=fragment):
        read_baseline(p)
    code, _, err = cli("check", suite, "--baseline", p, "--current", p)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_a_baseline_of_another_suite_is_refused_not_passed(cli, tmp_path, suite):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": 2, "kind": "resbench-baseline", "suite": "x", "env": {},
                                 "entries": [{"id": "resnet152", "params": 1, "macs": 1}]}))
    code, out, err = cli("check", suite, "--baseline", other)
    assert code == 2 and "shares no entry" in err and len(err.strip().splitlines()) == 1


def test_the_p_value_is_scipys_pooled_t_test_on_log_run_medians():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(3)
    for _ in range(20):
        base, cur = np.exp(rng.normal(0, 0.05, 5)), np.exp(rng.normal(rng.normal(0, 0.05), 0.05, 4))
        tv = timing_verdict(list(base), list(cur))
        side = "greater" if tv.ratio >= 1 else "less"
        assert tv.p_value == pytest.approx(ttest_ind(np.log(cur), np.log(base), alternative=side).pvalue, rel=1e-9)
