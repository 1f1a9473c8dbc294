"""Training throughput of resbench's loop vs a plain hand-written PyTorch loop.

    python benchmarks/train_throughput.py [--data-dir DIR] [--steps 60] [--workers 2]

Both train CIFAR ResNet-20 (option A) with batch 128, SGD momentum 0.9, wd 1e-4, lr 0.1,
random crop (pad 4) + flip, fp32, on CPU, over the same images (CIFAR-10 from
--data-dir if given, else the synthetic set), back to back in this run. The reference
is what people write by hand: a Dataset yielding one image at a time through
torchvision transforms, a DataLoader with worker processes, the model in the default
(contiguous) layout. Targets: resbench >= 1.3x the reference; data pipeline overhead
(epoch time outside the training steps) <= 5 %.
"""

import argparse
import platform
import time

import torch
from torch.utils.data import DataLoader, Dataset as TorchDataset
from torchvision.transforms import v2

from resbench.measure.env import collect_env
from resbench.model import build_model
from resbench.spec import parse_spec
from resbench.train.data import load_dataset
from resbench.train.loader import channel_stats
from resbench.train.loop import TrainConfig, train


class Images(TorchDataset):
    def __init__(self, x, y, mean, std):
        self.x, self.y = x, y
        self.t = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(),
                             v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean.tolist(), std.tolist())])

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.t(self.x[i]), self.y[i]


def reference_images_per_s(data, steps: int, workers: int) -> float:
    torch.manual_seed(0)
    model = build_model("resnet20").train()
    mean, std = channel_stats(data.train_x)
    loader = DataLoader(Images(data.train_x, data.train_y, mean, std), batch_size=128, shuffle=True,
                        num_workers=workers, drop_last=True, persistent_workers=workers > 0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    it = iter(loader)
    for _ in range(3):  # warm-up (workers start, allocator)
        x, y = next(it)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    t = time.perf_counter()
    for _ in range(steps):
        x, y = next(it)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return steps * 128 / (time.perf_counter() - t)


def resbench_run(data, steps: int, channels_last: bool):
    from dataclasses import replace

    sub = replace(data, train_x=data.train_x[: steps * 128], train_y=data.train_y[: steps * 128])
    cfg = TrainConfig(dataset=data.name, epochs=1, batch_size=128, device="cpu", channels_last=channels_last)
    r = train(parse_spec("resnet20"), cfg, sub)
    return r.images_per_second, r.data_fraction


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    data = load_dataset("cifar10", args.data_dir) if args.data_dir else load_dataset("synthetic", synthetic_size=(args.steps * 128 + 512, 100))
    env = collect_env(torch.device("cpu"))
    print(f"# {env['cpu']}, {env['threads']} threads, torch {env['torch']}, Python {platform.python_version()}; "
          f"data {data.name}; {args.steps} steps of batch 128")
    ref = reference_images_per_s(data, args.steps, args.workers)
    ours, frac = resbench_run(data, args.steps, channels_last=False)
    ours_cl, frac_cl = resbench_run(data, args.steps, channels_last=True)
    ref2 = reference_images_per_s(data, args.steps, args.workers)  # bracket: drift shows as ref != ref2
    ref_mid = (ref + ref2) / 2
    print(f"reference DataLoader loop ({args.workers} workers): {ref:.0f} / {ref2:.0f} img/s")
    print(f"resbench, contiguous:    {ours:.0f} img/s  ratio {ours / ref_mid:.2f}  data overhead {frac:.1%}")
    print(f"resbench, channels_last: {ours_cl:.0f} img/s  ratio {ours_cl / ref_mid:.2f}  data overhead {frac_cl:.1%}")


if __name__ == "__main__":
    main()
