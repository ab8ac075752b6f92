"""benchmarks/step_ops.py counts the operations of one training step per method, checkpoint_cost.py times a
checkpoint, and report.py shows both."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures import load_benchmark, run_script_here

BENCH = Path(__file__).parents[2] / "benchmarks"


def test_step_ops_counts_what_sat_adds_to_a_step(tmp_path):
    run_script_here(str(BENCH / "step_ops.py"), "--model", "resnet18", "--width", "2",
                    "--batch-size", "4", "--results-dir", str(tmp_path))
    result = json.loads((tmp_path / "step_ops.json").read_text())
    counts = {c["method"]: c for c in result["cells"]}
    assert set(counts) == {"ce", "sat", "sat_sce"}
    # SAT does strictly more per step than CE (target update, weights, soft loss), SAT+SCE more than SAT
    assert counts["ce"]["leaf_ops"] < counts["sat"]["leaf_ops"] < counts["sat_sce"]["leaf_ops"]
    assert counts["ce"]["top_level_ops"] < counts["sat"]["top_level_ops"]
    assert result["ratios"]["sat_over_ce_leaf_ops"] == counts["sat"]["leaf_ops"] / counts["ce"]["leaf_ops"]
    run_script_here(str(BENCH / "report.py"), "--results-dir", str(tmp_path), "--out",
                    str(tmp_path / "RESULTS.md"))
    report = (tmp_path / "RESULTS.md").read_text()
    assert "## Operations per training step" in report and f"| sat | {counts['sat']['top_level_ops']} |" in report


def test_kernel_time_is_summed_by_the_operation_that_launched_it():
    kernel = lambda us: SimpleNamespace(duration=us)  # noqa: E731
    events = [SimpleNamespace(name="aten::conv", kernels=[kernel(300), kernel(200)]),
              SimpleNamespace(name="aten::add_", kernels=[kernel(50)]),
              SimpleNamespace(name="aten::conv", kernels=[kernel(100)]),
              SimpleNamespace(name="aten::view", kernels=[]),
              SimpleNamespace(name="aten::mul", kernels=[kernel(30)]),
              SimpleNamespace(name="aten::sum", kernels=[kernel(20), kernel(10)])]
    total_ms, rows = load_benchmark("step_ops").kernel_time_by_op(events, top=2)
    assert total_ms == pytest.approx((300 + 200 + 50 + 100 + 30 + 20 + 10) / 1000)
    assert [row["op"] for row in rows] == ["aten::conv", "aten::add_", "other"]
    assert [row["kernels"] for row in rows] == [3, 1, 3]
    assert [row["ms"] for row in rows] == pytest.approx([0.6, 0.05, 0.06])
    # real profiler events carry the attributes it reads (on the CPU, no kernels)
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        torch.ones(4).mul(2).sum()
    assert load_benchmark("step_ops").kernel_time_by_op(prof.events()) == (0, [])


def test_the_report_shows_where_the_gpu_time_of_a_step_goes(tmp_path):
    def cell(method, conv_ms, loss_ms):
        by_op = [{"op": "aten::cudnn_convolution", "ms": conv_ms, "kernels": 40},
                 {"op": "aten::_log_softmax", "ms": loss_ms, "kernels": 1}]
        return {"method": method, "steps": 5, "top_level_ops": 10, "leaf_ops": 20, "cuda_kernels": 41,
                "cuda_kernel_ms": conv_ms + loss_ms, "cuda_ms_by_op": by_op}
    result = {"benchmark": "step_ops_cuda", "commit": "0" * 40, "device": {"gpu": "a GPU"}, "model": "resnet34",
              "width": 64, "batch_size": 256, "amp": "bf16", "cells": [cell("ce", 5.0, 0.01), cell("sat", 5.0, 0.02)],
              "ratios": {"sat_over_ce_cuda_kernel_ms": 5.02 / 5.01}}
    (tmp_path / "step_ops_cuda.json").write_text(json.dumps(result))
    run_script_here(str(BENCH / "report.py"), "--results-dir", str(tmp_path), "--out",
                    str(tmp_path / "RESULTS.md"))
    report = (tmp_path / "RESULTS.md").read_text()
    assert "| ce | 10 | 20 | 41 | 5.01 |" in report
    assert "mean of 5 steps" in report and "| `aten::_log_softmax` | 0.010 | 0.020 |" in report

def test_checkpoint_cost_records_size_and_time(tmp_path):
    run_script_here(str(BENCH / "checkpoint_cost.py"), "--model", "resnet18", "--examples", "100",
                    "--repeats", "2", "--dir", str(tmp_path), "--results-dir", str(tmp_path))
    result = json.loads((tmp_path / "checkpoint_cost.json").read_text())
    assert result["bytes"] > 2 * 11_000_000 * 4  # ResNet-18 weights and their momentum, float32
    assert len(result["seconds"]) == 2 and result["median_seconds"] > 0
    assert len(result["blocking_seconds"]) == 2 and result["median_blocking_seconds"] > 0
    assert result["snapshot_exact"] is True  # each checkpoint equals the state at save(), changed right after
    assert not list(tmp_path.glob("tmp*"))  # the scratch directory is removed

    run_script_here(str(BENCH / "report.py"), "--results-dir", str(tmp_path), "--out",
                    str(tmp_path / "RESULTS.md"))
    row = next(line for line in (tmp_path / "RESULTS.md").read_text().splitlines() if line.startswith("| resnet18 |"))
    assert "| yes |" in row


def test_bad_arguments_stop_checkpoint_cost_and_the_report_in_one_line(tmp_path):
    import subprocess
    import sys

    from satlearn.models import MODELS

    models = ", ".join(MODELS.names())
    for script, arguments, message in (
            ("checkpoint_cost.py", ["--examples", "-1"], "--examples -1: expected at least 1 row of the target table"),
            ("checkpoint_cost.py", ["--classes", "1"], "--classes 1: expected at least 2 classes"),
            ("checkpoint_cost.py", ["--model", "resnet43"], f"--model resnet43: expected one of: {models}"),
            ("report.py", ["--out", str(tmp_path / "nowhere" / "R.md")],
             f"--out {tmp_path / 'nowhere' / 'R.md'}: no directory {tmp_path / 'nowhere'} to write it in"),
            ("label_noise.py", ["--report", str(tmp_path / "nowhere" / "R.md"), "--data-root", str(tmp_path)],
             f"--report {tmp_path / 'nowhere' / 'R.md'}: no directory {tmp_path / 'nowhere'} to write it in")):
        done = subprocess.run([sys.executable, str(BENCH / script), *arguments], capture_output=True, text=True)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip().splitlines()[-1] == f"{script}: error: {message}"
    assert not (tmp_path / "nowhere").exists()


def test_checkpoint_cost_name_keeps_a_cpu_measurement_beside_the_recorded_one(tmp_path):
    recorded = tmp_path / "checkpoint_cost.json"
    recorded.write_text("the GPU's measurement")
    run_script_here(str(BENCH / "checkpoint_cost.py"), "--model", "mlp", "--examples", "10", "--repeats", "1",
                    "--name", "checkpoint_cost_cpu", "--results-dir", str(tmp_path))
    assert recorded.read_text() == "the GPU's measurement"
    assert json.loads((tmp_path / "checkpoint_cost_cpu.json").read_text())["benchmark"] == "checkpoint_cost_cpu"


@pytest.mark.parametrize("option, value", [("--model", "nosuchnet"), ("--amp", "fp16")])
def test_a_refused_value_is_named_by_the_option_given(tmp_path, option, value):
    done = subprocess.run([sys.executable, str(BENCH / "step_ops.py"), option, value, "--methods", "ce",
                           "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"step_ops.py: error: {option} {value}: ") and "--set" not in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_device_this_machine_lacks_is_named_by_the_option_given(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run([sys.executable, str(BENCH / "step_ops.py"), "--device", "cuda", "--methods", "ce",
                           "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith("step_ops.py: error: --device cuda: CUDA is not available"), done.stderr
    assert "run.device" not in done.stderr and not list(tmp_path.iterdir())
