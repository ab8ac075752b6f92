r"""Training speed of the fast path against the reference pipeline, CE against SAT, measured in one run.

Every cell trains whole epochs through the engine's own `train_one_epoch` on CIFAR-10 (the paper recipe's
model, batch and optimizer): one warm-up epoch (cuDNN autotuning, compilation), then `--epochs` timed epochs, CE and
SAT alternating epoch by epoch so that both see the same machine. Pipelines:

- `fast`: uint8 data on the device, on-device augmentation, bf16 autocast on CUDA, channels_last, fused SGD;
- `fast+compile`: the same with `torch.compile` on the model;
- `fast+cudagraphs`: `torch.compile(mode="reduce-overhead")`, which captures the model in CUDA graphs;
- `fast+tuned`: `fast+cudagraphs` with `run.compile_tuning`: each kernel that `torch.compile` generates (the
  normalisations, activations and sums around the convolutions) timed in several block shapes, the fastest kept;
- `fast+max-autotune`: `torch.compile(mode="max-autotune")`: CUDA graphs, the same tuning, and each convolution and
  matrix product timed against generated kernels (a warm-up of minutes; not in the default list);
- `fast+stepgraph`, `fast+compile+stepgraph`: experiments, not training paths (`step_graph.py`): `fast` or
  `fast+compile` with the whole training step — optimizer, loss and target update included — replayed as one
  CUDA graph (captured after the warm-up epoch; on a machine without CUDA the same loop runs eagerly);
- `reference`: `DataLoader` + PIL augmentation with `--workers` workers, float32 — the official code's setup.

    python benchmarks/prepare_cifar10.py                       # once: benchmarks/data/cifar-10-batches-py
    python benchmarks/speed.py --models resnet34 resnet18      # → benchmarks/results/speed.json

Reported per cell: images/s and s/epoch; per model: fast ÷ reference speed-up and SAT ÷ CE step-time ratio.
Each cell also carries the model's floating-point operations per training image (forward and backward, counted by
`torch.utils.flop_counter`), so that a time per epoch reads as an arithmetic rate; on CUDA the file records the
device's bf16 matrix-product rate measured in the same run (8192³, random data), the ceiling that rate is held
against: an epoch's operations over it are the epoch's floor.

`--profile-steps N` (CUDA only) also profiles N more steps of every cell after the timed epochs and records how
busy they kept the GPU: the time covered by kernels (overlaps counted once) over the time from the first kernel's
start to the last one's end. Near 1, a step waits for its kernels and only faster kernels make it faster; well
below 1, the GPU idles between kernels while the host prepares the next ones (Python, launches, the eager
operations between the compiled parts), which capturing more of the step in a CUDA graph would remove. To say
which kernels to make faster, it also records the kernel time per step that `torch.compile` generated (Triton
kernels: the fused normalisations, activations and element-wise work) against the libraries' (cuDNN's
convolutions, cuBLAS, ATen), and the largest kernels by name.

    python benchmarks/speed.py --models resnet34 --pipelines fast+cudagraphs --epochs 2 --profile-steps 20 \
        --name speed_profile
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CIFAR10_ROOT, CIFAR10_ROOT_HELP, ROOT, check_result_name, check_results_dir, missing_cifar10, name_option,
    path_option, record, run_main, validation_split_problem,
)

from satlearn.config import load_config, overrides_for_method  # noqa: E402
from satlearn.engine import (  # noqa: E402
    build_method, build_optimizer, evaluate, make_loaders, prepare_data, train_one_epoch,
)
from satlearn.engine.runtime import (  # noqa: E402
    autocast, cpu_threads, cudnn_autotuning, resolve_device, seed_everything,
)
from satlearn.errors import ConfigError, DataError  # noqa: E402
from satlearn.models import MODELS  # noqa: E402

# every pipeline sets each of these keys, so that it means the same whatever the config file says
PIPELINES = {
    "fast": ["data.pipeline=memory", "run.amp=auto", "run.compile=false", "run.compile_tuning=false"],
    "fast+compile": ["data.pipeline=memory", "run.amp=auto", "run.compile=true", "run.compile_mode=default",
                     "run.compile_tuning=false"],
    "fast+cudagraphs": ["data.pipeline=memory", "run.amp=auto", "run.compile=true",
                        "run.compile_mode=reduce-overhead", "run.compile_tuning=false"],
    "fast+tuned": ["data.pipeline=memory", "run.amp=auto", "run.compile=true", "run.compile_mode=reduce-overhead",
                   "run.compile_tuning=true"],
    "fast+max-autotune": ["data.pipeline=memory", "run.amp=auto", "run.compile=true",
                          "run.compile_mode=max-autotune", "run.compile_tuning=false"],
    "reference": ["data.pipeline=reference", "run.amp=off", "run.channels_last=false", "run.compile=false",
                  "run.compile_tuning=false"],
}


def train_flops_per_image(model: str, *, num_classes: int = 10, width: int | None = None,
                          input_shape: tuple[int, ...] = (3, 32, 32)) -> float:
    """Floating-point operations (a multiply-add counts two) of one training image through ``model``: the forward
    pass and the backward pass of its parameters and activations, counted on a CPU batch of two, not timed."""
    from torch.utils.flop_counter import FlopCounterMode

    from satlearn.models import create_model

    network = create_model(model, num_classes, input_shape=input_shape, width=width)
    batch = torch.randn(2, *input_shape)
    with FlopCounterMode(display=False) as counter:
        network(batch).sum().backward()
    return counter.get_total_flops() / 2


def bf16_matmul_tflops(device: torch.device, *, size: int = 8192, repeats: int = 10) -> float:
    """The median rate of ``size``³ bf16 matrix products on random data on a CUDA ``device``, in TFLOP/s."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return 2 * size ** 3 / sorted(times)[len(times) // 2] / 1e12


