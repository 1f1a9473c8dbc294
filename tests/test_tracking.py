"""`--log mlflow[=URI]` and `--log tensorboard[=DIR]`, read back with each tool's own reader."""

import json
import os
import sqlite3

import pytest

from resbench.errors import UsageError

from tests.conftest import assert_one_line_usage_error

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32", "--batch-size", "32",
       "--threads", "1"]


def _runs(uri):
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_names=["resbench"])
    finally:
        mlflow.set_tracking_uri(None)


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}, acc


def test_train_logs_epochs_params_environment_and_tables(cli, tmp_path):
    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    code, out, err = cli("train", "cifar-resnet8", *SYN, "--epochs", "3", "--results-dir", tmp_path / "r",
                         "--log", f"mlflow={uri}", "--log", f"tensorboard={tmp_path / 'tb'}", "--json")
    assert code == 0, err
    result = json.loads(out)
    runs = _runs(uri)
    assert len(runs) == 1 and runs.status[0] == "FINISHED"
    run = runs.iloc[0]
    assert run["params.spec"] == "cifar-resnet8" and run["params.train.epochs"] == "3"
    assert run["params.net.block"] == "basic" and run["tags.torch"] == result["env"]["torch"]
    client = mlflow.MlflowClient(uri)
    history = client.get_metric_history(run.run_id, "test_error")
    assert [(m.step, round(m.value, 6)) for m in history] == [(h["epoch"], round(h["test_error"], 6))
                                                              for h in result["history"]]
    assert {"train.csv", "train.md"} <= {a.path for a in client.list_artifacts(run.run_id)}
    assert run.artifact_uri.startswith((tmp_path / "mlflow-artifacts").as_uri())  # beside the store, not in ./mlruns
    (folder,) = (tmp_path / "tb").iterdir()
    scalars, acc = _scalars(folder)
    assert [s for s, _ in scalars["test_error"]] == [1, 2, 3]
    assert abs(scalars["final_test_error"][0][1] - result["final_test_error"]) < 1e-6
    assert "params" in acc.Tags()["tensors"] or acc.Tags().get("tensors")  # add_text: the params table


def test_compare_arms_are_child_runs_of_one_parent(cli, tmp_path, monkeypatch):
    store = tmp_path / "mlruns"  # MLflow's file store: a folder (MLflow 3 keeps it behind a switch)
    code, out, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--epochs", "1", "--results-dir", tmp_path / "r",
                         "--log", f"mlflow={store}")
    if code:  # this MLflow refuses folder stores by default: one line saying what to do
        assert_one_line_usage_error(code, err)
        assert "MLFLOW_ALLOW_FILE_STORE" in err and "sqlite:///" in err
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8", *SYN, "--epochs", "2", "--seeds", "2",
                         "--results-dir", tmp_path / "r", "--log", f"mlflow={store}", "--json")
    assert code == 0, err
    runs = _runs(str(store))
    parent = runs[runs["tags.mlflow.runName"] == "compare"].iloc[:1]  # the newest (search_runs: newest first)
    assert parent["params.seeds"].iloc[0] == "2"
    children = runs[runs["tags.mlflow.parentRunId"] == parent.run_id.iloc[0]]
    assert sorted(children["tags.mlflow.runName"]) == ["cifar-plain8", "cifar-resnet8"]
    client = mlflow.MlflowClient(str(store))
    child = children[children["tags.mlflow.runName"] == "cifar-plain8"].run_id.iloc[0]
    assert [m.step for m in client.get_metric_history(child, "seed1/test_error")] == [1, 2]
    rows = {r["arm"]: r for r in json.loads(out)}
    got = children.set_index("tags.mlflow.runName")["metrics.test_error_mean"]
    assert abs(got["cifar-plain8"] - rows["cifar-plain8"]["test_error_mean"]) < 1e-9
    assert {"compare.csv", "compare.md"} <= {a.path for a in client.list_artifacts(parent.run_id.iloc[0])}


