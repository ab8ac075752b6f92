"""The contract every training method fulfils; the engine knows methods only through it."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from satlearn.config import Config, MethodConfig, method_settings
from satlearn.errors import ConfigError
from satlearn.registry import Registry
from satlearn.targets import SoftTargets


def _untrainable(obj: object) -> str | None:
    """Why ``obj`` cannot be registered as a method: a run builds it as a :class:`Method` and calls its own
    ``training_step``."""
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        return "is not a subclass of satlearn.methods.Method"
    if obj.training_step is Method.training_step:
        return "does not define training_step"
    return None


METHODS: Registry[type[Method]] = Registry("method", refuses=_untrainable)


class Method(nn.Module):
    """A model plus whatever per-example state and loss a training method needs.

    Subclasses implement :meth:`training_step`; everything that changes outcomes lives in submodules or buffers
    so that ``state_dict()`` captures it. A method with settings of its own declares them as a dataclass,
    ``Settings``; the config gives them as ``method.settings`` and the method reads them as ``self.settings``.

    Args:
        config: the :class:`satlearn.config.MethodConfig`.
        model: maps a batch of inputs to ``(B, C)`` logits.
        labels: ``(N,)`` training labels as given to the learner (after any synthetic noise).
        num_classes: C.
    """

    losses: tuple[str, ...] = ("ce",)
    extra_outputs: int = 0  # logits beyond the C classes that the model must produce (e.g. 1 abstain output)
    phase_name: str | None = None  # what starts at method.start_epoch (None: the method ignores start_epoch)
    # which of satlearn's optional method.* settings it reads (of method.momentum, payoff, targets_dtype,
    # targets_device); a --set of another is refused, as it would change nothing
    options: tuple[str, ...] = ()
    # a dataclass of the method's own settings (method.settings.*), with their defaults; None: it takes none
    Settings: type | None = None

    def __init__(self, config: MethodConfig, model: nn.Module, *, labels: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.config = config
        self.model = model
        self.num_classes = num_classes
        # an instance of Settings (None without one); a config from load_config has them checked and filled in
        # already, one built in code is checked here
        self.settings = method_settings(type(self), config.settings, name=config.name,
                                        where=lambda *keys: "method config")
        if config.loss not in self.losses:
            # load_config refuses it already; built in code, it would train the method's usual loss without a word
            raise ConfigError(f"method config: method.loss={config.loss!r} is not available for method "
                              f"{config.name!r}; expected one of: {', '.join(self.losses)}")

    @classmethod
    def check_config(cls, config: Config, *, where: Callable[..., str]) -> None:
        """Raises :class:`satlearn.errors.ConfigError` for settings this method cannot honour.

        ``where(*keys)`` names the origin of the first of ``keys`` that an override set (else the config file), to
        begin the error with."""
        if config.method.loss not in cls.losses:
            raise ConfigError(
                f"{where('method.loss', 'method.name')}: method.loss={config.method.loss!r} is not available for "
                f"method {config.method.name!r}; expected one of: {', '.join(cls.losses)}"
            )
        if cls.phase_name is not None and config.method.start_epoch >= config.run.epochs:
            raise ConfigError(
                f"{where('run.epochs', 'method.start_epoch', 'method.name')}: method.start_epoch="
                f"{config.method.start_epoch} is not below run.epochs="
                f"{config.run.epochs}, so {cls.phase_name} would never start (this would be plain cross-entropy)"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                      epoch: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One batch ``(x, y, idx)`` at 0-based ``epoch`` → (scalar loss tensor, dict of batch-mean metrics: scalar
        tensors or numbers, not bools).

        The metrics keep the same keys through an epoch and become the ``train_*`` columns of ``metrics.csv``;
        ``loss`` is the returned loss unless they give their own (the engine watches it for divergence)."""
        raise NotImplementedError

    @property
    def soft_targets(self) -> SoftTargets | None:
        """The per-example table, for methods that keep one."""
        return None

    def epoch_metrics(self, clean_labels: torch.Tensor | None = None) -> dict[str, Any]:
        """Statistics of the method's own state after an epoch (e.g. how many targets left their label): a dict of
        numbers (a bool too, a flag of the epoch), one-element tensors or None, named other than the engine's
        columns of ``metrics.csv`` and the ``train_*`` metrics."""
        return {}


class TargetsMethod(Method):
    """A method that keeps the per-example :class:`SoftTargets` table (``self.targets``), started from the labels
    and stored as ``method.targets_dtype`` on the model's device or, with ``targets_device: cpu``, on the CPU."""

    options = ("momentum", "targets_dtype", "targets_device")

    def __init__(self, config: MethodConfig, model: nn.Module, *, labels: torch.Tensor, num_classes: int) -> None:
        super().__init__(config, model, labels=labels, num_classes=num_classes)
        table_device = "cpu" if config.targets_device == "cpu" else None
        self.targets = SoftTargets(labels, num_classes, dtype=config.targets_dtype, device=table_device)

    @property
    def soft_targets(self) -> SoftTargets:
        return self.targets

    def epoch_metrics(self, clean_labels: torch.Tensor | None = None) -> dict[str, Any]:
        """After an epoch: the share of targets whose largest class is no longer the given label, their mean
        confidence and, with the true labels, the share of training labels the targets get right (``compare``'s
        column)."""
        refined, confidence = self.targets.refined_labels()
        given = self.targets.labels
        out = {
            "targets_moved": float((refined != given).float().mean()),
            "mean_confidence": float(confidence.mean()),
        }
        if clean_labels is not None:
            clean = clean_labels.to(refined.device)
            out["refined_label_accuracy"] = float((refined == clean).float().mean())
        return out
