"""benchmarks/label_noise.py runs cells on tiny CIFAR-format data, resumes a stopped cell, skips finished ones."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from fixtures import write_fake_cifar10

BENCH = Path(__file__).parents[2] / "benchmarks"


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], check=True, capture_output=True, text=True).stdout


def test_grid_cells_resume_and_report(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    np.savez(tmp_path / "c10n.npz", worst=np.random.default_rng(0).integers(0, 10, 40).astype(np.uint8))
    common = [BENCH / "label_noise.py", "--recipe", "fast", "--data-root", root, "--cifar10n", tmp_path / "c10n.npz",
              "--runs-dir", tmp_path / "runs", "--results-dir", tmp_path / "results", "--methods", "ce", "sat",
              "--noise", "sym40", "c10n-worst"]
    tiny = ["--set", "model.width=2", "--set", "data.batch_size=16", "--set", "run.epochs=3",
            "--set", "method.start_epoch=1", "--set", "run.device=cpu"]
    out = run(*common, *tiny, "--stop-after-epoch", "1")
    assert "stopped early" in out and not (tmp_path / "results").exists()
    out = run(*common, *tiny)
    assert out.count("resumed") == 4
    files = sorted((tmp_path / "results" / "label_noise" / "fast").glob("*.json"))
    assert [f.stem for f in files] == ["ce-c10n-worst", "ce-sym40", "sat-c10n-worst", "sat-sym40"]
    cell = json.loads(files[-1].read_text())
    assert cell["epochs"] == 3 and 0 <= cell["last_test_accuracy"] <= 1 and cell["commit"]
    assert "finished earlier" in run(*common, *tiny)
    run(BENCH / "report.py", "--results-dir", tmp_path / "results", "--out", tmp_path / "RESULTS.md")
    table = (tmp_path / "RESULTS.md").read_text()
    assert "### recipe `fast`" in table and "| c10n-worst |" in table and "| sym40 |" in table
