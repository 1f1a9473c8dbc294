"""Input rules (resbench.validate): a refused command leaves no folder behind."""

import os


def test_a_refused_command_removes_the_folders_its_checks_made(cli, tmp_path):
    """The output places are checked (and their folders made) before the work; a refusal
    after that removes the folders it made while they are still empty, and only those."""
    kept = tmp_path / "kept"
    kept.mkdir()
    code, out, err = cli("analyze", "responses", "cifar-resnet8", "--checkpoint", tmp_path / "missing.pt", "--dataset",
                         "synthetic", "--device", "cpu", "--results-dir", tmp_path / "new" / "deep",
                         "--plot", kept / "made" / "r.png")
    assert code == 2 and "missing.pt" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["kept"] and os.listdir(kept) == []


def test_folders_are_only_forgotten_not_removed_after_success(tmp_path):
    from resbench import validate

    validate.forget_made_folders()
    validate.make_folder(tmp_path / "a" / "b")
    (tmp_path / "a" / "b" / "f").write_text("x")
    validate.remove_made_folders()  # b holds a file: kept, and so is a
    assert (tmp_path / "a" / "b" / "f").exists()
    validate.make_folder(tmp_path / "c" / "d")
    validate.forget_made_folders()
    validate.remove_made_folders()
    assert (tmp_path / "c" / "d").is_dir()
