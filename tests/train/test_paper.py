"""The paper's Table 6 beside the measurement (resbench.train.paper)."""

import json

import pytest

from resbench.spec import parse_spec
from resbench.train.config import TrainConfig
from resbench.train.paper import PAPER_EPOCHS, TABLE6, official_data, paper_figure, recipe_differences

PAPER = TrainConfig(epochs=PAPER_EPOCHS, device="cpu")


def test_table6_figures_are_the_papers():
    assert TABLE6 == {"resnet20": 0.0875, "resnet32": 0.0751, "resnet44": 0.0717, "resnet56": 0.0697,
                      "resnet110": 0.0643, "resnet1202": 0.0793}


@pytest.mark.parametrize("name", sorted(TABLE6))
def test_each_table6_net_on_cifar10_gets_its_figure(name):
    fig = paper_figure(parse_spec(name), PAPER, data_official=True)
    assert fig is not None and fig.test_error == TABLE6[name] and fig.same_recipe is True


@pytest.mark.parametrize("spec", ["plain20", "resnet20:shortcut=B", "resnet18", "cifar-resnet8", "resnet20:width=2x",
                                  "resnet20:zero-init-residual"])
def test_nets_outside_table6_get_none(spec):
    assert paper_figure(parse_spec(spec), PAPER) is None


def test_other_data_sets_get_none():
    assert paper_figure(parse_spec("resnet20"), TrainConfig(dataset="synthetic", epochs=PAPER_EPOCHS, device="cpu")) is None
    assert paper_figure(parse_spec("resnet20"), TrainConfig(dataset="cifar100", epochs=PAPER_EPOCHS, device="cpu")) is None


def test_every_departure_from_the_recipe_is_named():
    cfg = TrainConfig(epochs=12, schedule="linear", batch_size=256, lr=0.3, subset=5000, test_subset=1000, device="cpu")
    got = recipe_differences(cfg, parse_spec("resnet20"))
    assert got == ("12 epochs of 164", "linear schedule, not step", "batch 256, not 128", "lr 0.3, not 0.2",
                   "5,000 of 50,000 training images", "tested on 1,000 of 10,000 test images")
    # the paper's lr scaled with the batch is the recipe, and warm-up follows depth
    assert recipe_differences(TrainConfig(epochs=PAPER_EPOCHS, batch_size=256, device="cpu"), parse_spec("resnet20")) == ("batch 256, not 128",)
    assert recipe_differences(TrainConfig(epochs=PAPER_EPOCHS, warmup="on", device="cpu"), parse_spec("resnet110")) == ()
    assert recipe_differences(TrainConfig(epochs=PAPER_EPOCHS, warmup="off", device="cpu"), parse_spec("resnet110")) != ()
    assert recipe_differences(TrainConfig(epochs=PAPER_EPOCHS, val_split=0.1, device="cpu"), parse_spec("resnet20"))


def test_data_other_than_the_official_release_is_a_departure():
    r20 = parse_spec("resnet20")
    assert recipe_differences(PAPER, r20, data_official=True) == recipe_differences(PAPER, r20, None) == ()
    got = recipe_differences(PAPER, r20, data_official=False)
    assert len(got) == 1 and "official CIFAR-10 release" in got[0]
    fig = paper_figure(r20, PAPER, data_official=False)
    assert fig.same_recipe is False and "not a failure to reproduce" in fig.line(0.12)
    unknown = paper_figure(r20, PAPER)  # a record that did not keep it: the recipe is not claimed whole
    assert unknown.same_recipe is None and unknown.to_dict(0.12)["paper_recipe"] is None
    assert "was not recorded" in unknown.line(0.12) and "the gap is the reproduction's" not in unknown.line(0.12)


def test_a_comparison_at_the_papers_recipe_says_what_is_known_of_its_data():
    from resbench.train.comparison import answers

    r20 = parse_spec("resnet20")
    assert answers(PAPER, r20, True).endswith("trained with the paper's recipe")
    assert "not recorded as the official release's" in answers(PAPER, r20, None)
    assert "official CIFAR-10 release" in answers(PAPER, r20, False)


