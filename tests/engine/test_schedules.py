"""Learning-rate schedules against values worked out by hand, and the rates a run really trains with."""

import math

import pytest

from fixtures import tiny_overrides
from satlearn.config import OptimConfig, load_config
from satlearn.engine import fit
from satlearn.engine.checkpoint import load_checkpoint
from satlearn.engine.schedules import learning_rate
from satlearn.errors import ConfigError


def rates(optim, epochs):
    return [learning_rate(optim, epoch, epochs) for epoch in range(epochs)]


def test_step_multiplies_by_gamma_from_each_milestone_epoch_on():
    # 0-based epochs: milestone 2 takes effect in the third epoch, as MultiStepLR stepped once per epoch
    optim = OptimConfig(lr=0.1, schedule="step", milestones=[2, 4], gamma=0.1)
    assert rates(optim, 6) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rel=1e-12)


def test_cosine_starts_at_lr_and_anneals_towards_zero():
    optim = OptimConfig(lr=0.2, schedule="cosine")
    half_root_two = math.sqrt(2) / 2
    assert rates(optim, 4) == pytest.approx([0.2, 0.1 * (1 + half_root_two), 0.1, 0.1 * (1 - half_root_two)],
                                            rel=1e-12)


def test_constant_keeps_lr_whatever_the_milestones():
    optim = OptimConfig(lr=0.05, schedule="constant", milestones=[1, 2], gamma=0.5)
    assert rates(optim, 4) == [0.05] * 4


def test_an_unknown_schedule_is_refused_rather_than_taken_as_constant():
    with pytest.raises(ConfigError, match=r"^optim\.schedule='cosin'; expected cosine, step or constant$") as refused:
        learning_rate(OptimConfig(lr=0.05, schedule="cosin"), 0, 4)
    assert isinstance(refused.value, ValueError)  # as before, for code that catches Python's own error


def test_a_run_trains_each_epoch_with_its_scheduled_rate(tmp_path):
    config = load_config(None, tiny_overrides(tmp_path, "method.name=erm", "optim.schedule=cosine"))
    result = fit(config, tmp_path / "run", log=lambda m: None)
    assert [row["lr"] for row in result.history] == rates(config.optim, config.run.epochs)
    assert result.history[0]["lr"] == config.optim.lr
    # and the optimizer was given it (the history only says what was meant)
    groups = load_checkpoint(tmp_path / "run")["optimizer"]["param_groups"]
    assert [group["lr"] for group in groups] == [result.history[-1]["lr"]]
