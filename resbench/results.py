"""The typed results of a run, as records hold them: a training run's (``TrainResult``)
and a profile's (``ProfileResult``), each with the check that reads a stored result back
as its type, refusing one with a number no run could have produced.

The store reads records through these checks, so report/ reads records as typed results
without importing train/ or measure/. Torch-free.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field

import numpy as np

from resbench.validate import number, whole
from resbench.stats import Summary

P99_MIN_SAMPLES = 100  # fewer samples cannot place a 99th percentile (it would be the max or an interpolation of it)
LAUNCH_BOUND_BUSY = 0.5  # GPU busy for less than this share of the step: launch-bound


def is_launch_bound(gpu_busy: float | None) -> bool:
    """The GPU sits idle most of each step: the host cannot launch kernels fast enough."""
    return gpu_busy is not None and gpu_busy < LAUNCH_BOUND_BUSY


def pack_correct(correct) -> str:
    """Per-image right answers (bools, in the test set's order) as base64 packed bits."""
    bits = np.packbits(np.asarray(correct, dtype=bool))
    return base64.b64encode(bits.tobytes()).decode("ascii")


def unpack_correct(text: str, n: int) -> np.ndarray:
    """The inverse of ``pack_correct`` for ``n`` images."""
    raw = np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8)
    if len(raw) != (n + 7) // 8:
        raise ValueError(f"{len(raw)} bytes of per-image results do not hold {n} images")
    return np.unpackbits(raw)[:n].astype(bool)


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    lr: float  # at the end of the epoch
    train_loss: float
    train_error: float  # on the augmented batches as they were trained (the paper's curves)
    test_error: float
    seconds: float
    step_seconds: float  # forward + backward + step alone (the rest is data and bookkeeping)