def test_profile_and_degradation_log_to_tensorboard(cli, tmp_path):
    code, out, err = cli("profile", "cifar-resnet8", "--device", "cpu", "-b", "1,2", "--iters", "2", "--warmup", "0",
                         "--min-time", "0", "--no-compare-layouts", "--no-save", "--threads", "1",
                         "--log", f"tensorboard={tmp_path / 'tb'}", "--trace", tmp_path / "t.json")
    assert code == 0, err
    (folder,) = (tmp_path / "tb").iterdir()
    scalars, _ = _scalars(folder)
    assert [s for s, _ in scalars["latency_median_ms"]] == [1, 2]  # the batch size is the step
    code, out, err = cli("degradation", "--depths", "8", *SYN, "--epochs", "1", "--results-dir", tmp_path / "r",
                         "--plot", tmp_path / "d.png", "--log", f"tensorboard={tmp_path / 'tb2'}")
    assert code == 0, err
    (parent,) = (tmp_path / "tb2").iterdir()
    assert sorted(p.name for p in parent.iterdir() if p.is_dir()) == ["cifar-plain8", "cifar-resnet8"]
    _, acc = _scalars(parent)
    assert acc.Tags()["images"]  # the figure


def test_search_logs_trials_and_hypervolume(cli, tmp_path):
    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    code, out, err = cli("search", "--dataset", "synthetic", "--subset", "64", "--test-subset", "32", "--batch-size", "32",
                         "--epochs", "1", "--widths", "4", "--max-blocks-per-stage", "2", "--blocks", "basic",
                         "--threads", "1", "--trials", "3", "--no-pruning", "--no-references",
                         "--results-dir", tmp_path / "r", "--log", f"mlflow={uri}", "--json")
    assert code == 0, err
    report = json.loads(out)
    runs = _runs(uri)
    parent = runs[runs["tags.mlflow.runName"].str.startswith("search ")]
    assert len(parent) == 1
    trials = runs[runs["tags.mlflow.parentRunId"] == parent.run_id.iloc[0]]
    assert len(trials) == sum(1 for t in report["trials"] if t["status"] != "infeasible")
    if report["hypervolume"]["value"] is not None:
        assert parent["metrics.hypervolume"].iloc[0] == pytest.approx(report["hypervolume"]["history"][-1]["hypervolume"])


@pytest.mark.parametrize("target, message", [
    ("wandb", "unknown tracker"),
    ("mlflow=", "nothing after '='"),
    ("mlflow=ftp://host/x", "unknown scheme 'ftp'"),
    ("mlflow=http://", "no host"),
    ("mlflow=sqlite://", "no database file"),
    ("tensorboard=http://host/x", "not a URI"),
    ("mlflow=http://127.0.0.1:9", "cannot be reached"),
    ("mlflow=http://[::1", "not a URI"),
    ("mlflow=sqlite:///{tmp}", "is a folder; give a database file"),
    ("mlflow=sqlite:///{tmp}/out.csv", "also one of this command's output files"),
    ("tensorboard={tmp}/out.csv", "also one of this command's output files"),
])
def test_bad_or_unreachable_tracker_refused_before_training(cli, tmp_path, target, message):
    code, out, err = cli("train", "cifar-resnet8", *SYN, "--epochs", "1", "--results-dir", tmp_path / "r",
                         "--log", target.format(tmp=tmp_path), "--csv", tmp_path / "out.csv")
    assert_one_line_usage_error(code, err)
    assert message in err and "--log" in err
    assert not list((tmp_path / "r").rglob("*.json"))  # nothing trained


def test_a_bad_tracking_uri_in_the_environment_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "ftp://host/x")
    code, out, err = cli("train", "cifar-resnet8", *SYN, "--epochs", "1", "--results-dir", tmp_path / "r", "--log", "mlflow")
    assert_one_line_usage_error(code, err)
    assert "MLFLOW_TRACKING_URI=ftp://host/x: unknown scheme" in err


def test_the_same_tracker_twice_is_refused(cli, tmp_path):
    code, out, err = cli("profile", "cifar-resnet8", "--no-save", "--log", "mlflow", "--log", "mlflow=x")
    assert_one_line_usage_error(code, err)
    assert "given twice" in err


