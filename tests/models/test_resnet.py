"""ResNet-18/34 for CIFAR against the published layout (He et al., CVPR 2016, CIFAR stem) and a block written out
from its definition."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from satlearn.models import create_model
from satlearn.models.resnet import BasicBlock

from reference_layers import batchnorm, conv, randomise_batchnorm_


def block_by_definition(block: BasicBlock, x: torch.Tensor, *, stride: int, projects: bool) -> torch.Tensor:
    """relu(BN(conv3x3(relu(BN(conv3x3/stride(x))))) + shortcut(x)), the shortcut a strided 1x1 conv + BN when the
    shape changes."""
    out = F.relu(batchnorm(conv(x, block.conv1, stride=stride, padding=1), block.bn1))
    out = batchnorm(conv(out, block.conv2, stride=1, padding=1), block.bn2)
    shortcut = x
    if projects:
        shortcut = batchnorm(conv(x, block.shortcut[0], stride=stride, padding=0), block.shortcut[1])
    return F.relu(out + shortcut)


@pytest.mark.parametrize("in_channels, out_channels, stride", [(4, 4, 1), (4, 6, 2), (4, 4, 2)])
def test_a_block_computes_its_definition(in_channels, out_channels, stride):
    generator = torch.Generator().manual_seed(0)
    block = BasicBlock(in_channels, out_channels, stride).eval()
    randomise_batchnorm_(block, generator)
    x = torch.randn(2, in_channels, 6, 6, generator=generator)
    expected = block_by_definition(block, x, stride=stride, projects=(in_channels, stride) != (out_channels, 1))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)


def block_layout(model) -> list[tuple[int, int, int]]:
    """(in channels, out channels, stride) of each residual block in order."""
    return [(block.conv1.in_channels, block.conv1.out_channels, block.conv1.stride[0]) for block in model.layers]


def test_resnet34_has_the_published_stages():
    # 3, 4, 6, 3 blocks of widths 64..512; each later stage opens with a stride-2 block that projects
    model = create_model("resnet34", 10, input_shape=(3, 32, 32))
    assert block_layout(model) == ([(64, 64, 1)] * 3 + [(64, 128, 2)] + [(128, 128, 1)] * 3 + [(128, 256, 2)]
                                   + [(256, 256, 1)] * 5 + [(256, 512, 2)] + [(512, 512, 1)] * 2)
    assert [block.conv2.stride[0] for block in model.layers] == [1] * 16
    assert [len(block.shortcut) > 0 for block in model.layers] == [False] * 3 + ([True] + [False] * 3) \
        + ([True] + [False] * 5) + ([True] + [False] * 2)


def test_resnet18_has_two_blocks_per_stage():
    model = create_model("resnet18", 10, input_shape=(3, 32, 32))
    assert block_layout(model) == [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2),
                                   (256, 256, 1), (256, 512, 2), (512, 512, 1)]


def test_the_cifar_stem_is_a_stride_one_3x3_convolution_batchnorm_and_relu_without_pooling():
    generator = torch.Generator().manual_seed(1)
    model = create_model("resnet18", 5, input_shape=(2, 16, 16), width=4).eval()
    randomise_batchnorm_(model, generator)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    stem_conv = model.stem[0]
    assert (stem_conv.kernel_size, stem_conv.stride, stem_conv.padding) == ((3, 3), (1, 1), (1, 1))
    x = torch.randn(3, 2, 16, 16, generator=generator)
    with torch.no_grad():
        stem = F.relu(batchnorm(conv(x, stem_conv, stride=1, padding=1), model.stem[1]))
        features = model.layers(stem).mean(dim=(2, 3))
        torch.testing.assert_close(model(x), model.fc(features))


def test_convolutions_start_he_normal_by_fan_out():
    # a stage's first convolution has fan-out 9 * 128 but fan-in 9 * 64: only fan-out gives this spread
    torch.manual_seed(0)
    model = create_model("resnet34", 10, input_shape=(3, 32, 32))
    weight = model.layers[3].conv1.weight
    assert weight.shape == (128, 64, 3, 3)
    assert weight.std().item() == pytest.approx((2 / (9 * 128)) ** 0.5, rel=0.03)
    assert abs(weight.mean().item()) < 0.002
    assert all(bn.weight.eq(1).all() and bn.bias.eq(0).all() for bn in model.modules()
               if isinstance(bn, nn.BatchNorm2d))