# speed experiments on top of a pipeline: (the pipeline they change, how they train an epoch); not for training runs
STEP_GRAPH_PIPELINES = {"fast+stepgraph": "fast", "fast+compile+stepgraph": "fast+compile"}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_learner(model: str, method: str, pipeline: str, *, data_root: str, workers: int, extra: list[str],
                  data_cache: dict):
    overrides = [f"data.root={data_root}", f"model.name={model}", f"method.name={method}", "method.start_epoch=0",
                 f"data.workers={workers}", "run.progress=false",
                 *PIPELINES[STEP_GRAPH_PIPELINES.get(pipeline, pipeline)], *overrides_for_method(extra, method)]
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


class FirstBatches:
    """The first ``steps`` batches of every epoch of ``loader``: a short epoch for ``train_one_epoch``."""

    def __init__(self, loader, steps: int) -> None:
        self.loader, self.steps = loader, min(steps, len(loader))

    def __len__(self) -> int:
        return self.steps

    def epoch(self, epoch: int):
        return itertools.islice(self.loader.epoch(epoch), self.steps)


def busy_fraction(intervals: list[tuple[float, float]]) -> tuple[float, float]:
    """``(busy, span)`` of ``(start, end)`` intervals: the length of their union (overlaps counted once) and the
    time from the first start to the last end, in the intervals' unit; ``(0, 0)`` for none."""
    if not intervals:
        return 0.0, 0.0
    ordered = sorted(intervals)
    busy, (run_start, run_end) = 0.0, ordered[0]
    for start, end in ordered[1:]:
        if start > run_end:
            busy += run_end - run_start
            run_start, run_end = start, end
        else:
            run_end = max(run_end, end)
    busy += run_end - run_start
    return busy, max(end for _, end in ordered) - ordered[0][0]


COMPILED_KERNEL_PREFIX = "triton"  # Inductor names the kernels it generates triton_*; cuDNN, cuBLAS, ATen do not
TOP_KERNELS = 8


def gpu_profile(events, steps: int) -> dict:
    """Per-step kernel figures from the events of a CUDA-only profile of ``steps`` training steps: how busy the
    kernels kept the GPU, the kernel time that ``torch.compile`` generated against the libraries' (summed
    durations, so kernels that overlap count twice), and the kernels that took the most time."""
    kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    busy, span = busy_fraction([(e.time_range.start, e.time_range.end) for e in kernels])
    total_us: dict[str, float] = {}
    calls: dict[str, int] = {}
    for e in kernels:
        total_us[e.name] = total_us.get(e.name, 0.0) + e.time_range.end - e.time_range.start
        calls[e.name] = calls.get(e.name, 0) + 1
    compiled = sum(us for name, us in total_us.items() if name.startswith(COMPILED_KERNEL_PREFIX))
    largest = sorted(total_us, key=total_us.get, reverse=True)[:TOP_KERNELS]
    return {"steps": steps, "kernels_per_step": len(kernels) / steps, "gpu_busy_ms_per_step": busy / 1000 / steps,
            "gpu_span_ms_per_step": span / 1000 / steps, "gpu_busy_fraction": busy / span if span else None,
            "compiled_kernel_ms_per_step": compiled / 1000 / steps,
            "library_kernel_ms_per_step": (sum(total_us.values()) - compiled) / 1000 / steps,
            "top_kernels": [{"name": name, "ms_per_step": total_us[name] / 1000 / steps,
                             "calls_per_step": calls[name] / steps} for name in largest]}


