import torch

from satlearn.data.loader import InMemoryLoader, draw_crop_flip, random_crop_flip


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
