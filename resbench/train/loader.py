"""A device-resident loader in airbench's manner: the whole data set is one tensor on
the device, normalised once; random crop (a 4-pixel border, as the paper) and
horizontal flip are done for a whole batch at once; batches are slices of a random
permutation. No DataLoader workers, no per-image Python.

Randomness comes from a generator seeded by (seed, epoch) only, never by the model:
for a given seed every arm of a comparison sees the same order and augmentation, and
every epoch a fresh permutation, fresh crops and fresh flips. The epoch is an explicit
argument (``batches(epoch)``): a stream that advanced only when a pass ran to its end
would replay epoch 0 forever to a caller that takes exactly ``len(loader)`` batches,
which turns augmentation into one fixed copy of the data set that a net memorises.
"""

from __future__ import annotations

import torch

PAD = 4


def channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of uint8 images, as fractions. A constant
    channel (std 0) gets std 1: it is normalised to zeros, never divided by zero."""
    xf = x.float() / 255
    std = xf.std(dim=(0, 2, 3))
    return xf.mean(dim=(0, 2, 3)), torch.where(std > 0, std, torch.ones_like(std))


class DeviceLoader:
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, device: torch.device,
                 mean: torch.Tensor, std: torch.Tensor, train: bool, seed: int = 0, channels_last: bool = False,
                 drop_last: bool = False, shard: tuple[int, int] = (0, 1)) -> None:
        self.batch_size = batch_size
        self.train = train
        self.seed = seed
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.rank, self.world = shard
        self.device = device
        x = (images.to(device).float() / 255 - mean.to(device).view(1, -1, 1, 1)) / std.to(device).view(1, -1, 1, 1)
        # Pad once: a crop is then a window into the padded tensor. The border is zeros after
        # normalising, i.e. the mean colour (as fb.resnet.torch); torchvision-based trainers pad
        # black before normalising. The independent reference (benchmarks/fidelity_reference.py)
        # pads black unless --pad-fill mean; its error was 0.61 points higher at 6 epochs
        # (results/experiments/fidelity_tost_resnet20_step_h200.txt), and whether the border is
        # why is the hypothesis that --pad-fill mean tests.
        self.images = torch.nn.functional.pad(x, (PAD,) * 4) if train else x
        self.labels = labels.to(device)
        self.size = images.shape[-1]
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.labels) // self.world
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _generator(self, epoch: int) -> torch.Generator:
        # CPU generator: identical streams on every device type and every rank.
        return torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)

    def augment(self, x: torch.Tensor, g: torch.Generator, select: slice | None = None) -> torch.Tensor:
        """Random crop of the padded images and a random horizontal flip, batched.

        ``select``: draw the parameters for the whole global batch and keep this rank's
        share, so a sharded run augments every image exactly as a single process would."""
        n, s = x.shape[0], self.size
        total = n * self.world if select is not None else n
        dy = torch.randint(0, 2 * PAD + 1, (total,), generator=g)
        dx = torch.randint(0, 2 * PAD + 1, (total,), generator=g)
        flip = torch.rand(total, generator=g) < 0.5
        if select is not None:
            dy, dx, flip = dy[select], dx[select], flip[select]
        dy, dx, flip = dy.to(x.device), dx.to(x.device), flip.to(x.device)
        ar = torch.arange(s, device=x.device)
        rows = (dy[:, None] + ar)[:, None, :, None]  # n,1,s,1
        cols = (dx[:, None] + ar)
        cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]  # flipping = reversed columns
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        return x[batch, chans, rows, cols]

    def __iter__(self):
        # Each pass is the next epoch; the counter moves when the pass starts, not when
        # it is exhausted, so a caller that stops at the last batch still moves on.
        epoch = self.epoch
        self.epoch += 1
        return self.batches(epoch)

    def batches(self, epoch: int):
        """The batches of ``epoch``: a function of (seed, epoch) alone, so a resumed run
        draws exactly what an uninterrupted one would."""
        g = self._generator(epoch)
        n = len(self.labels)
        order = torch.randperm(n, generator=g) if self.train else torch.arange(n)
        # Every rank draws the same permutation and takes its own interleaved shard.
        order = order[self.rank::self.world] if self.world > 1 else order
        steps = len(self)
        for i in range(steps):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size].to(self.device)
            x = self.images[idx]
            if self.train:
                x = self.augment(x, g, slice(self.rank, None, self.world) if self.world > 1 else None)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]
