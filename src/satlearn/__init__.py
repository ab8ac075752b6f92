"""satlearn: Self-Adaptive Training (SAT) for PyTorch.

The pieces most programs need are importable from here; everything else lives in its module
(``satlearn.targets``, ``satlearn.losses``, ``satlearn.engine``, ``satlearn.label_issues``, ``satlearn.selective``).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Imported when first used, not with the package: torch takes seconds to import, which `satlearn --help` and
# `--version` need not wait for, and a Ctrl-C during that import then reaches the command, which stops cleanly.
_HOMES = {"Config": "satlearn.config", "load_config": "satlearn.config", "evaluate_run": "satlearn.engine",
          "fit": "satlearn.engine", "load_run": "satlearn.engine", "find_label_issues": "satlearn.label_issues",
          "sat_loss": "satlearn.losses", "sat_sce_loss": "satlearn.losses", "create_model": "satlearn.models",
          "SoftTargets": "satlearn.targets"}

__all__ = ["Config", "SoftTargets", "__version__", "create_model", "evaluate_run", "find_label_issues", "fit",
           "load_config", "load_run", "sat_loss", "sat_sce_loss"]

if TYPE_CHECKING:
    from satlearn.config import Config, load_config
    from satlearn.engine import evaluate_run, fit, load_run
    from satlearn.label_issues import find_label_issues
    from satlearn.losses import sat_loss, sat_sce_loss
    from satlearn.models import create_model
    from satlearn.targets import SoftTargets


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    elif name.isidentifier() and not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f"{__name__}.{name}")  # satlearn.data.SOURCES after `import satlearn`
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # what the package offers (its names and modules), not what this file imports to offer it lazily
    import pkgutil

    modules = {module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")}
    return sorted({*__all__, *_HOMES, *modules, *(name for name in globals() if name.startswith("__"))})
