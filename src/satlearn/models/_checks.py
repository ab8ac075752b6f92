"""Input checks shared by the image models."""

from __future__ import annotations

from satlearn.errors import ConfigError


def image_channels(name: str, input_shape: tuple[int, ...], *, min_size: int = 8) -> int:
    """Returns C of a ``(C, H, W)`` input shape, or raises a one-line :class:`ConfigError`."""
    if len(input_shape) != 3:
        # a .npz of grayscale (N, H, W) or float images is read as a table: say what it takes to be images
        raise ConfigError(f"model {name} expects images (C, H, W), but the data have inputs of shape {input_shape} "
                          "(a .npz holds images as 4-D uint8 arrays, (N, H, W, C) or (N, C, H, W); other arrays are "
                          "read as rows of features)")
    channels, height, width = input_shape
    if min(height, width) < min_size:
        raise ConfigError(f"model {name} needs images of at least {min_size}x{min_size}, got {height}x{width}")
    return channels
