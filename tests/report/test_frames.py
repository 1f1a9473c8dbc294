"""Records as DataFrames (resbench.report.frames): flattening, one row per configuration, filters."""

import pytest

from resbench.errors import ConfigError, UsageError
from resbench.report.frames import query_records, records_frame, scatter_points
from resbench.store import Store

TRAIN = {"spec": "x", "params": 1, "macs": 1, "epochs": 1, "final_train_error": 0.3, "final_test_error": 0.3,
         "diverged": False, "diverged_at": None, "seconds": 1.0, "images_per_second": 1.0, "data_fraction": 0.0,
         "test_split": "test", "effective_batch_size": 8, "lr": 0.1,
         "history": [{"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_error": 0.3, "test_error": 0.3, "seconds": 1.0,
                      "step_seconds": 0.5}]}


def _store(tmp_path) -> Store:
    s = Store(tmp_path)
    s.put("train", config={"spec": "resnet20", "seed": 0}, result={**TRAIN, "final_test_error": 0.5}, env={"torch": "2.x"})
    s.put("train", config={"spec": "resnet20", "seed": 0}, result=TRAIN, env={"torch": "2.x"})  # the same cell again
    s.put("train", config={"spec": "plain20", "seed": 0}, result={**TRAIN, "final_test_error": 0.4},
          env={"torch": ["not", "text"], "git_commit": "0123456789abcdef"})
    return s


def test_each_record_is_a_row_of_its_config_and_scalar_results(tmp_path):
    df = records_frame(_store(tmp_path).load("train")[0])
    assert len(df) == 3 and set(df["spec"]) == {"resnet20", "plain20"}
    row = df[df["spec"] == "plain20"].iloc[0]
    assert row["final_test_error"] == 0.4 and "history" not in df.columns  # lists stay out of the table
    assert row["torch"] == '["not", "text"]' and row["git_commit"] == "0123456789"  # foreign types shown as text


def test_a_configuration_run_twice_is_shown_once_newest_first_and_filters_select(tmp_path):
    _store(tmp_path)
    q = query_records(tmp_path, "train", [])
    assert len(q.frame) == 2 and q.duplicates == 1
    assert q.frame[q.frame["spec"] == "resnet20"]["final_test_error"].item() == 0.3  # the newer run
    assert list(query_records(tmp_path, "train", ["spec=plain20"]).frame["spec"]) == ["plain20"]
    assert len(query_records(tmp_path, "train", [], dedupe=False).frame) == 3
    with pytest.raises(ConfigError, match="takes key=value"):
        query_records(tmp_path, "train", ["spec"])
    with pytest.raises(ConfigError, match="'colour' names no column"):
        query_records(tmp_path, "train", ["colour=red"])


def test_scatter_points_need_numeric_columns_and_records(tmp_path):
    with pytest.raises(UsageError, match="no records under"):
        scatter_points(tmp_path / "none", None, [], "params", "final_test_error", None)
    _store(tmp_path)
    points = scatter_points(tmp_path, "train", [], "seed", "final_test_error", "spec")
    assert sorted(points["final_test_error"]) == [0.3, 0.4]
    with pytest.raises(ConfigError, match="'nope' is no column"):
        scatter_points(tmp_path, "train", [], "nope", "final_test_error", None)
