"""The streaming (reference) pipeline: ``torch.utils.data.DataLoader`` with worker processes and per-image PIL
augmentation in float32 — the way the official SAT code feeds its models.

It is what speed is compared against, and the path for data that should not live on the accelerator. Like
:class:`satlearn.data.loader.InMemoryLoader` it yields ``(x, y, idx)``, and it draws an epoch's randomness the same
way: the main process replays the in-memory loader's generator (the permutation, then each batch's crop offsets and
flips) on the CPU and hands every worker the parameters of its images. On the CPU both pipelines therefore see the
same augmented pixels; the result never depends on the number of workers; any epoch can be replayed exactly.
"""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from satlearn.config import EPOCH_SEED_STRIDE
from satlearn.data.loader import channel_statistics, check_augment, draw_crop_flip, is_image_batch


# what stops a run: Ctrl-C; SIGTERM and SIGUSR1, which the command line takes as Ctrl-C
_STOP_SIGNALS = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, name))


def _sigterm_as_ctrl_c(worker_id: int) -> None:
    """A loader worker takes SIGTERM as it takes Ctrl-C: it raises KeyboardInterrupt, on which torch's worker loop
    ends quietly. A scheduler, ``timeout`` or ``kill`` of the process group sends SIGTERM to every process in it;
    torch's own handler makes a worker kill itself, and the main process then fails with torch's "worker is
    killed" error instead of stopping as it does for Ctrl-C. (``terminate()`` still ends a stuck worker.) A worker
    forked by the main process starts with the stop signals held back (:func:`_stop_signals_held`), so a SIGTERM
    that arrives before this runs waits for it; Ctrl-C and SIGUSR1, which a terminal and SLURM send to the whole
    process group too, stay held back: the main process stops on them and ends its workers as it does so, where a
    worker that ended itself would print its own traceback, or be found gone by a main process still waiting on
    it."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


@contextlib.contextmanager
def _stop_signals_held():
    """The stop signals held back while the loader's workers start: the workers inherit them blocked, and the main
    process acts on one that arrived meanwhile once they have started. Python runs the handler of a signal that
    arrived during a fork in the functions registered to run after it (``os.register_at_fork``, as logging does),
    where the KeyboardInterrupt it raises is printed and dropped: the run went on without its stop, to its end, or
    failed with torch's "DataLoader worker exited unexpectedly" where the same Ctrl-C ended a worker. Blocking the
    signals is not enough for the main process: one of its other threads takes the signal, and Python still runs
    the handler in the main thread, so a Python handler only notes the signal meanwhile."""
    held: list[int] = []
    replaced = {}
    holding = [True]

    def note_or_pass_on(signum, frame):
        # once the workers have started, a signal goes to its own handler at once: a stop that arrives while the
        # handlers are put back, and cuts that short, leaves this one in place, passing signals on
        if holding:
            held.append(signum)
        else:
            replaced[signum](signum, frame)

    if threading.current_thread() is threading.main_thread():  # where Python runs signal handlers
        for signum in _STOP_SIGNALS:
            if callable(signal.getsignal(signum)):  # (not the default action, nor ignored)
                replaced[signum] = signal.signal(signum, note_or_pass_on)
    blocking = hasattr(signal, "pthread_sigmask")  # (not on Windows)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS) if blocking else None
    try:
        yield
    finally:
        holding.clear()
        try:
            if blocking:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        finally:
            for signum, handler in replaced.items():
                signal.signal(signum, handler)
        for signum in dict.fromkeys(held):  # now to the handler it was meant for: Ctrl-C's raises KeyboardInterrupt
            signal.raise_signal(signum)


# the most channels one PIL image holds (L, LA, RGB, RGBA)
_PIL_MAX_CHANNELS = 4


def _pil_images(array: np.ndarray) -> list:
    """A ``(H, W, C)`` uint8 image as PIL images: one where PIL has a mode for ``C`` channels, else one a channel
    (a multispectral image, say), each then cut and mirrored alike."""
    from PIL import Image

    channels = array.shape[2]
    if channels == 1:
        return [Image.fromarray(array[:, :, 0])]
    if channels <= _PIL_MAX_CHANNELS:
        return [Image.fromarray(array)]
    return [Image.fromarray(np.ascontiguousarray(array[:, :, c])) for c in range(channels)]


def _channels_last_array(image) -> np.ndarray:
    """A PIL image's pixels as a ``(H, W, C)`` uint8 array, a grey image's included."""
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


class IndexedDataset(Dataset):
    """Items ``(x, y, index)``; uint8 ``(C, H, W)`` images go through PIL (pad + crop + flip) and normalisation."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, augment: str = "none",
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                 padding: int = 4) -> None:
        check_augment(augment, x)
        self.is_image = is_image_batch(x)
        self.x = x.permute(0, 2, 3, 1).contiguous().numpy() if self.is_image else x
        self.y = y
        self.augment = augment
        self.padding = padding
        self.crop_flip: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if self.is_image:
            channels = x.shape[1]
            self.mean = channel_statistics(mean, channels).view(-1, 1, 1)
            self.std = channel_statistics(std, channels).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.y)

    def set_augmentation(self, top: np.ndarray, left: np.ndarray, flip: np.ndarray) -> None:
        """Per-example crop offsets (into the padded image) and flips for the coming epoch, each ``(N,)``."""
        self.crop_flip = (top, left, flip)

    def _augment(self, image, index: int):
        from PIL import Image, ImageOps

        top, left, flip = (int(a[index]) for a in self.crop_flip)
        width, height = image.size
        padded = ImageOps.expand(image, border=self.padding, fill=0)
        image = padded.crop((left, top, left + width, top + height))
        if flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image

    def __getitem__(self, index: int):
        if not self.is_image:
            return self.x[index], self.y[index], index
        images = _pil_images(self.x[index])
        if self.augment == "crop_flip":
            if self.crop_flip is None:
                raise RuntimeError("IndexedDataset: call set_augmentation() before reading augmented images")
            images = [self._augment(image, index) for image in images]
        pixels = np.concatenate([_channels_last_array(image) for image in images], axis=2)  # (a writable copy)
        tensor = torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)
        return (tensor - self.mean) / self.std, self.y[index], index


