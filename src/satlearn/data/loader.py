"""An in-memory loader: the dataset lives on the device, batches are index slices, augmentation runs on tensors.

Every batch is ``(x, y, idx)`` with ``idx`` the positions among the examples trained on (the training set, less any
validation split), which is what per-example state such as :class:`satlearn.targets.SoftTargets` is keyed by.
Shuffling and augmentation draw from a generator seeded by ``(seed, epoch)``, so any epoch can be replayed exactly —
the basis of bit-exact resume.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
import torch.nn.functional as F

from satlearn.config import EPOCH_SEED_STRIDE
from satlearn.errors import ConfigError

AUGMENTATIONS = ("none", "crop_flip")


def is_image_batch(x: torch.Tensor) -> bool:
    """Whether ``x`` holds images as the loaders take them, uint8 ``(N, C, H, W)``: scaled, normalised and
    augmentable; any other inputs go to the model as they are."""
    return x.dtype == torch.uint8 and x.dim() == 4


def check_augment(augment: str, x: torch.Tensor | None = None) -> None:
    """Refuses an augmentation the loaders do not know, or crop + flip of inputs ``x`` that are not images; the
    config's ``auto`` is the trainer's to resolve (a loader given it, a misspelling, or feature rows to crop would
    otherwise train without augmentation, silently)."""
    if augment not in AUGMENTATIONS:
        raise ConfigError(f"augment={augment!r}; expected 'none' or 'crop_flip'")
    if augment == "crop_flip" and x is not None and not is_image_batch(x):
        raise ConfigError(f"augment='crop_flip' needs uint8 images (N, C, H, W), got {x.dtype} of shape "
                          f"{tuple(x.shape)}")


def channel_statistics(values, channels: int, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """A per-channel mean or std as a ``(C,)`` float32 tensor (``None``: 0.5 each). Both pipelines normalise with
    it, so that statistics given in float64 (NumPy's) still make float32 batches, and the same ones on either. A
    copy: a loader keeps normalising as it was made to, whatever becomes of a tensor it was given."""
    if values is None:
        values = (0.5,) * channels
    return torch.as_tensor(values, dtype=torch.float32, device=device).clone()


def draw_crop_flip(batch_size: int, *, padding: int = 4, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The random parameters of :func:`random_crop_flip` for one batch, drawn in a fixed order (rows, columns,
    flips) so that another pipeline can replay them from the same generator.

    Returns:
        ``(B,)`` row offsets and ``(B,)`` column offsets into the padded image, each in ``[0, 2 * padding]``, and
        ``(B,)`` booleans: mirror the crop left-right.
    """
    dy = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator, device=device)
    dx = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator, device=device)
    flip = torch.rand(batch_size, generator=generator, device=device) < 0.5
    return dy, dx, flip


def random_crop_flip(x: torch.Tensor, *, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-sample zero-padded random crop to the input size plus random horizontal flip.

    Args:
        x: ``(B, C, H, W)`` images of any dtype.
    Returns:
        ``(B, C, H, W)`` augmented copy, same dtype and device.
    """
    b, c, h, w = x.shape
    device = x.device
    padded = F.pad(x, (padding, padding, padding, padding))
    dy, dx, flip = draw_crop_flip(b, padding=padding, generator=generator, device=device)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]  # (B, 1, H, 1)
    cols = torch.arange(w, device=device).expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(-1), cols) + dx[:, None]
    cols = cols[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


class InMemoryLoader:
    """Yields ``(x, y, idx)`` batches from tensors held on ``device``.

    Args:
        x: ``(N, ...)`` inputs; ``uint8`` images are scaled to [0, 1] and normalised per batch.
        y: ``(N,)`` labels.
        batch_size: examples per batch (the last batch may be smaller unless ``drop_last``).
        shuffle: a fresh permutation every epoch.
        augment: ``"none"`` or ``"crop_flip"`` (images only).
        channels_last: hand image batches over in channels-last memory layout (same values).
        mean, std: per-channel normalisation for images (after scaling to [0, 1]).
        seed: base seed of the per-epoch generator.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, shuffle: bool = False,
                 augment: str = "none", mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                 device: torch.device | str = "cpu", seed: int = 0, drop_last: bool = False,
                 channels_last: bool = False) -> None:
        self.device = torch.device(device)
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.seed = seed
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.is_image = is_image_batch(x)
        check_augment(augment, x)
        if self.is_image:
            channels = x.shape[1]
            self.mean = channel_statistics(mean, channels, device=self.device).view(1, -1, 1, 1)
            self.std = channel_statistics(std, channels, device=self.device).view(1, -1, 1, 1)

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.y)

    def _generator(self, epoch: int) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed * EPOCH_SEED_STRIDE + epoch)
        return generator

    def prepare(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augments (if configured and a generator is given) and normalises a raw batch."""
        if not self.is_image:
            return x
        if self.augment == "crop_flip" and generator is not None:
            x = random_crop_flip(x, generator=generator)
        x = (x.float().div_(255.0) - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def epoch(self, epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        generator = self._generator(epoch)
        n = len(self.y)
        if self.shuffle:
            order = torch.randperm(n, generator=generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.prepare(self.x[idx], generator), self.y[idx], idx

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return self.epoch(0)
