"""benchmarks/label_issues.py runs its CIFAR rows end to end on tiny CIFAR-format data (cleanlab permitting)."""

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures import run_script, write_fake_cifar10

pytest.importorskip("cleanlab", reason="cleanlab is an optional benchmark dependency")
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "label_issues.py"


def test_cifar10n_row_on_tiny_data(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    np.savez(tmp_path / "c10n.npz", worst=np.random.default_rng(0).integers(0, 10, 40).astype(np.uint8))
    tiny = [f"--set={o}" for o in ("model.width=2", "data.batch_size=16", "run.epochs=2", "method.start_epoch=1",
                                   "run.device=cpu")]
    run_script(str(SCRIPT), "--datasets", "cifar10n-worst", "--folds", "2", "--data-root",
               str(root), "--cifar10n", str(tmp_path / "c10n.npz"), "--results-dir", str(tmp_path / "out"),
               *tiny)
    result = json.loads((tmp_path / "out" / "label_issues" / "cifar10n-worst-seed0.json").read_text())
    assert result["satlearn"]["trainings"] == 1 and result["cleanlab"]["trainings"] == 2
    assert 0 < result["actual_noise_rate"] < 1
