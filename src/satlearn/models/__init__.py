"""Model registry: ``create_model(name, num_classes, input_shape=..., width=...)``.

Input conventions: image models take ``(B, C, H, W)`` floats, ``cnn1d`` takes ``(B, L)`` (or ``(B, 1, L)``),
``mlp`` takes any ``(B, ...)`` and flattens it.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from satlearn.errors import ConfigError, count_error, first_line, is_whole_number, out_of_memory
from satlearn.registry import Registry, uncallable

# name -> builder(num_classes: int, *, input_shape: tuple[int, ...], width: int | None) -> nn.Module
MODELS: Registry[Callable[..., nn.Module]] = Registry("model", refuses=uncallable)


def create_model(name: str, num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    """Builds the registered model ``name`` for ``num_classes`` outputs and inputs of ``input_shape`` (no batch dim).

    A builder of one's own that cannot be called as ``(num_classes, *, input_shape, width)``, or that returns
    something other than an ``nn.Module``, is a ``ConfigError`` naming it rather than a traceback from deep inside
    the run. A ``num_classes``, ``width`` or ``input_shape`` that is no count (0, a fraction, a text) is a
    ``ConfigError`` naming it (a ``ConfigTypeError``, also a ``TypeError``, where it is no whole number at all)."""
    builder = MODELS.get(name)
    _check_builder_signature(name, builder)
    num_classes, width, input_shape = _checked_sizes(num_classes, width, input_shape)
    model = builder(num_classes, input_shape=input_shape, width=width)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.name={name!r}: its builder returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _counts(value) -> bool:
    """Whether ``value`` is a whole number of 1 or more (a NumPy integer too; a bool is no count)."""
    return is_whole_number(value) and value >= 1


def _checked_sizes(num_classes, width, input_shape) -> tuple[int, int | None, tuple[int, ...]]:
    """``create_model``'s sizes as plain ints, checked before a builder sees them: a width of 0 would give the
    built-in models their default size without a word, and a class count of 0 a model of no outputs."""
    def refuse(what: str, value, expected: str) -> None:
        raise count_error(f"{what}={value!r}; expected {expected}", value)

    if not _counts(num_classes):
        refuse("num_classes", num_classes, "a whole number of outputs, 1 or more")
    if width is not None and not _counts(width):
        refuse("width", width, "a whole number, 1 or more, or None for the model's default")
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) \
            or not all(_counts(size) for size in input_shape):
        raise ConfigError(f"input_shape={input_shape!r}; expected the shape of one example, a tuple of whole numbers "
                          "1 or more")
    return int(num_classes), None if width is None else int(width), tuple(int(size) for size in input_shape)


def _check_builder_signature(name: str, builder) -> None:
    """Checked before the call, as a TypeError from inside a builder would be its own code's and must show as such."""
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):  # a builder whose signature Python cannot tell: the call itself will show
        return
    try:
        signature.bind(1, input_shape=(1,), width=None)
    except TypeError as exc:
        raise ConfigError(f"model.name={name!r}: its builder takes {signature}, but a model builder is called as "
                          f"(num_classes, *, input_shape, width) ({exc})") from None


def _why(exc: BaseException) -> str:
    """The first line of ``exc``; for an ``assert`` without a message, which would say only "AssertionError", the file
    and line where it failed, which the one-line error would otherwise lose."""
    if isinstance(exc, AssertionError) and not str(exc).strip() and exc.__traceback__ is not None:
        failed = traceback.extract_tb(exc.__traceback__)[-1]
        return f"AssertionError at {Path(failed.filename).name}:{failed.lineno}"
    return first_line(exc)


def check_logits(name: str, model: nn.Module, num_classes: int, input_shape: tuple[int, ...], *,
                 device: torch.device | str = "cpu") -> None:
    """A ``ConfigError`` unless ``model`` (on ``device``) gives a ``(1, num_classes)`` tensor for one zero input:
    a builder of one's own that ignores ``num_classes`` would otherwise train on the first C logits without a word,
    or fail deep in a loss. Run in eval mode, so BatchNorm's running statistics and dropout are left alone (the
    training mode is restored after), and without cuDNN's autotuning, which would time every convolution for a batch
    of one."""
    training, autotuning = model.training, torch.backends.cudnn.benchmark
    model.eval()
    torch.backends.cudnn.benchmark = False
    try:
        with torch.no_grad():
            logits = model(torch.zeros(1, *input_shape, device=device))
    # a builder of one's own may not take this data's inputs at all: torch says so with these (some of its input
    # checks are asserts); an error of another kind (a NameError, an AttributeError) is a slip in the model's code,
    # shown where it is, as Python shows it
    except (RuntimeError, ValueError, IndexError, AssertionError) as exc:
        if out_of_memory(exc):
            raise  # the model's size, not its shape: its caller says so (use a smaller model.width)
        raise ConfigError(f"model.name={name!r}: one input of shape {input_shape} does not go through the model "
                          f"({_why(exc)})") from exc
    finally:
        model.train(training)
        torch.backends.cudnn.benchmark = autotuning
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (1, num_classes):
        got = f"logits of shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ConfigError(f"model.name={name!r} gives {got} for one input of shape {input_shape}; expected "
                          f"(1, {num_classes}), one logit per output (the data's classes, and an abstain output "
                          "for a selective method)")


from satlearn.models import cnn1d, mlp, resnet, preact_resnet, wrn, vgg  # noqa: E402,F401  (registration)

__all__ = ["MODELS", "check_logits", "create_model"]