def test_missing_package_is_one_line(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    code, out, err = cli("train", "cifar-resnet8", *SYN, "--epochs", "1", "--results-dir", tmp_path / "r", "--log", "mlflow")
    assert_one_line_usage_error(code, err)
    assert "pip install" in err and not (tmp_path / "r" / "records").exists()


def test_a_tracker_failing_mid_run_loses_nothing(cli, tmp_path, monkeypatch):
    from resbench import tracking

    def broken(self, values, step):
        raise ConnectionError("server went away")

    monkeypatch.setattr(tracking._MlflowSink, "metrics", broken)
    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    code, out, err = cli("train", "cifar-resnet8", *SYN, "--epochs", "2", "--results-dir", tmp_path / "r",
                         "--log", f"mlflow={uri}", "--log", f"tensorboard={tmp_path / 'tb'}", "--json")
    assert code == 0, err
    assert err.count("mlflow: logging metrics failed (ConnectionError: server went away)") == 1
    assert json.loads(out)["epochs"] == 2 and len(list((tmp_path / "r" / "records" / "train").glob("*.json"))) == 1
    (folder,) = (tmp_path / "tb").iterdir()
    scalars, _ = _scalars(folder)
    assert [s for s, _ in scalars["test_error"]] == [1, 2]  # the other tracker went on

# Trackers change nothing when they refuse: the MLflow store is checked (and probed
# writable) before MLflow creates anything; another tool's database is never given
# MLflow's tables; three-slash SQLite paths are relative; a blank MLFLOW_TRACKING_URI is
# unset; a folder store works or is refused in one line; a refused store leaves nothing.


def _open(where, results="res"):
    from resbench.tracking import Tracker, TrackerTarget

    t = Tracker([TrackerTarget("mlflow", where)], results)
    with t.run("probe", params={"a": 1}) as run:
        run.metrics({"m": 1.0}, 0)
    return t


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    return tmp_path


def test_three_slashes_are_relative_to_the_current_folder(here):
    t = _open("sqlite:///runs/mlflow.db")
    assert t.mlflow_uri == f"sqlite:///{here / 'runs' / 'mlflow.db'}"
    assert sorted(os.listdir(here / "runs")) == ["mlflow-artifacts", "mlflow.db"]


def test_another_tools_database_is_refused_and_left_unchanged(here):
    con = sqlite3.connect(here / "optuna.db")
    con.execute("CREATE TABLE studies (study_id INTEGER)")
    con.commit()
    con.close()
    before = (here / "optuna.db").read_bytes()
    with pytest.raises(UsageError, match="holds another tool's tables \\(studies\\)"):
        _open("sqlite:///optuna.db")
    assert (here / "optuna.db").read_bytes() == before and sorted(os.listdir(here)) == ["optuna.db"]


def test_a_file_that_is_not_a_database_is_refused(here):
    (here / "notes.db").write_text("my notes")
    with pytest.raises(UsageError, match="is not a SQLite database"):
        _open("sqlite:///notes.db")
    assert (here / "notes.db").read_text() == "my notes"


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_blank_tracking_uri_in_the_environment_is_unset(here, monkeypatch, blank):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", blank)
    t = _open(None)
    assert t.mlflow_uri == f"sqlite:///{here / 'res' / 'mlflow.db'}" and sorted(os.listdir(here)) == ["res"]


def test_a_folder_store_without_the_switch_is_refused_and_leaves_nothing(here):
    with pytest.raises(UsageError, match="MLFLOW_ALLOW_FILE_STORE=true"):
        _open("fstore")
    assert os.listdir(here) == []


def test_a_folder_store_with_the_switch_works(here, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    _open("fstore")
    _open("fstore")  # and again: MLflow reads back every folder in its store
    assert os.listdir(here) == ["fstore"]


def test_a_refused_database_leaves_no_journal_and_no_artifact_folder(here, monkeypatch):
    """A full device: MLflow creates the database and its journal, then fails."""
    from resbench import tracking

    def full(uri, artifacts, local):
        local.write_bytes(b"")
        (local.parent / "m.db-journal").write_bytes(b"j")
        raise UsageError("mlflow: the store cannot be reached or read (database or disk is full)")

    monkeypatch.setattr(tracking, "_reach_mlflow", full)
    with pytest.raises(UsageError, match="disk is full"):
        _open("sqlite:///sub/m.db")
    assert os.listdir(here) == []


def test_the_cli_refuses_a_foreign_database_before_training(cli, here, monkeypatch):
    from resbench.train import engine

    con = sqlite3.connect(here / "study.db")
    con.execute("CREATE TABLE trials (trial_id INTEGER)")
    con.commit()
    con.close()
    monkeypatch.setattr(engine, "train_members", lambda *a, **k: pytest.fail("trained"))
    code, out, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu", "--epochs", "1",
                         "--no-save", "--log", "mlflow=sqlite:///study.db")
    assert code == 2 and "another tool's tables" in err and len(err.strip().splitlines()) == 1
