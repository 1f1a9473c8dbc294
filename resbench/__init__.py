"""resbench: build, profile, train and compare ResNet variants from depth specs.

Importing this package is cheap (no torch): ``build_model`` and the measurement
functions load torch on first use, so ``resbench --help`` stays instant.
"""

from __future__ import annotations

from resbench.spec import NetSpec, format_spec, parse_spec

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: importing torch costs ~1-2 s, which the CLI's fast paths must not pay.
    if name == "build_model":
        from resbench.model import build_model

        return build_model
    if name == "count_complexity":
        from resbench.measure.complexity import count_complexity

        return count_complexity
    raise AttributeError(f"module 'resbench' has no attribute {name!r}")


__all__ = ["NetSpec", "parse_spec", "format_spec", "build_model", "count_complexity", "__version__"]
