"""VGG-16 with BatchNorm and dropout, as used for selective classification (Deep Gamblers, SAT), against its
published layout and initialisation."""

import pytest
import torch
from torch import nn

from satlearn.models import create_model


def describe(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return f"conv{module.out_channels}"
    if isinstance(module, nn.Linear):
        return f"fc{module.out_features}"
    if isinstance(module, nn.Dropout2d):
        return f"drop2d{module.p}"
    if isinstance(module, nn.Dropout):
        return f"drop{module.p}"
    if isinstance(module, nn.MaxPool2d):
        return "pool"
    return {nn.ReLU: "relu", nn.BatchNorm2d: "bn", nn.BatchNorm1d: "bn"}.get(type(module), type(module).__name__)


def test_vgg16_bn_has_the_published_layout():
    # each convolution is followed by ReLU then BatchNorm, and by channel dropout unless a pool follows it
    model = create_model("vgg16_bn", 10, input_shape=(3, 32, 32))
    expected = ("conv64 relu bn drop2d0.3 conv64 relu bn pool "
                "conv128 relu bn drop2d0.4 conv128 relu bn pool "
                "conv256 relu bn drop2d0.4 conv256 relu bn drop2d0.4 conv256 relu bn pool "
                "conv512 relu bn drop2d0.4 conv512 relu bn drop2d0.4 conv512 relu bn pool "
                "conv512 relu bn drop2d0.4 conv512 relu bn drop2d0.4 conv512 relu bn pool drop2d0.5")
    assert " ".join(describe(m) for m in model.features) == expected
    assert " ".join(describe(m) for m in model.classifier) == "fc512 relu bn drop0.5 fc10"
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert all((c.kernel_size, c.padding) == ((3, 3), (1, 1)) and c.bias is not None for c in convs)


def test_vgg16_bn_starts_from_the_published_initialisation():
    torch.manual_seed(0)
    model = create_model("vgg16_bn", 10, input_shape=(3, 32, 32))
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    # normal with std sqrt(2 / (3 * 3 * out channels)), zero bias
    # by fan-out: the first 128-channel convolution has fan-in 9 * 64
    assert convs[2].weight.shape == (128, 64, 3, 3)
    assert convs[2].weight.std().item() == pytest.approx((2 / (9 * 128)) ** 0.5, rel=0.03)
    assert all(c.bias.eq(0).all() for c in convs)
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert linears[0].weight.std().item() == pytest.approx(0.01, rel=0.03)
    assert all(lin.bias.eq(0).all() for lin in linears)


def test_dropout_between_convolutions_drops_whole_feature_maps():
    # the published model's Dropout2d: each example loses whole channels, not single pixels; the classifier's
    # dropout acts on a vector of features, where the two kinds are the same
    torch.manual_seed(0)
    model = create_model("vgg16_bn", 10, input_shape=(3, 64, 64), width=8).train()
    feature_dropouts = [m for m in model.features if isinstance(m, nn.modules.dropout._DropoutNd)]
    assert len(feature_dropouts) == 9
    for dropout in feature_dropouts:
        kept = dropout(torch.ones(16, 8, 4, 4)) != 0
        whole_maps = kept.all(dim=(2, 3)) | ~kept.any(dim=(2, 3))
        assert whole_maps.all(), f"{dropout} drops single values of a feature map"
        assert kept.any() and not kept.all()
