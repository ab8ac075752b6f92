"""How much of `torch.compile`'s warm-up a carried compiler cache saves. The first training step of a compiled
model (forward and backward, compilation included) is timed in three fresh processes:

- `cold`: an empty cache directory (`TORCHINDUCTOR_CACHE_DIR`), as on a new machine;
- `warm`: the directory that the cold process filled, as for the second training on one machine;
- `carried`: that directory packed into a .tgz and unpacked under another path, as `cifar10_suite.sh --pack-cache`
  and `COMPILE_CACHE` do for the next machine.

Each process also reports torch's cache counters (FX-graph and AOTAutograd hits and misses), so a saving is tied to
the cache and not to, say, a warmer disk.

    python benchmarks/compile_cache.py                     # ResNet-34, batch 256, CUDA graphs, on the GPU if any
    python benchmarks/compile_cache.py --model resnet18 --width 16 --batch-size 8 --device cpu --mode default

With `--archives-of CACHE` (a cache directory, or an archive of one that `--pack-cache` wrote) it compiles nothing:
it packs that cache in each compression `--pack-cache` offers and records each archive's size and the seconds to
pack and to unpack it (`compile_cache_archives.json`), what choosing `.tar.xz` or `.tgz` trades:

    python benchmarks/compile_cache.py --archives-of benchmarks/data/compile_cache.tar.xz
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    check_result_name, check_results_dir, compile_cache_counters, count_files, name_option, pack_compiler_cache,
    path_option, record, run_main, unpack_compiler_cache,
)


def first_step(args: argparse.Namespace) -> dict:
    """Builds and compiles the model, then times its first training step; runs in the child process."""
    import torch

    from satlearn.engine.runtime import autocast, resolve_device
    from satlearn.models import create_model

    device = resolve_device(args.device, setting="--device")
    torch.manual_seed(0)
    started = time.perf_counter()
    model = create_model(args.model, 10, input_shape=(3, 32, 32), width=args.width).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    model.compile(mode=args.mode, dynamic=False)
    images = torch.randn(args.batch_size, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (args.batch_size,), device=device)
    with autocast(device):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"seconds": time.perf_counter() - started, "device": str(device),
            "counters": compile_cache_counters()}


def run_child(args: argparse.Namespace, cache: Path) -> dict:
    command = [sys.executable, __file__, "--child", "--model", args.model, "--batch-size", str(args.batch_size),
               "--device", args.device, "--mode", args.mode, *(["--width", str(args.width)] if args.width else [])]
    environment = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the compiled step failed (cache {cache}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# one suffix for each compression that pack_compiler_cache offers
ARCHIVE_KINDS = (".tar.xz", ".tgz")


def measure_archives(source: Path) -> dict:
    """Packs the cache ``source`` (a directory, or an archive of one) once per compression and unpacks each archive
    elsewhere: bytes, pack and unpack seconds, by suffix."""
    with tempfile.TemporaryDirectory() as scratch:
        cache = source
        if not source.is_dir():
            cache = Path(scratch) / "cache"
            unpack_compiler_cache(source, cache)
        archives = {}
        for suffix in ARCHIVE_KINDS:
            archive = Path(scratch) / f"cache{suffix}"
            started = time.perf_counter()
            pack_compiler_cache(cache, archive)
            packed = time.perf_counter() - started
            started = time.perf_counter()
            unpack_compiler_cache(archive, Path(scratch) / f"unpacked{suffix}")
            archives[suffix] = {"bytes": archive.stat().st_size, "pack_seconds": packed,
                                "unpack_seconds": time.perf_counter() - started}
        return {"cache_files": count_files(cache),
                "cache_bytes": sum(path.stat().st_size for path in cache.rglob("*") if path.is_file()),
                "archives": archives}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet34",
                        help="model to compile: a satlearn model name (default: resnet34)")
    parser.add_argument("--width", type=int, default=None, help="model width (default: the model's own)")
    parser.add_argument("--batch-size", type=int, default=256, help="examples in the timed first step (default: 256)")
    parser.add_argument("--device", default="auto",
                        help="device to compile for: auto (cuda, else mps, else cpu), cpu, cuda, cuda:N or mps "
                             "(default: auto)")
    parser.add_argument("--mode", default="reduce-overhead", choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile mode (default: the CIFAR configs' own)")
    parser.add_argument("--archives-of", type=path_option, default=None, metavar="CACHE",
                        help="measure the archives of this cache (a directory or an archive) instead; nothing compiles")
    parser.add_argument("--name", type=name_option, default=None,
                        help="result file name (without .json; default: compile_cache, or compile_cache_archives "
                             "with --archives-of)")
    parser.add_argument("--results-dir", type=path_option, default=None, help="default: benchmarks/results/")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(first_step(args)))
        return
    if args.name is not None:  # (the default names fit)
        check_result_name(parser, args.name, args.results_dir)
    if args.archives_of is not None:
        if not args.archives_of.exists():
            parser.error(f"--archives-of {args.archives_of}: no such cache directory or archive")
        check_results_dir("--results-dir", args.results_dir)
        try:
            measured = measure_archives(args.archives_of)
        except (tarfile.TarError, EOFError) as error:  # xz and gzip report a cut archive as EOFError
            # (tarfile lists each compression it tried on a line of its own: the first line says it)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(":")
            parser.error(f"--archives-of {args.archives_of}: not an archive of a compiler cache ({reason})")
        if not measured["cache_files"]:  # a mistyped cache folder must not record zeros over a measured file
            parser.error(f"--archives-of {args.archives_of}: the cache holds no files; expected a compiler cache that "
                         "a compilation filled (TORCHINDUCTOR_CACHE_DIR), or an archive of one")
        for suffix, archive in measured["archives"].items():
            print(f"{suffix:7s} {archive['bytes'] / 1e6:6.2f} MB, packed in {archive['pack_seconds']:.1f} s, "
                  f"unpacked in {archive['unpack_seconds']:.1f} s")
        out = record(args.name or "compile_cache_archives", {"source": str(args.archives_of), **measured},
                     directory=args.results_dir, measured_on=["cpu"])
        print(f"cache: {measured['cache_files']} files, {measured['cache_bytes'] / 1e6:.1f} MB; recorded in {out}")
        return
    # checked here, before the first process compiles: a child's failure would end in its whole error output
    from satlearn.engine.runtime import resolve_device
    from satlearn.models import MODELS

    if args.model not in MODELS.names():
        parser.error(f"--model {args.model}: expected one of: {', '.join(MODELS.names())}")
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size}: expected at least 1 example")
    if args.width is not None and args.width < 1:
        parser.error(f"--width {args.width}: expected a positive width")
    resolve_device(args.device, setting="--device")  # an unknown or absent device: one line (run_main)
    check_results_dir("--results-dir", args.results_dir)

    with tempfile.TemporaryDirectory() as scratch:
        cache, elsewhere, archive = Path(scratch) / "cache", Path(scratch) / "elsewhere", Path(scratch) / "cache.tgz"
        runs = {}
        runs["cold"] = run_child(args, cache)
        runs["warm"] = run_child(args, cache)
        pack_compiler_cache(cache, archive)  # as cifar10_suite.sh --pack-cache, and its restore on the next machine
        unpack_compiler_cache(archive, elsewhere)
        runs["carried"] = run_child(args, elsewhere)
        files, archive_bytes = count_files(cache), archive.stat().st_size
    for name, run in runs.items():
        print(f"{name:8s} first step {run['seconds']:7.1f} s  {run['counters']}")
    print(f"cache: {files} files, {archive_bytes / 1e6:.1f} MB packed")
    out = record(args.name or "compile_cache", {
        "model": args.model, "width": args.width, "batch_size": args.batch_size, "mode": args.mode,
        "run_device": runs["cold"]["device"], "runs": runs, "cache_files": files, "archive_bytes": archive_bytes,
        "ratios": {"warm_over_cold": runs["warm"]["seconds"] / runs["cold"]["seconds"],
                   "carried_over_cold": runs["carried"]["seconds"] / runs["cold"]["seconds"]},
    }, directory=args.results_dir, measured_on=[runs["cold"]["device"]])
    print(f"recorded in {out}")


if __name__ == "__main__":
    run_main(main)
