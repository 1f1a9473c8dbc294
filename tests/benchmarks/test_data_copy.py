"""What a CIFAR-10 copy is (benchmarks/data_copy.py): the encoder's quality and subsampling read
back from files of known encoding, the python layout matched to its JPEGs, and bad input."""

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

_SPEC = importlib.util.spec_from_file_location("data_copy", Path(__file__).parents[2] / "benchmarks" / "data_copy.py")
dc = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(dc)


def test_the_ijg_scaling_is_libjpegs():
    assert dc.ijg_table(dc.LUMA, 50) == dc.LUMA  # quality 50 is the standard table itself
    assert set(dc.ijg_table(dc.LUMA, 100)) == {1}
    assert dc.ijg_table(dc.LUMA, 75)[:8] == (8, 6, 5, 8, 12, 20, 26, 31)


def _copy(root: Path, n: int = 3) -> None:
    """A tiny copy: one class, n training images saved with Pillow's defaults, one test image
    at quality 90 and 4:4:4, and the python layout decoded from them, rows named as prepare.py names them."""
    rng = np.random.default_rng(0)
    rows = {"train": [], "test": []}
    for split, k, options in (("train", n, {}), ("test", 1, {"quality": 90, "subsampling": 0})):
        folder = root / "cifar10-jpeg" / split / "cat"
        folder.mkdir(parents=True)
        for i in range(k):
            path = folder / f"{i:04d}.jpg"
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path, **options)
            pixels = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1).reshape(-1)
            rows[split].append((f"cat_{path.name}", pixels))
    py = root / "cifar-10-batches-py"
    py.mkdir()
    for name, split in [(f"data_batch_{i}", "train") for i in range(1, 6)] + [("test_batch", "test")]:
        names, data = zip(*rows[split])
        data = np.stack(data)
        if name == "data_batch_5":
            data = data.copy()
            data[0, 0] ^= 1  # one row that is not its JPEG decoded
        with open(py / name, "wb") as f:
            pickle.dump({"filenames": list(names), "data": data, "labels": [3] * len(names)}, f)


def test_pillows_defaults_read_back_as_quality_75_and_4_2_0(tmp_path):
    _copy(tmp_path / "d")
    text = " ".join(dc.survey(tmp_path / "d"))
    assert "train: 3 files at quality 75, 4:2:0" in text and "test: 1 files at quality 90, 4:4:4" in text
    assert "0 of 6 data files have the official release's md5 sums" in text
    assert "15 of 16 sampled rows equal pixel for pixel" in text  # 5 batches of 3 and the test batch's 1


def test_a_file_with_other_tables_is_not_given_a_quality(tmp_path):
    path = tmp_path / "x.jpg"
    table = list(range(1, 65))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, qtables=[table, table])
    assert dc.encoding(path)[0] == "non-standard tables"


def test_the_report_is_written_whole(tmp_path, capsys):
    _copy(tmp_path / "d")
    dc.main([str(tmp_path / "d"), str(tmp_path / "copy.txt")])
    assert (tmp_path / "copy.txt").read_text().strip() == capsys.readouterr().out.strip()


def test_rows_whose_jpeg_is_missing_are_counted_apart(tmp_path):
    _copy(tmp_path / "d")
    (tmp_path / "d" / "cifar10-jpeg" / "test" / "cat" / "0000.jpg").unlink()
    text = " ".join(dc.survey(tmp_path / "d"))
    assert "14 of 16 sampled rows equal pixel for pixel (1 have no JPEG of their name)" in text


def _damage(root, how):
    if how == "pickle":
        (root / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"\x80\x04trunc")
    elif how == "image":
        (root / "cifar10-jpeg" / "train" / "cat" / "0000.jpg").write_bytes(b"not a jpeg")


@pytest.mark.parametrize("args, damage, says", [
    (["missing", "out.txt"], None, "is not a folder"),
    (["empty", "out.txt"], None, "holds neither"),
    (["d", "out.csv"], None, "is not a .txt file name"),
    (["d", "nowhere/out.txt"], None, "is not a folder; make it"),
    (["d", "out.txt"], "pickle", "data_batch_2 is not"),
    (["d", "out.txt"], "image", "cannot identify image file"),
    (["d", "out.txt"], "disk", "cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, damage, says):
    if damage == "disk":  # the report's write fails (a full disk, a folder no longer writable)
        def full(path):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(dc, "atomic_output", full)
    (tmp_path / "empty").mkdir()
    _copy(tmp_path / "d", n=1)
    _damage(tmp_path / "d", damage)
    with pytest.raises(SystemExit) as e:
        dc.main([str(tmp_path / a) for a in args])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and says in err and len(err.splitlines()) == 1
    assert not any(tmp_path.rglob("out.*"))
