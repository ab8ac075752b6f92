"""benchmarks/speed.py runs end to end on tiny CIFAR-format data on the CPU."""

import json
import subprocess
import sys
from pathlib import Path

from fixtures import write_fake_cifar10

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "speed.py"


def test_speed_benchmark_records_cells_and_ratios(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    command = [sys.executable, str(SCRIPT), "--models", "resnet18", "--data-root", str(root), "--epochs", "1",
               "--workers", "0", "--set", "model.width=2", "--set", "data.batch_size=16", "--set", "run.device=cpu",
               "--results-dir", str(tmp_path / "results")]
    subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads((tmp_path / "results" / "speed.json").read_text())
    assert {(c["pipeline"], c["method"]) for c in result["cells"]} == {
        ("fast", "erm"), ("fast", "sat"), ("reference", "erm"), ("reference", "sat")}
    for cell in result["cells"]:
        assert cell["images_per_second"] > 0 and len(cell["epoch_seconds_all"]) == 1
        assert cell["warmup_epoch_seconds"] > 0 and cell["eval_seconds"] > 0
    kinds = {key for r in result["ratios"] for key in r if key not in ("model", "pipeline")}
    assert kinds == {"sat_over_ce_time", "speedup_over_reference_sat"}
    assert result["commit"] and result["device"]["torch"]
    subprocess.run([sys.executable, str(SCRIPT.parent / "report.py"), "--results-dir", str(tmp_path / "results"),
                    "--out", str(tmp_path / "RESULTS.md")], check=True)
    assert "| resnet18 | reference | sat |" in (tmp_path / "RESULTS.md").read_text()


def test_every_pipeline_of_the_speed_benchmark_is_a_valid_config():
    import importlib.util

    from satlearn.config import load_config

    spec = importlib.util.spec_from_file_location("speed_bench", SCRIPT)
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    config_file = Path(__file__).parents[2] / "configs" / "cifar10_sat.yaml"
    for name, overrides in speed.PIPELINES.items():
        config = load_config(config_file, overrides)
        assert config.data.pipeline in ("memory", "reference"), name
    assert load_config(config_file, speed.PIPELINES["fast+cudagraphs"]).run.compile_mode == "reduce-overhead"
