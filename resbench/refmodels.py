"""Reference models as specs: ``torchvision:NAME`` (any torchvision classification model)
and ``timm:NAME`` (any timm model, when timm is installed), next to resbench's own nets
in `show`, `profile`, `baseline` and `check`.

They are counted with ``torch.utils.flop_counter.FlopCounterMode`` (forward and
backward), since fvcore and the analytic counter know only resbench's grammar. Their
default input size comes from the model's own config (torchvision: its weights'
transforms; timm: ``pretrained_cfg["input_size"]``); ``--input-size`` overrides it.
Nothing is downloaded: models are built with random weights.
"""

from __future__ import annotations

import difflib
import functools
import warnings
from dataclasses import dataclass

from resbench.errors import SpecError, UsageError

SOURCES = ("torchvision", "timm")


@dataclass(frozen=True)
class RefModel:
    source: str  # torchvision | timm
    model: str  # the library's own model name
    input_size: int  # square input side
    default_input_size: int  # the model's own
    num_classes: int
    in_channels: int = 3

    @property
    def name(self) -> str:
        base = f"{self.source}:{self.model}"
        return base if self.input_size == self.default_input_size else f"{base}:input-size={self.input_size}"

    def to_dict(self) -> dict:
        return {"source": self.source, "model": self.model, "input_size": self.input_size, "num_classes": self.num_classes,
                "in_channels": self.in_channels}

    def build(self):
        with warnings.catch_warnings():  # e.g. inception_v3's notice about its future default initialisation
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            if self.source == "torchvision":
                import torchvision

                return torchvision.models.get_model(self.model, weights=None)
            return _timm().create_model(self.model, pretrained=False)


def is_reference(text: str) -> bool:
    return isinstance(text, str) and text.split(":", 1)[0] in SOURCES and ":" in text


def _timm():
    try:
        import timm
    except ImportError:
        raise UsageError('timm: models need timm: pip install -e ".[timm]" (or pip install timm)') from None
    return timm


@functools.lru_cache(maxsize=2)
def _names(source: str) -> tuple[str, ...]:
    if source == "torchvision":
        import torchvision

        return tuple(torchvision.models.list_models(module=torchvision.models))
    return tuple(_timm().list_models())


def _defaults(source: str, model: str) -> tuple[int, int]:
    """(input size, classes) from the model's own config, without downloading anything."""
    if source == "torchvision":
        import torchvision

        try:
            weights = torchvision.models.get_model_weights(model).DEFAULT
            return int(weights.transforms().crop_size[0]), len(weights.meta["categories"])
        except Exception:  # a model without published weights: the ImageNet defaults
            return 224, 1000
    cfg = _timm().get_pretrained_cfg(model)
    size = (cfg.input_size if cfg is not None else (3, 224, 224))[-1]
    return int(size), int(cfg.num_classes if cfg is not None and cfg.num_classes else 1000)


def parse_reference(text: str, **modifiers) -> RefModel:
    """``torchvision:resnet50``, ``timm:resnet50d:input-size=288``; of the modifiers only
    input-size applies (the others describe resbench's own nets)."""
    source, _, rest = text.partition(":")
    model, _, mods = rest.partition(":")
    values = dict(m.split("=", 1) if "=" in m else (m, "") for m in mods.split(":") if m)
    values = {k.replace("-", "_"): v for k, v in values.items()}
    values.update({k: v for k, v in modifiers.items() if v not in (None, False)})
    extra = set(values) - {"input_size"}
    if extra:
        raise SpecError(f"{source}: models take only `input_size`; {', '.join(f'`{k}`' for k in sorted(extra))} apply to resbench's own specs")
    names = _names(source)
    if model not in names:
        close = difflib.get_close_matches(model, names, n=3, cutoff=0.5)
        raise SpecError(f"unknown {source} model {model!r}" + (f": did you mean {', '.join(close)}?" if close else
                                                               f"; see {source}'s list of models"))
    size, classes = _defaults(source, model)
    input_size = size
    if "input_size" in values:
        v = str(values["input_size"])
        if not (v.isascii() and v.isdigit()) or not 8 <= int(v) <= 4096:
            raise SpecError(f"input-size takes a whole number from 8 to 4096, got {v!r}")
        input_size = int(v)
    ref = RefModel(source, model, input_size, size, classes)
    if input_size != size:
        _check_input_size(ref)
    return ref


def _check_input_size(ref: RefModel) -> None:
    """Refuse an input size the model cannot take (too small for its pooling, or fixed by
    its design), found by one forward pass on the meta device: shapes only, no memory."""
    import torch

    try:
        with torch.device("meta"):
            net = ref.build().eval()
            with torch.no_grad():
                net(torch.empty(1, ref.in_channels, ref.input_size, ref.input_size))
    except NotImplementedError:
        return  # an op without a meta kernel: the real run says what it says
    except Exception as e:  # noqa: BLE001 - the model's own complaint about the shape, in one line
        why = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise SpecError(f"{ref.source}:{ref.model} does not run at input-size {ref.input_size} ({why}); "
                        f"give a larger input-size (its own is {ref.default_input_size})") from None
