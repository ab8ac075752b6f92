import re

import pytest
import torch

from satlearn.data.loader import InMemoryLoader, draw_crop_flip, random_crop_flip
from satlearn.errors import ConfigError


def test_batches_carry_indices_and_cover_every_example_once():
    x = torch.arange(50, dtype=torch.float32)[:, None].repeat(1, 3)
    y = torch.arange(50) % 7
    loader = InMemoryLoader(x, y, batch_size=16, shuffle=True, seed=3)
    seen = []
    for xb, yb, idx in loader.epoch(2):
        assert torch.equal(xb[:, 0], idx.float()) and torch.equal(yb, y[idx])
        seen.append(idx)
    assert len(seen) == len(loader) == 4
    assert sorted(torch.cat(seen).tolist()) == list(range(50))


def test_epochs_replay_exactly_and_differ_from_each_other():
    x, y = torch.randn(40, 2), torch.zeros(40, dtype=torch.int64)
    loader = InMemoryLoader(x, y, batch_size=8, shuffle=True, seed=1)
    first = [idx for _, _, idx in loader.epoch(5)]
    again = [idx for _, _, idx in loader.epoch(5)]
    other = [idx for _, _, idx in loader.epoch(6)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_crop_flip_keeps_shape_and_content_is_a_shifted_window():
    torch.manual_seed(0)
    images = torch.randint(1, 255, (6, 3, 8, 8), dtype=torch.uint8)
    out = random_crop_flip(images, padding=2, generator=torch.Generator().manual_seed(4))
    assert out.shape == images.shape and out.dtype == torch.uint8
    for original, augmented in zip(images, out):
        padded = torch.nn.functional.pad(original, (2, 2, 2, 2))
        windows = [padded[:, r:r + 8, c:c + 8] for r in range(5) for c in range(5)]
        windows += [w.flip(-1) for w in windows]
        assert any(torch.equal(augmented, w) for w in windows)


def test_images_are_normalised_and_test_batches_are_not_augmented():
    images = torch.full((4, 3, 8, 8), 255, dtype=torch.uint8)
    loader = InMemoryLoader(images, torch.zeros(4, dtype=torch.int64), batch_size=4, mean=(0.5,) * 3, std=(0.25,) * 3)
    xb, _, _ = next(iter(loader))
    assert torch.allclose(xb, torch.full_like(xb, 2.0))


def test_crop_offsets_cover_0_to_2p_and_half_the_crops_are_flipped():
    dy, dx, flip = draw_crop_flip(20000, padding=3, generator=torch.Generator().manual_seed(0))
    # 2p + 1 offsets: an offset of 2p (the crop flush with the far edge) must be reachable
    assert sorted(dy.unique().tolist()) == sorted(dx.unique().tolist()) == list(range(7))
    # 20000 fair coins: the standard error of the mean is 0.0035, so 0.02 is over 5 of them
    assert abs(flip.float().mean().item() - 0.5) < 0.02


def test_crop_flip_mirrors_exactly_the_images_whose_drawn_flip_is_true():
    # columns hold their own index, so a mirrored image reads W-1..0 and any other column order shows
    images = torch.arange(8, dtype=torch.uint8).expand(32, 3, 5, 8).contiguous()
    _, _, flip = draw_crop_flip(32, padding=0, generator=torch.Generator().manual_seed(9))
    out = random_crop_flip(images, padding=0, generator=torch.Generator().manual_seed(9))
    assert flip.any() and not flip.all()
    expected = torch.where(flip[:, None, None, None], images.flip(-1), images)
    assert torch.equal(out, expected)


def test_crop_flip_takes_each_image_at_its_own_drawn_offsets():
    # non-square images with distinct pixels: the window at row dy, column dx of the zero-padded image, mirrored
    # left-right where the drawn flip says so, cut one image at a time; rows and columns mixed up would show
    images = torch.randint(1, 256, (16, 2, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    dy, dx, flip = draw_crop_flip(16, padding=3, generator=torch.Generator().manual_seed(2))
    out = random_crop_flip(images, padding=3, generator=torch.Generator().manual_seed(2))
    assert flip.any() and not flip.all() and not torch.equal(dy, dx)
    for i in range(16):
        padded = torch.zeros(2, 5 + 6, 7 + 6, dtype=torch.uint8)
        padded[:, 3:8, 3:10] = images[i]
        window = padded[:, int(dy[i]):int(dy[i]) + 5, int(dx[i]):int(dx[i]) + 7]
        assert torch.equal(out[i], window.flip(-1) if flip[i] else window)


def test_an_unshuffled_loader_keeps_the_data_order_and_drop_last_drops_only_the_short_batch():
    x, y = torch.arange(10, dtype=torch.float32)[:, None], torch.arange(10)
    batches = [idx.tolist() for _, _, idx in InMemoryLoader(x, y, batch_size=4, seed=7).epoch(3)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = InMemoryLoader(x, y, batch_size=4, seed=7, drop_last=True)
    assert len(dropped) == 2 and [idx.tolist() for _, _, idx in dropped.epoch(3)] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_images_are_normalised_channel_by_channel_and_handed_over_channels_last_when_asked():
    # channel c holds the value 51 (c + 1): x = (51 (c + 1) / 255 − mean_c) / std_c, each channel with its own pair
    images = (51 * torch.arange(1, 4, dtype=torch.uint8)).view(1, 3, 1, 1).expand(2, 3, 4, 4).contiguous()
    mean, std = (0.1, 0.2, 0.7), (0.5, 0.25, 0.125)
    loader = InMemoryLoader(images, torch.zeros(2, dtype=torch.int64), batch_size=2, mean=mean, std=std,
                            channels_last=True)
    xb, _, _ = next(iter(loader))
    for c in range(3):
        expected = (51 * (c + 1) / 255 - mean[c]) / std[c]
        torch.testing.assert_close(xb[:, c], torch.full((2, 4, 4), expected))
    assert xb.is_contiguous(memory_format=torch.channels_last) and not xb.is_contiguous()


def test_a_training_epoch_with_crop_flip_hands_over_shifted_crops():
    # all-white images: every crop whose offset is not exactly the centre shows some of the black zero padding
    images = torch.full((32, 1, 6, 6), 255, dtype=torch.uint8)
    loader = InMemoryLoader(images, torch.zeros(32, dtype=torch.int64), batch_size=8, shuffle=True,
                            augment="crop_flip", mean=(0.0,), std=(1.0,), seed=3)
    xb = torch.cat([batch for batch, _, _ in loader.epoch(0)])
    padded = (xb == 0).flatten(1).any(dim=1)
    assert padded.sum() > 16  # of 81 offsets one is the centre: nearly all crops show padding
    assert set(xb.unique().tolist()) == {0.0, 1.0}


def test_each_seed_has_its_own_sequence_of_epochs():
    # a run with seed 1 must not replay, in its first epoch, the second epoch of a run with seed 0
    x, y = torch.zeros(64, 1), torch.zeros(64, dtype=torch.int64)
    def order(seed, epoch):
        return next(iter(InMemoryLoader(x, y, batch_size=64, shuffle=True, seed=seed).epoch(epoch)))[2]

    assert not torch.equal(order(seed=1, epoch=0), order(seed=0, epoch=1))


def test_an_augmentation_the_loaders_do_not_know_is_refused_not_skipped():
    # "auto" is the config's word, resolved by the trainer; given to a loader it would silently train unaugmented
    from satlearn.data.streaming import StreamingLoader

    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    for loader in (InMemoryLoader, StreamingLoader):
        for augment in ("auto", "crop-flip"):
            with pytest.raises(ConfigError, match=rf"^augment='{augment}'; expected 'none' or 'crop_flip'$") as refused:
                loader(images, torch.zeros(4, dtype=torch.int64), batch_size=2, augment=augment)
            assert isinstance(refused.value, ValueError)  # as before, for code that catches Python's own error


@pytest.mark.parametrize("inputs", [torch.zeros(4, 40), torch.zeros(4, 3, 8, 8)])
def test_crop_flip_on_data_that_are_not_images_is_refused_in_one_line(inputs):
    # by either pipeline: the reference one would otherwise hand such rows (or float images) over unaugmented
    from satlearn.data.streaming import StreamingLoader

    shape = re.escape(str(tuple(inputs.shape)))
    for loader in (InMemoryLoader, StreamingLoader):
        with pytest.raises(ConfigError, match=r"^augment='crop_flip' needs uint8 images \(N, C, H, W\), got "
                                              rf"torch\.float32 of shape {shape}$") as refused:
            loader(inputs, torch.zeros(4, dtype=torch.int64), batch_size=2, augment="crop_flip")
        assert isinstance(refused.value, ValueError)
