"""Shared helpers for benchmark scripts: provenance of every recorded figure (commit, device, command, time)."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "benchmarks" / "data"  # git-ignored: converted datasets and copies of input files


def data_file(name: str) -> Path:
    """An input file such as ``cifar10n_labels.npz``: ``benchmarks/data/<name>`` when a copy lies there (a machine
    that received only the checkout), else the shared data folder beside the checkout."""
    local = DATA / name
    return local if local.exists() else ROOT.parent / "shared" / "data" / name


def path_option(text: str) -> Path:
    """A path option's value (``type=path_option`` for argparse), read as satlearn reads the paths it is given
    (:func:`satlearn.paths.user_path`): a leading ``~`` or ``~user`` is that home directory also where no shell
    expanded it (quoted, or passed on from a script's variable), and ``./~x`` is the folder ``~x`` here. Empty text
    (an unset shell variable) is refused, as the ``satlearn`` command refuses it: read as a path it is the current
    directory, so ``report.py --results-dir ""`` would write a report of nothing over RESULTS.md."""
    from satlearn.paths import user_path  # (imported here: the suite imports this module where torch costs seconds)

    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return user_path(text)


RESULT_SUFFIX = ".json"  # what record() adds to a result's name
# a separator inside a result's name would put its file in another folder
NAME_SEPARATORS = sorted({"/", os.sep, *([os.altsep] if os.altsep else [])})


def given_twice(option: str, values: list) -> str | None:
    """The error for a list option that names one value twice (``--seeds 0 1 0``), which would train and record
    it twice over; None where each value is given once."""
    repeated = next((value for i, value in enumerate(values) if value in values[:i]), None)
    if repeated is None:
        return None
    return f"{option} {' '.join(map(str, values))}: {repeated} is given twice; give each once"


def name_option(text: str) -> str:
    """A result's name option (``type=name_option`` for argparse): the NAME of ``<results dir>/NAME.json``, refused
    before anything is measured where it is not the name of a file in that folder. A name may start with ``-`` or
    ``.`` (``--name=-cpu``, ``.draft``): the file is still one in the results folder."""
    problem = result_name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return text


def result_name_problem(name: str) -> str | None:
    """Why ``name`` would not write ``NAME.json`` in the results folder, named as given (None where it would)."""
    if name in ("", ".", "..") or any(separator in name for separator in NAME_SEPARATORS):
        return (f"expected the name of a file in the results folder: not empty, '.' or '..', and without "
                f"{' or '.join(map(repr, NAME_SEPARATORS))}")
    if name.endswith(RESULT_SUFFIX):
        stem = name.removesuffix(RESULT_SUFFIX)
        hint = f" (say {stem!r})" if not result_name_problem(stem) else ""  # none where the stem is refused too
        return f"expected the name without {RESULT_SUFFIX}, which is added to it{hint}"
    return None


# the longest file name, in bytes, taken where the filesystem cannot be asked (no os.pathconf, as on Windows)
DEFAULT_NAME_MAX = 255


def name_max(directory: Path) -> int | None:
    """The longest file name, in bytes, that the filesystem of ``directory`` takes (asked of its nearest existing
    parent where it is not made yet); :data:`DEFAULT_NAME_MAX` where it cannot be asked; None where it sets none."""
    try:
        limit = os.pathconf(nearest_existing(directory), "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):  # no pathconf here, no such setting, or no answer for this path
        return DEFAULT_NAME_MAX
    return limit if limit >= 0 else None  # -1: no limit


def result_name_length_problem(name: str, directory: Path) -> str | None:
    """Why the file ``NAME.json`` is too long a name for ``directory``'s filesystem, counted in bytes of the
    filesystem encoding as it counts them (None where it fits). The longest name a result is written under is its
    temporary twin's, renamed to ``NAME.json`` once whole."""
    from satlearn.engine.checkpoint import temporary_name  # (imported here: it imports torch)

    limit = name_max(directory)
    size = len(os.fsencode(name))
    added = len(os.fsencode(temporary_name(f"{name}{RESULT_SUFFIX}"))) - size
    if limit is None or size + added <= limit:
        return None
    return (f"expected at most {limit - added} bytes ({limit} in a file name in {directory}, less {added} for "
            f"{RESULT_SUFFIX} and the temporary name the result is written under first), got {size} bytes")


def check_result_name(parser: argparse.ArgumentParser, name: str, directory: Path | None) -> None:
    """Ends the script in one argparse line, before anything is measured, where a result named ``name`` cannot be
    written to ``directory`` (None: benchmarks/results) for its length. Asked once the options are parsed, not by
    :func:`name_option`: ``--results-dir``, whose filesystem sets the limit, may follow ``--name``."""
    problem = result_name_length_problem(name, directory or RESULTS)
    if problem:
        parser.error(f"argument --name: {problem}, {name!r}")


CIFAR10_FILES = ("batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
# where prepare_cifar10.py writes the data: the CIFAR scripts' default --data-root
CIFAR10_ROOT = ROOT / "benchmarks" / "data" / "cifar-10-batches-py"
CIFAR10_ROOT_HELP = ("the CIFAR-10 data, a cifar-10-batches-py directory (default: the one prepare_cifar10.py "
                     "writes, benchmarks/data/cifar-10-batches-py)")


def validation_split_problem(config, script: str, why: str) -> str | None:
    """What is wrong with a ``--set data.val_size`` given to ``script``, which loads its data with
    ``satlearn.engine.prepare_data`` (the whole training split: the validation split is ``fit``'s) for ``why``;
    None where none is set."""
    if not config.data.val_size:
        return None
    return (f"--set data.val_size={config.data.val_size}: {script} {why} on the whole training split; a validation "
            "split is for satlearn train")


def missing_cifar10(root: str, *, download: bool) -> str | None:
    """Why a benchmark's ``data.root`` (after its ``--set``s) holds no CIFAR-10, or None. The recorded results were
    trained on the JPEG re-encoding that prepare_cifar10.py writes, so that is what the message offers first."""
    from satlearn.paths import user_path

    path = user_path(root)
    if download:
        return None
    if (path / "cifar-10-batches-py").is_dir():
        path = path / "cifar-10-batches-py"
    missing = [name for name in CIFAR10_FILES if not (path / name).is_file()]
    if not missing:
        return None
    what = ("no CIFAR-10 batches there" if len(missing) == len(CIFAR10_FILES)
            else f"the CIFAR-10 batches there lack {', '.join(missing)}")
    return (f"data.root {root}: {what}; write them with `python benchmarks/prepare_cifar10.py` (the JPEG "
            "re-encoding the recorded results were trained on), or fetch the original CIFAR-10 with "
            "`--set data.download=true`")


def label_file_problem(file: str, readers_by_key: dict[str | None, list[str]], *, readers_are: str) -> str | None:
    """Why a CIFAR-10N label file that a benchmark's trainings read would fail them (None where it would not):
    missing, or an array they read (``readers_by_key``: the names of the trainings that read each key; ``readers_are``
    what they are, "cells" say) not readable as labels. Asked before the first training: those that read the file
    may come after hours of others."""
    from satlearn.data.noise import read_label_file
    from satlearn.errors import DataError
    from satlearn.paths import user_path

    readers = [name for names in readers_by_key.values() for name in names]
    if not user_path(file).is_file():
        return (f"no such file, and the {readers_are} {', '.join(readers)} read it; expected the CIFAR-10N label file "
                "(.npz)")
    for key, names in readers_by_key.items():
        try:
            read_label_file(file, key=key)
        except DataError as exc:
            return (f"the {readers_are} {', '.join(names)} cannot read their labels there ({exc}); expected the "
                    "CIFAR-10N label file (.npz)")
    return None


def compiler_cache_dir() -> Path:
    """Where ``torch.compile`` keeps what it compiled: ``TORCHINDUCTOR_CACHE_DIR``, else torch's default."""
    configured = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"torchinductor_{getpass.getuser()}"


def count_files(directory: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(directory)) if directory.is_dir() else 0


# Read when a benchmark starts, before it compiles anything: whether its compilation times are cold or warm.
COMPILER_CACHE_AT_START = {"dir": str(compiler_cache_dir()), "files": count_files(compiler_cache_dir())}

# torch.compile's cache counters: a compilation that hit the carried cache, or one that compiled again.
COMPILE_CACHE_COUNTERS = {"inductor": ("fxgraph_cache_hit", "fxgraph_cache_miss"),
                          "aot_autograd": ("autograd_cache_hit", "autograd_cache_miss")}


def compile_cache_counters() -> dict[str, int]:
    """This process's compiler-cache hits and misses so far (they only grow; subtract two readings for a span)."""
    from torch._dynamo.utils import counters

    return {name: int(counters[group][name]) for group, names in COMPILE_CACHE_COUNTERS.items() for name in names}


# Inside a packed compiler cache: the directory it was packed from. Triton's kernel groups (``__grp__*`` files) name
# their members by absolute path, so a cache unpacked anywhere else must have those paths moved.
PACKED_FROM = ".packed_from"


# How a compiler cache is compressed, by the archive's suffix. xz at preset 9, whose 64 MiB window spans many of the
# cache's near-identical kernels, packs a ResNet-34 cache about 8 times smaller than gzip does, taking about 5 times
# as long (results/compile_cache_archives.json, from compile_cache.py --archives-of).
CACHE_ARCHIVE_MODES = {".tar.xz": ("w:xz", {"preset": 9}), ".txz": ("w:xz", {"preset": 9}),
                       ".tar.gz": ("w:gz", {}), ".tgz": ("w:gz", {})}


def cache_archive_mode(archive: Path) -> tuple[str, dict]:
    """The tarfile mode and options that ``archive``'s suffix names (CACHE_ARCHIVE_MODES); ValueError for a name
    that ends in none of them."""
    mode = next((m for suffix, m in CACHE_ARCHIVE_MODES.items() if Path(archive).name.endswith(suffix)), None)
    if mode is None:
        raise ValueError(f"{archive}: a compiler cache archive's name must end in "
                         f"{', '.join(CACHE_ARCHIVE_MODES)} (how it is compressed)")
    return mode


def pack_compiler_cache(directory: Path, archive: Path) -> int:
    """Packs the compiler cache ``directory`` into ``archive`` (.tar.xz, .txz, .tar.gz or .tgz, compressed as its
    name says); returns the number of files packed. The archive appears whole or not at all."""
    directory, archive = Path(directory).resolve(), Path(archive)
    mode = cache_archive_mode(archive)
    files = count_files(directory)
    origin = str(directory).encode()
    partial = archive.with_name(archive.name + ".partial")
    try:
        with tarfile.open(partial, mode[0], **mode[1]) as tar:
            tar.add(directory, arcname=".")
            info = tarfile.TarInfo(PACKED_FROM)
            info.size = len(origin)
            tar.addfile(info, io.BytesIO(origin))
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
    return files


def unpack_compiler_cache(archive: Path, directory: Path) -> int:
    """Unpacks a compiler cache packed by :func:`pack_compiler_cache` (any of its compressions) into ``directory``,
    which must be empty or absent, with Triton's kernel groups pointed at their members there; returns the number of
    files in ``directory``. The cache appears whole or not at all: it is unpacked beside ``directory`` and moved
    into place, so that a stop part-way leaves no half cache that a later start would take as filled."""
    directory = Path(directory).resolve()
    if directory.is_dir() and any(directory.iterdir()):
        raise ValueError(f"{directory}: not empty; a compiler cache is unpacked into an empty directory")
    staging = directory.with_name(directory.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)  # what a stopped unpacking left
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
    except BaseException:  # a damaged archive, or a stop: nothing of it is left beside the cache's folder
        shutil.rmtree(staging, ignore_errors=True)
        raise
    marker = staging / PACKED_FROM
    if marker.exists():
        origin = marker.read_text().strip()
        marker.unlink()
        if origin != str(directory):
            for group in staging.rglob("__grp__*"):
                _move_group_paths(group, origin, str(directory))
    if directory.is_dir():
        directory.rmdir()
    staging.rename(directory)
    return count_files(directory)


def _move_group_paths(group: Path, origin: str, destination: str) -> None:
    try:
        data = json.loads(group.read_text())
    except (OSError, ValueError):
        return  # not a group that Triton wrote: left as it is
    children = data.get("child_paths") if isinstance(data, dict) else None
    if not isinstance(children, dict):
        return
    prefix = origin.rstrip(os.sep) + os.sep
    data["child_paths"] = {name: destination + os.sep + path[len(prefix):] if path.startswith(prefix) else path
                           for name, path in children.items()}
    group.write_text(json.dumps(data))


def device_model_slug(name: str) -> str:
    """A GPU's name as a file-name part ("NVIDIA H100 80GB HBM3" -> "h100-80gb-hbm3"); "cpu" for no name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().removeprefix("nvidia")).strip("-") or "cpu"


def speed_file_for_this_gpu(results_dir: Path, name: str = "speed") -> Path:
    """``<name>_<this GPU's model>.json`` (``<name>_cpu.json`` without one) where the suite measured this machine
    beside another GPU model's ``<name>.json``; else ``<name>.json``."""
    import torch

    model = device_model_slug(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else "cpu"
    own = Path(results_dir) / f"{name}_{model}.json"
    return own if own.exists() else Path(results_dir) / f"{name}.json"


def git_commit() -> str:
    """The commit named by the ``BENCH_COMMIT`` environment variable where it is set: a copy of the working tree
    shipped to a remote machine may have no git metadata, or metadata of an older commit. Else HEAD (``-dirty`` when
    tracked code differs from it), or ``unknown`` without git."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        # Recorded results themselves do not make the code dirty.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)benchmarks/results", ":(exclude)benchmarks/*.md"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(measured_on: Iterable[str] | None = None) -> dict:
    """The machine a result is measured on. ``measured_on``: the torch devices the measurement ran on, where the
    script knows them. ``gpu`` names the GPU that measured; a GPU the machine has but the measurement did not use
    (a ``--device cpu`` run on a GPU machine) is kept as ``unused_gpu``, so that the figure is not taken for the
    GPU's, by the report or by the suite deciding what is measured already."""
    import torch

    info = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}
    if measured_on is not None:
        info["measured_on"] = sorted({str(device) for device in measured_on})
    if torch.cuda.is_available():
        used = measured_on is None or any(torch.device(device).type == "cuda" for device in measured_on)
        info["gpu" if used else "unused_gpu"] = torch.cuda.get_device_name(0)
    return info


def override_settings(overrides) -> dict[str, str]:
    """``key=value`` overrides (a cell's recorded ones, a pipeline's, the ``--set``s given) as ``{key: value}``, the
    last of a key winning, as the config reads them."""
    return dict(override.split("=", 1) for override in overrides if "=" in override)


def short_commit(commit: str) -> str:
    """A recorded commit as a report shows it: 12 characters of the hash, and ``-dirty`` where the code that
    measured differed from it (cut with the hash, the mark would be lost)."""
    hash_, dirty, _ = commit.partition("-dirty")
    return hash_[:12] + dirty


def device_label(result: dict) -> str:
    """The device a recorded result names in a report: its GPU, else its CPU and cores."""
    device = result["device"]
    return device.get("gpu") or f"{device['cpu']} ({device['cpu_count']} cores)"


class ResultFileError(ValueError):
    """A recorded result file that cannot be read, or lacks a field that a report needs (one line, naming it)."""


class RecordedResult(dict):
    """A recorded result (or a part of one) that names its file when a field is missing."""

    def __init__(self, fields: dict, path: Path) -> None:
        super().__init__(fields)
        self.path = path

    def __missing__(self, key):
        raise ResultFileError(f"{self.path}: no field {key!r} where a report looks for it; expected a file "
                              "recorded by the benchmark scripts")


def read_result(path: Path) -> RecordedResult:
    """Reads a result file recorded by :func:`record`: a JSON object whose missing fields raise an error naming the
    file. A file that is not JSON, or not an object, raises :class:`ResultFileError`."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(), object_hook=lambda fields: RecordedResult(fields, path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(result, RecordedResult):
        raise ResultFileError(f"{path}: holds a JSON {type(result).__name__}; expected an object of fields")
    return result


def run_main(main) -> None:
    """Runs a benchmark script's ``main()``. Bad input that satlearn reports (missing data, an unknown override key)
    ends the script with that one line and status 2, as the ``satlearn`` command does, instead of a traceback.
    Ctrl-C and SIGTERM (the suite's ``--stop``, ``timeout``) stop it as they stop ``satlearn``: a training keeps its
    last checkpoint, and the script ends with one line that names it, status 130, or 128 + the signal's number (143
    for SIGTERM); a training the script ran in a temporary folder, removed on the way out, has no checkpoint left to
    name."""
    from satlearn.cli import INTERRUPTED, stopped_as_by_ctrl_c
    from satlearn.errors import SatlearnError, TrainingInterrupted

    name = Path(sys.argv[0]).name
    with stopped_as_by_ctrl_c() as stopped:
        try:
            main()
        except (SatlearnError, ResultFileError) as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt as exc:
            kept = isinstance(exc, TrainingInterrupted) and Path(exc.run_dir).is_dir()
            print(f"{name}: {exc if kept else 'interrupted'}", file=sys.stderr)
            sys.exit(128 + stopped[0] if stopped else INTERRUPTED)


def missing_dir_problem(directory: Path) -> str | None:
    """Why ``directory``, a folder that a script reads, cannot be read as one (None where it can): a file given where
    a folder is expected is named as such, not as missing."""
    if Path(directory).is_dir():
        return None
    return "is a file, not a directory" if Path(directory).exists() else "no such directory"


def nearest_existing(directory: Path) -> Path:
    """``directory`` resolved, or where it does not exist its deepest parent that does: where the rest would be
    made."""
    existing = Path(directory).resolve()
    while not existing.exists():
        existing = existing.parent
    return existing


def writable_dir_problem(directory: Path) -> str | None:
    """Why results could not be written under ``directory`` (made where missing), or None. Asked before a script
    measures, so that a wrong ``--results-dir`` costs nothing; nothing is created here."""
    existing = nearest_existing(directory)
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} cannot be written by this process"
    return None


def check_results_dir(option: str, directory: Path | None) -> None:
    """Raises ``ConfigError`` (one line under :func:`run_main`) where ``directory`` (None: benchmarks/results)
    cannot take results."""
    from satlearn.errors import ConfigError

    problem = writable_dir_problem(directory or RESULTS)
    if problem:
        raise ConfigError(f"{option} {directory or RESULTS}: {problem}; expected a directory this process can "
                              "write in")


def recording() -> dict:
    """When, at which commit and by what command a result is being recorded."""
    return {"recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": git_commit(),
            "command": shlex.join([Path(sys.executable).name, *sys.argv])}


def record(name: str, payload: dict, *, directory: Path | None = None,
           measured_on: Iterable[str] | None = None) -> Path:
    """Writes ``<directory or benchmarks/results>/<name>.json`` with provenance fields added; returns the path.
    ``measured_on``: the torch devices that measured it (see :func:`device_info`)."""
    out = {
        "benchmark": name,
        **recording(),
        "device": device_info(measured_on),
        "compiler_cache_at_start": COMPILER_CACHE_AT_START,
        **payload,
    }
    from satlearn.engine.checkpoint import atomic_write_text

    path = (directory or RESULTS) / f"{name}{RESULT_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    # whole or not at all: a script killed while writing must not leave a file that reads as recorded
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    return path
