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


def test_made_folders_are_removed_newest_first_and_only_while_empty(tmp_path):
    """Folders made by two calls (a figure's folder, then the records' beside it under the
    same new parent) all go, the parent last; one that holds a file stays, with its parents."""
    from resbench import validate

    with validate.folders_made() as made:
        validate.make_folder(tmp_path / "new" / "figures")
        validate.make_folder(tmp_path / "new" / "records" / "train")
        validate.make_folder(tmp_path / "kept" / "b")
        (tmp_path / "kept" / "b" / "f").write_text("x")
        validate.remove_folders(made)
    assert sorted(os.listdir(tmp_path)) == ["kept"] and (tmp_path / "kept" / "b" / "f").exists()


def test_nothing_is_remembered_outside_a_scope(tmp_path):
    from resbench import validate

    with validate.folders_made() as made:
        pass
    validate.make_folder(tmp_path / "c" / "d")
    assert made == [] and (tmp_path / "c" / "d").is_dir()


def test_numbers_typed_as_text_are_ascii_digits_without_underscores():
    from resbench.validate import ascii_number_text

    assert ascii_number_text("12", whole=True) and ascii_number_text(" -3 ", whole=True)
    assert ascii_number_text("0.5", whole=False) and ascii_number_text("1e-3", whole=False)
    for text in ("٣", "1_0", "1.5", "", "١٢"):
        assert not ascii_number_text(text, whole=True), text
    assert not ascii_number_text("-3", whole=True, signed=False)  # spec modifiers take no sign
    assert not ascii_number_text("1_0.5", whole=False)
