"""Every file in configs/ loads and trains for two short epochs on tiny data of its own kind."""

from pathlib import Path

import pytest

from fixtures import write_fake_cifar10, write_fake_cifar100
from satlearn.config import load_config, shipped_config, to_dict
from satlearn.demo import demo_config
from satlearn.engine import fit
from satlearn.errors import ConfigError

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


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_recipe_is_found_by_its_name_alone_outside_a_checkout(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where an installed satlearn runs: no configs/ here
    assert shipped_config(path.stem).read_bytes() == path.read_bytes()
    for name in (path.stem, path.name):
        assert to_dict(load_config(name)) == to_dict(load_config(path))


def test_a_file_here_comes_before_a_recipe_of_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist1d_sat.yaml").write_text("method: {name: erm}\n")
    assert load_config("mnist1d_sat.yaml").method.name == "erm"
    assert load_config("mnist1d_sat").method.name == "sat"  # no file of that name: the recipe
    (tmp_path / "mnist1d_sat.yaml").unlink()
    with pytest.raises(ConfigError, match=r"^mnist1d_sat\.yaml: cannot read config file \(No such file or directory\); "
                                          r"satlearn ships a recipe of that name: give it as 'mnist1d_sat'$"):
        load_config("./mnist1d_sat.yaml")  # a path, not a name: this folder's file
    with pytest.raises(ConfigError, match=r"^configs/mnist1d_sat\.yaml: .*give it as 'mnist1d_sat'$"):
        load_config("configs/mnist1d_sat.yaml")
    with pytest.raises(ConfigError, match=r"^mnist1d_sta: cannot read config file \(No such file or directory\); "
                                          r"did you mean 'mnist1d_sat', .*\? \(recipes satlearn ships\)$"):
        load_config("mnist1d_sta")


def test_a_mistyped_recipe_name_is_answered_with_the_recipes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = sorted(path.stem for path in CONFIGS)
    with pytest.raises(ConfigError, match=r"^mnist1d_sat_selective: .*; did you mean 'mnist1d_selective_ce', "
                                          r"'mnist1d_selective_sat' or 'mnist1d_sat'\? \(recipes satlearn ships\)$"):
        load_config("mnist1d_sat_selective")
    with pytest.raises(ConfigError, match=r"^configs/cifar10_sta\.yaml: .*; did you mean 'cifar10_sat'"):
        load_config("configs/cifar10_sta.yaml")
    with pytest.raises(ConfigError, match=r"^MNIST1D_SAT: .*; did you mean 'mnist1d_sat'"):
        load_config("MNIST1D_SAT")  # recipe names are lower case
    with pytest.raises(ConfigError) as caught:
        load_config("my_experiment.yaml")  # nothing like a recipe: all of them, a name alone may mean one
    assert str(caught.value).endswith(f"; the recipes satlearn ships: {', '.join(recipes)}")
    with pytest.raises(ConfigError, match=r"^sub/mnist1d_sta\.yaml: cannot read config file \(No such file or "
                                          r"directory\)$"):
        load_config("sub/mnist1d_sta.yaml")  # a path to a file of one's own: no recipe is meant
    assert shipped_config("../configs/mnist1d_sat") is None and shipped_config("") is None
