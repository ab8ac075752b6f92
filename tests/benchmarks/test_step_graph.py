"""benchmarks/step_graph.py: the whole-step-graph experiment's bookkeeping (input buffers, the smaller last batch
trained eagerly into the same gradients, metrics) follows train_one_epoch exactly; checked eagerly, without CUDA."""

import sys
from pathlib import Path

import torch

from fixtures import load_benchmark, tiny_overrides
from satlearn.config import load_config
from satlearn.engine import build_method, build_optimizer, make_loaders, prepare_data, train_one_epoch

BENCH = Path(__file__).parents[2] / "benchmarks"


def build(tmp_path, method: str):
    # 320 training examples in batches of 48: six full batches and one of 32 per epoch
    config = load_config(None, tiny_overrides(tmp_path, "model.name=mlp", f"method.name={method}",
                                              "method.start_epoch=0", "data.batch_size=48", "optim.name=sgd",
                                              "optim.lr=0.05"))
    noisy = prepare_data(config)
    torch.manual_seed(0)
    learner = build_method(config, noisy.data, noisy.labels, torch.device("cpu"))
    optimizer = build_optimizer(config, learner, torch.device("cpu"))
    train, _ = make_loaders(config, noisy.data, noisy.labels, torch.device("cpu"))
    assert train.num_examples % 48 != 0
    return learner, optimizer, train


def test_graphed_epochs_follow_train_one_epoch_exactly(tmp_path):
    step_graph = load_benchmark("step_graph")
    for method in ("sat", "erm"):
        reference, reference_optimizer, loader = build(tmp_path, method)
        learner, optimizer, _ = build(tmp_path, method)
        expected = [train_one_epoch(reference, reference_optimizer, loader, 0)]
        got = [train_one_epoch(learner, optimizer, loader, 0)]  # the warm-up epoch is eager, as in speed.py
        step = step_graph.WholeStepGraph(learner, optimizer, next(iter(loader.epoch(1))), epoch=1, capture=False)
        for epoch in (1, 2):
            expected.append(train_one_epoch(reference, reference_optimizer, loader, epoch))
            got.append(step_graph.graphed_epoch(step, loader, epoch))
        assert got == expected, method
        for (name, a), b in zip(reference.state_dict().items(), learner.state_dict().values()):
            assert torch.equal(a, b), (method, name)
        assert set(got[-1]) == ({"loss", "accuracy", "confidence"} if method == "sat" else {"loss", "accuracy"})


def test_step_graph_pipelines_are_speed_experiments_not_training_pipelines(tmp_path):
    import json

    sys.path.insert(0, str(BENCH))
    speed = load_benchmark("speed")
    assert not set(speed.STEP_GRAPH_PIPELINES) & set(speed.PIPELINES)  # label_noise.py cannot train on them
    assert set(speed.STEP_GRAPH_PIPELINES.values()) <= set(speed.PIPELINES)
    cell = {"model": "resnet34", "method": "sat", "device": "cuda:0", "warmup_epoch_seconds": 1.0,
            "epoch_seconds": 1.0}
    file = tmp_path / "speed.json"
    file.write_text(json.dumps({"cells": [{**cell, "pipeline": "fast"},
                                          {**cell, "pipeline": "fast+stepgraph", "epoch_seconds": 0.5}]}))
    assert speed.fastest_pipeline(file, model="resnet34", method="sat", epochs=60, device_type="cuda") == "fast"


def test_running_the_module_as_a_script_says_where_it_is_used():
    import subprocess

    done = subprocess.run([sys.executable, str(BENCH / "step_graph.py")], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("step_graph.py measures nothing by itself: speed.py times it in its +stepgraph")
