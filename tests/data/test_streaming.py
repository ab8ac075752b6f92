import pytest
import torch

from satlearn.data.loader import InMemoryLoader
from satlearn.data.streaming import StreamingLoader


def images(n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 8, 8), generator=g, dtype=torch.uint8), torch.arange(n) % 10


@pytest.mark.parametrize("augment", ["none", "crop_flip"])
@pytest.mark.parametrize("drop_last", [False, True])
def test_both_pipelines_yield_identical_batches_on_cpu(augment, drop_last):
    x, y = images()
    kwargs = dict(batch_size=8, shuffle=True, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3), seed=5, augment=augment,
                  drop_last=drop_last)
    fast = list(InMemoryLoader(x, y, **kwargs).epoch(3))
    reference = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(3))
    assert len(fast) == len(reference) == (3 if drop_last else 4)  # 30 examples in batches of 8
    assert len(InMemoryLoader(x, y, **kwargs)) == len(StreamingLoader(x, y, workers=0, **kwargs)) == len(fast)
    for (xa, ya, ia), (xb, yb, ib) in zip(fast, reference):
        assert torch.equal(ia, ib) and torch.equal(ya, yb)
        assert torch.equal(xa, xb)  # bit for bit


def test_augmentation_is_independent_of_workers_and_is_a_crop_window():
    x, y = images(12)
    kwargs = dict(batch_size=4, shuffle=True, augment="crop_flip", seed=1)
    one = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(2))
    two = list(StreamingLoader(x, y, workers=2, **kwargs).epoch(2))
    for (xa, _, ia), (xb, _, ib) in zip(one, two):
        assert torch.equal(ia, ib) and torch.equal(xa, xb)
    other_epoch = torch.cat([b[0] for b in StreamingLoader(x, y, workers=0, **kwargs).epoch(3)])
    assert not torch.equal(torch.cat([b[0] for b in one]), other_epoch)
    xb, _, idx = one[0]
    for image, i in zip(xb, idx):
        raw = torch.round((image * 0.5 + 0.5) * 255).to(torch.uint8)
        padded = torch.nn.functional.pad(x[i], (4, 4, 4, 4))
        windows = [padded[:, r:r + 8, c:c + 8] for r in range(9) for c in range(9)]
        assert any(torch.equal(raw, w) or torch.equal(raw, w.flip(-1)) for w in windows)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_epoch_of_the_reference_pipeline_leaves_torchs_global_generator_alone(workers):
    # a DataLoader draws its workers' base seed from torch's global generator unless given one of its own; that draw
    # would shift every dropout mask and bfloat16 rounding after it, so the two pipelines would train differently
    x, y = images(12)
    loader = StreamingLoader(x, y, workers=workers, batch_size=4, shuffle=True, augment="crop_flip", seed=1)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    assert len(list(loader.epoch(2))) == 3
    assert torch.equal(torch.get_rng_state(), before)


def test_both_pipelines_hand_over_batches_in_the_layout_asked_for():
    x, y = images(12)
    kwargs = dict(batch_size=4, shuffle=True, augment="crop_flip", seed=1, channels_last=True)
    fast = list(InMemoryLoader(x, y, **kwargs).epoch(0))
    reference = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(0))
    for (xa, _, _), (xb, _, _) in zip(fast, reference):
        assert xa.is_contiguous(memory_format=torch.channels_last)
        assert xb.is_contiguous(memory_format=torch.channels_last) and not xb.is_contiguous()
        assert torch.equal(xa, xb)


@pytest.mark.parametrize("channels", [1, 3])
def test_both_pipelines_agree_on_non_square_and_single_channel_images_in_data_order(channels):
    # height ≠ width shows a crop box with its sides swapped; one channel takes PIL's grayscale path; an unshuffled
    # loader still augments (the order is the data's, the crops and flips are drawn all the same)
    g = torch.Generator().manual_seed(4)
    x, y = torch.randint(0, 256, (10, channels, 6, 9), generator=g, dtype=torch.uint8), torch.arange(10) % 3
    kwargs = dict(batch_size=4, shuffle=False, augment="crop_flip", seed=2, mean=(0.3,) * channels,
                  std=(0.2,) * channels)
    fast = list(InMemoryLoader(x, y, **kwargs).epoch(1))
    reference = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(1))
    assert [idx.tolist() for _, _, idx in reference] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for (xa, ya, ia), (xb, yb, ib) in zip(fast, reference):
        assert xb.shape == (len(ib), channels, 6, 9)
        assert torch.equal(ia, ib) and torch.equal(ya, yb) and torch.equal(xa, xb)


def test_both_pipelines_hand_over_feature_rows_with_their_own_indices():
    # rows of features (tabular data) skip the image path; each batch's idx must still name its rows, which is what
    # the soft targets are keyed by; channels_last, which the run may ask for, applies to images only
    x, y = torch.randn(10, 5, generator=torch.Generator().manual_seed(3)), torch.arange(10) % 2
    kwargs = dict(batch_size=4, shuffle=True, seed=6, channels_last=True)
    fast = list(InMemoryLoader(x, y, **kwargs).epoch(2))
    reference = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(2))
    assert sorted(torch.cat([idx for _, _, idx in reference]).tolist()) == list(range(10))
    for (xa, ya, ia), (xb, yb, ib) in zip(fast, reference):
        assert torch.equal(ia, ib) and torch.equal(ya, yb) and torch.equal(xa, xb)
        assert torch.equal(xb, x[ib]) and torch.equal(yb, y[ib])


