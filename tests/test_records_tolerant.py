"""A damaged record hides nothing: it is skipped with one warning naming it, and every
good record beside it is still listed and reused."""

import copy
import json

import pytest

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32", "--epochs", "1"]


def _damage(rec: dict, how: str):
    r = copy.deepcopy(rec)
    if how == "created-number":
        r["created"] = 5
    elif how == "key-list":
        r["key"] = [1]
    elif how == "spec-number":
        r["config"]["spec"] = 7
    elif how == "result-empty":
        r["result"] = {}
    elif how == "history-text":
        r["result"]["history"] = "oops"
    elif how == "error-text":
        r["result"]["final_test_error"] = "low"
    elif how == "history-value-text":
        r["result"]["history"][0]["test_error"] = "x"
    elif how == "schema-future":
        r["schema"] = 99
    elif how == "schema-text":
        r["schema"] = "1"
    elif how == "env-list":
        r["env"] = []
    elif how.startswith("result:"):  # a number out of its range: result:field=value
        field, value = how[len("result:"):].split("=")
        r["result"][field] = json.loads(value)
    return r


DAMAGE = ["created-number", "key-list", "spec-number", "result-empty", "history-text", "error-text",
          "history-value-text", "schema-future", "schema-text", "env-list",
          # counts are positive, times positive, shares in [0, 1]
          "result:contention=5", "result:contention=-1", "result:contention=\"x\"", "result:world_size=0", "result:packed=0",
          "result:data_official=1",
          "result:effective_batch_size=0", "result:params=0", "result:seconds=0", "result:images_per_second=0"]
RAW = {"deep": "[" * 100_000 + "]" * 100_000, "not-json": "{", "empty": "", "list": "[]", "binary": "\udcff"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from resbench.cli.app import main

    root = tmp_path_factory.mktemp("store")
    assert main(["train", "cifar-resnet8", *SYN, "--results-dir", str(root)]) == 0
    return root


@pytest.mark.parametrize("how", DAMAGE + list(RAW))
def test_results_lists_the_good_record_beside_a_damaged_one(cli, store, tmp_path, how):
    import shutil

    root = tmp_path / "r"
    shutil.copytree(store, root)
    folder = root / "records" / "train"
    good = next(folder.glob("*.json"))
    bad = folder / "zz-damaged.json"
    if how in RAW:
        bad.write_bytes(RAW[how].encode("utf-8", "surrogateescape"))
    else:
        bad.write_text(json.dumps(_damage(json.loads(good.read_text()), how)))
    code, out, err = cli("results", "--results-dir", root, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [json.loads(good.read_text())["id"]]
    assert "zz-damaged.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # compare reuses the good cell and is not crashed by the damaged one
    code, out, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--results-dir", root, "--json")
    assert code == 0, err
    assert len(list(folder.glob("*.json"))) == 2  # nothing retrained, nothing deleted


def test_a_cells_own_damaged_record_is_said_and_the_cell_trained_again(cli, store, tmp_path):
    """The damaged record is the cell's own (its key): never reused, said once, recomputed."""
    import shutil

    root = tmp_path / "r"
    shutil.copytree(store, root)
    folder = root / "records" / "train"
    own = next(folder.glob("*.json"))
    own.write_text(json.dumps(_damage(json.loads(own.read_text()), "result:contention=5")))
    code, out, err = cli("compare", "--specs", "cifar-resnet8", *SYN, "--results-dir", root, "--json")
    assert code == 0, err
    assert own.name in err and "contention" in err and "Traceback" not in err
    records = sorted(folder.glob("*.json"))
    assert len(records) == 2  # the damaged one left as it was, a new one beside it
    fresh = json.loads(next(r for r in records if r != own).read_text())
    assert 0 <= fresh["result"]["contention"] <= 1
    assert json.loads(out)[0]["test_error_mean"] == fresh["result"]["final_test_error"]


@pytest.fixture(scope="module")
def profile_record(tmp_path_factory):
    from resbench.cli.app import main

    root = tmp_path_factory.mktemp("profile-store")
    assert main(["profile", "cifar-resnet8", "--device", "cpu", "-b", "1", "--iters", "3", "--min-time", "0",
                 "--warmup", "1", "--no-compare-layouts", "--results-dir", str(root)]) == 0
    return next((root / "records" / "profile").glob("*.json"))


@pytest.mark.parametrize("field, value, named", [
    ("throughput", -1.0, "throughput"), ("batch_size", 0, "batch_size"), ("mfu", 3.0, "mfu"),
    ("samples_ms", [1.0, float("inf")], "samples_ms"), ("n_samples", 99, "n_samples"),
    ("peak_memory_bytes", -5, "peak_memory_bytes"), ("spec", 7, "text"),
])
def test_a_stored_profile_with_a_number_out_of_range_is_named_and_skipped(cli, profile_record, tmp_path, field, value, named):
    """What a real `profile` stores reads back; each value out of its range is one warning naming it."""
    import shutil

    from resbench.store import read_record

    assert read_record(profile_record).typed_result().batch_size == 1  # the real record passes the checks
    folder = tmp_path / "records" / "profile"
    folder.mkdir(parents=True)
    shutil.copy(profile_record, folder / profile_record.name)
    doc = json.loads(profile_record.read_text())
    doc["result"][field] = value
    (folder / "zz-damaged.json").write_text(json.dumps(doc).replace("Infinity", "1e999"))
    code, out, err = cli("results", "--results-dir", tmp_path, "--json")
    assert code == 0 and len(json.loads(out)) == 1
    assert "zz-damaged.json" in err and named in err
