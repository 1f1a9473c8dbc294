"""The fidelity test's statistics (benchmarks/fidelity_tost.py): TOST against scipy, its power, the report."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

_SPEC = importlib.util.spec_from_file_location("fidelity_tost", Path(__file__).parents[2] / "benchmarks" / "fidelity_tost.py")
ft = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ft)


def test_tost_is_two_one_sided_t_tests():
    d = np.random.default_rng(1).normal(0.3, 0.8, 10)
    t = ft.tost(d, 1.0)
    low = stats.ttest_1samp(d, -1.0, alternative="greater").pvalue
    high = stats.ttest_1samp(d, 1.0, alternative="less").pvalue
    assert t["p_tost"] == pytest.approx(max(low, high), rel=1e-9)
    assert t["equivalent"] == (t["p_tost"] < 0.05)  # the 90 % interval inside the margin is the same decision


def test_the_power_grows_with_pairs_and_matches_the_issues_estimate():
    assert ft.tost_power(1.2, 14, 1.0) >= 0.8 > ft.tost_power(1.2, 8, 1.0)
    assert ft.seeds_for_power(1.2, 1.0) == 14
    assert ft.tost_power(0.84, 2, 1.0) < 0.2  # the committed 2-seed check could not have shown equivalence


def test_the_report_states_margin_interval_power_and_verdict(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(6):
        base = 0.10 + rng.normal(0, 0.005)
        doc = {"spec": "resnet20", "final_test_error": base + rng.normal(0, 0.002)}
        ref = {"final_test_error": base, "arch": "resnet20", "shortcut": "A", "schedule": "step", "epochs": 6,
               "subset": None, "torch": "2.x", "torchvision": "0.x"}
        (tmp_path / f"resbench-s{seed}.json").write_text(json.dumps(doc))
        (tmp_path / f"reference-s{seed}.json").write_text(json.dumps(ref))
    ft.main(["report", str(tmp_path), str(tmp_path / "out" / "tost")])
    text = (tmp_path / "out" / "tost.txt").read_text()
    assert "pairs (same seed on both sides): 6" in text and "+-1 points" in text and "verdict: equivalent" in text
    assert len((tmp_path / "out" / "tost.csv").read_text().splitlines()) == 7
    assert (tmp_path / "out" / "tost.png").stat().st_size > 0 and "bias:" not in text


def test_the_report_names_a_bias_its_interval_finds(tmp_path):
    """resbench 0.6 points better on every seed: not equivalent at +-0.5, and the bias is named with its sign."""
    rng = np.random.default_rng(1)
    for seed in range(8):
        base = 0.24 + rng.normal(0, 0.005)
        ref = {"final_test_error": base, "arch": "resnet20", "shortcut": "A", "schedule": "step", "epochs": 6,
               "subset": None, "torch": "2.x", "torchvision": "0.x", "device": "cuda (NVIDIA H200)", "machine": "Xeon",
               "cores": 16}
        (tmp_path / f"resbench-s{seed}.json").write_text(json.dumps({"spec": "resnet20", "final_test_error": base - 0.006
                                                                                 + rng.normal(0, 0.001)}))
        (tmp_path / f"reference-s{seed}.json").write_text(json.dumps(ref))
    ft.main(["report", str(tmp_path), str(tmp_path / "tost"), "--margin", "0.5"])
    text = (tmp_path / "tost.txt").read_text()
    assert "verdict: not shown equivalent" in text and "0.5" in text.split("bias:")[1] and "lower" in text
    assert "Xeon, 16 cores, cuda (NVIDIA H200)" in text


def test_run_takes_pairs_in_order_resumes_and_stops_at_a_failure(tmp_path, monkeypatch):
    started, lock = [], __import__("threading").Lock()

    def fake_run(cmd, **kw):  # both sides: record the run, write its result
        out = cmd[cmd.index("--out") + 1] if "--out" in cmd else None
        seed = int(cmd[cmd.index("--seed") + 1])
        side = "reference" if out else "resbench"
        with lock:
            started.append((side, seed, "--checkpoint" in cmd))
        failed = seed == 3 and side == "reference"
        __import__("time").sleep(0 if failed else 0.3)  # the other lane is mid-run when the failure comes
        if out and not failed:
            Path(out).write_text(json.dumps({"final_test_error": 0.1, "epochs": 6, "schedule": "step", "subset": None}))
        return __import__("types").SimpleNamespace(returncode=int(failed), stdout='{"final_test_error": 0.1}',
                                                   stderr="boom" if failed else "")

    monkeypatch.setattr(ft.subprocess, "run", fake_run)
    (tmp_path / "reference-s0.json").write_text(json.dumps({"final_test_error": 0.1, "epochs": 6, "schedule": "step",
                                                             "subset": None}))  # finished before: kept
    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)  # only checked for: the runs are faked
    with pytest.raises(SystemExit, match="boom"):
        ft.main(["run", str(data), str(tmp_path), "--seeds", "8"])
    seeds = [s for _, s, _ in started]
    # pair order, up to two lanes starting at once (their records may swap neighbours)
    assert 0 in seeds[:2] and all(abs(x - y) <= 1 for x, y in zip(seeds, sorted(seeds)))
    assert ("reference", 0, True) not in started
    assert all(ck for side, _, ck in started if side == "reference")  # the reference checkpoints every epoch
    assert max(seeds) <= 4  # the failure stopped the queue: seeds 5-7 never started
    assert ft.main(["run", str(data), str(tmp_path), "--seeds", "3"]) is None  # finished runs are not rerun
    assert len([s for s in started if s[1] < 3]) == 5


def test_a_finished_reference_run_of_another_recipe_is_refused(tmp_path, capsys):
    """A --pad-fill mean rerun into an OUTDIR of black-border runs must not pair the old runs."""
    import argparse

    done = tmp_path / "reference-s0.json"
    done.write_text(json.dumps({"epochs": 6, "schedule": "step", "subset": None}))  # from before --pad-fill: black
    asked = argparse.Namespace(epochs=6, schedule="step", subset=None, pad_fill="black")
    ft._same_run(done, asked)  # the same run: reused
    for change in ({"pad_fill": "mean"}, {"epochs": 13}):
        with pytest.raises(SystemExit) as e:
            ft._same_run(done, argparse.Namespace(**{**vars(asked), **change}))
        assert e.value.code == 2 and "another run" in capsys.readouterr().err


def test_pairs_from_two_machines_are_named_with_their_counts(tmp_path):
    """Pairs trained on a GPU and on a CPU: the report's machine line and CSV name each."""
    for seed in range(5):
        where = {"device": "cuda (NVIDIA H200)", "machine": "Xeon", "cores": 16} if seed < 3 else {"device": "cpu", "machine": "EPYC", "cores": 2}
        ref = {"final_test_error": 0.2 + 0.001 * seed, "arch": "resnet20", "shortcut": "A", "schedule": "step", "epochs": 6,
               "subset": None, "torch": "2.x", "torchvision": "0.x", **where}
        (tmp_path / f"resbench-s{seed}.json").write_text(json.dumps({"spec": "resnet20", "final_test_error": 0.2}))
        (tmp_path / f"reference-s{seed}.json").write_text(json.dumps(ref))
    ft.main(["report", str(tmp_path), str(tmp_path / "tost")])
    machine = next(x for x in (tmp_path / "tost.txt").read_text().splitlines() if x.startswith("machine:"))
    assert "Xeon, 16 cores, cuda (NVIDIA H200); torch 2.x, torchvision 0.x (3 pairs)" in machine
    assert "EPYC, 2 cores, cpu; torch 2.x, torchvision 0.x (2 pairs)" in machine
    csv = (tmp_path / "tost.csv").read_text().splitlines()
    assert csv[0].endswith(",machine") and "EPYC" in csv[4] and "Xeon" in csv[1]


