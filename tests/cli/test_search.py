"""`resbench search` on synthetic data: the table, CSV and figure, a space file, bad input, candidates that cannot fit."""

import json

import pytest

from resbench.spec import parse_spec

# --- the space and its constraints ------------------------------------------------------


# --- the runner, with a fake trainer -------------------------------------------------------


TINY = ["--dataset", "synthetic", "--subset", "100", "--test-subset", "50", "--batch-size", "50", "--epochs", "3",
        "--widths", "4", "--max-blocks-per-stage", "2", "--blocks", "basic", "--threads", "1"]


def test_cli_search_on_synthetic_data(cli, tmp_path):
    out_csv, out_png = tmp_path / "t.csv", tmp_path / "f.png"
    args = ["search", *TINY, "--trials", "4", "--results-dir", tmp_path / "r", "--csv", out_csv, "--plot", out_png]
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["pareto"] and {"spec", "params", "macs", "latency_ms", "test_error"} <= set(d["pareto"][0])
    assert all(p["fvcore_confirmed"] for p in d["pareto"])
    assert sum(n for k, n in d["counts"].items() if k != "infeasible") >= 4
    assert out_csv.read_text().startswith("number,spec") and out_png.stat().st_size > 10_000
    records = list((tmp_path / "r" / "records" / "train").glob("*.json"))
    assert records
    code, out, err = cli(*args)  # the same command continues (here: finds) the study: nothing new trained
    assert code == 0 and "Pareto front" in out
    assert len(list((tmp_path / "r" / "records" / "train").glob("*.json"))) == len(records)
    code, out, _ = cli("results", "--results-dir", tmp_path / "r", "--json")
    assert code == 0 and len(json.loads(out)) == len(records)
    code, out, _ = cli("plot", tmp_path / "s.png", "--results-dir", tmp_path / "r", "--filter", f"study={d['study']}", "--json")
    assert code == 0 and len(json.loads(out)["points"]) == len(records) and (tmp_path / "s.png").stat().st_size > 5000
    code, _, err = cli("plot", tmp_path / "s.png", "--results-dir", tmp_path / "r", "--y", "colour")
    assert code == 2 and "--y 'colour' is no column of the records" in err


@pytest.mark.parametrize("extra, message", [
    (["--max-macs", "1000"], "no candidate satisfies --max-macs"),
    (["--objectives", "macs"], "--objectives starts with error"),
    (["--stride-on", "1x1"], "no bottleneck"),
    (["--max-memory", "1G"], "needs --device cuda"),
    (["--storage", "sqlite:////nonexistent-dir/x/search.db"], "cannot open the study storage"),
    (["--min-epochs", "3"], "--min-epochs 3 leaves nothing to prune"),
    (["--space", "missing.toml"], "does not exist"),
])
def test_cli_search_bad_input_is_one_line_exit_2(cli, tmp_path, extra, message):
    code, out, err = cli("search", *TINY, "--results-dir", tmp_path / "r", *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) <= 2 and "Traceback" not in err


def test_cli_space_file(cli, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('blocks = ["basic"]\nwidths = [4]\nmax_blocks_per_stage = 2\nshortcuts = ["B"]\nmax_macs = "2M"\n')
    code, out, err = cli("search", *TINY[:10], "--threads", "1", "--space", space, "--trials", "2", "--no-pruning",
                         "--no-references", "--results-dir", tmp_path / "r", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["space"]["shortcuts"] == ["B"] and d["constraints"]["max_macs"] == 2_000_000
    assert all(t["macs"] <= 2_000_000 and ":shortcut=B" in t["spec"] for t in d["trials"])
    space.write_text("colour = 3\n")
    code, _, err = cli("search", *TINY, "--space", space, "--results-dir", tmp_path / "r")
    assert code == 2 and "unknown key(s) colour" in err


def test_a_candidate_that_cannot_fit_here_is_infeasible_not_the_end(cli, tmp_path, monkeypatch):
    """Memory that fits only the smallest nets: the big ones are skipped as infeasible, the
    search goes on, and Optuna's traceback for them never reaches the user."""
    from resbench import limits

    small = limits.estimate_bytes(parse_spec("cifar-resnet14:width=4"), 50, True)
    monkeypatch.setattr(limits, "machine_memory", lambda device=None: (int(sum(small) * 1.5), "this machine has"))
    code, out, err = cli("search", *TINY, "--epochs", "1", "--trials", "2", "--widths", "4,64", "--sampler-seed", "0",
                         "--results-dir", tmp_path / "r", "--json")
    assert code == 0, err
    trials = json.loads(out)["trials"]
    infeasible = [t for t in trials if t["status"] == "infeasible"]
    assert infeasible and all("does not fit here" in t["why"] for t in infeasible)
    assert any(t["status"] == "trained" for t in trials)
    assert "Traceback" not in err and "failed" not in err


def test_a_bad_storage_is_the_only_line(cli, tmp_path):
    """No note about the search (pruning off at one epoch) before the storage is known to open."""
    code, _, err = cli("search", *TINY, "--epochs", "1", "--storage", "foo://bar", "--results-dir", tmp_path / "r")
    assert code == 2 and err.strip().splitlines() == [l for l in err.strip().splitlines() if "cannot open the study storage" in l]
