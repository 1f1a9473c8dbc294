"""The paper's CIFAR-10 figures, as data, and how a run's recipe differs from the paper's.

He et al. 2015, Table 6: test error of the CIFAR-10 ResNets (option A shortcuts) trained
with the recipe of Sec. 4.2: 64k iterations at batch 128 (164 epochs of 50k images), SGD
with momentum 0.9 and weight decay 1e-4, lr 0.1 divided by 10 at 32k and 48k iterations
(50 % and 75 %), 4-pixel-pad random crops and horizontal flips. Every figure is the best
of the paper's runs except ResNet-110's, which the paper also gives as a mean over 5
runs (6.61 ± 0.16). Two published PyTorch/Torch reproductions stand beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from resbench.spec import NetSpec, parse_spec
from resbench.train.config import TrainConfig

SOURCE = "He et al. 2015, Table 6"
# Test error (fraction) of each Table 6 ResNet, by preset name.
TABLE6 = {"resnet20": 0.0875, "resnet32": 0.0751, "resnet44": 0.0717, "resnet56": 0.0697,
          "resnet110": 0.0643, "resnet1202": 0.0793}
TABLE6_RESNET110_MEAN = (0.0661, 0.0016)  # mean ± sd over 5 runs
REPRODUCTIONS = {
    "akamaster/pytorch_resnet_cifar10": {"resnet20": 0.0827, "resnet32": 0.0737, "resnet44": 0.0690,
                                         "resnet56": 0.0661, "resnet110": 0.0632},
    "gcr/torch-residual-networks (option A)": {"resnet20": 0.0829, "resnet32": 0.0763, "resnet44": 0.0714,
                                               "resnet56": 0.0694, "resnet110": 0.0673},
}
PAPER_EPOCHS = 164  # 64k iterations of 128 images over 50k training images
PAPER_BATCH = 128
PAPER_LR = 0.1
TRAIN_IMAGES = 50_000
_SPECS = {parse_spec(name): name for name in TABLE6}


@dataclass(frozen=True)
class PaperFigure:
    """The paper's figure for a run's net, and what separates the run from the paper's recipe."""

    name: str  # the Table 6 net, e.g. "resnet20"
    test_error: float  # fraction
    differs: tuple[str, ...]  # the run's departures from the recipe; empty: the paper's recipe
    data_known: bool = True  # whether the run recorded if its data files were the official release's

    @property
    def same_recipe(self) -> bool | None:
        """False when the run departs from the recipe; None when nothing recorded departs but
        the data files were not recorded; True when it is the paper's recipe on the paper's data."""
        if self.differs:
            return False
        return True if self.data_known else None

    @property
    def references(self) -> dict[str, float]:
        """The paper's figure and the published reproductions' for this net: label -> test error."""
        return {f"paper ({SOURCE})": self.test_error,
                **{repo: figures[self.name] for repo, figures in REPRODUCTIONS.items() if self.name in figures}}

    def gap(self, measured: float | None) -> float | None:
        """Measured minus the paper's test error (fraction), None without a measurement."""
        return None if measured is None else measured - self.test_error

    def to_dict(self, measured: float | None) -> dict:
        return {"paper_test_error": self.test_error, "paper_net": self.name, "paper_source": SOURCE,
                "paper_gap": self.gap(measured), "paper_recipe": self.same_recipe,
                "recipe_differs": list(self.differs)}

    def line(self, measured: float | None) -> str:
        """One sentence: the paper's figure, the gap, and whether the run can be read against it."""
        gap = self.gap(measured)
        text = f"paper ({SOURCE}): {self.name} {self.test_error:.2%} test error"
        if gap is not None:
            text += f"; measured {measured:.2%} ({gap * 100:+.2f} points)"
        if self.differs:
            return text + f". Not the paper's recipe ({'; '.join(self.differs)}): the gap is not a failure to reproduce."
        if not self.data_known:
            return text + (". The paper's recipe, but whether the data files were the official release's was not "
                           "recorded: part of the gap may be the data's.")
        return text + ". The paper's recipe: the gap is the reproduction's."


def paper_figure(spec: NetSpec, cfg: TrainConfig, data_official: bool | None = None) -> PaperFigure | None:
    """The paper's figure for a CIFAR-10 net of Table 6 (None for any other net or data set).
    ``data_official``: whether the run's data files were the official release's (None: unknown)."""
    name = _SPECS.get(spec)
    if name is None or cfg.dataset != "cifar10":
        return None
    return PaperFigure(name, TABLE6[name], recipe_differences(cfg, spec, data_official), data_official is not None)


def official_data(flags) -> bool | None:
    """Several runs' `data_official` as one: False when any ran on other files than the
    official release's, True when all that know ran on the official ones, None when none knows."""
    known = [f for f in flags if f is not None]
    return all(known) if known else None


def recipe_differences(cfg: TrainConfig, spec: NetSpec, data_official: bool | None = None) -> tuple[str, ...]:
    """How ``cfg`` (and, when known, the data files) depart from the paper's CIFAR-10 recipe
    for ``spec``, each in a few words. A copy whose files differ from the official release
    (a re-encoding, such as a JPEG copy) is a different data set for this purpose."""
    out = []
    if data_official is False:
        out.append("data files whose md5 sums differ from the official CIFAR-10 release's, a re-encoded or altered copy")
    if cfg.epochs != PAPER_EPOCHS:
        out.append(f"{cfg.epochs} epoch{'' if cfg.epochs == 1 else 's'} of {PAPER_EPOCHS}")
    if cfg.schedule != "step":
        out.append(f"{cfg.schedule} schedule, not step")
    batch = cfg.batch_size
    if batch != PAPER_BATCH:
        out.append(f"batch {batch}, not {PAPER_BATCH}")
    if abs(cfg.base_lr - PAPER_LR * batch / PAPER_BATCH) > 1e-12:
        out.append(f"lr {cfg.base_lr:g}, not {PAPER_LR * batch / PAPER_BATCH:g}")
    if cfg.subset is not None and cfg.subset < TRAIN_IMAGES:
        out.append(f"{cfg.subset:,} of {TRAIN_IMAGES:,} training images")
    if cfg.val_split is not None:
        out.append(f"{cfg.val_split:.0%} of the training set held out as the test set")
    if cfg.test_subset is not None:
        out.append(f"tested on {cfg.test_subset:,} of 10,000 test images")
    if cfg.warmup != "auto" and (cfg.warmup == "on") != (spec.depth >= 110):
        out.append(f"warm-up {cfg.warmup} (the paper warms up nets of depth 110 and more)")
    if cfg.momentum != 0.9 or cfg.weight_decay != 1e-4:
        out.append(f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}")
    return tuple(out)
