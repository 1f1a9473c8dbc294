"""An independent CIFAR-10 ResNet-20 trainer, to check resbench's accuracies against.

Nothing here comes from resbench: torchvision's ``CIFAR10`` dataset and transforms
(RandomCrop(32, padding=4) with a black border unless --pad-fill mean, RandomHorizontalFlip,
ToTensor, Normalize), a DataLoader,
the paper's CIFAR nets written out below (ResNet-20/32/56 and a 29-layer bottleneck net; shortcut
options A, B and C; option A as in akamaster/pytorch_resnet_cifar10),
torchvision's ResNet init (Kaiming-normal over fan-out for the convs, BN 1/0, PyTorch's default for the
fc layer, as ``torchvision.models.resnet``), and torch's SGD with a MultiStepLR over iterations. The recipe is the
paper's (Sec. 4.2): batch 128, lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 at 50 % and
75 % of the iterations, scaled to the epochs given (or, with --schedule linear, the budget's
schedule: from 0.1 down to 0 over the iterations).

    python3 benchmarks/fidelity_reference.py --data-dir DATA --epochs 15 --seed 0 --out ref.json [--checkpoint ref.ckpt]

With --checkpoint the state after every epoch (weights, optimizer, schedule, both random
streams, the curve so far) is written there atomically, and the same command resumes from
it; the file is removed when the run ends. With --workers 0 the resumed run is the run
that was never stopped (its randomness is the sampler's generator and torch's global
stream, both saved); with worker processes their own streams are not saved. --stop-after E
stops after E epochs, leaving the checkpoint (a run split over sittings).

DATA holds ``cifar-10-batches-py/`` (the standard python layout). Copies whose md5 sums
differ from the official release (such as the JPEG re-encoding in ../shared/data) are
accepted: torchvision's integrity check is the only thing bypassed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import transforms

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10's published channel statistics


class AnyCopyCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR10, minus its md5 checks (the data files' and the meta file's)."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        import pickle

        with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


def shortcut(option: str, cin: int, cout: int, stride: int) -> nn.Module | None:
    """The paper's options (Sec. 3.3): A pads, B projects where shapes change, C projects always."""
    change = stride != 1 or cin != cout
    if option == "C" or (option == "B" and change):
        return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    if option == "A" and change:
        return PadA(cout - cin, stride)
    return None  # identity