class StreamingLoader:
    """Same interface as :class:`satlearn.data.loader.InMemoryLoader`, fed by a ``DataLoader`` with workers."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, shuffle: bool = False,
                 augment: str = "none", mean=None, std=None, device: torch.device | str = "cpu", seed: int = 0,
                 workers: int = 4, drop_last: bool = False, channels_last: bool = False) -> None:
        self.device = torch.device(device)
        self.channels_last = channels_last and x.dim() == 4
        self.dataset = IndexedDataset(x, y, augment=augment, mean=mean, std=std)
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

    def _draws(self, epoch: int) -> tuple[torch.Tensor, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """The epoch's example order and, with augmentation, each example's crop offsets and flip — the numbers the
        in-memory loader draws from the same seed on the CPU, in the same order."""
        n = len(self.dataset)
        generator = torch.Generator().manual_seed(self.seed * EPOCH_SEED_STRIDE + epoch)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        if self.dataset.augment != "crop_flip":
            return order, None
        top, left = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        flip = np.zeros(n, dtype=bool)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size].numpy()
            dy, dx, mirror = draw_crop_flip(len(idx), padding=self.dataset.padding, generator=generator)
            top[idx], left[idx], flip[idx] = dy.numpy(), dx.numpy(), mirror.numpy()
        return order, (top, left, flip)

    def epoch(self, epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order, crop_flip = self._draws(epoch)
        # this epoch's own copy of the dataset (the images in it shared): an epoch begun meanwhile sets its
        # augmentation on its own copy, not on the one that this epoch's fresh (non-persistent) workers, or with
        # none this process, still read from
        dataset = copy.copy(self.dataset)
        if crop_flip is not None:
            dataset.set_augmentation(*crop_flip)
        # a generator of its own for the workers' base seed, which a DataLoader otherwise draws from torch's global
        # one at every pass: that draw would shift the dropout masks and bfloat16 roundings of the steps after it,
        # so this pipeline would train otherwise than the in-memory one (and evaluating would change training)
        seeds = torch.Generator().manual_seed(self.seed * EPOCH_SEED_STRIDE + epoch)
        loader = DataLoader(dataset, batch_size=self.batch_size, sampler=order.tolist(),
                            num_workers=self.workers, pin_memory=self.device.type == "cuda",
                            drop_last=self.drop_last, worker_init_fn=_sigterm_as_ctrl_c, generator=seeds)
        non_blocking = self.device.type == "cuda"
        with _stop_signals_held():
            batches = iter(loader)  # starts the workers
        layout = torch.channels_last if self.channels_last else torch.preserve_format
        for x, y, idx in batches:
            yield (x.to(self.device, non_blocking=non_blocking, memory_format=layout),
                   y.to(self.device, non_blocking=non_blocking),
                   idx.to(self.device, non_blocking=non_blocking))

    def __iter__(self):
        return self.epoch(0)
