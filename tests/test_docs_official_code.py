"""docs/official-code.md matches satlearn: every config key it names is one, its `satlearn train` lines load as
configs, the recipes it calls the official run scripts hold those scripts' settings, and its width-sweep example
rescales α and Es as it says."""

import re
import shlex
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[1] / "docs" / "official-code.md"
SECTIONS = ("data", "model", "optim", "method", "run")


def config_leaves() -> dict[str, object]:
    from satlearn.config import Config, to_dict

    def leaves(tree, prefix=""):
        for name, value in tree.items():
            if isinstance(value, dict) and value:
                yield from leaves(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}", value

    return dict(leaves(to_dict(Config())))


def named_keys() -> set[str]:
    """The dotted satlearn keys in backquotes anywhere on the page (`optim.lr`, `method.start_epoch=0`)."""
    return set(re.findall(rf"`((?:{'|'.join(SECTIONS)})\.[a-z0-9_.]+)(?:[=`])", PAGE.read_text()))


def command_lines(command: str) -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.S)
    return [shlex.split(line)[1:] for block in blocks for line in block.splitlines()
            if line.startswith(f"satlearn {command} ")]


def train_config(argv: list[str]):
    """The config a `satlearn train` line trains with, as the command line builds it."""
    from satlearn import load_config
    from satlearn.cli import build_parser

    args = build_parser().parse_args(argv)
    return load_config(args.config, args.overrides)


def test_every_key_the_page_names_is_a_config_key_that_takes_its_default():
    from satlearn import load_config
    from satlearn.config import overrides_from_dict

    leaves = config_leaves()
    keys = named_keys()
    assert len(keys) >= 30
    assert sorted(keys - set(leaves)) == []
    defaults = {text.partition("=")[0]: text for text in overrides_from_dict(
        {key: value for key, value in leaves.items()})}
    for key in sorted(keys):
        load_config(None, [defaults[key]])


def test_the_pages_train_commands_load_as_configs():
    lines = command_lines("train")
    assert len(lines) >= 8
    for argv in lines:
        train_config(argv)


# what the official scripts set (scripts/cifar10/run_sat.sh, run_ce.sh and main.py's defaults for the rest; the
# selective code's run_cifar10.sh with train.py's defaults), which the page says the recipes hold as they stand
LABEL_NOISE = {"model.name": "resnet34", "optim.name": "sgd", "optim.lr": 0.1, "optim.momentum": 0.9,
               "optim.weight_decay": 5e-4, "optim.schedule": "cosine", "run.epochs": 200, "data.batch_size": 256,
               "data.augment": "crop_flip", "data.noise.kind": "symmetric", "data.noise.mode": "paper",
               "data.noise.rate": 0.4}
SAT = {"method.name": "sat", "method.loss": "ce", "method.momentum": 0.9, "method.start_epoch": 60}
SELECTIVE = {"model.name": "vgg16_bn", "optim.name": "sgd", "optim.lr": 0.1, "optim.momentum": 0.9,
             "optim.weight_decay": 5e-4, "optim.schedule": "step", "optim.gamma": 0.5,
             "optim.milestones": list(range(25, 300, 25)), "run.epochs": 300, "data.batch_size": 128,
             "data.augment": "crop_flip", "data.noise.kind": "none"}


@pytest.mark.parametrize("recipe, expected", [
    ("cifar10_sat", {**LABEL_NOISE, **SAT, "data.source": "cifar10"}),
    ("cifar10_ce", {**LABEL_NOISE, "method.name": "erm", "method.loss": "ce", "data.source": "cifar10"}),
    ("cifar100_sat", {**LABEL_NOISE, **SAT, "data.source": "cifar100"}),
    ("cifar100_ce", {**LABEL_NOISE, "method.name": "erm", "method.loss": "ce", "data.source": "cifar100"}),
    ("cifar10_selective_sat", {**SELECTIVE, "method.name": "selective_sat", "method.momentum": 0.9,
                               "method.start_epoch": 150}),
    ("cifar10_gamblers", {**SELECTIVE, "method.name": "gamblers", "method.payoff": 2.2, "method.start_epoch": 100}),
    ("cifar10_selective_ce", {**SELECTIVE, "method.name": "erm", "method.loss": "ce"}),
])
def test_the_recipes_hold_the_official_scripts_settings(recipe, expected):
    from satlearn import load_config
    from satlearn.config import to_dict

    assert f"`{recipe}`" in PAGE.read_text()
    config = to_dict(load_config(recipe))
    held = {}
    for key in expected:
        value = config
        for part in key.split("."):
            value = value[part]
        held[key] = value
    assert held == expected


def test_the_width_sweep_example_rescales_alpha_and_es_as_the_official_code_does():
    # at base width w the official code trains with alpha ** (w / 64) and int(Es * 64 / w), from alpha 0.9, Es 40
    sweeps = [argv for argv in command_lines("train") if any(a.startswith("model.width=") for a in argv)]
    assert len(sweeps) == 1
    config = train_config(sweeps[0])
    width = config.model.width
    assert config.method.momentum == round(0.9 ** (width / 64), 5)
    assert config.method.start_epoch == int(40 * 64 / width)
    assert f"0.9^({width}/64) = {config.method.momentum}" in PAGE.read_text()
    assert f"int(40 · 64/{width}) = {config.method.start_epoch}" in PAGE.read_text()
