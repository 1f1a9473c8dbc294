"""An independent CIFAR-10 ResNet-20 trainer, to check resbench's accuracies against.

Nothing here comes from resbench: torchvision's ``CIFAR10`` dataset and transforms
(RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize), a DataLoader,
a ResNet-20 with option-A shortcuts written out below (as in akamaster/pytorch_resnet_cifar10),
torchvision's ResNet init (Kaiming-normal over fan-out for the convs, BN 1/0, PyTorch's default for the
fc layer, as ``torchvision.models.resnet``), and torch's SGD with a MultiStepLR over iterations. The recipe is the
paper's (Sec. 4.2): batch 128, lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 at 50 % and
75 % of the iterations, scaled to the epochs given.

    python3 benchmarks/fidelity_reference.py --data-dir DATA --epochs 15 --seed 0 --out ref.json

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


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin if stride != 1 or cin != cout else 0

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if not self.pad:
            return x
        # option A: subsample by 2 and zero-pad the new channels (no parameters)
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, n: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)
        for m in self.modules():  # torchvision.models.resnet's init; the fc keeps nn.Linear's default
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", required=True, help="JSON file for the per-epoch curve")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    norm = transforms.Normalize(MEAN, STD)
    train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), norm])
    test_tf = transforms.Compose([transforms.ToTensor(), norm])
    train_set = AnyCopyCIFAR10(a.data_dir, train=True, transform=train_tf)
    test_set = AnyCopyCIFAR10(a.data_dir, train=False, transform=test_tf)
    g = torch.Generator().manual_seed(a.seed)
    train_dl = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True, generator=g,
                                           num_workers=a.workers, persistent_workers=a.workers > 0)
    test_dl = torch.utils.data.DataLoader(test_set, batch_size=1000, num_workers=a.workers)
    model = ResNet20()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    total = a.epochs * len(train_dl)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[total // 2, (3 * total) // 4], gamma=0.1)
    history = []
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        t_epoch = time.perf_counter()
        loss_sum = wrong = seen = 0
        for x, y in train_dl:
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
                test_wrong += (model(x).argmax(1) != y).sum().item()
                test_seen += len(y)
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": loss_sum / seen,
               "train_error": wrong / seen, "test_error": test_wrong / test_seen,
               "seconds": time.perf_counter() - t_epoch}
        history.append(row)
        print(f"epoch {row['epoch']}/{a.epochs} lr {row['lr']:.4g} train loss {row['train_loss']:.4f} "
              f"train error {100 * row['train_error']:.2f} % test error {100 * row['test_error']:.2f} % "
              f"({row['seconds']:.0f} s)", flush=True)
    doc = {"trainer": "benchmarks/fidelity_reference.py (torchvision CIFAR10 + DataLoader + own ResNet-20)",
           "command": " ".join([os.path.basename(sys.executable), *sys.argv]), "seed": a.seed, "epochs": a.epochs,
           "final_test_error": history[-1]["test_error"], "seconds": time.perf_counter() - t0,
           "torch": torch.__version__, "torchvision": torchvision.__version__, "machine": platform.processor() or platform.machine(),
           "history": history}
    tmp = f"{a.out}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