def profile_steps(run_epoch, train_loader, *, steps: int, epoch: int, device: torch.device) -> dict:
    """Profiles ``steps`` training steps of ``run_epoch(loader, epoch)`` (CUDA kernels only, so that the profiler
    adds little host time)."""
    from torch.profiler import ProfilerActivity, profile

    short = FirstBatches(train_loader, steps)  # after the timed epochs: compiled, tuned and captured already
    synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run_epoch(short, epoch)
        synchronize(device)
    return gpu_profile(prof.events(), len(short))


def epoch_runner(pipeline: str, learner, optimizer, amp, device: torch.device):
    """``run(loader, epoch)``: one training epoch as ``pipeline`` trains it. For a step-graph experiment the first
    call trains eagerly (warm-up: tuning, compilation, optimizer state) and then captures the step."""
    if pipeline not in STEP_GRAPH_PIPELINES:
        return lambda loader, epoch: train_one_epoch(learner, optimizer, loader, epoch, amp=amp)
    from step_graph import WholeStepGraph, graphed_epoch

    graphed = None

    def run(loader, epoch):
        nonlocal graphed
        if graphed is not None:
            return graphed_epoch(graphed, loader, epoch)
        metrics = train_one_epoch(learner, optimizer, loader, epoch, amp=amp)
        graphed = WholeStepGraph(learner, optimizer, next(iter(loader.epoch(epoch))), epoch=epoch, amp=amp,
                                 capture=device.type == "cuda")
        return metrics

    return run


def time_pair(model: str, pipeline: str, methods: list[str], *, data_root: str, epochs: int, workers: int,
              extra: list[str], profile: int = 0, data_cache: dict | None = None) -> list[dict]:
    """Times ``methods`` (e.g. CE and SAT) on one pipeline with their epochs interleaved — CE, SAT, CE, SAT, ... —
    so that a slow spell of the machine falls on both, which a ratio of a few percent needs; then, on CUDA, profiles
    ``profile`` more steps of each (see :func:`gpu_profile`)."""
    data_cache = {} if data_cache is None else data_cache  # the data, read once for every pipeline and method
    built = {m: build_learner(model, m, pipeline, data_root=data_root, workers=workers, extra=extra,
                              data_cache=data_cache) for m in methods}
    config, device = next(iter(built.values()))[:2]
    amp = autocast(device, config.run.amp)
    runners = {m: epoch_runner(pipeline, learner, optimizer, amp, device)
               for m, (_, _, learner, optimizer, _, _) in built.items()}
    flops_per_image = train_flops_per_image(model, num_classes=config.model.num_classes, width=config.model.width,
                                            input_shape=tuple(data_cache["noisy"].data.x_train.shape[1:]))
    times: dict[str, list[float]] = {m: [] for m in methods}
    warmup: dict[str, float] = {}
    evaluation_warmup: dict[str, float] = {}
    evaluation: dict[str, float] = {}
    with cudnn_autotuning(config.run.cudnn_benchmark, limit=config.run.cudnn_benchmark_limit):
        for epoch in range(epochs + 1):
            for method, (_, _, learner, optimizer, train_loader, test_loader) in built.items():
                synchronize(device)
                started = time.perf_counter()
                runners[method](train_loader, epoch)
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
        profiles = {}
        if profile and device.type != "cuda":
            print(f"{model} {pipeline}: no GPU profile (--profile-steps) on a {device.type} device", flush=True)
        elif profile:
            for method, (_, _, _, _, train_loader, _) in built.items():
                profiles[method] = profile_steps(runners[method], train_loader, steps=profile, epoch=epochs + 1,
                                                 device=device)
    cells = []
    for method, (config, device, _, _, train_loader, test_loader) in built.items():
        seconds = min(times[method])
        cells.append({"model": model, "method": method, "pipeline": pipeline, "epoch_seconds": seconds,
                      "train_gflop_per_image": flops_per_image / 1e9,
                      "epoch_seconds_all": times[method], "warmup_epoch_seconds": warmup[method],
                      "eval_warmup_seconds": evaluation_warmup[method], "eval_seconds": evaluation[method],
                      "images_per_second": train_loader.num_examples / seconds,
                      "steps_per_epoch": len(train_loader), "batch_size": config.data.batch_size,
                      "amp": config.run.amp, "device": str(device)})
        if pipeline in STEP_GRAPH_PIPELINES:
            cells[-1]["step_graph"] = "captured" if device.type == "cuda" else "eager (no CUDA graph on this device)"
        if method in profiles:
            cells[-1]["profile"] = profiles[method]
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