class PadA(nn.Module):
    """Option A: subsample by the stride and zero-pad the new channels (no parameters)."""

    def __init__(self, extra: int, stride: int) -> None:
        super().__init__()
        self.extra, self.stride = extra, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class Block(nn.Module):
    out_factor = 1

    def __init__(self, cin: int, planes: int, stride: int, option: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.short = shortcut(option, cin, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (which strides), 1x1 expand by four."""

    out_factor = 4

    def __init__(self, cin: int, planes: int, stride: int, option: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.short = shortcut(option, cin, 4 * planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class CifarResNet(nn.Module):
    """The paper's CIFAR nets (Sec. 4.2): a 3x3 stem of 16, three stages of n blocks at
    16/32/64 planes, the second and third halving the map; global average pool, fc."""

    def __init__(self, n: int = 3, block: type = Block, option: str = "A", classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(block(cin, planes, stride if i == 0 else 1, option))
                cin = planes * block.out_factor
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():  # torchvision.models.resnet's init; the fc keeps nn.Linear's default
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


ARCHS = {  # the resbench spec each reference net stands beside: (block, blocks per stage)
    "resnet20": (Block, 3), "resnet32": (Block, 5), "resnet56": (Block, 9), "cifar-resnet29-bottleneck": (Bottleneck, 3),
}


def balanced_subset(targets: list[int], n: int, seed: int) -> list[int]:
    """n training images, the classes as equal as possible, drawn with ``seed`` (this script's own rule)."""
    g = torch.Generator().manual_seed(seed)
    by_class: dict[int, list[int]] = {}
    for i, c in enumerate(targets):
        by_class.setdefault(c, []).append(i)
    classes = sorted(by_class)
    picks = []
    for k, c in enumerate(classes):
        take = n // len(classes) + (1 if k < n % len(classes) else 0)
        idx = by_class[c]
        picks += [idx[j] for j in torch.randperm(len(idx), generator=g)[:take].tolist()]
    return sorted(picks)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="cpu or cuda: where the net trains (the data pipeline stays on the CPU)")
    ap.add_argument("--arch", choices=sorted(ARCHS), default="resnet20")
    ap.add_argument("--shortcut", choices=("A", "B", "C"), default="A")
    ap.add_argument("--schedule", choices=("step", "linear"), default="step",
                    help="step: lr / 10 at 50 %% and 75 %% of the iterations; linear: from lr to 0 over the iterations")
    ap.add_argument("--subset", type=int, default=None, help="train on a balanced subset of N images (fixed, seed 0)")
    ap.add_argument("--pad-fill", choices=("black", "mean"), default="black",
                    help="the random crop's 4-pixel border: black (torchvision's fill 0 on the raw image, as "
                         "akamaster's) or the mean colour (zeros after normalising, as fb.resnet.torch and resbench)")
    ap.add_argument("--out", required=True, help="JSON file for the per-epoch curve")
    ap.add_argument("--checkpoint", default=None, help="resume from / save to this file after every epoch")
    ap.add_argument("--stop-after", type=int, default=None, help="stop after this many epochs, keeping the checkpoint")
    a = ap.parse_args(argv)
    if a.stop_after is not None and not a.checkpoint:
        print("fidelity_reference.py: error: --stop-after needs --checkpoint FILE: a stopped run resumes from it",
              file=sys.stderr)
        raise SystemExit(2)
    import re

    if a.device != "cpu" and not (re.fullmatch(r"cuda(:\d+)?", a.device) and torch.cuda.is_available()):
        print(f"fidelity_reference.py: error: --device {a.device} is not available here; give cpu"
              + (" or cuda" if torch.cuda.is_available() else ""), file=sys.stderr)
        raise SystemExit(2)
    device = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    norm = transforms.Normalize(MEAN, STD)
    fill = 0 if a.pad_fill == "black" else tuple(round(255 * m) for m in MEAN)
    train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4, fill=fill), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), norm])
    test_tf = transforms.Compose([transforms.ToTensor(), norm])
    train_set = AnyCopyCIFAR10(a.data_dir, train=True, transform=train_tf)
    if a.subset is not None:
        train_set = torch.utils.data.Subset(train_set, balanced_subset(list(train_set.targets), a.subset, seed=0))
    test_set = AnyCopyCIFAR10(a.data_dir, train=False, transform=test_tf)
    g = torch.Generator().manual_seed(a.seed)
    train_dl = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True, generator=g,
                                           num_workers=a.workers, persistent_workers=a.workers > 0,
                                           pin_memory=device.type == "cuda")
    test_dl = torch.utils.data.DataLoader(test_set, batch_size=1000, num_workers=a.workers)
    block, n = ARCHS[a.arch]
    model = CifarResNet(n, block, a.shortcut).to(device)  # initialised on the CPU: the same weights on every device
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    total = a.epochs * len(train_dl)
    if a.schedule == "step":
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[total // 2, (3 * total) // 4], gamma=0.1)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1 - it / total)
    history, before = [], 0.0
    if a.checkpoint and os.path.isfile(a.checkpoint):
        ck = torch.load(a.checkpoint, weights_only=False, map_location="cpu")  # load_state_dict moves it
        if {"pad_fill": "black", **ck["args"]} != _run_args(a):  # checkpoints from before --pad-fill: black
            raise SystemExit(f"{a.checkpoint} is a checkpoint of another run ({ck['args']}); remove it or give another path")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        g.set_state(ck["sampler_rng"])
        torch.set_rng_state(ck["torch_rng"])
        history, before = ck["history"], ck["seconds"]
        print(f"resumed after epoch {len(history)} from {a.checkpoint}", flush=True)
    t0 = time.perf_counter() - before
    # where each epoch ran: a run resumed on another machine or device says so epoch by epoch
    where = (f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
             else f"{device.type} ({_cpu_name()}, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})")
    for epoch in range(len(history), a.epochs):
        model.train()
        t_epoch = time.perf_counter()
        loss_sum = wrong = seen = 0
        for x, y in train_dl:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(y)
            wrong += (out.argmax(1) != y).sum().item()
            seen += len(y)
        model.eval()
        test_wrong = test_seen = 0
        with torch.no_grad():
            for x, y in test_dl:
                x, y = x.to(device), y.to(device)
                test_wrong += (model(x).argmax(1) != y).sum().item()
                test_seen += len(y)
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": loss_sum / seen,
               "train_error": wrong / seen, "test_error": test_wrong / test_seen,
               "seconds": time.perf_counter() - t_epoch, "device": where}
        history.append(row)
        print(f"epoch {row['epoch']}/{a.epochs} lr {row['lr']:.4g} train loss {row['train_loss']:.4f} "
              f"train error {100 * row['train_error']:.2f} % test error {100 * row['test_error']:.2f} % "
              f"({row['seconds']:.0f} s)", flush=True)
        if a.checkpoint:
            _save(a.checkpoint, {"args": _run_args(a), "model": model.state_dict(), "opt": opt.state_dict(),
                                 "sched": sched.state_dict(), "sampler_rng": g.get_state(),
                                 "torch_rng": torch.get_rng_state(), "history": history,
                                 "seconds": time.perf_counter() - t0})
        if a.stop_after is not None and len(history) >= a.stop_after and len(history) < a.epochs:
            print(f"stopped after epoch {len(history)}; the same command without --stop-after resumes", flush=True)
            return
    doc = {"trainer": "benchmarks/fidelity_reference.py (torchvision CIFAR10 + DataLoader + own CIFAR ResNet)",
           "command": " ".join([os.path.basename(sys.executable), *sys.argv]), "seed": a.seed, "epochs": a.epochs,
           "arch": a.arch, "shortcut": a.shortcut, "pad_fill": a.pad_fill, "device": str(device)
           + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
           "epochs_by_device": _epochs_by_device(history), "schedule": a.schedule, "subset": a.subset,
           "params": sum(p.numel() for p in model.parameters()),
           "final_test_error": history[-1]["test_error"], "seconds": time.perf_counter() - t0,
           "torch": torch.__version__, "torchvision": torchvision.__version__, "machine": _cpu_name(), "cores": os.cpu_count(),
           "history": history}
    tmp = f"{a.out}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, a.out)
    if a.checkpoint and os.path.isfile(a.checkpoint):
        os.remove(a.checkpoint)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def _epochs_by_device(history: list[dict]) -> dict[str, int]:
    """How many of the run's epochs ran where (rows from before devices were recorded: "unrecorded")."""
    counts: dict[str, int] = {}
    for row in history:
        counts[row.get("device", "unrecorded")] = counts.get(row.get("device", "unrecorded"), 0) + 1
    return counts


def _run_args(a) -> dict:
    """What a checkpoint must agree on to be resumed (not where it writes or how many threads)."""
    return {k: getattr(a, k) for k in ("epochs", "seed", "arch", "shortcut", "schedule", "subset", "pad_fill")}


def _save(path: str, state: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