@dataclass(frozen=True)
class TrainResult:
    spec: str
    params: int
    macs: int
    epochs: int  # completed
    history: tuple[EpochStats, ...]
    final_train_error: float | None
    final_test_error: float | None
    diverged: bool
    diverged_at: str | None  # "epoch 3, step 17" when the loss became NaN/inf or exploded
    seconds: float
    images_per_second: float
    data_fraction: float  # share of epoch time outside the training step (data, eval excluded)
    test_split: str
    effective_batch_size: int
    lr: float
    world_size: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)
    stopped_early: bool = False  # on_epoch asked to stop before cfg.epochs (pruned by a search)
    packed: int = 1  # members trained together in one grouped network (resbench.train.engine); 1: alone
    # Which test images the final net got right, in the test set's fixed order: packed bits
    # (numpy.packbits, big-endian within a byte) in base64; 10,000 bits for CIFAR-10.
    test_correct: str | None = None

    test_images: int | None = None  # images behind test_correct
    contention: float | None = None  # share of the cores other processes used while it trained (resbench.measure.busy)
    data_official: bool | None = None  # the data files are the official release's (resbench.train.data.Dataset.official)

    def correct(self) -> np.ndarray | None:
        """The final net's right answers per test image (bool), None when not recorded."""
        return None if self.test_correct is None else unpack_correct(self.test_correct, self.test_images)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["history"] = [asdict(h) for h in self.history]
        d["test_error"] = self.final_test_error
        d["train_error"] = self.final_train_error
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainResult:
        """The inverse of ``to_dict`` (extra keys, such as those of packed runs, are ignored)."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["history"] = tuple(EpochStats(**{k: h[k] for k in EpochStats.__dataclass_fields__}) for h in d["history"])
        fields["notes"] = tuple(d.get("notes", ()))
        return cls(**fields)


def check_train_result(d: dict) -> TrainResult:
    """A stored train result is what TrainResult reads back, with every number in its range:
    errors and shares in [0, 1] (the data fraction in [-1, 1]: a difference of times), counts whole and positive, times finite and positive. A run
    that did not diverge has a history and final errors."""
    if not isinstance(d.get("history"), list) or not all(isinstance(h, dict) for h in d["history"]):
        raise TypeError("history is not a list of epochs")
    r = TrainResult.from_dict(d)
    if not isinstance(r.spec, str) or not isinstance(r.diverged, bool):
        raise TypeError("spec must be text and diverged true or false")
    for name in ("final_train_error", "final_test_error"):
        if getattr(r, name) is not None:
            number(getattr(r, name), f"result {name}", 0, 1)
    for name in ("params", "macs", "effective_batch_size", "world_size", "packed"):
        whole(getattr(r, name), f"result {name}", 1, None)
    whole(r.epochs, "result epochs", 0, None)  # a run that diverged in its first epoch has none
    for name in ("seconds", "images_per_second", "lr"):
        number(getattr(r, name), f"result {name}", 0, lo_open=True)
    number(r.data_fraction, "result data fraction", -1, 1)
    if r.contention is not None:
        number(r.contention, "result contention", 0, 1)
    if r.data_official is not None and not isinstance(r.data_official, bool):
        raise TypeError(f"data_official is {r.data_official!r}, not true, false or null")
    for i, h in enumerate(r.history):
        where = f"result history[{i}]"
        whole(h.epoch, f"{where} epoch", 1, None)
        for name in ("train_error", "test_error"):
            number(getattr(h, name), f"{where} {name}", 0, 1)
        for name in ("lr", "train_loss", "seconds", "step_seconds"):
            number(getattr(h, name), f"{where} {name}", 0)
    if r.epochs != len(r.history):
        raise ValueError(f"epochs is {r.epochs} but the history holds {len(r.history)}")
    if not r.diverged and (not r.history or r.final_test_error is None or r.final_train_error is None):
        raise ValueError("a run that did not diverge has no history or no final errors")
    if r.test_correct is not None:
        if not isinstance(r.test_images, int) or isinstance(r.test_images, bool) or r.test_images < 1:
            raise TypeError(f"test_images is {r.test_images!r}, not a count of images")
        right = unpack_correct(r.test_correct, r.test_images)
        if r.final_test_error is None or abs(1 - right.mean() - r.final_test_error) > 1e-9:
            raise ValueError("the per-image results disagree with the final test error")
    return r


def check_train_config(c: dict) -> None:
    """A stored train config's counts: at least one epoch and one image a batch, a seed >= 0."""
    if "epochs" in c:
        whole(c["epochs"], "config epochs", 1, None)
    if "batch_size" in c:
        whole(c["batch_size"], "config batch size", 1, None)
    if "seed" in c:
        whole(c["seed"], "config seed", 0, None)




