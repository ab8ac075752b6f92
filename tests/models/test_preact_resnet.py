"""Pre-activation ResNet-18 and Wide ResNet-28-10 against their definitions (He et al., ECCV 2016; Zagoruyko &
Komodakis, BMVC 2016): BN → ReLU → conv blocks whose projecting shortcut takes the activated input, and a final
BN → ReLU before pooling."""

import pytest
import torch
import torch.nn.functional as F

from satlearn.models import create_model
from satlearn.models.preact_resnet import PreActBlock

from reference_layers import batchnorm, conv, randomise_batchnorm_


def preact_block_by_definition(block: PreActBlock, x: torch.Tensor, *, stride: int) -> torch.Tensor:
    activated = F.relu(batchnorm(x, block.bn1))
    shortcut = x if block.projection is None else conv(activated, block.projection, stride=stride, padding=0)
    out = conv(activated, block.conv1, stride=stride, padding=1)
    return conv(F.relu(batchnorm(out, block.bn2)), block.conv2, stride=1, padding=1) + shortcut


@pytest.mark.parametrize("in_channels, out_channels, stride", [(4, 4, 1), (4, 6, 2), (4, 6, 1)])
def test_a_preact_block_computes_its_definition(in_channels, out_channels, stride):
    generator = torch.Generator().manual_seed(0)
    block = PreActBlock(in_channels, out_channels, stride).eval()
    randomise_batchnorm_(block, generator)
    assert (block.projection is None) == ((in_channels, stride) == (out_channels, 1))
    x = torch.randn(2, in_channels, 6, 6, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(block(x), preact_block_by_definition(block, x, stride=stride))


def preact_layout(model) -> list[tuple[int, int, int]]:
    return [(block.conv1.in_channels, block.conv1.out_channels, block.conv1.stride[0]) for block in model.layers]


def test_preact_resnet18_has_the_published_stages():
    model = create_model("preact_resnet18", 10, input_shape=(3, 32, 32))
    assert preact_layout(model) == [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2),
                                    (256, 256, 1), (256, 512, 2), (512, 512, 1)]


def test_wrn28_10_has_three_stages_of_four_blocks_ten_times_wider():
    model = create_model("wrn28_10", 10, input_shape=(3, 32, 32))
    assert preact_layout(model) == ([(16, 160, 1)] + [(160, 160, 1)] * 3 + [(160, 320, 2)] + [(320, 320, 1)] * 3
                                    + [(320, 640, 2)] + [(640, 640, 1)] * 3)
    assert model.stem.out_channels == 16 and model.fc.in_features == 640
    assert model.fc.bias.eq(0).all()


@pytest.mark.parametrize("name, width", [("preact_resnet18", 4), ("wrn28_10", 1)])
def test_the_network_ends_with_batchnorm_relu_and_average_pooling(name, width):
    generator = torch.Generator().manual_seed(1)
    model = create_model(name, 5, input_shape=(3, 16, 16), width=width).eval()
    randomise_batchnorm_(model, generator)
    assert (model.stem.kernel_size, model.stem.stride) == ((3, 3), (1, 1))
    x = torch.randn(3, 3, 16, 16, generator=generator)
    with torch.no_grad():
        features = F.relu(batchnorm(model.layers(conv(x, model.stem, stride=1, padding=1)), model.bn))
        torch.testing.assert_close(model(x), model.fc(features.mean(dim=(2, 3))))
