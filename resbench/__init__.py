"""resbench: build, profile, train and compare ResNet variants from depth specs.

Importing this package is cheap (no torch): ``build_model`` and the measurement
functions load torch on first use, so ``resbench --help`` stays instant.
"""

from __future__ import annotations

from resbench._lazy import lazy_getattr
from resbench.spec import NetSpec, format_spec, parse_spec

__version__ = "0.1.0"


# The Python API (see the README's "Python API"): name -> (module, attribute), imported
# on first use because torch costs ~1-2 s, which the CLI's fast paths must not pay.
# ``train`` and ``check`` are subpackages, so their entry points are
# ``resbench.train.train`` and ``resbench.run_check`` (``resbench.check.run_check``).
_API = {
    "build_model": ("resbench.model", "build_model"),
    "count_complexity": ("resbench.measure.complexity", "count_complexity"),
    "profile": ("resbench.measure.timing", "profile"),
    "ProfileConfig": ("resbench.measure.timing", "ProfileConfig"),
    "TrainConfig": ("resbench.train.config", "TrainConfig"),
    "load_dataset": ("resbench.train.data", "load_dataset"),
    "compare": ("resbench.train.comparison", "compare"),
    "run_search": ("resbench.search.driver", "run_search"),
    "SearchOptions": ("resbench.search.driver", "SearchOptions"),
    "run_check": ("resbench.check", "run_check"),
    "run_baseline": ("resbench.check", "run_baseline"),
}
__getattr__ = lazy_getattr("resbench", _API)
__all__ = ["NetSpec", "parse_spec", "format_spec", "__version__", *_API]