@dataclass(frozen=True)
class StageTime:
    name: str
    median_ms: float
    share: float  # of the sum of the stage medians
    tflops: float | None  # achieved, from the stage's MACs (None when unknown)
    macs: int | None  # per image

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ProfileResult:
    spec: str
    device: str
    device_name: str
    dtype: str
    mode: str
    batch_size: int  # the batch actually measured (smaller than requested after an OOM back-off)
    batch_size_requested: int
    channels_last: bool
    compiled: bool
    cuda_graphs: bool
    threads: int
    params: int
    macs: int  # per image
    flops: int  # per image, 2 x MACs (forward)
    latency: Summary  # per iteration (one batch), ms
    samples_ms: tuple[float, ...]
    throughput: float  # samples/s from the synchronized wall-clock of the timed loop
    phases_ms: dict | None  # train: median forward / backward / optimizer ms
    peak_memory_bytes: int | None
    memory_method: str
    achieved_tflops: float  # flops x throughput (x3 for a train step: forward + 2x backward)
    peak_tflops: float | None
    peak_source: str | None
    mfu: float | None  # achieved / peak
    compile_s: float | None
    warmup_s: float
    measure_s: float
    total_s: float
    alt_layout: dict | None = None  # CPU: {"channels_last", "median_ms", "speedup"} of the other layout
    notes: tuple[str, ...] = ()  # caveats the reader must see next to the numbers
    env: dict = field(default_factory=dict)
    gpu_busy: float | None = None  # CUDA: kernel time / wall time of a step (None on CPU or when not measured)
    breakdown: tuple = ()  # StageTime per stage (profile --breakdown), in forward order
    breakdown_rest_ms: float | None = None  # whole-model median minus the sum of the stage medians
    compile_mode: str | None = None
    max_abs_diff_vs_eager: float | None = None  # compiled/exported output vs eager, same input
    backend: str = "eager"
    contention: float | None = None  # share of the cores other processes used while measuring (resbench.measure.busy)

    @property
    def launch_bound(self) -> bool:
        """The GPU sits idle most of each step: the host cannot launch kernels fast enough."""
        return is_launch_bound(self.gpu_busy)

    @property
    def p99_estimable(self) -> bool:
        return self.latency.n >= P99_MIN_SAMPLES

    @property
    def suggestion(self) -> str | None:
        if self.alt_layout and self.alt_layout["speedup"] > 1.05:
            flag = "`channels_last=True`" if self.alt_layout["channels_last"] else "the default (contiguous) layout"
            return f"{flag} is {self.alt_layout['speedup']:.2f}x faster here (median {self.alt_layout['median_ms']:.3f} ms)"
        return None

    def to_dict(self) -> dict:
        d = asdict(self)
        lat = d.pop("latency")
        d["latency_ms"] = {k: lat[k] for k in ("median", "mean", "min", "max", "p90", "p99", "iqr", "std")}
        d["n_samples"] = lat["n"]
        d["noisy"] = self.latency.noisy
        d["samples_ms"] = list(self.samples_ms)
        d["suggestion"] = self.suggestion
        d["launch_bound"] = self.launch_bound
        d["p99_estimable"] = self.p99_estimable
        d["breakdown"] = [s.to_dict() for s in self.breakdown]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ProfileResult":
        """The inverse of ``to_dict``: a stored profile record's result, typed again."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["latency"] = Summary(**d["latency_ms"], n=d["n_samples"])
        fields["samples_ms"] = tuple(d["samples_ms"])
        fields["notes"] = tuple(d.get("notes", ()))
        fields["breakdown"] = tuple(StageTime(**s) for s in d.get("breakdown") or ())
        return cls(**fields)


def check_profile_result(d: dict) -> ProfileResult:
    """A stored profile result is what ProfileResult reads back, with every number in its
    range: counts whole, times and rates finite and positive (or zero where a phase can
    take none), shares in [0, 1]; samples agree with their count."""
    if not isinstance(d.get("samples_ms"), list) or not isinstance(d.get("latency_ms"), dict):
        raise TypeError("samples_ms is not a list or latency_ms not a table")
    r = ProfileResult.from_dict(d)
    if not all(isinstance(getattr(r, k), str) for k in ("spec", "device", "dtype", "mode")):
        raise TypeError("spec, device, dtype and mode must be text")
    for name in ("batch_size", "batch_size_requested", "threads"):
        whole(getattr(r, name), f"result {name}", 1, None)
    for name in ("params", "macs", "flops"):
        whole(getattr(r, name), f"result {name}", 0, None)
    if r.peak_memory_bytes is not None:
        whole(r.peak_memory_bytes, "result peak_memory_bytes", 0, None)
    for name in ("throughput", "achieved_tflops", "warmup_s", "measure_s", "total_s"):
        number(getattr(r, name), f"result {name}", 0)
    for name in ("peak_tflops", "compile_s"):
        if getattr(r, name) is not None:
            number(getattr(r, name), f"result {name}", 0)
    for name in ("mfu", "gpu_busy", "contention"):
        if getattr(r, name) is not None:
            number(getattr(r, name), f"result {name}", 0, 1)
    for name in ("median", "p90", "p99", "mean", "min", "max", "iqr", "std"):
        if getattr(r.latency, name) is not None:
            number(getattr(r.latency, name), f"result latency {name}", 0)
    if not r.samples_ms:
        raise ValueError("a profile result has no samples")
    for i, x in enumerate(r.samples_ms):
        number(x, f"result samples_ms[{i}]", 0)
    if r.latency.n != len(r.samples_ms):
        raise ValueError(f"n_samples is {r.latency.n} but samples_ms holds {len(r.samples_ms)}")
    return r