def fastest_pipeline(speed_file: Path, *, model: str, method: str, epochs: int, device_type: str,
                     trainings: int = 1, compiled_before: bool = False,
                     trained_epoch_seconds: dict[str, float] | None = None) -> str | None:
    """The fast-path pipeline of ``speed_file`` (a recorded speed.json) that runs ``trainings`` trainings of
    ``epochs`` epochs each (``model``, ``method``, evaluated every epoch) soonest on a ``device_type`` device, or
    None when that file measured no such cell.

    Each training pays a warm-up (the first epoch and evaluation) and then the timed epochs. The trainings of a
    grid share one compiler cache, so only the first of them compiles from scratch (``compiled_before``: not even
    that one, the cache already holds the compiled model). A cold warm-up is the longest of the pipeline's cells
    for ``model``: the methods of a pipeline are built in one process, and the one built second finds the model's
    compiled code ready. That one's warm-up, the shortest, stands for a warm start; a fresh process that loads the
    code from the cache pays a few seconds more, which is small beside what CUDA graphs save over tens of epochs.
    ``trained_epoch_seconds``: a pipeline's seconds per epoch (evaluation included) as recorded trainings took them,
    which stand for the table's epoch where given (the warm-ups still come from the table)."""
    try:
        cells = json.loads(Path(speed_file).read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    usable = [cell for cell in cells
              if "error" not in cell and cell["model"] == model and cell["pipeline"] in PIPELINES
              and cell["pipeline"] != "reference"
              and cell["device"].split(":")[0] == device_type]
    warmups: dict[str, list[float]] = {}
    for cell in usable:
        warmups.setdefault(cell["pipeline"], []).append(cell["warmup_epoch_seconds"]
                                                        + cell.get("eval_warmup_seconds", 0.0))
    estimates = {}
    for cell in usable:
        if cell["method"] != method:
            continue
        cold, warm = max(warmups[cell["pipeline"]]), min(warmups[cell["pipeline"]])
        epoch = (trained_epoch_seconds or {}).get(cell["pipeline"],
                                                  cell["epoch_seconds"] + cell.get("eval_seconds", 0.0))
        estimates[cell["pipeline"]] = ((warm if compiled_before else cold) + (trainings - 1) * warm
                                       + trainings * (epochs - 1) * epoch)
    return min(estimates, key=estimates.get) if estimates else None


def build_parser() -> argparse.ArgumentParser:
    """speed.py's arguments; also read by the CIFAR-10 suite to see whether a table holds every cell it asked for."""
    parser = argparse.ArgumentParser(prog="speed.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet34", "resnet18"], choices=MODELS.names(),
                        help="models to time (default: resnet34 resnet18)")
    parser.add_argument("--pipelines", nargs="+", default=["fast", "reference"],
                        choices=[*PIPELINES, *STEP_GRAPH_PIPELINES],
                        help="pipelines to time, as described above (default: fast reference)")
    parser.add_argument("--methods", nargs="+", default=["erm", "sat"], choices=["erm", "sat"],
                        help="erm (cross-entropy), sat, or both, timed epoch by epoch in turn (default: erm sat)")
    parser.add_argument("--data-root", default=str(CIFAR10_ROOT), help=CIFAR10_ROOT_HELP)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per cell (the fastest is reported)")
    parser.add_argument("--workers", type=int, default=4, help="reference pipeline DataLoader workers")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override (repeatable)")
    parser.add_argument("--profile-steps", type=int, default=0,
                        help="CUDA: profile this many more steps per cell and record how busy the GPU was")
    parser.add_argument("--name", type=name_option, default="speed", help="result file name (without .json)")
    parser.add_argument("--results-dir", type=path_option, default=None, help="default: benchmarks/results/")
    return parser


