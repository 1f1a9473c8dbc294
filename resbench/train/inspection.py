"""The analyses as library calls: layer responses (Fig. 7) and gradient norms over a
short training run, each returning a typed report and storing it as a record.

The measurements themselves are in ``resbench.train.analysis``; this module builds
the nets, trains or loads them, picks the batch, and keeps the record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from resbench import validate as v
from resbench.errors import ConfigError
from resbench.hooks import Hooks
from resbench.measure.env import collect_env
from resbench.model import build_model
from resbench.spec import NetSpec, parse_spec
from resbench.store import Store
from resbench.train.analysis import (
    gradient_norms,
    gradient_verdict,
    layer_responses,
    load_checkpoint,
)
from resbench.train.cells import fit_to_data, load_data
from resbench.train.config import TrainConfig
from resbench.train.engine import train
from resbench.train.loader import channel_stats


def _for_analysis(model):
    """Back on the CPU in the default layout (training may have moved it to NHWC / a GPU)."""
    return model.cpu().to(memory_format=torch.contiguous_format)


def _nets(specs: list[NetSpec | str], cfg: TrainConfig, train_epochs: int, checkpoint: str | None,
          hooks: Hooks):
    """Build each net, then load a checkpoint or train it briefly; yields (spec, model, data)."""
    if checkpoint and len(specs) != 1:
        raise ConfigError("checkpoint", "belongs to one network: give exactly one spec with it")
    v.whole(train_epochs, "train_epochs", 0, 100_000)
    parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
    for spec in parsed:
        data = load_data(cfg, spec.input_size, warn=hooks.warning)
        spec = fit_to_data(spec, data)
        model = build_model(spec, init_weights=False)
        model.reset_parameters(seed=cfg.seed)
        if checkpoint:
            load_checkpoint(model, checkpoint)
        elif train_epochs:
            r = train(spec, replace(cfg, epochs=train_epochs), data, model=model,
                      progress=lambda phase, i, n: hooks.report(f"training {spec.name} {phase}", i, n))
            if r.diverged:
                hooks.warning(f"{spec.name} diverged during training ({r.diverged_at})")
        yield spec, _for_analysis(model), data


def _batch(data, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.test_y), generator=g)[:n]
    mean, std = channel_stats(data.train_x)
    x = (data.test_x[idx].float() / 255 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    return x, data.test_y[idx]


def _store(save: bool, results_dir, kind: str, config: dict, result: dict) -> None:
    if not save:
        return

    Store(results_dir).put(kind, config=config, result=result, env=collect_env(torch.device("cpu")))


@dataclass(frozen=True)
class ResponsesReport:
    nets: dict[str, list[dict]]  # net -> [{index, name, value}] per 3x3 layer, forward order
    train_epochs: int
    checkpoint: str | None
    title: str

    def to_dict(self, plot: str | None = None) -> dict:
        return {"nets": self.nets, "plot": plot, "train_epochs": self.train_epochs, "checkpoint": self.checkpoint}


@dataclass(frozen=True)
class GradientsReport:
    nets: dict[str, list[dict]]  # net -> per measured epoch {epoch, weights, outputs, first_last_ratio, verdict}
    curves: dict[str, list[float]]  # "net @ epoch e" -> weight-gradient norm per conv layer
    title: str

    def to_dict(self, plot: str | None = None) -> dict:
        return {"nets": self.nets, "plot": plot}


def analyze_responses(specs: list[NetSpec | str], config: TrainConfig, *, train_epochs: int = 0,
                      images: int = 256, checkpoint: str | None = None, save: bool = True, results_dir=None,
                      plot: str | None = None, hooks: Hooks = Hooks()) -> ResponsesReport:
    """Std of each 3x3 layer's response (after BN, before ReLU/addition) on test images."""
    v.whole(images, "images", 1, 1_000_000)
    nets = {}
    for spec, model, data in _nets(specs, config, train_epochs, checkpoint, hooks):
        x, _ = _batch(data, images, config.seed)
        nets[spec.name] = [vars(lv) for lv in layer_responses(model, x)]
    title = f"layer responses on {config.dataset} ({'checkpoint' if checkpoint else f'{train_epochs} training epochs'})"
    report = ResponsesReport(nets, train_epochs, checkpoint, title)
    _store(save, results_dir, "analysis-responses", {"specs": list(nets), "dataset": config.dataset, "seed": config.seed,
                                                      "train_epochs": train_epochs, "images": images}, report.to_dict(plot))
    return report


def analyze_gradients(specs: list[NetSpec | str], config: TrainConfig, *, at_epochs: list[int] = (0,),
                      images: int = 128, checkpoint: str | None = None, save: bool = True, results_dir=None,
                      plot: str | None = None, hooks: Hooks = Hooks()) -> GradientsReport:
    """Per-layer gradient norms at the given points of a short training run, with a verdict."""
    v.whole(images, "images", 1, 1_000_000)
    points = sorted({v.whole(p, "at_epochs", 0, 100_000) for p in at_epochs})
    if not points:
        raise ConfigError("at_epochs", "is empty: give epochs such as 0,1,3")
    nets, curves = {}, {}
    for spec, model, data in _nets(specs, config, 0, checkpoint, hooks):
        x, y = _batch(data, images, config.seed)
        done = 0
        per_point = []
        for p in points:
            if p > done:
                train(spec, replace(config, epochs=p - done, seed=config.seed + done), data, model=model,
                      progress=lambda phase, i, n: hooks.report(f"training {spec.name} {phase}", i, n))
                model = _for_analysis(model)
                done = p
            w, o = gradient_norms(model, x, y)
            ratio, verdict = gradient_verdict(w)
            per_point.append({"epoch": p, "weights": [vars(lv) for lv in w], "outputs": [vars(lv) for lv in o],
                              "first_last_ratio": ratio, "verdict": verdict})
            curves[f"{spec.name} @ epoch {p}"] = [lv.value for lv in w]
        nets[spec.name] = per_point
    report = GradientsReport(nets, curves, f"gradient norms on {config.dataset}")
    _store(save, results_dir, "analysis-gradients", {"specs": list(nets), "dataset": config.dataset, "seed": config.seed,
                                                      "at_epochs": points, "images": images}, report.to_dict(plot))
    return report
