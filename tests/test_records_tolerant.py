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
    return r


DAMAGE = ["created-number", "key-list", "spec-number", "result-empty", "history-text", "error-text",
          "history-value-text", "schema-future", "schema-text", "env-list"]
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
