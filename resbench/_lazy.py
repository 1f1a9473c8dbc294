"""Lazy public names for a package: ``name -> (module, attribute)``, imported on first use,
so that importing the package stays cheap (torch costs ~1-2 s to import)."""

from __future__ import annotations

import importlib


def lazy_getattr(package: str, api: dict[str, tuple[str, str]]):
    """A module-level ``__getattr__`` (PEP 562) serving the names in ``api``."""

    def __getattr__(name: str):
        if name in api:
            module, attr = api[name]
            return getattr(importlib.import_module(module), attr)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
