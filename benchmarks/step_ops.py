"""Operations per training step, CE against SAT: what SAT adds to every step, counted rather than timed.

A GPU step of ResNet-34 at batch 256 takes a few milliseconds, and each operation PyTorch dispatches costs host time
and, on the GPU, a kernel launch. So the number of operations SAT adds per step (its target update, loss and
statistics) is a machine-independent measure of its per-step overhead; `speed.py` times it on a GPU. One step of
each method is profiled after a warm-up step, through the engine's own `train_one_epoch` on a one-batch epoch
(batch preparation, method, optimizer, metric bookkeeping):

- `top_level_ops`: operations the step dispatches (nested calls inside an operation not counted);
- `leaf_ops`: operations that call no other operation — on a GPU, roughly the kernels;
- `cuda_kernels`: kernels launched (CUDA only).

The count does not depend on the model's width or the batch size, so the CPU default uses a narrow ResNet-34:

    python benchmarks/step_ops.py                      # → benchmarks/results/step_ops.json
    python benchmarks/step_ops.py --device cuda --width 64 --batch-size 256 --name step_ops_cuda
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402

from satlearn.config import load_config  # noqa: E402
from satlearn.data import DatasetSplits  # noqa: E402
from satlearn.engine import build_method, build_optimizer, make_loaders, train_one_epoch  # noqa: E402
from satlearn.engine.runtime import autocast, resolve_device, seed_everything  # noqa: E402

METHODS = {"ce": ["method.name=erm"], "sat": ["method.name=sat"], "sat_sce": ["method.name=sat", "method.loss=sce"]}


def random_cifar(n: int) -> DatasetSplits:
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return DatasetSplits(x_train=x, y_train=y, x_test=x[:8], y_test=y[:8], num_classes=10,
                         class_names=[str(c) for c in range(10)], kind="image", name="random-cifar",
                         mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def count_step(method_name: str, *, model: str, width: int, batch_size: int, device: str, amp: str) -> dict:
    overrides = [*METHODS[method_name], "method.start_epoch=0", f"model.name={model}", f"model.width={width}",
                 f"data.batch_size={batch_size}", f"run.device={device}", f"run.amp={amp}", "optim.name=sgd",
                 "optim.lr=0.1", "optim.weight_decay=0.0005"]
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(None, [*overrides, f"run.out_dir={scratch}"])
    torch_device = resolve_device(config.run.device)
    data = random_cifar(batch_size)  # one batch per epoch: an epoch of train_one_epoch is one whole engine step
    seed_everything(0)
    learner = build_method(config, data, data.y_train, torch_device)
    optimizer = build_optimizer(config, learner, torch_device)
    train_loader, _ = make_loaders(config, data, data.y_train, torch_device)
    amp = autocast(torch_device, config.run.amp)
    train_one_epoch(learner, optimizer, train_loader, 0, amp=amp)  # warm-up: optimizer state, cuDNN plans
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch_device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        train_one_epoch(learner, optimizer, train_loader, 1, amp=amp)
        if torch_device.type == "cuda":
            torch.cuda.synchronize(torch_device)
    events = [e for e in prof.events() if e.name.startswith("aten::")]
    top = [e for e in events if e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")]
    leaf = [e for e in events if not any(c.name.startswith("aten::") for c in e.cpu_children)]
    out = {"method": method_name, "top_level_ops": len(top), "leaf_ops": len(leaf)}
    if torch_device.type == "cuda":
        out["cuda_kernels"] = sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet34")
    parser.add_argument("--width", type=int, default=4, help="base width (the counts do not depend on it)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", default="bf16", help="bf16 (as on a GPU) or off")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--name", default="step_ops", help="result file name (without .json)")
    parser.add_argument("--results-dir", type=Path, default=None, help="default: benchmarks/results/")
    args = parser.parse_args()

    cells = [count_step(m, model=args.model, width=args.width, batch_size=args.batch_size, device=args.device,
                        amp=args.amp) for m in args.methods]
    counts = {c["method"]: c for c in cells}
    ratios = {}
    if "ce" in counts:
        for cell in cells:
            if cell["method"] != "ce":
                for key in ("top_level_ops", "leaf_ops", "cuda_kernels"):
                    if key in cell:
                        ratios[f"{cell['method']}_over_ce_{key}"] = cell[key] / counts["ce"][key]
    for cell in cells:
        print(cell)
    for key, value in ratios.items():
        print(f"{key}: {value:.3f}")
    path = record(args.name, {"model": args.model, "width": args.width, "batch_size": args.batch_size,
                              "amp": args.amp, "cells": cells, "ratios": ratios}, directory=args.results_dir)
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