def test_several_runs_data_is_official_only_when_none_is_known_otherwise():
    assert official_data([True, None, True]) is True
    assert official_data([True, False]) is False
    assert official_data([None, None]) is None and official_data([]) is None


def test_the_line_and_json_carry_the_gap():
    fig = paper_figure(parse_spec("resnet20"), TrainConfig(epochs=3, device="cpu"))
    d = fig.to_dict(0.2)
    assert d["paper_test_error"] == 0.0875 and d["paper_gap"] == pytest.approx(0.1125) and d["paper_recipe"] is False
    assert d["recipe_differs"] == ["3 epochs of 164"]
    line = fig.line(0.2)
    assert "8.75%" in line and "+11.25 points" in line and "not a failure to reproduce" in line
    assert "the gap is the reproduction's" in paper_figure(parse_spec("resnet20"), PAPER, data_official=True).line(0.09)


def test_train_on_cifar10_shows_the_paper_and_says_the_recipe_differs(cli, fake_cifar, tmp_path):
    args = ("train", "resnet20", "--data-dir", fake_cifar, "--subset", "100", "--epochs", "1", "--device", "cpu",
            "--results-dir", tmp_path)
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["paper_test_error"] == 0.0875 and d["paper_recipe"] is False
    assert "1 epoch of 164" in d["recipe_differs"]
    assert d["paper_gap"] == pytest.approx(d["test_error"] - 0.0875)
    code, out, err = cli(*args)
    assert code == 0, err
    assert "8.75%" in out and "Not the paper's recipe" in out
    code, out, err = cli(*args, "--csv", "-")
    assert code == 0 and "paper_test_error" in out.splitlines()[0]
    code, _, err = cli(*args, "--plot", tmp_path / "curve.png")  # the stored run, drawn with the paper's line
    assert code == 0 and (tmp_path / "curve.png").stat().st_size > 5_000, err
    assert len(list((tmp_path / "records" / "train").glob("*.json"))) == 1  # every repeat drew the one stored run
    assert "drawn from the store, not trained again" in err


def test_a_copy_of_cifar10_with_other_md5_sums_is_not_the_papers_data(cli, fake_cifar, tmp_path, monkeypatch):
    """The loader's md5 check reaches the record and the paper's line; with the files taken
    for the official ones (their md5 sums made the expected ones), the data is not named."""
    args = ("train", "resnet20", "--data-dir", fake_cifar, "--subset", "100", "--epochs", "1", "--device", "cpu",
            "--json", "--results-dir")
    code, out, err = cli(*args, tmp_path / "copy")
    assert code == 0, err
    d = json.loads(out)
    assert d["data_official"] is False and any("official CIFAR-10 release" in x for x in d["recipe_differs"])
    (record,) = (tmp_path / "copy" / "records" / "train").glob("*.json")
    assert json.loads(record.read_text())["result"]["data_official"] is False
    code, out, err = cli(*args, tmp_path / "copy")  # drawn from the store: the record still says so
    assert code == 0 and "drawn from the store" in err, err
    assert json.loads(out)["data_official"] is False and any("official CIFAR-10 release" in x for x in json.loads(out)["recipe_differs"])

    _as_official(monkeypatch, fake_cifar / "cifar-10-batches-py")
    code, out, err = cli(*args, tmp_path / "official")
    assert code == 0, err
    d = json.loads(out)
    assert d["data_official"] is True and d["recipe_differs"] == ["1 epoch of 164", "100 of 50,000 training images"]


def test_the_references_are_the_papers_and_the_reproductions():
    refs = paper_figure(parse_spec("resnet20"), PAPER).references
    assert refs == {"paper (He et al. 2015, Table 6)": 0.0875, "akamaster/pytorch_resnet_cifar10": 0.0827,
                    "gcr/torch-residual-networks (option A)": 0.0829}
    assert list(paper_figure(parse_spec("resnet1202"), PAPER).references.values()) == [0.0793]  # no reproduction


