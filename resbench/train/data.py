"""Data sets as whole uint8 tensors: CIFAR-10/100 (standard python layout), ImageFolder,
and a synthetic set for tests and smoke runs.

Every source is decoded once and cached as a tensor file in the machine-local cache
(``$RESBENCH_CACHE``), keyed by the files' names, sizes and mtimes and the input size, so
a later run loads it in well under a second. A cache file that does not load is
rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resbench import validate as v
from resbench.errors import ConfigError, UsageError
from resbench.cache import cache_dir
from resbench.store import atomic_output

DATASETS = ("cifar10", "cifar100", "imagefolder", "synthetic")
CACHE_VERSION = 1


class DataError(UsageError):
    """Missing or malformed data: exit code 2 with a message saying what to put where."""


@dataclass(frozen=True)
class Dataset:
    name: str
    train_x: torch.Tensor  # uint8 [N, C, H, W]
    train_y: torch.Tensor  # int64 [N]
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    test_split: str  # "test" (the set's own) or "val-split" (held out of train)
    # CIFAR-10/100: whether every data file has the official release's md5 sum (a re-encoded
    # copy has not); None where there is no release to check against (synthetic, ImageFolder)
    official: bool | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]


# --- caching ---------------------------------------------------------------------------


def _fingerprint(paths: list[Path], extra: str) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{extra}".encode())
    for p in sorted(paths):
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def _valid_cache(d) -> bool:
    """A cache file that loads is still checked: the tensors and labels a Dataset needs,
    with matching lengths; anything else (another version, a hand-made file) is rebuilt."""
    def images(x):
        return isinstance(x, torch.Tensor) and x.dtype == torch.uint8 and x.dim() == 4 and x.shape[0] > 0

    def labels(y, x):
        return isinstance(y, torch.Tensor) and y.dtype == torch.int64 and y.dim() == 1 and len(y) == len(x)

    if not isinstance(d, dict) or not {"train_x", "train_y", "test_x", "test_y", "classes"} <= set(d):
        return False
    if not (images(d["train_x"]) and labels(d["train_y"], d["train_x"])):
        return False
    if d["test_x"] is not None and not (images(d["test_x"]) and labels(d["test_y"], d["test_x"])
                                        and d["test_x"].shape[1:] == d["train_x"].shape[1:]):
        return False
    classes = d["classes"]
    return (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)
            and int(d["train_y"].max()) < len(classes) and int(d["train_y"].min()) >= 0)


def _cached(name: str, key: str, build) -> dict:
    path = cache_dir() / "data" / f"{name}-{key}.pt"
    if path.exists() and not path.is_file():  # a FIFO would block the read, a device take the write
        raise DataError(f"data cache {path} is not a regular file: remove it, or set RESBENCH_CACHE to another folder")
    if path.exists():
        try:
            data = torch.load(path, weights_only=True)
        except Exception:  # a corrupt or truncated cache is rebuilt, never trusted
            warnings.warn(f"data cache {path} is unreadable; rebuilding it")
        else:
            if _valid_cache(data):
                return data
            warnings.warn(f"data cache {path} holds the wrong contents; rebuilding it")
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # a failed write (a full disk) leaves no partial cache
        torch.save(data, tmp)
    return data


# --- CIFAR ---------------------------------------------------------------------------


def _cifar_layout(kind: str):
    if kind == "cifar10":
        from torchvision.datasets import CIFAR10 as tv
    else:
        from torchvision.datasets import CIFAR100 as tv
    return tv


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR batch holds: dicts, lists, strings, bytes, numbers and
    NumPy arrays. Any other global (os.system, a class with __reduce__, ...) is refused,
    so a planted file cannot run code (plain pickle.load would run it)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR batch holds only arrays, lists and strings")
        return super().find_class(module, name)


def read_cifar_pickle(path: Path) -> dict:
    """One CIFAR python-layout file, safely: DataError (one line, naming the file) when it
    is truncated, not a pickle, or holds anything but plain data."""
    try:
        with open(path, "rb") as f:
            d = _CifarUnpickler(f, encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path} is not a CIFAR batch ({e}); replace it with the standard python-layout file") from None
    except (EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError, MemoryError, ImportError) as e:
        why = "empty or truncated" if isinstance(e, EOFError) else f"{type(e).__name__}: {e}"
        raise DataError(f"{path} is not a readable CIFAR batch ({why}); replace it with the standard python-layout file") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if not isinstance(d, dict):
        raise DataError(f"{path} is not a CIFAR batch (holds a {type(d).__name__}, not a dict)")
    return d


def _cifar_arrays(d: dict, path: Path, label_key: str, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = d.get("data"), d.get(label_key)
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        raise DataError(f"{path} has no 'data' array of uint8 images (N x 3072); replace it with the standard file")
    if not isinstance(y, list) or len(y) != len(x) or not all(isinstance(v, int) and 0 <= v < num_classes for v in y):
        raise DataError(f"{path} has no '{label_key}' list of {len(x)} labels in 0..{num_classes - 1}; replace it with the standard file")
    return torch.from_numpy(x.copy()).reshape(-1, 3, 32, 32), torch.as_tensor(y, dtype=torch.int64)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_cifar(kind: str, data_dir: Path, download: bool) -> dict:
    tv = _cifar_layout(kind)
    folder = data_dir / tv.base_folder
    names = [n for n, _ in tv.train_list] + [n for n, _ in tv.test_list] + [tv.meta["filename"]]
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        if download:
            try:
                tv(str(data_dir), train=True, download=True)
            except Exception as e:  # offline: say where to put which files instead
                raise DataError(
                    f"{kind} is not in {folder} and could not be downloaded ({type(e).__name__}); put "
                    f"{', '.join(names)} there (the standard python layout), or give `data_dir`"
                ) from None
        else:
            raise DataError(f"{kind} not found: {folder} lacks {', '.join(missing)}; put the standard python layout "
                            f"({tv.base_folder}/ with {', '.join(names)}) under `data_dir`")
    paths = [folder / n for n in names]
    not_files = [p.name for p in paths if not p.is_file()]
    if not_files:
        raise DataError(f"{kind} in {folder}: {', '.join(not_files)} {'is' if len(not_files) == 1 else 'are'} not a file "
                        "(a folder?); put the standard python-layout files there")

    def build() -> dict:
        expected = dict(tv.train_list + tv.test_list)
        differing = [n for n in expected if _md5(folder / n) != expected[n]]
        label_key = "labels" if kind == "cifar10" else "fine_labels"

        meta_path = folder / tv.meta["filename"]
        classes = read_cifar_pickle(meta_path).get(tv.meta["key"])
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
            raise DataError(f"{meta_path} has no '{tv.meta['key']}' list of class names; replace it with the standard file")

        def read(files):
            xs, ys = [], []
            for n in files:
                x, y = _cifar_arrays(read_cifar_pickle(folder / n), folder / n, label_key, len(classes))
                xs.append(x)
                ys.append(y)
            return torch.cat(xs), torch.cat(ys)

        trx, try_ = read([n for n, _ in tv.train_list])
        tex, tey = read([n for n, _ in tv.test_list])
        return {"train_x": trx, "train_y": try_, "test_x": tex, "test_y": tey, "classes": list(classes), "md5_differs": differing}

    data = _cached(kind, _fingerprint(paths, kind), build)
    if data.get("md5_differs"):
        warnings.warn(f"{kind} files in {folder} differ from the official release ({', '.join(data['md5_differs'])} "
                      "have other md5 sums): using them anyway; accuracies may differ from published figures")
    return data


# --- ImageFolder -------------------------------------------------------------------

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _scan(split_dir: Path) -> list[tuple[str, list[Path]]]:
    classes = sorted(d for d in split_dir.iterdir() if d.is_dir())
    if not classes:
        raise DataError(f"{split_dir} has no class folders: expected {split_dir}/<class>/<image files>")
    out = []
    for c in classes:
        files = sorted(p for p in c.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())  # no FIFOs
        if not files:
            raise DataError(f"class folder {c} has no images ({', '.join(IMAGE_EXTENSIONS)}); add some or remove it")
        out.append((c.name, files))
    return out


def _load_imagefolder(data_dir: Path, size: int) -> dict:
    if not data_dir.is_dir():
        raise DataError(f"imagefolder: {data_dir} is not a folder; expected DIR/train/<class>/* (and DIR/test/<class>/*)")
    train_dir = data_dir / "train"
    if not train_dir.is_dir():
        raise DataError(f"imagefolder: {data_dir} has no train/ folder; expected DIR/train/<class>/* and optionally DIR/test/<class>/*")
    train = _scan(train_dir)
    test = _scan(data_dir / "test") if (data_dir / "test").is_dir() else None
    classes = [c for c, _ in train]
    if test is not None and [c for c, _ in test] != classes:
        raise DataError(f"imagefolder: test/ classes {[c for c, _ in test]} differ from train/ classes {classes}")
    files = [f for _, fs in train + (test or []) for f in fs]

    def build() -> dict:
        from PIL import Image

        def open_image(f):
            try:
                img = Image.open(f)
                img.load()
                return img
            except Exception as e:  # UnidentifiedImageError, truncated file, decompression bomb, ...
                raise DataError(f"imagefolder: cannot decode {f} ({type(e).__name__}: {e}); fix or remove the file") from None

        # Grayscale only when every image is single-channel; otherwise RGB throughout.
        sample_modes = {open_image(f).mode for f in files[:: max(1, len(files) // 50)]}
        mode = "L" if sample_modes <= {"L", "1", "I;16", "I"} else "RGB"

        def read(groups):
            xs, ys = [], []
            for label, (_, fs) in enumerate(groups):
                for f in fs:
                    img = open_image(f).convert(mode)
                    if img.size != (size, size):
                        img = img.resize((size, size), Image.BILINEAR)
                    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
                    xs.append(t.reshape(size, size, -1).permute(2, 0, 1))
                    ys.append(label)
            return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)

        trx, try_ = read(train)
        tex, tey = read(test) if test is not None else (None, None)
        return {"train_x": trx, "train_y": try_, "test_x": tex, "test_y": tey, "classes": classes}

    return _cached("imagefolder", _fingerprint(files, f"size={size}"), build)


# --- synthetic -----------------------------------------------------------------------


def make_synthetic(n_train: int = 2000, n_test: int = 500, num_classes: int = 10, size: int = 32, seed: int = 0) -> dict:
    """Each class is a small random colour texture pasted at a random place on a noisy
    background, at a random brightness. Every image has the same mean colour
    statistics, so no pixel-wise or colour rule separates the classes: a net has to
    find the texture wherever it is (translation: what convolutions are for)."""
    g = torch.Generator().manual_seed(seed)
    patch = max(4, size // 4)
    textures = torch.randn(num_classes, 3, patch, patch, generator=g)

    def render(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, num_classes, (n,), generator=g)
        x = torch.randn(n, 3, size, size, generator=g) * 0.6
        rows = torch.randint(0, size - patch + 1, (n,), generator=g)
        cols = torch.randint(0, size - patch + 1, (n,), generator=g)
        for i in range(n):
            r, c = int(rows[i]), int(cols[i])
            x[i, :, r:r + patch, c:c + patch] += textures[y[i]]
        x = x - x.mean(dim=(1, 2, 3), keepdim=True)  # equal mean brightness for every image
        x = x * (0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=g))
        return (x * 40 + 128).clamp(0, 255).to(torch.uint8), y

    trx, try_ = render(n_train)
    tex, tey = render(n_test)
    return {"train_x": trx, "train_y": try_, "test_x": tex, "test_y": tey, "classes": [f"class{i}" for i in range(num_classes)]}


# --- the public entry point ----------------------------------------------------------


def balanced_subset(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of n samples with classes as equal as possible (deterministic per seed)."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(y)
    per = [n // len(classes) + (1 if i < n % len(classes) else 0) for i in range(len(classes))]
    picks = []
    for c, k in zip(classes.tolist(), per):
        idx = torch.nonzero(y == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    return torch.sort(torch.cat(picks)).values


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, input_size: int | None = None,
                 subset: int | None = None, val_split: float | None = None, download: bool = True,
                 test_subset: int | None = None,
                 synthetic_size: tuple[int, int] = (2000, 500), seed: int = 0) -> Dataset:
    if name not in DATASETS:
        raise ConfigError("dataset", f"{name!r} is unknown: expected one of {', '.join(DATASETS)}")
    if name in ("cifar10", "cifar100", "imagefolder") and data_dir is None:
        raise ConfigError("data_dir", f"is needed for `dataset={name!r}`: the folder holding the data")
    if name in ("cifar10", "cifar100"):
        d = _load_cifar(name, Path(data_dir), download)
    elif name == "imagefolder":
        d = _load_imagefolder(Path(data_dir), input_size or 32)
    else:
        d = make_synthetic(*synthetic_size, size=input_size or 32)
    train_x, train_y, test_x, test_y = d["train_x"], d["train_y"], d["test_x"], d["test_y"]
    test_split = "test"
    if val_split is not None:
        v.number(val_split, "val_split", 0, 1, lo_open=True, hi_open=True)
    if test_x is None or val_split:
        frac = val_split or 0.1
        held = balanced_subset(train_y, max(1, int(round(frac * len(train_y)))), seed=10_000 + seed)
        keep = torch.ones(len(train_y), dtype=torch.bool)
        keep[held] = False
        test_x, test_y = train_x[held], train_y[held]
        train_x, train_y = train_x[keep], train_y[keep]
        test_split = "val-split"
    if subset is not None:
        if subset < len(torch.unique(train_y)):
            raise ConfigError("subset", f"{subset} is smaller than the number of classes; give at least one image per class")
        if subset < len(train_y):
            idx = balanced_subset(train_y, subset, seed=20_000)
            train_x, train_y = train_x[idx], train_y[idx]
    if test_subset is not None:
        v.whole(test_subset, "test_subset", 1)
        if test_subset < len(test_y):
            idx = balanced_subset(test_y, test_subset, seed=30_000)
            test_x, test_y = test_x[idx], test_y[idx]
    return Dataset(name=name, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y,
                   classes=tuple(d["classes"]), test_split=test_split,
                   official=not d["md5_differs"] if isinstance(d.get("md5_differs"), list) else None)
