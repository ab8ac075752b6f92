"""Operations per training step, CE against SAT: what SAT adds to every step, counted rather than timed.

A GPU step of ResNet-34 at batch 256 takes a few milliseconds, and each operation PyTorch dispatches costs host time
and, on the GPU, a kernel launch. So the number of operations SAT adds per step (its target update, loss and
statistics) is a machine-independent measure of its per-step overhead; `speed.py` times it on a GPU. One step of
each method is profiled after a warm-up step, through the engine's own `train_one_epoch` on a one-batch epoch
(batch preparation, method, optimizer, metric bookkeeping):

- `top_level_ops`: operations the step dispatches (nested calls inside an operation not counted);
- `leaf_ops`: operations that call no other operation — on a GPU, roughly the kernels;
- `cuda_kernels`: kernels launched (CUDA only);
- `cuda_kernel_ms`: the GPU time of those kernels, and `cuda_ms_by_op`: that time by the operation that launched
  the kernels, largest first (CUDA only). Compared with `speed.py`'s seconds per epoch ÷ steps per epoch, it says
  whether a step waits for the GPU (kernel time close to step time: only faster kernels help) or for the host.

With `--steps N` the figures are per-step means over N profiled steps. The counts do not depend on the model's width
or the batch size, so the CPU default uses a narrow ResNet-34; kernel times do, so measure them at full size:

    python benchmarks/step_ops.py                      # → benchmarks/results/step_ops.json
    python benchmarks/step_ops.py --device cuda --width 64 --batch-size 256 --steps 5 --name step_ops_cuda
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import check_result_name, check_results_dir, name_option, path_option, record, run_main  # noqa: E402

from satlearn.config import load_config  # noqa: E402
from satlearn.data import DatasetSplits  # noqa: E402
from satlearn.engine import build_method, build_optimizer, make_loaders, train_one_epoch  # noqa: E402
from satlearn.engine.runtime import autocast, resolve_device, seed_everything  # noqa: E402
from satlearn.errors import ConfigError  # noqa: E402

METHODS = {"ce": ["method.name=erm"], "sat": ["method.name=sat"], "sat_sce": ["method.name=sat", "method.loss=sce"]}
# the config key that each of this script's options sets, so that a refused value is named by the option typed
OPTION_OF_KEY = {"model.name": "--model", "model.width": "--width", "data.batch_size": "--batch-size",
                 "run.device": "--device", "run.amp": "--amp"}


def random_cifar(n: int) -> DatasetSplits:
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return DatasetSplits(x_train=x, y_train=y, x_test=x[:8], y_test=y[:8], num_classes=10,
                         class_names=[str(c) for c in range(10)], kind="image", name="random-cifar",
                         mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def kernel_time_by_op(events, *, top: int = 12) -> tuple[float, list[dict]]:
    """Kernel microseconds summed by the name of the operation that launched them.

    ``events``: profiler events with ``.name`` and ``.kernels`` (each with ``.duration`` in µs). Returns the total
    in ms and the ``top`` operations as ``{"op", "ms", "kernels"}``, largest first; the rest are summed as ``other``.
    """
    ms: dict[str, float] = defaultdict(float)
    launched: dict[str, int] = defaultdict(int)
    for event in events:
        for kernel in event.kernels:
            ms[event.name] += kernel.duration / 1000
            launched[event.name] += 1
    ranked = sorted(ms, key=ms.get, reverse=True)
    rows = [{"op": name, "ms": ms[name], "kernels": launched[name]} for name in ranked[:top]]
    if len(ranked) > top:
        rest = ranked[top:]
        rows.append({"op": "other", "ms": sum(ms[n] for n in rest), "kernels": sum(launched[n] for n in rest)})
    return sum(ms.values()), rows


def count_step(method_name: str, *, model: str, width: int, batch_size: int, device: str, amp: str,
               steps: int = 1) -> dict:
    overrides = [*METHODS[method_name], "method.start_epoch=0", f"model.name={model}", f"model.width={width}",
                 f"data.batch_size={batch_size}", f"run.device={device}", f"run.amp={amp}", "optim.name=sgd",
                 "optim.lr=0.1", "optim.weight_decay=0.0005"]
    with tempfile.TemporaryDirectory() as scratch:
        try:
            config = load_config(None, [*overrides, f"run.out_dir={scratch}"])
        except ConfigError as exc:
            found = re.match(r"--set ([\w.]+)=(.*?): ", str(exc))
            if not found or found.group(1) not in OPTION_OF_KEY:
                raise
            raise ConfigError(f"{OPTION_OF_KEY[found.group(1)]} {found.group(2)}: {str(exc)[found.end():]}") from None
    torch_device = resolve_device(config.run.device, setting="--device")  # named as the user gave it
    data = random_cifar(batch_size)  # one batch per epoch: an epoch of train_one_epoch is one whole engine step
    seed_everything(0)
    learner = build_method(config, data, data.y_train, torch_device)
    optimizer = build_optimizer(config, learner, torch_device)
    train_loader, _ = make_loaders(config, data, data.y_train, torch_device)
    amp = autocast(torch_device, config.run.amp)
    train_one_epoch(learner, optimizer, train_loader, 0, amp=amp)  # warm-up: optimizer state, cuDNN plans
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch_device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for step in range(steps):
            train_one_epoch(learner, optimizer, train_loader, 1 + step, amp=amp)
        if torch_device.type == "cuda":
            torch.cuda.synchronize(torch_device)
    events = [e for e in prof.events() if e.name.startswith("aten::")]
    top = [e for e in events if e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")]
    leaf = [e for e in events if not any(c.name.startswith("aten::") for c in e.cpu_children)]
    out = {"method": method_name, "steps": steps, "top_level_ops": round(len(top) / steps),
           "leaf_ops": round(len(leaf) / steps)}
    if torch_device.type == "cuda":
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        kernel_ms = sum(e.time_range.elapsed_us() for e in kernels) / 1000
        attributed_ms, by_op = kernel_time_by_op(e for e in prof.events()
                                                 if e.device_type == torch.autograd.DeviceType.CPU)
        if kernel_ms - attributed_ms > 1e-3:  # kernels the profiler could not tie to the operation launching them
            by_op.append({"op": "unattributed", "ms": kernel_ms - attributed_ms, "kernels": None})
        out["cuda_kernels"] = round(len(kernels) / steps)
        out["cuda_kernel_ms"] = kernel_ms / steps
        out["cuda_ms_by_op"] = [{**row, "ms": row["ms"] / steps,
                                 "kernels": None if row["kernels"] is None else round(row["kernels"] / steps)}
                                for row in by_op]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet34",
                        help="model to profile: a satlearn model name (default: resnet34)")
    parser.add_argument("--width", type=int, default=4, help="base width (the counts do not depend on it)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="examples per step (the counts do not depend on it; default: 8)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda, cuda:N, mps or auto; kernels and their times are counted on CUDA only "
                             "(default: cpu)")
    parser.add_argument("--amp", default="bf16", help="bf16 (as on a GPU) or off")
    parser.add_argument("--steps", type=int, default=1, help="profiled steps; figures are per-step means")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="ce (cross-entropy), sat, sat_sce (SAT with symmetric cross-entropy); the ratios are "
                             "to ce (default: all three)")
    parser.add_argument("--name", type=name_option, default="step_ops", help="result file name (without .json)")
    parser.add_argument("--results-dir", type=path_option, default=None, help="default: benchmarks/results/")
    args = parser.parse_args()
    check_result_name(parser, args.name, args.results_dir)
    if args.steps < 1:
        parser.error(f"--steps {args.steps}: expected a positive number of steps")
    check_results_dir("--results-dir", args.results_dir)  # before the measurement, not once it is done

    cells = [count_step(m, model=args.model, width=args.width, batch_size=args.batch_size, device=args.device,
                        amp=args.amp, steps=args.steps) for m in args.methods]
    counts = {c["method"]: c for c in cells}
    ratios = {}
    if "ce" in counts:
        for cell in cells:
            if cell["method"] != "ce":
                for key in ("top_level_ops", "leaf_ops", "cuda_kernels", "cuda_kernel_ms"):
                    if key in cell:
                        ratios[f"{cell['method']}_over_ce_{key}"] = cell[key] / counts["ce"][key]
    for cell in cells:
        print({k: v for k, v in cell.items() if k != "cuda_ms_by_op"})
    for key, value in ratios.items():
        print(f"{key}: {value:.3f}")
    path = record(args.name, {"model": args.model, "width": args.width, "batch_size": args.batch_size,
                              "amp": args.amp, "cells": cells, "ratios": ratios}, directory=args.results_dir,
                  measured_on=[resolve_device(args.device, setting="--device")])
    print(f"recorded in {path}")


if __name__ == "__main__":
    run_main(main)