@pytest.mark.parametrize("workers", [0, 2])
def test_the_reference_pipeline_reads_a_drawn_image_folder_split_as_the_memory_one_does(tmp_path, workers):
    # the drawn splits are gathered from the file list: each must reach a worker whole, in its own order
    from fixtures import write_class_folders
    from satlearn.config import DataConfig
    from satlearn.data import load_dataset

    write_class_folders(tmp_path / "imgs" / "train", {"cat": 7, "dog": 6}, size=(9, 6))
    data = load_dataset(DataConfig(source="imagefolder", root=str(tmp_path / "imgs"), test_fraction=0.3,
                                   data_seed=2))
    for x, y, shuffle in ((data.x_train, data.y_train, True), (data.x_test, data.y_test, False)):
        kwargs = dict(batch_size=4, shuffle=shuffle, augment="crop_flip" if shuffle else "none", seed=1,
                      mean=data.mean, std=data.std)
        fast = list(InMemoryLoader(x, y, **kwargs).epoch(0))
        reference = list(StreamingLoader(x, y, workers=workers, **kwargs).epoch(0))
        assert sorted(torch.cat([idx for _, _, idx in reference]).tolist()) == list(range(len(y)))
        for (xa, ya, ia), (xb, yb, ib) in zip(fast, reference, strict=True):
            assert torch.equal(ia, ib) and torch.equal(yb, y[ib]) and torch.equal(xa, xb)
    mean, std = torch.tensor(data.mean).view(3, 1, 1), torch.tensor(data.std).view(3, 1, 1)
    test_batches = list(StreamingLoader(data.x_test, data.y_test, workers=workers, batch_size=4, mean=data.mean,
                                        std=data.std).epoch(0))
    unnormalised = torch.cat([xb for xb, _, _ in test_batches]) * std + mean
    assert torch.equal(torch.round(unnormalised * 255).to(torch.uint8), data.x_test)


def test_both_pipelines_hand_over_float32_batches_for_a_mean_and_std_given_in_float64():
    # a DatasetSplits built in code may carry NumPy's float64 statistics (np.mean of the images): a float64 batch
    # would fail inside a float32 model, on the reference pipeline only
    import numpy as np

    x, y = images(10)
    for mean, std in (((np.float64(0.4),) * 3, np.array([0.2, 0.25, 0.3])),
                      (np.array([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.25, 0.3], dtype=torch.float64))):
        kwargs = dict(batch_size=4, shuffle=True, augment="crop_flip", seed=2, mean=mean, std=std)
        fast = list(InMemoryLoader(x, y, **kwargs).epoch(0))
        reference = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(0))
        for (xa, _, _), (xb, _, _) in zip(fast, reference, strict=True):
            assert xa.dtype == xb.dtype == torch.float32 and torch.equal(xa, xb)


@pytest.mark.parametrize("augment", ["none", "crop_flip"])
def test_both_pipelines_agree_on_images_of_more_channels_than_one_pil_image_holds(augment):
    # an .npz of (N, 5, H, W) uint8 images is image data (a multispectral band per channel); PIL's images hold at
    # most four channels, and the reference pipeline is what data.pipeline=auto falls back to on a crowded GPU
    g = torch.Generator().manual_seed(5)
    x, y = torch.randint(0, 256, (10, 5, 6, 7), generator=g, dtype=torch.uint8), torch.arange(10) % 2
    kwargs = dict(batch_size=4, shuffle=True, augment=augment, seed=4, mean=(0.5,) * 5, std=(0.25,) * 5)
    fast = list(InMemoryLoader(x, y, **kwargs).epoch(1))
    reference = list(StreamingLoader(x, y, workers=0, **kwargs).epoch(1))
    for (xa, ya, ia), (xb, yb, ib) in zip(fast, reference, strict=True):
        assert xb.shape == (len(ib), 5, 6, 7)
        assert torch.equal(ia, ib) and torch.equal(ya, yb) and torch.equal(xa, xb)


def test_two_epochs_of_the_reference_pipeline_read_at_once_keep_their_own_augmentation():
    # in the main process (workers=0) the images are read as the batches are asked for: an epoch begun after
    # another must not hand its crops and flips to the one still being read
    x, y = images(12)
    kwargs = dict(batch_size=4, shuffle=True, augment="crop_flip", seed=1)
    reference = StreamingLoader(x, y, workers=0, **kwargs)
    fast = InMemoryLoader(x, y, **kwargs)
    together = list(zip(reference.epoch(0), reference.epoch(1)))
    for (first, second), expected_first, expected_second in zip(together, fast.epoch(0), fast.epoch(1), strict=True):
        assert torch.equal(first[0], expected_first[0]) and torch.equal(second[0], expected_second[0])


def test_a_stop_signal_while_workers_start_reaches_its_handler_once_they_have_started():
    import signal

    from satlearn.data.streaming import _stop_signals_held

    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        with _stop_signals_held():
            signal.raise_signal(signal.SIGTERM)
            assert calls == []
        assert calls == [signal.SIGTERM]
        # a handler left in place where a stop cut the putting back short passes a later signal on, not notes it
        with _stop_signals_held():
            stand_in = signal.getsignal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is not stand_in
        stand_in(signal.SIGTERM, None)
        assert calls == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
