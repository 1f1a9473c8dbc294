"""compare's figure: a forest plot always, learning curves beside it only when the runs had
more than one epoch; a stored train record keeps its per-image answers."""

import json

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "32", "--test-subset", "16", "--batch-size", "16", "--seeds", "2"]


def test_curves_are_drawn_beside_the_forest_only_for_runs_of_several_epochs(cli, tmp_path):
    for epochs, curves in (("1", False), ("2", True)):
        png = tmp_path / f"e{epochs}.png"
        code, out, err = cli("compare", "--specs", "cifar-resnet8,cifar-plain8", *SYN, "--epochs", epochs,
                             "--results-dir", tmp_path / "r", "--plot", png, "--json")
        assert code == 0, err
        assert png.stat().st_size > 5_000
        assert (tmp_path / f"e{epochs}-curves.png").exists() == curves


def test_a_stored_train_record_holds_its_per_image_answers(cli, tmp_path):
    from resbench.store import read_record

    code, out, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu", "--subset", "64",
                         "--test-subset", "32", "--epochs", "1", "--results-dir", tmp_path)
    assert code == 0, err
    (path,) = (tmp_path / "records" / "train").glob("*.json")
    result = read_record(path).typed_result()
    right = result.correct()
    assert result.test_images == 32 and right.shape == (32,) and right.dtype == bool
    assert 1 - right.mean() == result.final_test_error
    assert isinstance(json.loads(path.read_text())["result"]["test_correct"], str)  # packed bits, base64
