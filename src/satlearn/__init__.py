"""satlearn: Self-Adaptive Training (SAT) for PyTorch.

The pieces most programs need are importable from here; everything else lives in its module
(``satlearn.targets``, ``satlearn.losses``, ``satlearn.engine``, ``satlearn.label_issues``, ``satlearn.selective``).
"""

__version__ = "0.1.0"

from satlearn.config import Config, load_config  # noqa: E402
from satlearn.engine import evaluate_run, fit, load_run  # noqa: E402
from satlearn.label_issues import find_label_issues  # noqa: E402
from satlearn.losses import sat_loss, sat_sce_loss  # noqa: E402
from satlearn.models import create_model  # noqa: E402
from satlearn.targets import SoftTargets  # noqa: E402

__all__ = ["Config", "SoftTargets", "__version__", "create_model", "evaluate_run", "find_label_issues", "fit",
           "load_config", "load_run", "sat_loss", "sat_sce_loss"]
