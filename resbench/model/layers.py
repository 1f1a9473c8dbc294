"""Conv2d and Linear that skip PyTorch's default initialisation while being built.

Every network here is initialised right after construction, by ``ResNet.reset_parameters``
(He init) or with zeros (``build_model(init_weights=False)``), so PyTorch's default
kaiming-uniform init would be computed only to be overwritten: 0.4 s for ResNet-152,
which `resbench show` cannot afford. These subclasses skip it during ``__init__`` only;
``reset_parameters()`` called later behaves exactly as torch's. Nothing global is
patched, and a torchvision ``state_dict`` loads as before (same names, same shapes).
"""

from __future__ import annotations

from torch import nn


class _SkipInitWhileBuilding:
    def __init__(self, *args, **kwargs) -> None:
        object.__setattr__(self, "_building", True)
        try:
            super().__init__(*args, **kwargs)
        finally:
            object.__delattr__(self, "_building")

    def reset_parameters(self) -> None:
        if getattr(self, "_building", False):
            return
        super().reset_parameters()


class Conv2d(_SkipInitWhileBuilding, nn.Conv2d):
    pass


class Linear(_SkipInitWhileBuilding, nn.Linear):
    pass
