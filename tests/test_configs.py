"""Every file in configs/ loads and trains for two short epochs on tiny data of its own kind."""

from pathlib import Path

import pytest

from fixtures import write_fake_cifar10, write_fake_cifar100
from satlearn.config import load_config, to_dict
from satlearn.demo import demo_config
from satlearn.engine import fit

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert len(CONFIGS) >= 6


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_runs_two_epochs_on_tiny_data(path, tmp_path):
    config = load_config(path)
    shrink = ["run.epochs=2", "run.progress=false", "run.device=cpu", "data.eval_batch_size=64"]
    shrink.append("method.start_epoch=1")  # ignored by methods without a second phase
    if config.data.source == "mnist1d":
        shrink += ["data.num_samples=200", "model.width=8"]
    elif config.data.source == "cifar10":
        shrink += [f"data.root={write_fake_cifar10(tmp_path)}", "data.batch_size=16", "model.width=4"]
    elif config.data.source == "cifar100":
        shrink += [f"data.root={write_fake_cifar100(tmp_path)}", "data.batch_size=16", "model.width=4"]
    else:
        pytest.fail(f"{path.name}: no tiny stand-in for data source {config.data.source!r}")
    config = load_config(path, shrink)
    result = fit(config, tmp_path / "run")
    assert len(result.history) == 2 and result.summary["final_test_accuracy"] is not None


@pytest.mark.parametrize("method", ["erm", "sat"])
def test_demo_uses_the_shipped_mnist1d_configs(method, tmp_path):
    name = {"erm": "mnist1d_ce.yaml", "sat": "mnist1d_sat.yaml"}[method]
    shipped = to_dict(load_config(Path(__file__).parents[1] / "configs" / name))
    demo = to_dict(demo_config(method, out_dir=tmp_path))
    for section in ("data", "model", "optim", "method"):
        assert shipped[section] == demo[section], section
    assert shipped["run"]["epochs"] == demo["run"]["epochs"] and shipped["run"]["seed"] == demo["run"]["seed"]