def requested_cells(args: argparse.Namespace) -> set[tuple[str, str, str]]:
    """(model, pipeline, method) of every cell that a run with these arguments measures."""
    return {(model, pipeline, method)
            for model in args.models for pipeline in args.pipelines for method in args.methods}


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    check_result_name(parser, args.name, args.results_dir)
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: expected at least 1 timed epoch per cell")
    if args.workers < 0:
        parser.error(f"--workers {args.workers}: expected 0 (load in the main process) or more")
    if args.profile_steps < 0:
        parser.error(f"--profile-steps {args.profile_steps}: expected 0 (off) or a positive number of steps")

    check_results_dir("--results-dir", args.results_dir)  # before the first pipeline is measured

    try:  # a --set that none of the measured methods reads would be dropped from every cell
        overrides_for_method(args.extra, args.methods[0], shared_by=args.methods)
    except ConfigError as exc:
        parser.error(str(exc))
    config = load_config(ROOT / "configs" / "cifar10_sat.yaml", [f"data.root={args.data_root}", *args.extra])
    problem = validation_split_problem(config, "speed.py", "times training")
    if problem:
        parser.error(problem)
    missing = missing_cifar10(config.data.root, download=config.data.download)
    if missing:
        raise DataError(missing)  # one line, as satlearn's own data errors
    # run.threads as a training takes it: on a CPU shared with other work, torch's default of one thread per core
    # can make a small model's epochs several times slower; the table records the count (device.torch_threads)
    with cpu_threads(config.run.threads):
        measure(args, config)


def measure(args: argparse.Namespace, config) -> None:
    """Times every cell that ``args`` ask for and records the table after each pipeline."""
    device = resolve_device(config.run.device)
    # read once here: missing or bad data stops the run in one line, not as every pipeline's failure
    data_cache = {"noisy": prepare_data(config)}
    ceilings = {"bf16_matmul_tflops": bf16_matmul_tflops(device)} if device.type == "cuda" else {}
    if ceilings:
        print(f"bf16 matrix products (8192³): {ceilings['bf16_matmul_tflops']:.0f} TFLOP/s", flush=True)
    cells: list[dict] = []
    failed = 0
    path = None
    for model in args.models:
        for pipeline in args.pipelines:
            try:
                measured = time_pair(model, pipeline, args.methods, data_root=args.data_root, epochs=args.epochs,
                                     workers=args.workers, extra=args.extra, profile=args.profile_steps,
                                     data_cache=data_cache)
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
                if "profile" in cell and cell["profile"]["gpu_busy_fraction"] is not None:
                    print(f"{'':31s} GPU busy {cell['profile']['gpu_busy_fraction']:.1%} of "
                          f"{cell['profile']['gpu_span_ms_per_step']:.2f} ms per profiled step; kernels "
                          f"{cell['profile']['compiled_kernel_ms_per_step']:.2f} ms compiled, "
                          f"{cell['profile']['library_kernel_ms_per_step']:.2f} ms library", flush=True)
            # recorded after every pipeline, so that an interrupted run keeps what it measured; but not before one
            # has measured something, so that a run that only fails leaves an earlier table of this name alone
            ratios = speed_ratios(cells, args.models, args.pipelines)
            if any("error" not in cell for cell in cells):
                path = record(args.name, {"cells": cells, "ratios": ratios, "timed_epochs": args.epochs,
                                          "workers": args.workers, "profile_steps": args.profile_steps,
                                          "ceilings": ceilings},
                              directory=args.results_dir,
                              measured_on=[cell["device"] for cell in cells if "device" in cell])
    if path is None:
        sys.exit(f"every pipeline failed; nothing recorded ({args.name}.json, if there is one, is as it was)")
    for r in ratios:
        print(r)
    print(f"recorded in {path}")
    if failed:
        sys.exit(f"{failed} pipeline(s) failed; their cells are recorded with the error")


if __name__ == "__main__":
    run_main(main)
