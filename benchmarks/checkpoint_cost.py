"""What one training checkpoint costs: size and seconds of `save_checkpoint` for a model with its SGD momentum and
the SAT target table, written the engine's way (temporary file, flushed to disk, renamed over the last one), and
how long training is held up by it when the engine's `CheckpointWriter` writes it on a background thread (the
snapshot to CPU memory; the disk write overlaps training).

This is what `run.checkpoint_every` trades against the work an interrupted run can lose:

    python benchmarks/checkpoint_cost.py --device cuda --dir /path/on/the/run/disk   # → checkpoint_cost.json
    python benchmarks/checkpoint_cost.py --name checkpoint_cost_cpu   # ResNet-34 on the CPU, beside the GPU's
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    check_result_name, check_results_dir, missing_dir_problem, name_option, path_option, record, run_main,
)

from satlearn.engine.checkpoint import (  # noqa: E402
    CHECKPOINT_NAME, CheckpointWriter, load_checkpoint, save_checkpoint, snapshot_to_cpu,
)
from satlearn.engine.runtime import resolve_device, rng_state  # noqa: E402
from satlearn.models import MODELS, create_model  # noqa: E402
from satlearn.targets import SoftTargets  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet34",
                        help="model whose weights and momentum are checkpointed: a satlearn model name "
                             "(default: resnet34)")
    parser.add_argument("--examples", type=int, default=50_000, help="rows of the target table")
    parser.add_argument("--classes", type=int, default=10,
                        help="classes of the model's output and columns of the target table (default: 10)")
    parser.add_argument("--device", default="cpu",
                        help="device that holds the model and the target table while they are saved: cpu, cuda, "
                             "cuda:N, mps or auto (default: cpu)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed writes, both direct and with the background writer; the median is reported "
                             "(default: 5)")
    parser.add_argument("--dir", type=path_option, default=None, help="where to write (default: a temporary directory)")
    parser.add_argument("--name", type=name_option, default="checkpoint_cost",
                        help="result file name (without .json); the recorded checkpoint_cost.json is a GPU's")
    parser.add_argument("--results-dir", type=path_option, default=None, help="default: benchmarks/results/")
    args = parser.parse_args()
    check_result_name(parser, args.name, args.results_dir)
    if args.model not in MODELS.names():
        parser.error(f"--model {args.model}: expected one of: {', '.join(MODELS.names())}")
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: expected at least 1 timed write")
    if args.examples < 1:
        parser.error(f"--examples {args.examples}: expected at least 1 row of the target table")
    if args.classes < 2:
        parser.error(f"--classes {args.classes}: expected at least 2 classes")
    if args.dir is not None and (problem := missing_dir_problem(args.dir)):
        parser.error(f"--dir {args.dir}: {problem}")
    check_results_dir("--results-dir", args.results_dir)  # before the measurement, not once it is done

    device = resolve_device(args.device, setting="--device")  # an unknown or absent device: one line, not a traceback
    model = create_model(args.model, args.classes, input_shape=(3, 32, 32)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32, device=device)).sum().backward()
    optimizer.step()  # creates the momentum buffers a real checkpoint carries
    targets = SoftTargets(torch.randint(0, args.classes, (args.examples,)), args.classes).to(device)
    state = {"epoch": 1, "method": {**model.state_dict(), **targets.state_dict()},
             "optimizer": optimizer.state_dict(), "rng": rng_state(), "history": []}

    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        times = []
        for _ in range(args.repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            save_checkpoint(state, Path(scratch))
            times.append(time.perf_counter() - started)
        size = (Path(scratch) / CHECKPOINT_NAME).stat().st_size
        blocking = []  # what the training loop waits for with the background writer: the snapshot only
        exact = True  # each checkpoint holds the state as save() saw it, though "training" changes it at once
        with CheckpointWriter(Path(scratch)) as writer:
            for _ in range(args.repeats):
                expected = snapshot_to_cpu(state["method"])
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                started = time.perf_counter()
                writer.save(state)
                blocking.append(time.perf_counter() - started)
                with torch.no_grad():
                    for value in state["method"].values():
                        if value.is_floating_point():
                            value.add_(1.0)
                writer.wait()  # as in training, where epochs pass between two checkpoints
                saved = load_checkpoint(Path(scratch))["method"]
                exact &= all(torch.equal(saved[key], expected[key]) for key in expected)
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
    print(f"{args.model}: {size / 1e6:.0f} MB, {min(times):.3f} s fastest, {median(times):.3f} s median of "
          f"{args.repeats}; training held up {median(blocking):.3f} s (median) with the background writer; "
          f"checkpoints {'equal' if exact else 'DIFFER FROM'} the state at save()")
    out = record(args.name, {"model": args.model, "examples": args.examples, "classes": args.classes,
                                     "state_device": str(device), "bytes": size, "seconds": times,
                                     "median_seconds": median(times), "blocking_seconds": blocking,
                                     "median_blocking_seconds": median(blocking),
                                     "snapshot_exact": exact,
                                     "written_under": str(args.dir or tempfile.gettempdir())},
                 directory=args.results_dir, measured_on=[device])
    print(f"recorded in {out}")
    if not exact:
        raise SystemExit("a checkpoint differs from the state it was saved from")


if __name__ == "__main__":
    run_main(main)
