"""benchmarks/step_ops.py counts the operations of one training step per method, and report.py shows them."""

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
