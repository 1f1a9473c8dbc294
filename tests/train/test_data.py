"""Data sources (CIFAR layout, ImageFolder, synthetic), caching, subsets, and the device loader."""

import warnings

import pytest
import torch

from resbench.errors import ConfigError
from resbench.train.data import DataError, balanced_subset, load_dataset, make_synthetic
from resbench.train.loader import PAD, DeviceLoader, channel_stats
from conftest import write_fake_cifar10 as _fake_cifar10


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


def _loader(x, seed=0, **kw):
    y = torch.zeros(len(x), dtype=torch.long)
    return DeviceLoader(x, y, 4, device=torch.device("cpu"), mean=torch.zeros(x.shape[1]), std=torch.ones(x.shape[1]) / 255,
                        train=True, seed=seed, channels_last=False, **kw)


def test_augmentation_is_a_real_crop_and_flip():
    x = torch.randint(0, 256, (8, 3, 12, 12), dtype=torch.uint8)
    loader = _loader(x)
    g = torch.Generator().manual_seed(5)
    padded = loader.images  # normalised with mean 0, std 1/255: equal to the raw pixels
    out = loader.augment(padded, g)
    assert out.shape == (8, 3, 12, 12)
    g = torch.Generator().manual_seed(5)
    dy, dx = torch.randint(0, 2 * PAD + 1, (8,), generator=g), torch.randint(0, 2 * PAD + 1, (8,), generator=g)
    flip = torch.rand(8, generator=g) < 0.5
    for i in range(8):
        crop = padded[i, :, dy[i]:dy[i] + 12, dx[i]:dx[i] + 12]
        torch.testing.assert_close(out[i], crop.flip(-1) if flip[i] else crop)
    assert flip.any() and (~flip).any() and (dy != PAD).any()


def test_loader_is_deterministic_per_seed_and_covers_every_sample():
    x = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(10)

    def epoch(seed):
        L = DeviceLoader(x, y, 4, device=torch.device("cpu"), mean=torch.zeros(3), std=torch.ones(3), train=True, seed=seed)
        return [(xb.clone(), yb.clone()) for xb, yb in L]

    a, b, c = epoch(1), epoch(1), epoch(2)
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))
    assert not all(torch.equal(p[1], q[1]) for p, q in zip(a, c))
    assert sorted(torch.cat([yb for _, yb in a]).tolist()) == list(range(10))


def test_sharded_loader_splits_one_permutation():
    x = torch.zeros(12, 3, 8, 8, dtype=torch.uint8)
    y = torch.arange(12)
    shards = []
    for rank in range(2):
        L = DeviceLoader(x, y, 3, device=torch.device("cpu"), mean=torch.zeros(3), std=torch.ones(3), train=True, seed=0,
                         drop_last=True, shard=(rank, 2))
        shards.append(torch.cat([yb for _, yb in L]))
    assert sorted(torch.cat(shards).tolist()) == list(range(12))
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_channel_stats():
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    x[1, 0] = 0  # channel 0 varies; 1 and 2 are constant
    m, s = channel_stats(x)
    assert torch.allclose(m, torch.tensor([0.5, 1.0, 1.0])) and s[0] > 0
    assert torch.equal(s[1:], torch.ones(2))  # a constant channel is normalised to zeros, never divided by zero


# --- fidelity: what the loader feeds a training run ------------------------------------


def _epochs_as_the_loop_takes_them(loader, n_epochs):
    """Exactly len(loader) batches per epoch, as the training loops take them."""
    out = []
    for e in range(n_epochs):
        it = loader.batches(e)
        out.append([(xb.clone(), yb.clone()) for xb, yb in (next(it) for _ in range(len(loader)))])
    return out


def test_every_epoch_draws_a_new_order_and_new_crops_and_flips():
    x = torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(32)
    L = DeviceLoader(x, y, 8, device=torch.device("cpu"), mean=torch.zeros(3), std=torch.ones(3), train=True, seed=0)
    e0, e1, e2 = _epochs_as_the_loop_takes_them(L, 3)
    assert not torch.equal(torch.cat([b[1] for b in e0]), torch.cat([b[1] for b in e1]))
    # the same image, wherever it sits in each epoch's order, is cropped or flipped anew
    def by_image(epoch):
        xs, ys = torch.cat([b[0] for b in epoch]), torch.cat([b[1] for b in epoch])
        return xs[torch.argsort(ys)]
    a, b, c = by_image(e0), by_image(e1), by_image(e2)
    changed = [(~torch.isclose(p, q)).flatten(1).any(1).float().mean().item() for p, q in ((a, b), (b, c))]
    assert min(changed) > 0.5, changed  # most images look different from one epoch to the next
    # and an epoch is a function of (seed, epoch): the same draw again, as a resumed run needs
    again = _epochs_as_the_loop_takes_them(L, 2)[1]
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(e1, again))


def test_plain_iteration_also_moves_on_even_when_stopped_at_the_last_batch():
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    L = DeviceLoader(x, torch.arange(16), 4, device=torch.device("cpu"), mean=torch.zeros(3), std=torch.ones(3),
                     train=True, seed=1)
    first = [next(it) for it in [iter(L)] for _ in range(len(L))]
    second = [next(it) for it in [iter(L)] for _ in range(len(L))]
    assert not all(torch.equal(p[0], q[0]) for p, q in zip(first, second))


def test_train_and_test_preprocessing_agree():
    """A test image is normalised exactly as a training image: the un-shifted, un-flipped
    crop of the padded training tensor equals the test tensor, in either layout."""
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(6)
    mean, std = channel_stats(x)
    for cl in (False, True):
        kw = dict(device=torch.device("cpu"), mean=mean, std=std, channels_last=cl)
        train = DeviceLoader(x, y, 6, train=True, seed=0, **kw)
        test = DeviceLoader(x, y, 6, train=False, **kw)
        centre = train.images[:, :, PAD:-PAD, PAD:-PAD]
        (tx, ty), = list(test)
        torch.testing.assert_close(tx, centre)
        assert torch.equal(ty, y)
        assert tx.is_contiguous(memory_format=torch.channels_last) == cl or tx.shape[1] == 1
        torch.testing.assert_close(tx.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


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
