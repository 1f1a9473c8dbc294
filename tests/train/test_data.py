"""Data sources (CIFAR layout, ImageFolder, synthetic), caching and subsets (the loader: test_loader.py)."""

import warnings

import pytest
import torch

from resbench.errors import ConfigError
from resbench.train.data import DataError, balanced_subset, load_dataset, make_synthetic
from tests.conftest import write_fake_cifar10 as _fake_cifar10


def test_cifar_standard_layout_with_other_checksums_warns_not_refuses(tmp_path):
    _fake_cifar10(tmp_path)
    with pytest.warns(UserWarning, match="differ from the official release"):
        d = load_dataset("cifar10", tmp_path)
    assert d.train_x.shape == (100, 3, 32, 32) and d.train_x.dtype == torch.uint8
    assert d.test_x.shape == (20, 3, 32, 32) and d.classes[0] == "c0"
    # second load comes from the cache and gives the same tensors
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = load_dataset("cifar10", tmp_path)
    assert torch.equal(again.train_x, d.train_x)


def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path / "cache"))
    _fake_cifar10(tmp_path / "d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = load_dataset("cifar10", tmp_path / "d")
    (cache_file,) = (tmp_path / "cache" / "data").glob("cifar10-*.pt")
    cache_file.write_bytes(b"not a tensor file")
    with pytest.warns(UserWarning, match="unreadable; rebuilding"):
        again = load_dataset("cifar10", tmp_path / "d")
    assert torch.equal(again.train_x, first.train_x)


def test_missing_cifar_says_where_to_put_files(tmp_path):
    with pytest.raises(DataError, match="data_batch_1.*`data_dir`"):
        load_dataset("cifar10", tmp_path, download=False)


def _write_images(root, classes, n, mode="RGB", size=(20, 12)):
    from PIL import Image

    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.new(mode, size, color=(i * 10) if mode == "L" else (i * 10, 0, 0)).save(root / split / c / f"{i}.png")


def test_imagefolder_rgb_and_resize(tmp_path):
    _write_images(tmp_path, ["cat", "dog"], 3)
    d = load_dataset("imagefolder", tmp_path, input_size=16)
    assert d.train_x.shape == (6, 3, 16, 16) and d.classes == ("cat", "dog")
    assert d.test_split == "test"


def test_special_files_among_images_or_as_the_data_cache_are_never_waited_on(tmp_path, monkeypatch):
    """A FIFO named like an image is not an image (never opened); a FIFO where the data cache
    goes is refused in one line, without blocking."""
    import os
    import signal

    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path / "cache"))
    _write_images(tmp_path / "imgs", ["cat", "dog"], 2)
    os.mkfifo(tmp_path / "imgs" / "train" / "cat" / "9.png")
    signal.alarm(30)
    try:
        d = load_dataset("imagefolder", tmp_path / "imgs", input_size=8)
        assert d.train_x.shape[0] == 4  # the four real images, not the FIFO
        (cache,) = (tmp_path / "cache" / "data").glob("imagefolder-*.pt")
        cache.unlink()
        os.mkfifo(cache)
        with pytest.raises(DataError, match="is not a regular file: remove it, or set RESBENCH_CACHE"):
            load_dataset("imagefolder", tmp_path / "imgs", input_size=8)
    finally:
        signal.alarm(0)
    assert not [p for p in (tmp_path / "cache" / "data").iterdir() if p.name.startswith(".")]  # no temporaries


def test_imagefolder_grayscale_and_val_split(tmp_path):
    _write_images(tmp_path, ["a", "b"], 10, mode="L")
    import shutil

    shutil.rmtree(tmp_path / "test")
    d = load_dataset("imagefolder", tmp_path, input_size=8, val_split=0.2)
    assert d.in_channels == 1
    assert len(d.test_y) == 4 and len(d.train_y) == 16 and d.test_split == "val-split"


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DataError, match="no train/"):
        load_dataset("imagefolder", tmp_path)
    (tmp_path / "train" / "empty").mkdir(parents=True)
    with pytest.raises(DataError, match="has no images"):
        load_dataset("imagefolder", tmp_path)


def test_unknown_dataset_and_bad_fractions():
    with pytest.raises(ConfigError, match="`dataset` 'mnist' is unknown"):
        load_dataset("mnist", "x")
    with pytest.raises(ConfigError, match="`val_split` must be > 0 and < 1"):
        load_dataset("synthetic", val_split=1.5)


def test_synthetic_is_deterministic_and_not_solvable_by_colour():
    a, b = make_synthetic(200, 50), make_synthetic(200, 50)
    assert torch.equal(a["train_x"], b["train_x"])
    x, y = a["train_x"].float(), a["train_y"]
    means = torch.stack([x[y == c].mean() for c in range(10)])
    assert means.std() < 2.0  # class-mean brightness is (nearly) identical: no trivial rule


def test_balanced_subset():
    y = torch.arange(100) % 10
    idx = balanced_subset(y, 30, seed=1)
    assert torch.bincount(y[idx]).tolist() == [3] * 10
    assert torch.equal(idx, balanced_subset(y, 30, seed=1))


def test_cifar_labels_stay_with_their_images_in_both_splits(tmp_path, monkeypatch):
    """Each image's pixels encode its label; after loading, both splits still agree."""
    import pickle

    import numpy as np

    monkeypatch.setenv("RESBENCH_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "d" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, 30).tolist()
        data = np.repeat(np.array(labels, dtype=np.uint8)[:, None] * 20, 3072, axis=1)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = load_dataset("cifar10", tmp_path / "d")
    for xs, ys in ((d.train_x, d.train_y), (d.test_x, d.test_y)):
        assert torch.equal(xs.flatten(1).max(1).values.long(), ys * 20)
        assert torch.equal(xs.flatten(1).min(1).values.long(), ys * 20)
