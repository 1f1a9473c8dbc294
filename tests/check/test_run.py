"""Running a suite (resbench.check.run): `baseline` and `check` measuring real (tiny) entries
in fresh processes, `--against REF` measuring both codes in one job, the deterministic counters."""

import json
import shutil
from pathlib import Path


def test_measured_suite_round_trip(cli, tmp_path):
    """A real (tiny) suite: baseline, then check against it: params/MACs same, timing compared."""
    p = tmp_path / "s.toml"
    p.write_text('[suite]\ntiming = "warn"\niters = 5\nwarmup = 1\n[[entry]]\nspec = "cifar-resnet8"\nbatch_sizes = [2]\n'
                 'rounds = 2\n[[entry]]\nspec = "resnet18"\ntiming = false\n')
    base = tmp_path / "b.json"
    code, _, err = cli("baseline", p, "--out", base)
    assert code == 0, err
    stored = json.loads(base.read_text())
    timed = next(e for e in stored["entries"] if e["timing"])
    assert stored["schema"] == 2 and len(timed["timing"]["runs"]) == 2  # every run stored (fresh processes)
    # the share of the cores others used, measured in the entry's own processes: one warning exactly when over 10 %
    busy_line = "warning: the machine was busy"
    recorded = timed["timing"]["contention"]
    assert 0 <= recorded <= 1 and err.count(busy_line) == (recorded > 0.1)
    code, out, err = cli("check", p, "--baseline", base, "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert {(r["metric"], r["verdict"]) for r in rows if r["entry"] == "resnet18"} == {("params", "same"), ("macs", "same")}
    latency = [r for r in rows if r["metric"] == "latency"]
    assert latency and all(0 <= r["contention"] <= 1 for r in latency)
    assert err.count(busy_line) == (max(r["contention"] for r in latency) > 0.1)


def test_against_a_folder_measures_both_codes_in_one_job(cli, tmp_path):
    """REF = a copy of resbench whose CIFAR nets are narrower: the same-job check must see
    the params change (so the REF side really ran REF's code) and fail with exit 1."""
    import shutil
    from pathlib import Path

    import resbench

    ref = tmp_path / "ref"
    shutil.copytree(Path(resbench.__file__).parent, ref / "resbench")
    spec_py = ref / "resbench" / "spec.py"
    spec_py.write_text(spec_py.read_text().replace('"cifar": {"width": 16', '"cifar": {"width": 8'))
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "t"\n[[entry]]\nspec = "cifar-resnet8"\ntiming = false\n')
    code, out, err = cli("check", suite, "--against", ref, "--rounds", "1", "--json")
    assert code == 1, err
    rows = {r["metric"]: r for r in json.loads(out)["rows"]}
    assert rows["params"]["verdict"] == "changed" and rows["params"]["current"] == 75_290 and rows["params"]["baseline"] < 75_290


COUNTED = '[suite]\nname = "c"\ntiming = "off"\ncounters = ["ops", "memory"]\n[[entry]]\nspec = "cifar-resnet8"\nbatch_size = 2\n'


def test_check_with_counters_passes_then_fails_on_an_extra_op(cli, tmp_path):
    """Baseline, an A/A check (exit 0), then the patched copy (its blocks add one op)
    measured against the clean baseline: exit 1, naming the op; against a baseline without
    counters, each is new. (That --against runs REF's
    own code is held by test_against_a_folder_measures_both_codes_in_one_job.)"""
    import resbench

    suite = tmp_path / "s.toml"
    suite.write_text(COUNTED)
    base = tmp_path / "b.json"
    assert cli("baseline", suite, "--out", base)[0] == 0
    stored = json.loads(base.read_text())["entries"][0]["counters"]
    assert stored["ops"]["count"] > 0 and stored["memory"]["peak_bytes"] > 0
    code, out, err = cli("check", suite, "--baseline", base, "--json")
    assert code == 0, err
    entry = json.loads(out)["entries"][0]
    assert entry["counters"]["ops"]["verdict"] == "same" and entry["counters"]["memory"]["verdict"] == "same"
    patched = tmp_path / "patched"
    shutil.copytree(Path(resbench.__file__).parent, patched / "resbench")
    blocks = patched / "resbench" / "model" / "blocks.py"
    text = blocks.read_text()
    blocks.write_text(text.replace("        return self.relu(out)\n", "        return self.relu(out).mul(1.0)\n", 1))
    # and the patched code checked against the clean baseline: a regression, exit 1, named
    code, out, err = cli("check", suite, "--baseline", base, "--current", _measure_with(patched, suite, tmp_path), "--json")
    assert code == 1, err
    ops = json.loads(out)["entries"][0]["counters"]["ops"]
    assert ops["verdict"] == "regressed" and "+1 aten::mul (2,16,32,32)float32 in layer1.0" in ops["differences"]
    # a baseline made before counters were asked for: each counter is new, and nothing fails
    older = json.loads(base.read_text())
    del older["entries"][0]["counters"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    code, out, err = cli("check", suite, "--baseline", tmp_path / "older.json", "--current", base, "--json")
    assert code == 0, err
    assert {c["verdict"] for c in json.loads(out)["entries"][0]["counters"].values()} == {"new"}


def _measure_with(root: Path, suite: Path, tmp_path: Path) -> Path:
    """A baseline file measured by the resbench in ``root`` (a fresh process)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "current.json"
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, "-m", "resbench", "baseline", str(suite), "--out", str(out)], cwd=root, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_missing_valgrind_is_one_line_and_exit_2(cli, tmp_path, monkeypatch):
    import resbench.measure.counters as counters

    monkeypatch.setattr(counters.shutil, "which", lambda name: None)
    suite = tmp_path / "s.toml"
    suite.write_text(COUNTED.replace('["ops", "memory"]', '["instructions"]'))
    code, out, err = cli("check", suite, "--baseline", tmp_path / "none.json")
    assert code == 2 and "apt-get install valgrind" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
