import pytest
import torch

from satlearn.errors import ConfigError
from satlearn.models import MODELS, create_model

TINY = {"cnn1d": ((40,), 4), "mlp": ((40,), 8), "wrn28_10": ((3, 32, 32), 1)}


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    shape, width = TINY.get(name, ((3, 32, 32), 4))
    model = create_model(name, 7, input_shape=shape, width=width)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.square().sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name, millions", [("resnet18", 11.17), ("resnet34", 21.28), ("preact_resnet18", 11.17),
                                            ("wrn28_10", 36.48), ("vgg16_bn", 15.0)])
def test_default_sizes_match_the_published_architectures(name, millions):
    count = sum(p.numel() for p in create_model(name, 10, input_shape=(3, 32, 32)).parameters())
    assert abs(count / 1e6 - millions) / millions < 0.03, count


def test_resnet_narrowest_width_and_other_input_sizes():
    model = create_model("resnet18", 3, input_shape=(1, 12, 12), width=1)
    assert model(torch.randn(2, 1, 12, 12)).shape == (2, 3)
    vgg = create_model("vgg16_bn", 2, input_shape=(3, 64, 64), width=8)
    assert vgg(torch.randn(2, 3, 64, 64)).shape == (2, 2)


def test_bad_input_shapes_and_names():
    with pytest.raises(ConfigError, match=r"model resnet34 expects images \(C, H, W\), but the data have inputs of shape \(40,\)"):
        create_model("resnet34", 10, input_shape=(40,))
    with pytest.raises(ConfigError, match="model cnn1d expects sequences"):
        create_model("cnn1d", 10, input_shape=(3, 32, 32))
    with pytest.raises(ConfigError, match="unknown model 'resnet50'; choose from: cnn1d, mlp, preact_resnet18"):
        create_model("resnet50", 10, input_shape=(3, 32, 32))
