"""reglab: regularization for PyTorch, and a lab that measures it.

The core (penalties, update rules, dropout, early stopping, schedules, augmentation)
depends on torch only. ``reglab.data``, ``reglab.lab``,
``reglab.report`` and ``reglab.cli`` are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from reglab import schedules
from reglab._validation import InvalidParameterError

__version__ = "0.1.0"

# Filled in as the core modules land; each name is re-exported from its module.
_CORE = {
    "penalties": ["Penalty", "L1", "L2", "ElasticNet", "GroupLasso"],
    "updates": ["ProximalL1", "ProximalGroupLasso", "DecoupledWeightDecay", "param_groups"],
    "dropout": ["Dropout", "SpatialDropout", "DropConnect", "DropPath", "DropBlock2d",
                "GaussianDropout", "mc_predict"],
    "early_stopping": ["EarlyStopping", "StopReason"],
    "prechelt": ["GL", "PQ", "UP"],
}
_LAZY_MODULES = ("augment", "data", "lab", "report", "cli")

__all__ = ["InvalidParameterError", "schedules", "__version__", *_LAZY_MODULES,
           *(n for names in _CORE.values() for n in names)]


def __getattr__(name: str) -> Any:
    # Lazy: `import reglab` stays light (no scikit-learn or matplotlib until used).
    if name in _LAZY_MODULES:
        return importlib.import_module(f"reglab.{name}")
    for module, names in _CORE.items():
        if name in names:
            return getattr(importlib.import_module(f"reglab.{module}"), name)
    raise AttributeError(f"module 'reglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
