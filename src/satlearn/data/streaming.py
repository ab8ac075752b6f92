"""The streaming (reference) pipeline: ``torch.utils.data.DataLoader`` with worker processes and per-image PIL
augmentation in float32 — the way the official SAT code feeds its models.

It is what speed is compared against, and the path for data that should not live on the accelerator. Like
:class:`satlearn.data.loader.InMemoryLoader` it yields ``(x, y, idx)``; the batch order of an epoch is the same
permutation, and each image's augmentation is drawn from a generator keyed by ``(seed, epoch, index)``, so the
result does not depend on the number of workers and an epoch can be replayed exactly.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class IndexedDataset(Dataset):
    """Items ``(x, y, index)``; uint8 ``(C, H, W)`` images go through PIL (pad + crop + flip) and normalisation."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, augment: str = "none",
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None, seed: int = 0,
                 padding: int = 4) -> None:
        self.is_image = x.dtype == torch.uint8 and x.dim() == 4
        self.x = x.permute(0, 2, 3, 1).contiguous().numpy() if self.is_image else x
        self.y = y
        self.augment = augment
        self.seed = seed
        self.padding = padding
        self.epoch = 0
        if self.is_image:
            channels = x.shape[1]
            self.mean = torch.tensor(mean if mean is not None else (0.5,) * channels).view(-1, 1, 1)
            self.std = torch.tensor(std if std is not None else (0.5,) * channels).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.y)

    def _augment(self, image, index: int):
        from PIL import Image, ImageOps

        rng = np.random.default_rng((self.seed, self.epoch, index))
        width, height = image.size
        p = self.padding
        padded = ImageOps.expand(image, border=p, fill=0)
        top, left = rng.integers(0, 2 * p + 1, size=2)
        image = padded.crop((int(left), int(top), int(left) + width, int(top) + height))
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image

    def __getitem__(self, index: int):
        if not self.is_image:
            return self.x[index], self.y[index], index
        from PIL import Image

        array = self.x[index]
        image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        if self.augment == "crop_flip":
            image = self._augment(image, index)
        pixels = np.asarray(image, dtype=np.uint8)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        tensor = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div_(255.0)
        return (tensor - self.mean) / self.std, self.y[index], index


class StreamingLoader:
    """Same interface as :class:`satlearn.data.loader.InMemoryLoader`, fed by a ``DataLoader`` with workers."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, shuffle: bool = False,
                 augment: str = "none", mean=None, std=None, device: torch.device | str = "cpu", seed: int = 0,
                 workers: int = 4, drop_last: bool = False) -> None:
        self.device = torch.device(device)
        self.dataset = IndexedDataset(x, y, augment=augment, mean=mean, std=std, seed=seed)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.workers = workers
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.dataset)

    def order(self, epoch: int) -> torch.Tensor:
        """The epoch's example order — the same permutation the in-memory loader draws (on the CPU)."""
        n = len(self.dataset)
        if not self.shuffle:
            return torch.arange(n)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(n, generator=generator)

    def epoch(self, epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        self.dataset.epoch = epoch  # read by fresh (non-persistent) workers of this epoch's DataLoader
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=self.order(epoch).tolist(),
                            num_workers=self.workers, pin_memory=self.device.type == "cuda",
                            drop_last=self.drop_last)
        non_blocking = self.device.type == "cuda"
        for x, y, idx in loader:
            yield (x.to(self.device, non_blocking=non_blocking), y.to(self.device, non_blocking=non_blocking),
                   idx.to(self.device, non_blocking=non_blocking))

    def __iter__(self):
        return self.epoch(0)
