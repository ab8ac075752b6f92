"""What the base class gives every method: its own settings, typed, as ``self.settings``."""

import pytest
import torch
from torch import nn

from satlearn.config import MethodConfig
from satlearn.errors import ConfigError
from satlearn.methods import create_method


def build(config):
    return create_method(config, nn.Linear(2, 3), labels=torch.tensor([0, 1, 2, 0]), num_classes=3)


def test_a_method_reads_its_settings_as_an_instance_of_its_dataclass(method_with_settings):
    method = build(MethodConfig(name="label_smoothing", settings={"smoothing": 0, "tags": ["a"]}))
    assert method.settings == method_with_settings.Settings(smoothing=0.0, tags=["a"])
    assert isinstance(method.settings.smoothing, float)
    assert build(MethodConfig(name="label_smoothing")).settings == method_with_settings.Settings()
    assert build(MethodConfig(name="sat")).settings is None  # a built-in method declares none


def test_a_method_config_built_in_code_has_its_settings_checked(method_with_settings):
    with pytest.raises(ConfigError, match=r"^method config: method\.settings\.smoothing: expected float, got 'a'$"):
        build(MethodConfig(name="label_smoothing", settings={"smoothing": "a"}))
    with pytest.raises(ConfigError, match=r"^method config: method\.settings\.smoothing=0\.1; method 'erm' takes no "):
        build(MethodConfig(name="erm", settings={"smoothing": 0.1}))



def test_a_targets_method_of_ones_own_reports_what_its_targets_get_right_without_writing_it(monkeypatch):
    from satlearn.methods import METHODS, TargetsMethod

    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))

    @METHODS.register("targets_only")
    class TargetsOnly(TargetsMethod):
        def training_step(self, batch, epoch):
            raise NotImplementedError

    labels = torch.tensor([0, 1, 2, 0])
    method = create_method(MethodConfig(name="targets_only"), nn.Linear(2, 3), labels=labels, num_classes=3)
    method.targets.update(torch.tensor([3]), torch.tensor([[0.0, 0.0, 1.0]]), momentum=0.0)  # moved to class 2
    assert method.epoch_metrics(torch.tensor([0, 1, 2, 2])) == {"targets_moved": 0.25, "mean_confidence": 1.0,
                                                                "refined_label_accuracy": 1.0}


def test_registering_a_method_that_no_run_could_train_is_a_type_error_naming_it(monkeypatch):
    # found out otherwise only once a run builds it: "type object has no attribute 'options'", or a bare
    # NotImplementedError at the first step
    from satlearn.methods import METHODS, Method

    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))

    class Stepless(Method):
        pass

    with pytest.raises(TypeError, match=r"^method 'plain': builtins\.object is not a subclass of "
                                        r"satlearn\.methods\.Method$"):
        METHODS.register("plain")(object)
    with pytest.raises(TypeError, match=r"^method 'stepless': .*Stepless does not define training_step$"):
        METHODS.register("stepless")(Stepless)
    assert "plain" not in METHODS and "stepless" not in METHODS


def test_a_method_config_built_in_code_with_a_loss_the_method_lacks_is_refused():
    # SAT's training step takes any loss other than sce for its cross-entropy: gce trained SAT-CE without a word
    with pytest.raises(ConfigError, match=r"^method config: method\.loss='gce' is not available for method 'sat'; "
                                          r"expected one of: ce, sce$"):
        build(MethodConfig(name="sat", loss="gce"))
    assert build(MethodConfig(name="erm", loss="gce")).config.loss == "gce"
