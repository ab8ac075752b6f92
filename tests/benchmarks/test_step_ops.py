"""benchmarks/step_ops.py counts the operations of one training step per method, checkpoint_cost.py times a
checkpoint, and report.py shows both."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "benchmarks"


def test_step_ops_counts_what_sat_adds_to_a_step(tmp_path):
    subprocess.run([sys.executable, str(BENCH / "step_ops.py"), "--model", "resnet18", "--width", "2",
                    "--batch-size", "4", "--results-dir", str(tmp_path)], check=True, capture_output=True)
    result = json.loads((tmp_path / "step_ops.json").read_text())
    counts = {c["method"]: c for c in result["cells"]}
    assert set(counts) == {"ce", "sat", "sat_sce"}
    # SAT does strictly more per step than CE (target update, weights, soft loss), SAT+SCE more than SAT
    assert counts["ce"]["leaf_ops"] < counts["sat"]["leaf_ops"] < counts["sat_sce"]["leaf_ops"]
    assert counts["ce"]["top_level_ops"] < counts["sat"]["top_level_ops"]
    assert result["ratios"]["sat_over_ce_leaf_ops"] == counts["sat"]["leaf_ops"] / counts["ce"]["leaf_ops"]
    subprocess.run([sys.executable, str(BENCH / "report.py"), "--results-dir", str(tmp_path), "--out",
                    str(tmp_path / "RESULTS.md")], check=True, capture_output=True)
    report = (tmp_path / "RESULTS.md").read_text()
    assert "## Operations per training step" in report and f"| sat | {counts['sat']['top_level_ops']} |" in report


def test_checkpoint_cost_records_size_and_time(tmp_path):
    subprocess.run([sys.executable, str(BENCH / "checkpoint_cost.py"), "--model", "resnet18", "--examples", "100",
                    "--repeats", "2", "--dir", str(tmp_path), "--results-dir", str(tmp_path)], check=True,
                   capture_output=True)
    result = json.loads((tmp_path / "checkpoint_cost.json").read_text())
    assert result["bytes"] > 2 * 11_000_000 * 4  # ResNet-18 weights and their momentum, float32
    assert len(result["seconds"]) == 2 and result["median_seconds"] > 0
    assert len(result["blocking_seconds"]) == 2 and result["median_blocking_seconds"] > 0
    assert not list(tmp_path.glob("tmp*"))  # the scratch directory is removed
