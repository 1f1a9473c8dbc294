"""The device loader (resbench.train.loader): per-epoch crops and flips, a new order each
epoch, shards of one permutation, channel statistics, train and test preprocessing alike."""

import torch

from resbench.train.loader import PAD, DeviceLoader, channel_stats


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
