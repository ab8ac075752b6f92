"""A speed experiment, not a training path: a whole training step replayed as one CUDA graph.

`torch.compile(mode="reduce-overhead")` captures the model's forward and backward passes in CUDA graphs; the rest
of a step (batch preparation, loss, SAT's target update, the optimizer, metric bookkeeping) still launches its
kernels one by one from Python. Here one graph holds forward, loss, target update, backward, optimizer step and the
step's metrics, so a step costs the host one copy of the batch into the graph's input buffers and one replay.
Whether that helps depends on whether the host is what a step waits for (`speed.py --profile-steps`).

Limits that keep it an experiment: the learning rate and SAT's phase are fixed at capture (speed.py trains at a
constant rate with SAT on from epoch 0), and the gradients become the graph's own buffers, so every later step of
this model must go through :func:`graphed_epoch`. The epoch's smaller last batch runs eagerly, into those buffers.

On a machine without CUDA, ``capture=False`` runs the same bookkeeping eagerly (the tests use that).
"""

from __future__ import annotations

import contextlib

import torch


def train_step(method, optimizer: torch.optim.Optimizer, batch, epoch: int, amp) -> tuple[list[str], torch.Tensor]:
    """Forward, loss, backward and optimizer step on ``batch``, adding to whatever gradients the parameters hold;
    returns the names of the step's metrics and their values stacked in one tensor."""
    with amp:
        loss, metrics = method.training_step(batch, epoch)
    loss.backward()
    optimizer.step()
    return list(metrics), torch.stack([value.detach().float() for value in metrics.values()])


class WholeStepGraph:
    """One training step of ``method`` with ``optimizer`` on batches shaped like ``batch``, captured at ``epoch``.

    Args:
        method: a satlearn method (``training_step(batch, epoch) -> (loss, metrics)``).
        optimizer: its optimizer; its state must exist already (train a step or an epoch first).
        batch: ``(x, y, idx)`` of the full batch shape, used for the warm-up and the capture.
        amp: the autocast context of the run (or None).
        capture: capture a CUDA graph (CUDA only); False replays the step eagerly.
    """

    def __init__(self, method, optimizer: torch.optim.Optimizer, batch, *, epoch: int, amp=None,
                 capture: bool = True, warmup_steps: int = 3) -> None:
        self.method, self.optimizer, self.epoch = method, optimizer, epoch
        self.amp = amp if amp is not None else contextlib.nullcontext()
        self.inputs = tuple(t.clone() for t in batch)
        self.batch_size = len(batch[2])
        self.keys: list[str] | None = None
        self.graph = None
        if not capture:
            return
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # lazy initialisation (cuBLAS/cuDNN workspaces) must not happen in capture
            for _ in range(warmup_steps):
                self.optimizer.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream().wait_stream(side)
        # gradients are created inside the capture, so the backward pass writes them rather than adding to them
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.values = self._step()

    def _step(self) -> torch.Tensor:
        self.keys, values = train_step(self.method, self.optimizer, self.inputs, self.epoch, self.amp)
        return values

    def replay(self, batch) -> torch.Tensor:
        """Trains on ``batch`` (the captured shape); returns the step's metric values (overwritten by the next
        replay: use them before)."""
        for buffer, value in zip(self.inputs, batch):
            buffer.copy_(value)
        if self.graph is None:
            self.optimizer.zero_grad(set_to_none=False)
            return self._step()
        self.graph.replay()
        return self.values


def graphed_epoch(step: WholeStepGraph, loader, epoch: int) -> dict[str, float]:
    """One pass over ``loader`` through ``step``: full batches replayed, a smaller last batch trained eagerly into
    the same gradient buffers. Returns the example-weighted means of the step's metrics, as ``train_one_epoch``."""
    step.method.train()
    sums, seen = None, 0
    for batch in loader.epoch(epoch):
        size = len(batch[2])
        if size == step.batch_size:
            values = step.replay(batch)
        else:
            step.optimizer.zero_grad(set_to_none=False)  # keep the graph's gradient buffers
            _, values = train_step(step.method, step.optimizer, batch, epoch, step.amp)
        sums = values * size if sums is None else sums.add_(values, alpha=size)
        seen += size
    return {} if sums is None else dict(zip(step.keys, (sums / seen).tolist()))


if __name__ == "__main__":  # a module, not a script: say where it is used rather than exit in silence
    raise SystemExit("step_graph.py measures nothing by itself: speed.py times it in its +stepgraph pipelines "
                     "(python benchmarks/speed.py --pipelines fast+stepgraph ...; see python benchmarks/speed.py --help)")
