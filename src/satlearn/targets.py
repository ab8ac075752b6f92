"""``SoftTargets``: the per-example exponential moving average of a model's predictions.

One table serves every method that keeps per-example state (supervised SAT, selective SAT, ...). It is an
``nn.Module`` whose table is a registered buffer, so it travels with ``state_dict()`` and checkpoints.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from satlearn.errors import ConfigError, DataError, DataTypeError

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def refined_from_table(table: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N,)`` refined label and ``(N,)`` confidence of an ``(N, C)`` table of targets read as probabilities, from
    the ``(N,)`` given ``labels``: each row's largest class, the given label where it ties for the largest mass."""
    confidence, label = table.max(dim=1)
    # argmax takes the lowest of tied classes: a label still holding the most mass has not moved
    given_holds_max = table.gather(1, labels[:, None]).squeeze(1) >= confidence
    return torch.where(given_holds_max, labels, label), confidence


def _check_momentum(momentum) -> None:
    """A ``ValueError`` for a momentum outside [0, 1] (nan too), which would move rows off the simplex, and a
    ``TypeError`` for one that is no number. A tensor's value is read only on the CPU, where that waits for no
    device, and not while ``torch.compile`` traces the update, where reading it would split the graph."""
    if isinstance(momentum, torch.Tensor):
        if momentum.numel() != 1:  # one α per element would weigh the classes differently
            raise ValueError(f"momentum is a tensor of shape {tuple(momentum.shape)}; expected one number in [0, 1]")
        readable = momentum.device.type == "cpu" and not torch.compiler.is_compiling()
        value = float(momentum) if readable else None
    elif isinstance(momentum, numbers.Real):  # numpy scalars too
        value = momentum
    else:
        raise TypeError(f"momentum={momentum!r}; expected a number in [0, 1]")
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"momentum={momentum!r}; expected a number in [0, 1]")