def test_a_bad_plot_name_is_refused_before_training(cli, tmp_path):
    code, _, err = cli("train", "resnet20", "--dataset", "synthetic", "--epochs", "1", "--results-dir", tmp_path,
                       "--plot", tmp_path / "curve.txt")
    assert code == 2 and "--plot" in err and ".png" in err and not (tmp_path / "records").exists()


def test_train_on_synthetic_data_shows_no_paper_figure(cli, tmp_path):
    code, out, err = cli("train", "resnet20", "--dataset", "synthetic", "--subset", "64", "--epochs", "1", "--device", "cpu",
                         "--results-dir", tmp_path, "--json")
    assert code == 0, err
    assert not any(k.startswith("paper") for k in json.loads(out))


def test_dtype_auto_draws_a_stored_run_of_either_dtype_without_measuring(cli, tmp_path, monkeypatch):
    """A repeated --dtype auto command finds the run an earlier fp32 (or bf16) command stored, before
    any calibration: the measurement that makes auto concrete is noisy, and the key is what ran."""
    args = ("train", "cifar-resnet8", "--dataset", "synthetic", "--subset", "64", "--epochs", "1", "--device", "cpu",
            "--results-dir", tmp_path, "--json")
    code, out, err = cli(*args, "--dtype", "bf16")
    assert code == 0, err
    first = json.loads(out)

    def no_measuring(*a, **k):
        raise AssertionError("calibrated although a stored run answers the command")

    monkeypatch.setattr("resbench.train.job.resolve_dtype", no_measuring)
    code, out, err = cli(*args, "--dtype", "auto")
    assert code == 0, err
    assert json.loads(out)["history"] == first["history"] and "drawn from the store" in err
    code, out, err = cli(*args, "--dtype", "auto", "--seed", "1")  # another seed is another run: measured, trained
    assert code != 0 and "calibrated although" in err + out
    assert len(list((tmp_path / "records" / "train").glob("*.json"))) == 1


def test_compare_on_a_copy_of_cifar10_says_its_answer_is_not_about_the_papers_data(cli, fake_cifar, tmp_path):
    code, out, err = cli("compare", "--specs", "resnet20,resnet20:shortcut=B", "--data-dir", fake_cifar, "--subset", "100",
                         "--epochs", "1", "--seeds", "1", "--device", "cpu", "--results-dir", tmp_path, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert all("official CIFAR-10 release" in r["answers"] for r in rows)
    assert rows[0]["paper_test_error"] == 0.0875 and rows[1]["paper_test_error"] is None


def _as_official(monkeypatch, folder):
    """Take the files in ``folder`` for the official release (their md5 sums made the expected ones)."""
    import hashlib

    import torchvision

    def md5(name):
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "train_list", [(f"data_batch_{i}", md5(f"data_batch_{i}")) for i in range(1, 6)])
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "test_list", [("test_batch", md5("test_batch"))])
    _reread(folder)


def _reread(folder):
    from resbench.train import cells

    for p in folder.iterdir():  # other modification times: the data cache is built again
        p.touch()
    cells._DATA.clear()


def test_a_comparison_over_cells_of_two_data_copies_says_so(cli, fake_cifar, tmp_path, monkeypatch):
    folder = fake_cifar / "cifar-10-batches-py"
    common = ("--data-dir", fake_cifar, "--subset", "100", "--epochs", "1", "--device", "cpu", "--results-dir", tmp_path)
    _as_official(monkeypatch, folder)
    code, _, err = cli("train", "resnet20", *common)
    assert code == 0, err
    monkeypatch.undo()
    _reread(folder)
    code, out, err = cli("compare", "--specs", "resnet20,resnet20:shortcut=B", "--seeds", "1", *common, "--json")
    assert code == 0, err
    assert "different copies of the data" in err and "Traceback" not in err
    assert all("official CIFAR-10 release" in r["answers"] for r in json.loads(out))