def test_contrast_pairs_one_sides_runs_across_two_folders_by_seed(tmp_path, capsys):
    """The reference with a black border against the same seeds with the mean border: a paired t
    interval equal to scipy's, over the seeds both folders finished."""
    black, mean = tmp_path / "black", tmp_path / "mean"
    black.mkdir(), mean.mkdir()
    rng = np.random.default_rng(3)
    a, b = 24 + rng.normal(0, 1, 6), None
    b = a - 0.9 + rng.normal(0, 0.5, 6)
    for seed in range(6):
        (black / f"reference-s{seed}.json").write_text(json.dumps({"final_test_error": a[seed] / 100}))
        (mean / f"reference-s{seed}.json").write_text(json.dumps({"final_test_error": b[seed] / 100}))
    (black / "reference-s9.json").write_text(json.dumps({"final_test_error": 0.5}))  # unpaired: left out
    ft.main(["contrast", str(black), str(mean)])
    out = capsys.readouterr().out
    lo, hi = stats.ttest_1samp(a - b, 0.0).confidence_interval(0.95)
    assert "seeds 0-5 (6)" in out and f"mean difference {np.mean(a - b):+.2f}" in out and f"[{lo:+.2f}, {hi:+.2f}]" in out
    for argv, said in ((["contrast", str(black), str(mean), "--side", "resbench"], "share 0 finished resbench run(s)"),
                       (["contrast", str(black), str(tmp_path / "nowhere")], "nowhere is not a folder"),
                       (["report", str(tmp_path / "nowhere"), str(tmp_path / "x")], "nowhere is not a folder"),
                       (["report", str(mean), str(tmp_path / "x")], "holds 0 finished pair(s)")):
        with pytest.raises(SystemExit) as stop:
            ft.main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and said in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv,says", [
    (["seeds", "--sd", "-1"], "--sd must be"), (["seeds", "--sd", "1", "--margin", "nan"], "--margin must be"),
    (["report", "{d}", "{d}/r", "--margin", "0"], "--margin must be"),
    (["report", "{d}", "/proc/none/r"], "cannot make /proc/none"),
    (["report", "{d}", "{d}/taken"], "is a folder, not a file"),
    (["report", "{flat}", "{d}/r"], "no spread"),
    (["report", "{bad}", "{d}/r"], "is not a finished run"),
    (["run", "{d}/nodata", "{d}/out"], "has no cifar-10-batches-py"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, says):
    (tmp_path / "taken.png").mkdir()
    for name, errs in (("flat", [(0.2, 0.21)] * 3), ("bad", [(0.2, 0.21)] * 3)):
        folder = tmp_path / name
        folder.mkdir()
        for seed, (o, r) in enumerate(errs):
            (folder / f"resbench-s{seed}.json").write_text(json.dumps({"final_test_error": o}))
            (folder / f"reference-s{seed}.json").write_text(json.dumps({"final_test_error": r}))
    (tmp_path / "bad" / "resbench-sX.json").write_text("{}")
    with pytest.raises(SystemExit) as e:
        ft.main([a.format(d=tmp_path, flat=tmp_path / "flat", bad=tmp_path / "bad") for a in argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err and len(err.strip().splitlines()) == 1