class SoftTargets(nn.Module):
    """An ``(N, C)`` table of soft targets, one probability vector per training example.

    Initialised to ``onehot(labels)``. :meth:`update` applies ``t_i ← α t_i + (1 − α) p_i`` to the rows of a
    batch and returns the updated rows; :meth:`weights` gives the SAT confidence ``max_j t_ij``.

    Args:
        labels: ``(N,)`` integer labels the table starts from (the given, possibly noisy, labels).
        num_classes: C.
        dtype: storage dtype, ``torch.float32`` (default) or ``torch.bfloat16`` (half the memory; the update
            itself is computed in float32 and rounded at random, without bias, when written back; rows are read
            back rescaled to sum to 1). Strings ``"float32"``/``"bfloat16"`` are accepted.
        device: where the table lives; batches may come from another device (rows are moved as needed). A
            table given a device stays there when a module holding it moves (``method.to("cuda")`` leaves a CPU
            table on the CPU); without one it moves with the module.

    Labels that are not one dimension of whole numbers in ``0..C-1`` are a :class:`~satlearn.errors.DataError`
    (floats or bools a :class:`~satlearn.errors.DataTypeError`, also a ``TypeError``); a ``num_classes`` or
    ``dtype`` it cannot take is a :class:`~satlearn.errors.ConfigError`.

    The storage dtype is the table's own, chosen by ``dtype`` alone: casting a module that holds it, or the table
    itself (``half()``, ``to(torch.bfloat16)``), leaves it as it is (a float16 table would round every small
    update away). A bfloat16 table's random
    rounding draws from torch's generator of the table's device, as the rest of a training step does: comparing
    a float32 with a bfloat16 table changes the random numbers that follow (data order, dropout). Each index may
    appear at most once in one :meth:`update` (a sampler that draws with replacement gives duplicates: one of
    them is kept). Under ``DistributedDataParallel`` a table registered in the wrapped model is a buffer that
    rank 0 broadcasts, overwriting the other ranks' updates: keep it outside the wrapped module (or use
    ``broadcast_buffers=False``) and update it with every rank's indices.

    Example:
        >>> targets = SoftTargets(torch.tensor([0, 2, 1]), num_classes=3)
        >>> rows = targets.update(torch.tensor([0, 2]), torch.full((2, 3), 1 / 3), momentum=0.9)
        >>> rows.sum(dim=1)
        tensor([1., 1.])
    """

    targets: torch.Tensor
    labels: torch.Tensor

    def __init__(self, labels: torch.Tensor, num_classes: int, *, dtype: torch.dtype | str = torch.float32,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise ConfigError(f"dtype={dtype!r}; expected one of: {', '.join(_DTYPES)}")
            dtype = _DTYPES[dtype]
        if dtype not in _DTYPES.values():
            raise ConfigError(f"dtype={dtype}; expected torch.float32 or torch.bfloat16")
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ConfigError(f"num_classes={num_classes!r}; expected a positive whole number")
        num_classes = int(num_classes)  # numpy integers too (labels.max() + 1)
        given = torch.as_tensor(labels)
        if given.numel() == 0 and given.is_floating_point():
            given = given.long()  # an empty list reads as float; it holds no label to truncate
        if given.dtype == torch.bool or given.is_floating_point() or given.is_complex():
            raise DataTypeError(f"labels must be integers, got {given.dtype}")  # a cast would truncate 0.9 to class 0
        if given.dim() != 1:
            raise DataError(f"labels must be a 1-D array of N labels, got shape {tuple(given.shape)}")
        outside = (given < 0) | (given >= num_classes)
        if bool(outside.any()):  # once, at construction
            i = int(outside.nonzero()[0, 0])
            raise DataError(f"label {int(given[i])} at index {i} is outside 0..{num_classes - 1} "
                            f"(num_classes={num_classes})")
        labels = given.to(dtype=torch.int64, device=device)
        self.num_classes = num_classes
        self.home_device = None if device is None else labels.device
        self.register_buffer("labels", labels.clone())
        self.register_buffer("targets", F.one_hot(labels, num_classes).to(dtype))

    def __len__(self) -> int:
        return self.targets.shape[0]

    def _apply(self, fn, recurse=True):
        # nn.Module.to()/cuda()/half()/share_memory() all come through here. A table placed on a device on purpose
        # (a large one kept in host memory, say) must not follow the model to another device; what keeps it there
        # (share_memory) still applies. A table pickled before home_device existed follows the module. No table
        # follows a cast of the module: its storage dtype is chosen for the EMA's rounding.
        probe = fn(self.targets[:0])
        if getattr(self, "home_device", None) is not None:
            if probe.device != self.targets.device or probe.dtype != self.targets.dtype:
                return self
        elif probe.dtype != self.targets.dtype:
            return super()._apply(lambda tensor: tensor.to(probe.device), recurse)
        return super()._apply(fn, recurse)

    # bfloat16 keeps 8 significant bits: between 0.5 and 1 its step is 2^-8. With α = 0.99 an update
    # (1 − α)(p − t) smaller than half that step (|p − t| < 0.2) would round back to the stored value every time,
    # so a large entry would stop short of where the EMA goes while the small ones still grew (a row pulled
    # towards [0.85, 0.15] from [1, 0] ended at [1, 0.125]). Rounding up or down at random, in proportion to
    # the distance, makes every stored value the EMA's in expectation, and rows are read back rescaled to sum
    # to 1, so they stay probability vectors. float32 tables are stored and read as computed.

    def _read(self, rows: torch.Tensor) -> torch.Tensor:
        """Stored rows as float32 probability vectors."""
        rows = rows.float()
        if self.targets.dtype != torch.float32:
            rows = rows / rows.sum(dim=1, keepdim=True)
        return rows

    def _stored(self, rows: torch.Tensor) -> torch.Tensor:
        """float32 rows in the table's dtype: bfloat16 by unbiased random rounding (torch's generator of the
        rows' device, which checkpoints save), anything else as ``.to()`` rounds."""
        if self.targets.dtype != torch.bfloat16:
            return rows.to(self.targets.dtype)
        bits = rows.contiguous().view(torch.int32)  # bfloat16 is the top 16 bits of a float32
        bits = (bits + torch.randint_like(bits, 0, 1 << 16)) & ~0xFFFF
        return bits.view(torch.float32).to(torch.bfloat16)  # exact: the low 16 bits are zero

    def _table_index(self, idx: torch.Tensor) -> torch.Tensor:
        """``idx``, checked on the host, as indices into the table on its device."""
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"idx must be a tensor of example indices, got {type(idx).__name__}")
        if idx.dim() != 1 or idx.dtype == torch.bool or idx.is_floating_point() or idx.is_complex():
            raise ValueError(f"idx must be a 1-D tensor of example indices, got {idx.dtype} of shape "
                             f"{tuple(idx.shape)}")
        if idx.dtype not in (torch.int64, torch.int32):
            # torch indexes with a uint8 tensor as with a mask, and not at all with int8 or int16: a dataset that
            # stores its indices so still means the examples they number
            idx = idx.long()
        return idx.to(self.targets.device)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """``(B,)`` indices (a 1-D integer tensor) → ``(B, C)`` float32 rows, on the device of ``idx``."""
        return self._read(self.targets[self._table_index(idx)]).to(device=idx.device)

    def table(self) -> torch.Tensor:
        """The whole ``(N, C)`` table as float32 probability vectors (bfloat16 rows rescaled to sum to 1)."""
        return self._read(self.targets)

    @torch.no_grad()
    def update(self, idx: torch.Tensor, probs: torch.Tensor, *, momentum: float) -> torch.Tensor:
        """Moves rows ``idx`` towards ``probs`` and returns the updated rows.

        Args:
            idx: ``(B,)`` example indices (a 1-D tensor of any integer dtype, on any device), each at most once
                per call, in ``0..N-1``: past the end is torch's indexing error (on a GPU a device-side assert).
            probs: ``(B, C)`` probability vectors, a softmax rather than logits (their values are not checked), of
                any float dtype, on any device; they are detached here, as the update runs without grad.
            momentum: α in ``t ← α t + (1 − α) p``, a number in [0, 1] (or a one-element tensor): outside it a
                ``ValueError`` (a tensor's value is checked only on the CPU, and not while ``torch.compile`` traces
                the update), no number a ``TypeError``.
        Returns:
            ``(B, C)`` float32 updated targets on the device of ``probs``, without grad (what ``sat_loss`` takes).
        """
        # shapes and the momentum are checked on the host, without a device sync; the values (duplicate or
        # negative indices, NaN probabilities) are not, as that would need one every step
        if not isinstance(idx, torch.Tensor) or not isinstance(probs, torch.Tensor):
            raise TypeError(f"idx and probs must be tensors, got {type(idx).__name__} and {type(probs).__name__}")
        table_idx = self._table_index(idx)
        if tuple(probs.shape) != (len(idx), self.num_classes):
            raise ValueError(f"probs has shape {tuple(probs.shape)}; expected ({len(idx)}, {self.num_classes}), one "
                             "probability vector per index")
        _check_momentum(momentum)
        rows = self._read(self.targets[table_idx]).to(device=probs.device)  # a gathered float32 copy
        new = rows.lerp_(probs.detach().float(), 1.0 - momentum)  # α t + (1 − α) p in one kernel
        self.targets[table_idx] = self._stored(new.to(self.targets.device))
        return new

    def weights(self, idx: torch.Tensor) -> torch.Tensor:
        """``(B,)`` confidence ``max_j t_ij`` of rows ``idx`` (float32, unnormalised)."""
        return self(idx).max(dim=1).values

    def refined_labels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N,)`` argmax label and ``(N,)`` confidence (max probability) of every row; a row whose given label
        ties for the largest mass keeps that label, as :func:`satlearn.label_issues.find_label_issues` does."""
        return refined_from_table(self.table(), self.labels)
