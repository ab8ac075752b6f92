"""Training speed of the fast path against the reference pipeline, CE against SAT, measured in one run.

Every cell trains whole epochs through the engine's own `train_one_epoch` on CIFAR-10 (the paper recipe's
model, batch and optimizer): one warm-up epoch (cuDNN autotuning, compilation), then `--epochs` timed epochs, CE and
SAT alternating epoch by epoch so that both see the same machine. Pipelines:

- `fast`: uint8 data on the device, on-device augmentation, bf16 autocast on CUDA, channels_last, fused SGD;
- `fast+compile`: the same with `torch.compile` on the model;
- `fast+cudagraphs`: `torch.compile(mode="reduce-overhead")`, which captures the model in CUDA graphs;
- `reference`: `DataLoader` + PIL augmentation with `--workers` workers, float32 — the official code's setup.

    python benchmarks/prepare_cifar10.py                       # once: benchmarks/data/cifar-10-batches-py
    python benchmarks/speed.py --models resnet34 resnet18      # → benchmarks/results/speed.json

Reported per cell: images/s and s/epoch; per model: fast ÷ reference speed-up and SAT ÷ CE step-time ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, record  # noqa: E402

from satlearn.config import load_config  # noqa: E402
from satlearn.engine import (  # noqa: E402
    build_method, build_optimizer, evaluate, make_loaders, prepare_data, train_one_epoch,
)
from satlearn.engine.runtime import autocast, cudnn_autotuning, resolve_device, seed_everything  # noqa: E402

# every pipeline sets each of these keys, so that it means the same whatever the config file says
PIPELINES = {
    "fast": ["data.pipeline=memory", "run.amp=auto", "run.compile=false"],
    "fast+compile": ["data.pipeline=memory", "run.amp=auto", "run.compile=true", "run.compile_mode=default"],
    "fast+cudagraphs": ["data.pipeline=memory", "run.amp=auto", "run.compile=true",
                        "run.compile_mode=reduce-overhead"],
    "reference": ["data.pipeline=reference", "run.amp=off", "run.channels_last=false", "run.compile=false"],
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_learner(model: str, method: str, pipeline: str, *, data_root: str, workers: int, extra: list[str],
                  data_cache: dict):
    overrides = [f"data.root={data_root}", f"model.name={model}", f"method.name={method}", "method.start_epoch=0",
                 f"data.workers={workers}", "run.progress=false", *PIPELINES[pipeline], *extra]
    config = load_config(ROOT / "configs" / "cifar10_sat.yaml", overrides)
    device = resolve_device(config.run.device)
    if "noisy" not in data_cache:  # the methods of one pipeline train on the same data: read it once
        data_cache["noisy"] = prepare_data(config)
    noisy = data_cache["noisy"]
    seed_everything(config.run.seed)
    learner = build_method(config, noisy.data, noisy.labels, device)
    optimizer = build_optimizer(config, learner, device)
    train_loader, test_loader = make_loaders(config, noisy.data, noisy.labels, device)
    return config, device, learner, optimizer, train_loader, test_loader


def time_pair(model: str, pipeline: str, methods: list[str], *, data_root: str, epochs: int, workers: int,
              extra: list[str]) -> list[dict]:
    """Times ``methods`` (e.g. CE and SAT) on one pipeline with their epochs interleaved — CE, SAT, CE, SAT, ... —
    so that a slow spell of the machine falls on both, which a ratio of a few percent needs."""
    data_cache: dict = {}
    built = {m: build_learner(model, m, pipeline, data_root=data_root, workers=workers, extra=extra,
                              data_cache=data_cache) for m in methods}
    config, device = next(iter(built.values()))[:2]
    amp = autocast(device, config.run.amp)
    times: dict[str, list[float]] = {m: [] for m in methods}
    warmup: dict[str, float] = {}
    evaluation_warmup: dict[str, float] = {}
    evaluation: dict[str, float] = {}
    with cudnn_autotuning(config.run.cudnn_benchmark):
        for epoch in range(epochs + 1):
            for method, (_, _, learner, optimizer, train_loader, test_loader) in built.items():
                synchronize(device)
                started = time.perf_counter()
                train_one_epoch(learner, optimizer, train_loader, epoch, amp=amp)
                synchronize(device)
                elapsed = time.perf_counter() - started
                if epoch == 0:  # warm-up: cuDNN autotuning, compilation, CUDA-graph capture
                    warmup[method] = elapsed
                    started = time.perf_counter()
                    evaluate(learner, test_loader, amp=amp)  # compile / tune the evaluation shapes too
                    synchronize(device)
                    evaluation_warmup[method] = time.perf_counter() - started
                    started = time.perf_counter()
                    evaluate(learner, test_loader, amp=amp)
                    evaluation[method] = time.perf_counter() - started
                else:
                    times[method].append(elapsed)
    cells = []
    for method, (config, device, _, _, train_loader, test_loader) in built.items():
        seconds = min(times[method])
        cells.append({"model": model, "method": method, "pipeline": pipeline, "epoch_seconds": seconds,
                      "epoch_seconds_all": times[method], "warmup_epoch_seconds": warmup[method],
                      "eval_warmup_seconds": evaluation_warmup[method], "eval_seconds": evaluation[method],
                      "images_per_second": train_loader.num_examples / seconds,
                      "steps_per_epoch": len(train_loader), "batch_size": config.data.batch_size,
                      "amp": config.run.amp, "device": str(device)})
    return cells


def release_compiled_state() -> None:
    """Frees what one pipeline left behind (compiled graphs, CUDA-graph memory pools) before the next is timed."""
    torch._dynamo.reset()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def speed_ratios(cells: list[dict], models: list[str], pipelines: list[str]) -> list[dict]:
    ratios = []
    for model in models:
        get = {(c["pipeline"], c["method"]): c["epoch_seconds"]
               for c in cells if c["model"] == model and "error" not in c}
        for pipeline in pipelines:
            if (pipeline, "sat") in get and (pipeline, "erm") in get:
                ratios.append({"model": model, "pipeline": pipeline,
                               "sat_over_ce_time": get[(pipeline, "sat")] / get[(pipeline, "erm")]})
            if pipeline != "reference" and ("reference", "sat") in get and (pipeline, "sat") in get:
                ratios.append({"model": model, "pipeline": pipeline,
                               "speedup_over_reference_sat": get[("reference", "sat")] / get[(pipeline, "sat")]})
    return ratios


def fastest_pipeline(speed_file: Path, *, model: str, method: str, epochs: int, device_type: str) -> str | None:
    """The fast-path pipeline of ``speed_file`` (a recorded speed.json) that trains and evaluates ``epochs`` epochs
    of ``model`` with ``method`` soonest on a ``device_type`` device — the warm-up epoch and first evaluation
    (compilation) counted once, then the timed ones — or None when that file measured no such cell."""
    try:
        cells = json.loads(Path(speed_file).read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    estimates = {
        cell["pipeline"]: cell["warmup_epoch_seconds"] + cell.get("eval_warmup_seconds", 0.0)
        + (epochs - 1) * (cell["epoch_seconds"] + cell.get("eval_seconds", 0.0))
        for cell in cells
        if "error" not in cell and cell["model"] == model and cell["method"] == method
        and cell["pipeline"] != "reference" and cell["device"].split(":")[0] == device_type
    }
    return min(estimates, key=estimates.get) if estimates else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet34", "resnet18"])
    parser.add_argument("--pipelines", nargs="+", default=["fast", "reference"], choices=list(PIPELINES))
    parser.add_argument("--methods", nargs="+", default=["erm", "sat"], choices=["erm", "sat"])
    parser.add_argument("--data-root", default=str(ROOT / "benchmarks" / "data" / "cifar-10-batches-py"))
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per cell (the fastest is reported)")
    parser.add_argument("--workers", type=int, default=4, help="reference pipeline DataLoader workers")
    parser.add_argument("--set", dest="extra", action="append", default=[], help="extra config override")
    parser.add_argument("--name", default="speed", help="result file name (without .json)")
    parser.add_argument("--results-dir", type=Path, default=None, help="default: benchmarks/results/")
    args = parser.parse_args()

    cells: list[dict] = []
    failed = 0
    for model in args.models:
        for pipeline in args.pipelines:
            try:
                measured = time_pair(model, pipeline, args.methods, data_root=args.data_root, epochs=args.epochs,
                                     workers=args.workers, extra=args.extra)
            except Exception as exc:  # noqa: BLE001 - one pipeline that fails (a compiler error, memory) is a result
                failed += 1
                first_line = (str(exc).strip().splitlines() or [""])[0]
                message = f"{type(exc).__name__}: {first_line}"
                print(f"{model:10s} {pipeline:15s} FAILED: {message}", flush=True)
                traceback.print_exc()
                cells += [{"model": model, "method": m, "pipeline": pipeline, "error": message} for m in args.methods]
                measured = []
            release_compiled_state()
            for cell in measured:
                cells.append(cell)
                print(f"{model:10s} {pipeline:15s} {cell['method']:4s} {cell['epoch_seconds']:7.2f} s/epoch "
                      f"{cell['images_per_second']:9.0f} img/s  (warm-up epoch {cell['warmup_epoch_seconds']:.1f} s, "
                      f"evaluation {cell['eval_seconds']:.2f} s)", flush=True)
            # recorded after every pipeline, so that an interrupted run keeps what it measured
            ratios = speed_ratios(cells, args.models, args.pipelines)
            path = record(args.name, {"cells": cells, "ratios": ratios, "timed_epochs": args.epochs,
                                      "workers": args.workers}, directory=args.results_dir)
    for r in ratios:
        print(r)
    print(f"recorded in {path}")
    if failed:
        sys.exit(f"{failed} pipeline(s) failed; their cells are recorded with the error")


if __name__ == "__main__":
    main()
