"""The training loop. It knows methods only through :class:`satlearn.methods.Method` and nothing about SAT."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import numbers
import os
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from satlearn import config as config_lib
from satlearn.config import Config
from satlearn.data import DatasetSplits, load_dataset, load_earlier_form
from satlearn.data.loader import InMemoryLoader
from satlearn.data.streaming import StreamingLoader
from satlearn.data.noise import apply_noise, knows_true_labels
from satlearn.data.validation import hold_out, training_index
from satlearn.engine import reporting
from satlearn.engine.checkpoint import (
    BEST_PENDING_NAME, CHECKPOINT_NAME, RUN_FILES, CheckpointWriter, FilesWrittenTogether, atomic_write_bytes,
    atomic_write_text, claim_new_dir, kept_config, load_best_weights, load_checkpoint, lock_soon, make_output_dir,
    output_file, settle_best_weights, stage_to_cpu, started_without_checkpoint,
)
from satlearn.engine.runtime import (
    autocast, checked_threads, cpu_threads, cudnn_autotuning, loader_workers, random_state_kept, resolve_device,
    rng_state, seed_everything, set_rng_state,
)
from satlearn.engine.schedules import learning_rate
from satlearn.errors import (
    ConfigError, ConfigTypeError, DataError, DeviceUnavailable, MissingDataError, TrainingError, TrainingInterrupted,
    count_error, first_line, is_whole_number, out_of_memory,
)
from satlearn.methods import METHODS, Method, create_method
from satlearn.models import check_logits, create_model
from satlearn.paths import literal_path, user_path
from satlearn.yaml_text import read_yaml_file

# Settings that may differ between a run and its resumption. Most change no result (the reference pipeline's
# workers are handed their augmentation by the main process, so their number changes nothing); the thread count
# and cuDNN's choice of algorithms change only the rounding of sums, which on a CPU ends bit-exact resumption
# (a resume on another thread count says so). The device and where the data lie may change, so that a run can
# finish where its first machine is gone; `auto` already allowed another device, and the resumption says what changes
# with it; the data themselves are checked against the run's digest of them, and a run keeps the noisy labels it
# drew or read (its noise file is not read again for them). Evaluation touches no training state and draws no
# random numbers: the size of its batches may change too (a smaller device may need smaller ones; the test figures
# then round otherwise, which the resumption says); how often it runs
# may not, as the best epoch is picked among the epochs evaluated.
RESUME_FREE_KEYS = {"run.progress", "run.out_dir", "run.name", "run.threads", "run.checkpoint_every",
                    "run.cudnn_benchmark", "run.cudnn_benchmark_limit", "run.device", "data.root", "data.noise.file",
                    "data.workers", "data.eval_batch_size"}


@dataclass
class NoisyDataset:
    """A dataset with the training labels the learner sees, and what they were before noise."""

    data: DatasetSplits
    labels: torch.Tensor  # (N,) training labels after noise
    clean_labels: torch.Tensor  # (N,) labels as the source gave them
    # (V,) increasing positions of the training examples held out as the validation split (data.val_size); None: none
    val_index: torch.Tensor | None = None

    @property
    def actual_noise_rate(self) -> float:
        # counted, not averaged in float32, so that 98 of 480 reads as 98 / 480
        return int((self.labels != self.clean_labels).sum()) / len(self.labels)

    @property
    def train_index(self) -> torch.Tensor | None:
        """The increasing positions of the training examples trained on (all but the validation split's); None
        where there is no validation split, and every example trains."""
        if self.val_index is None:
            return None
        return torch.from_numpy(training_index(len(self.labels), self.val_index))

    @property
    def trained_labels(self) -> torch.Tensor:
        """The labels the learner trains on, one per example of :attr:`train_index` (all N without a split): what
        the method's per-example state (SAT's targets) covers, row for row."""
        index = self.train_index
        return self.labels if index is None else self.labels[index]

    @property
    def trained_clean_labels(self) -> torch.Tensor:
        """The source's labels of the examples trained on, as :attr:`trained_labels` orders them."""
        index = self.train_index
        return self.clean_labels if index is None else self.clean_labels[index]


@dataclass
class RunResult:
    """What :func:`fit` returns: the run directory, its summary and per-epoch history, and the trained method, in
    eval mode (call ``method.train()`` to train it further by hand)."""

    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    method: Method | None = None

    def __repr__(self) -> str:
        return reporting.history_counted_repr(self)


def prepare_data(config: Config, dataset: DatasetSplits | None = None, *,
                 labels: torch.Tensor | None = None, progress: bool | None = None) -> NoisyDataset:
    """Loads the configured source (unless ``dataset`` is given) and applies the configured label noise, or, with
    ``labels``, takes those as the training labels (a run's own, kept in its checkpoint). ``progress``: show a
    download's progress bar (None: as ``run.progress`` says). It holds no validation split out (``val_index`` is
    None whatever ``data.val_size`` says): :func:`fit` draws that one."""
    if dataset is not None and not isinstance(dataset, DatasetSplits):
        # (arrays as a tuple or a mapping, say: they would fail as an AttributeError on .validate)
        raise DataError(f"dataset=: expected a satlearn.data.DatasetSplits, got {type(dataset).__name__}")
    data = dataset.validate() if dataset is not None else load_dataset(
        config.data, progress=config.run.progress if progress is None else progress)
    if labels is not None:
        return NoisyDataset(data=data, labels=labels, clean_labels=data.y_train.clone())
    clean = data.y_train.numpy()
    noisy = apply_noise(clean, data.num_classes, config.data.noise, class_names=data.class_names,
                        source_rows=data.source_rows, source_size=data.source_size)
    return NoisyDataset(data=data, labels=torch.from_numpy(noisy), clean_labels=data.y_train.clone())


def run_data(config: Config, checkpoint: dict[str, Any], run_dir: Path, *, doing: str,
             dataset: DatasetSplits | None = None,
             progress: bool | None = None) -> tuple[NoisyDataset, dict[str, Any]]:
    """The data of a run being resumed or loaded, with the training labels it kept (a noise file is not read
    again), and their fingerprint: its source's (or ``dataset``), which must be the data it trained on. A run
    whose digest matches its source only as an earlier satlearn prepared it
    (:func:`satlearn.data.load_earlier_form`) goes on with those; one whose training inputs are that earlier form's
    but whose labels (say) have changed since is refused naming those. A run trained on splits given to :func:`fit`
    needs them given again, unless they were the very ones its source loads (``find-issues --config`` hands the
    splits it loaded to fit): splits of another origin are asked for before any data are loaded. ``progress``: as
    for :func:`prepare_data`. The validation split is the one the run keeps (none for a run kept before there
    were any)."""
    noisy, fingerprint = _run_data(config, checkpoint, run_dir, doing=doing, dataset=dataset, progress=progress)
    held_out = checkpoint.get("val_index")
    return replace(noisy, val_index=None if held_out is None else held_out.cpu().long()), fingerprint


def _run_data(config: Config, checkpoint: dict[str, Any], run_dir: Path, *, doing: str,
              dataset: DatasetSplits | None, progress: bool | None) -> tuple[NoisyDataset, dict[str, Any]]:
    """:func:`run_data` without the validation split."""
    if checkpoint.get("data_given") and dataset is None:
        # (a checkpoint written before their origin was kept: its source may load them, which only loading tells)
        if checkpoint.get("given_splits_from_source", True):
            return _source_as_given(config, checkpoint, run_dir, doing=doing, progress=progress)
        raise DataError(f"{run_dir}: trained on splits given to fit(dataset=...) in Python, which its data.source "
                        f"({config.data.source}) did not load; to {doing}, pass the same splits again as dataset=")
    noisy = prepare_data(config, dataset, labels=checkpoint["labels"], progress=progress)
    now = data_fingerprint(noisy.data)
    saved = checkpoint.get("data")
    if saved is None:  # a checkpoint from before the digest: its labels are what identify the data
        if (len(checkpoint["labels"]) != len(noisy.clean_labels)
                or not torch.equal(checkpoint["clean_labels"], noisy.clean_labels)):
            raise DataError(f"{run_dir}: the training data differ from those the run was started on")
        return noisy, now
    compared = now
    if dataset is None and not same_data(saved, now):
        earlier, compared = _earlier_form_trained_on(config, checkpoint, now)
        if earlier is not None:
            return earlier
    check_same_data(saved, compared, run_dir, doing=doing, given=dataset is not None)
    return with_run_normalization(noisy, saved, now)


def _earlier_forms(config: Config, checkpoint: dict[str, Any]) -> Iterator[tuple[DatasetSplits, dict[str, Any]]]:
    """The run's source as an earlier satlearn prepared it (:func:`satlearn.data.load_earlier_form`), with its
    fingerprint, under the run's own thread count and then this process's (the earlier form rounded with the thread
    count); nothing where the source's preparation has not changed."""
    for threads in dict.fromkeys([checkpoint.get("threads"), None]):
        with cpu_threads(threads):
            earlier = load_earlier_form(config.data)
        if earlier is None:
            return
        yield earlier, data_fingerprint(earlier)


def _earlier_form_trained_on(config: Config, checkpoint: dict[str, Any], now: dict[str, Any]
                             ) -> tuple[tuple[NoisyDataset, dict[str, Any]] | None, dict[str, Any]]:
    """The run's data as an earlier satlearn prepared its source (:func:`satlearn.data.load_earlier_form`), with
    their fingerprint, where that is the fingerprint the run kept (else None); and the fingerprint that a refusal
    compares the run's with: that earlier form's where the run trained on its inputs, else ``now`` (the source's
    fingerprint as satlearn prepares it today)."""
    saved = checkpoint["data"]
    compared = now
    for earlier, earlier_fingerprint in _earlier_forms(config, checkpoint):
        if same_data(saved, earlier_fingerprint):
            return with_run_normalization(prepare_data(config, earlier, labels=checkpoint["labels"]), saved,
                                          earlier_fingerprint), earlier_fingerprint
        if earlier_fingerprint["train"]["inputs"] == saved["train"]["inputs"]:
            # trained on the earlier form, of which something else (its labels, say) has changed since: the
            # refusal names that, not the inputs that today's preparation makes otherwise
            compared = earlier_fingerprint
    return None, compared


def _source_as_given(config: Config, checkpoint: dict[str, Any], run_dir: Path, *, doing: str,
                     progress: bool | None = None) -> tuple[NoisyDataset, dict[str, Any]]:
    """The data of a run trained on splits given to :func:`fit`, resumed or loaded without them: its source's (as
    satlearn prepares them now or as an earlier satlearn did), where they are the splits it trained on; else a
    DataError saying to give them again (the source cannot load them, or loads others: what differs is named), not
    one blaming data.root.
    Where the source finds no data at all, a MissingDataError: the splits may be the source's own that moved
    (``find-issues --config`` hands fit those), which the command line then tells how to find where they are now."""
    error = DataError
    try:
        noisy = prepare_data(config, labels=checkpoint["labels"], progress=progress)
    except MissingDataError as exc:
        why, error = f" ({exc.message})", MissingDataError
    except (ConfigError, DataError) as exc:  # (the source's own data unreadable, say: named below)
        why = f" ({exc})"
    else:
        now = data_fingerprint(noisy.data)
        if same_data(checkpoint["data"], now):
            return with_run_normalization(noisy, checkpoint["data"], now)
        # find-issues --config hands fit the splits its source loads, which an earlier satlearn may have prepared
        # otherwise
        earlier, compared = _earlier_form_trained_on(config, checkpoint, now)
        if earlier is not None:
            return earlier
        why = f" ({data_difference(checkpoint['data'], compared)})"  # what it loads instead
    raise error(f"{run_dir}: trained on splits given to fit(dataset=...) (in Python, or by find-issues --config), "
                f"which its data.source ({config.data.source}) does not load{why}; to {doing}, pass the same splits "
                "again as dataset=")


# data settings that the label noise, the validation split and the loaders read, not a source: splits loaded under
# other values of them are the same splits (a sweep over noise rates may load its data once)
_SETTINGS_NOT_LOADED_WITH = ("noise", "augment", "batch_size", "eval_batch_size", "pipeline", "workers", "val_size",
                             "val_pick")


def loaded_with(data: DatasetSplits, config: Config) -> bool:
    """Whether ``data`` are splits that :func:`satlearn.data.load_dataset` loaded with ``config``'s data settings
    (those a source reads): a run trained on them finds them at its ``data.source`` again without their being given
    back. Where a source reads one of the others after all, the run's digest still refuses what it loads then."""
    def read_by_sources(settings: config_lib.DataConfig) -> dict[str, Any]:
        return {key: value for key, value in asdict(settings).items() if key not in _SETTINGS_NOT_LOADED_WITH}

    return (isinstance(data.loaded_from, config_lib.DataConfig)
            and read_by_sources(data.loaded_from) == read_by_sources(config.data))


def data_fingerprint(data: DatasetSplits) -> dict[str, Any]:
    """What identifies a run's data: the class count and, per split, the shape and a digest of the inputs and of
    the labels (about 0.2 s for CIFAR-10 on one core), so that a run is never resumed or evaluated on other data."""
    def digest(tensor: torch.Tensor) -> str:
        return hashlib.blake2b(np.ascontiguousarray(tensor.detach().cpu().numpy()), digest_size=16).hexdigest()

    fingerprint = {"num_classes": data.num_classes,
                   **{split: {"shape": list(x.shape), "inputs": digest(x), "labels": digest(y)}
                      for split, x, y in (("train", data.x_train, data.y_train),
                                          ("test", data.x_test, data.y_test))}}
    if data.kind == "image":
        fingerprint["normalization"] = normalization_of(data)
    return fingerprint


def normalization_of(data: DatasetSplits) -> dict[str, list[float] | None]:
    """The per-channel mean and std that an image run's inputs are normalised with: they are applied to the kept
    ``uint8`` images as each batch is made, so the inputs' digest does not cover them."""
    return {part: None if values is None else [float(v) for v in values]
            for part, values in (("mean", data.mean), ("std", data.std))}


def same_data(saved: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether fingerprint ``now`` identifies the data of fingerprint ``saved``: the normalisation aside, which a
    run keeps as its own (:func:`with_run_normalization`), and which a run trained before it was kept lacks."""
    return ({key: value for key, value in saved.items() if key != "normalization"}
            == {key: value for key, value in now.items() if key != "normalization"})


def with_run_normalization(noisy: NoisyDataset, saved: dict[str, Any],
                           now: dict[str, Any]) -> tuple[NoisyDataset, dict[str, Any]]:
    """``noisy`` (fingerprint ``now``) with the normalisation its run trained with (fingerprint ``saved``), and the
    fingerprint that goes with it: a run goes on, or is evaluated, with the mean and std it was trained with, even
    where the source now works out others for the same images. A run kept before its normalisation was recorded
    goes on with the source's."""
    kept = saved.get("normalization")
    if kept is None or "normalization" not in now or kept == now["normalization"]:
        return noisy, now
    restore = {part: None if values is None else tuple(values) for part, values in kept.items()}
    return replace(noisy, data=replace(noisy.data, **restore)), {**now, "normalization": kept}


def data_difference(saved: dict[str, Any], now: dict[str, Any]) -> str | None:
    """The first part in which the data's fingerprint ``now`` differs from a run's ``saved`` one, in words (the
    class count, a split's shape, or its inputs or labels), for a refusal; None where they are the same data."""
    if saved["num_classes"] != now["num_classes"]:
        return f"{saved['num_classes']} classes, now {now['num_classes']}"
    split, part = next(((split, part) for split in ("train", "test") for part in ("shape", "inputs", "labels")
                        if saved[split][part] != now[split][part]), (None, None))
    if split is None:
        return None
    if part == "shape":
        return f"{split} split of shape {tuple(saved[split]['shape'])}, now {tuple(now[split]['shape'])}"
    return f"its {split} {part} differ"


def check_same_data(saved: dict[str, Any], now: dict[str, Any], run_dir: Path, *, doing: str,
                    given: bool = False) -> None:
    """Raises :class:`DataError` naming the first part of the data's fingerprint ``now`` that differs from the
    run's ``saved`` one, and where the right data come from: ``data.root`` for a source's, the ``dataset=``
    argument for splits ``given`` in Python."""
    what = data_difference(saved, now)
    if what is None:
        return
    remedy = ("give the splits it was trained on as dataset=" if given else
              "point data.root (eval, selective-eval: --data-root) at the original data")
    raise DataError(f"{run_dir}: cannot {doing}: the data differ from those the run was trained on ({what}); {remedy}")


def use_channels_last(config: Config, data: DatasetSplits, device: torch.device) -> bool:
    if config.run.channels_last is None:
        return device.type == "cuda" and data.kind == "image"
    return config.run.channels_last and data.kind == "image"


def use_compile(config: Config, device: torch.device) -> bool:
    """``run.compile``, with ``auto`` resolved: on for CUDA, where it pays for its warm-up in long runs."""
    if config.run.compile == "auto":
        return device.type == "cuda"
    return bool(config.run.compile)


def compile_settings_without_effect(config: Config, device: torch.device) -> list[str]:
    """The compilation settings asked for that do nothing on ``device``: CUDA graphs (``reduce-overhead``,
    ``max-autotune``) are captured on CUDA only, and ``run.compile_tuning`` tunes the Triton kernels that
    ``torch.compile`` generates for a GPU, not the C++ ones it generates for a CPU. Such a run still compiles; its
    log says what it goes without, as its runtime line names the mode it was given."""
    if device.type == "cuda" or not use_compile(config, device):
        return []
    unused = []
    if config.run.compile_mode in ("reduce-overhead", "max-autotune"):
        unused.append(f"run.compile_mode={config.run.compile_mode} captures no CUDA graphs (CUDA only)")
    if config.run.compile_tuning:
        unused.append("run.compile_tuning tunes no kernels (it tunes those generated for CUDA)")
    return [f"on {device.type}, {what}; the model is still compiled" for what in unused]


def build_method(config: Config, data: DatasetSplits, labels: torch.Tensor, device: torch.device, *,
                 for_training: bool = True) -> Method:
    """The configured model inside the configured method, on ``device``; compiled per ``run.compile`` when it is
    ``for_training`` (a single evaluation pass would not earn back the compilation)."""
    expected = config.model.num_classes
    if expected is not None and expected != data.num_classes:
        raise ConfigError(f"model.num_classes={expected}, but the {data.name} data have {data.num_classes} classes")
    outputs = data.num_classes + METHODS.get(config.method.name).extra_outputs
    try:
        model = create_model(config.model.name, outputs, input_shape=data.input_shape, width=config.model.width)
        if use_channels_last(config, data, device):
            model = model.to(memory_format=torch.channels_last)
        method = create_method(config.method, model, labels=labels, num_classes=data.num_classes).to(device)
        check_logits(config.model.name, model, outputs, data.input_shape, device=device)
    except (RuntimeError, MemoryError, TypeError) as exc:
        if not out_of_memory(exc):
            raise
        raise ConfigError(f"model.name={config.model.name}, model.width={config.model.width}: the model does not "
                          f"fit in {device.type} memory ({first_line(exc)}); use a smaller model.width") from None
    if for_training and use_compile(config, device):
        # in place, so state_dict keys stay those of the eager model; static shapes, because the batch sizes are
        # known (full, last, evaluation) and CUDA graphs want one graph per shape, not a dynamic-shape kernel
        if config.run.compile_tuning:
            from torch._inductor import list_mode_options  # not loaded by `import torch` alone in every version

            # a mode and options cannot both be given: the options are the mode's own, plus the tuning
            options = {**list_mode_options(config.run.compile_mode), "coordinate_descent_tuning": True}
            model.compile(options=options, dynamic=False)
        else:
            model.compile(mode=config.run.compile_mode, dynamic=False)
    return method


def describe_runtime(config: Config, data: DatasetSplits, device: torch.device, amp: Any,
                     optimizer: torch.optim.Optimizer,
                     train_loader: InMemoryLoader | StreamingLoader) -> dict[str, Any]:
    """What a run resolved its ``auto`` settings to — device, data pipeline, precision, memory layout, compilation —
    as logged at its start and kept in its summary."""
    runtime: dict[str, Any] = {"device": str(device)}
    if device.type == "cuda":
        runtime["device_name"] = torch.cuda.get_device_name(device)
    if device.type == "cpu":  # (run.threads, or torch's default): a CPU run's figures depend on it
        runtime["threads"] = torch.get_num_threads()
    runtime["pipeline"] = "reference" if isinstance(train_loader, StreamingLoader) else "memory"
    if runtime["pipeline"] == "reference":
        runtime["workers"] = train_loader.workers
    runtime["amp"] = "bf16" if isinstance(amp, torch.autocast) else "off"
    runtime["channels_last"] = use_channels_last(config, data, device)
    runtime["compile"] = config.run.compile_mode if use_compile(config, device) else "off"
    if runtime["compile"] != "off" and config.run.compile_tuning:
        runtime["compile"] += "+tuning"
    runtime["fused_optimizer"] = bool(optimizer.defaults.get("fused"))
    if device.type == "cuda":
        runtime["cudnn_benchmark"] = config.run.cudnn_benchmark
        if config.run.cudnn_benchmark and config.run.cudnn_benchmark_limit is not None:
            runtime["cudnn_benchmark_limit"] = config.run.cudnn_benchmark_limit
    return runtime


def runtime_line(runtime: dict[str, Any]) -> str:
    """The log line of :func:`describe_runtime`'s settings. A switch reads on/off, as amp and compile already do;
    summary.json keeps the booleans themselves, which result files written earlier hold and their readers expect."""
    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    return "runtime: " + ", ".join(f"{key} {shown(value)}" for key, value in runtime.items())


def build_optimizer(config: Config, method: Method, device: torch.device) -> torch.optim.Optimizer:
    opt = config.optim
    params = [p for p in method.parameters() if p.requires_grad]
    fused = device.type == "cuda"
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay,
                               nesterov=opt.nesterov, fused=fused or None)
    return torch.optim.Adam(params, lr=opt.lr, weight_decay=opt.weight_decay, fused=fused or None)


def _for_this_optimizer(saved: dict[str, Any], optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``saved`` (an optimizer's state dict) with this optimizer's choice of kernels (fused, foreach) in its groups:
    a run resumed on another device takes that device's. Set before loading, as torch places state by them (Adam's
    step counts, say, go to the device for fused kernels)."""
    groups = [{**group, **{key: optimizer.defaults.get(key) for key in ("fused", "foreach") if key in group}}
              for group in saved["param_groups"]]
    return {**saved, "param_groups": groups}


def needs_two_per_batch(model: nn.Module) -> bool:
    """Whether training ``model`` on a batch of one example may fail: any BatchNorm whose input has one value per
    channel then (over features, as in VGG's classifier, or at 1×1 after a ResNet's last stride on small images)
    refuses to train on it. Any BatchNorm counts, whatever the input size: the models without one (mlp, cnn1d)
    keep every example."""
    return any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in model.modules())


def memory_pipeline_room(data: DatasetSplits, device: torch.device) -> tuple[int, int] | None:
    """(bytes the memory pipeline would put on ``device``, bytes free there) on CUDA; None elsewhere, where the
    data stay in host memory whichever pipeline runs."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return (data.x_train.numel() + data.x_test.numel()) * data.x_train.element_size(), free


def choose_pipeline(config: Config, data: DatasetSplits, device: torch.device) -> str:
    """``memory`` unless asked otherwise, or unless the training inputs would take over half the free device memory."""
    if config.data.pipeline != "auto":
        return config.data.pipeline
    room = memory_pipeline_room(data, device)
    if room is not None and room[0] > room[1] // 2:
        return "reference"
    return "memory"


def auto_pipeline_note(data: DatasetSplits, device: torch.device) -> str:
    """Why ``data.pipeline=auto`` gave a run the slower reference pipeline, for its log: the fast path is what a
    GPU run expects, so a fall-back says what made it and how to refuse it."""
    room = memory_pipeline_room(data, device)
    sizes = f" ({room[0] / 2**30:.2f} GiB of data, {room[1] / 2**30:.2f} GiB free on {device})" if room else ""
    return (f"data.pipeline=auto chose the reference pipeline, as the data would take over half the free {device.type} "
            f"memory{sizes}; data.pipeline=memory puts them there regardless")


def _pipeline(config: Config, data: DatasetSplits, device: torch.device, *,
              chosen: str | None = None) -> tuple[type[InMemoryLoader] | type[StreamingLoader], dict[str, Any]]:
    """The configured pipeline's loader class, and the settings that its training and test loaders share.
    ``chosen``: the pipeline (``memory`` or ``reference``) a run's other loaders already took."""
    common = {"mean": data.mean, "std": data.std, "device": device,
              "channels_last": use_channels_last(config, data, device)}
    if (chosen or choose_pipeline(config, data, device)) == "memory":
        return InMemoryLoader, common
    common["workers"] = loader_workers(config.data.workers)
    return StreamingLoader, common


@contextlib.contextmanager
def _data_on_device(config: Config, data: DatasetSplits, device: torch.device, *, in_memory: bool):
    """Within the block loaders are made: the memory pipeline copies its splits to the device, where failing to
    allocate is the data's size, not a slip, and stops in one line saying so."""
    try:
        yield
    except (RuntimeError, MemoryError) as exc:
        if not (in_memory and out_of_memory(exc)):
            raise
        raise ConfigError(f"data.pipeline={config.data.pipeline}: the {data.name} data do not fit in {device.type} "
                          f"memory ({first_line(exc)}); use data.pipeline=reference, which keeps them in host "
                          "memory") from None


def make_loaders(config: Config, data: DatasetSplits, labels: torch.Tensor, device: torch.device, *,
                 skip_lone_last: bool = False,
                 train_index: torch.Tensor | None = None) -> tuple[InMemoryLoader | StreamingLoader,
                                                                   InMemoryLoader | StreamingLoader]:
    """The training and test loaders. ``skip_lone_last``: an epoch that would end on a batch of one example
    skips it (a different one each epoch, the order being shuffled), for a model that cannot train on one.
    ``train_index``: the positions in the training split of the examples to train on (the others being a
    validation split), ``labels`` holding one label per position; None: every example, one label each. A batch's
    ``idx`` counts the examples trained on, as the method's per-example state does."""
    augment = config.data.augment
    if augment == "auto":
        augment = "crop_flip" if data.kind == "image" else "none"
    if augment == "crop_flip" and data.kind != "image":
        raise ConfigError(f"data.augment=crop_flip needs images, but {data.name} holds {data.kind} data")
    loader_type, common = _pipeline(config, data, device)
    lone_last = skip_lone_last and len(labels) > 1 and len(labels) % config.data.batch_size == 1
    x_train = data.x_train if train_index is None else data.x_train[train_index]
    with _data_on_device(config, data, device, in_memory=loader_type is InMemoryLoader):
        train = loader_type(x_train, labels, batch_size=config.data.batch_size, shuffle=True, augment=augment,
                            seed=config.run.seed, drop_last=lone_last, **common)
        test = loader_type(data.x_test, data.y_test, batch_size=config.data.eval_batch_size, shuffle=False, **common)
    return train, test


def make_test_loader(config: Config, data: DatasetSplits, device: torch.device) -> InMemoryLoader | StreamingLoader:
    """The test loader of :func:`make_loaders` alone, for an evaluation: a loader holds a copy of its split (the
    memory pipeline's on the device), and an evaluation reads no training example."""
    loader_type, common = _pipeline(config, data, device)
    with _data_on_device(config, data, device, in_memory=loader_type is InMemoryLoader):
        return loader_type(data.x_test, data.y_test, batch_size=config.data.eval_batch_size, shuffle=False, **common)


def make_val_loader(config: Config, noisy: NoisyDataset, device: torch.device, *,
                    pipeline: str) -> InMemoryLoader | StreamingLoader | None:
    """The loader of a run's validation split (``noisy.val_index``), with the labels given for it (noise and all,
    as a user has them), on ``pipeline`` (``memory`` or ``reference``, the run's other loaders'); None where the run
    holds none out."""
    if noisy.val_index is None:
        return None
    data = noisy.data
    loader_type, common = _pipeline(config, data, device, chosen=pipeline)
    with _data_on_device(config, data, device, in_memory=loader_type is InMemoryLoader):
        return loader_type(data.x_train[noisy.val_index], noisy.labels[noisy.val_index],
                           batch_size=config.data.eval_batch_size, shuffle=False, **common)


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    """An epoch's metrics in one line, for a run without progress bars."""
    tested = f", test accuracy {100 * row['test_accuracy']:.2f} %" if "test_accuracy" in row else ""
    if "val_accuracy" in row:
        # against the split's given labels, noise and all: a log read on its own does not say so elsewhere
        tested += f", validation accuracy {100 * row['val_accuracy']:.2f} % (given labels)"
    return f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f}{tested}, {row['epoch_seconds']:.1f} s"


# torch's BatchNorm refusal of a batch with one value per channel (torch.nn.functional._verify_batch_size)
_ONE_VALUE_PER_CHANNEL = "Expected more than 1 value per channel when training"

# Epochs with at least this many steps get a per-batch progress bar under the per-epoch one.
BATCH_BAR_MIN_STEPS = 100


def _step_result(method: Method, result: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``training_step``'s result as (scalar loss, dict of scalar tensors), with a metric given as a number (Python's
    or NumPy's) turned into a tensor, and ``loss`` the returned loss where the metrics leave it out. A method of one's
    own that returns anything else stops with one line naming what it returned, instead of failing inside the engine.
    Adds no tensor operation to a step that returns 0-d tensors and its loss (``benchmarks/step_ops.py`` counts
    them)."""
    step = f"{type(method).__name__}.training_step"
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        raise TrainingError(f"{step} returned {_described(result)}; expected a tuple (loss, dict of metrics)")
    loss, metrics = result
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TrainingError(f"{step} returned as its loss {_described(loss)}; expected a scalar tensor")
    if not loss.requires_grad:  # backward() would fail on it, in a traceback from inside the engine
        raise TrainingError(f"{step} returned a loss that carries no gradient (detached, or computed under "
                            "torch.no_grad); expected one computed from the model's outputs")
    checked = {}
    for key, value in metrics.items():
        # NumPy's scalars are numbers too (an accuracy worked out with NumPy): a bool, Python's or NumPy's, is none
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            # a fill on the device: torch.tensor(number, device=...) would copy from the host and wait for it
            value = torch.full((), float(value), dtype=torch.float32, device=loss.device)
        elif not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise TrainingError(f"{step}'s metric {key!r} is {_described(value)}; expected a scalar tensor or a "
                                "number")
        checked[key] = _scalar(value)
    loss = _scalar(loss)
    if "loss" not in checked:  # the engine's divergence check and epoch line read it: a method need not report it
        checked = {"loss": loss.detach(), **checked}
    return loss, checked


# the columns of metrics.csv that the engine fills in itself: a method's metric of the same name would overwrite one
# (a statistic named test_accuracy would become the run's final test accuracy), or be overwritten without a word
_ENGINE_COLUMNS = ("epoch", "lr", "test_loss", "test_accuracy", "val_loss", "val_accuracy", "val_clean_accuracy",
                   "eval_seconds", "train_pass_seconds", "epoch_seconds")


def _train_columns(method: Method, train: dict[str, float]) -> dict[str, float]:
    """The epoch's training metrics as the ``train_*`` columns; one that would take an engine column's name is one
    line naming it."""
    taken = [key for key in train if f"train_{key}" in _ENGINE_COLUMNS]
    if taken:
        raise TrainingError(f"{type(method).__name__}.training_step's metric {taken[0]!r} would be the column "
                            f"'train_{taken[0]}', which satlearn fills in itself; give it another name")
    return {f"train_{key}": value for key, value in train.items()}


def _statistic_columns(method: Method, statistics: Any, train: dict[str, float]) -> dict[str, Any]:
    """``epoch_metrics``'s result as columns: a dict of numbers (a bool too; a one-element tensor as its float; None
    where a statistic is undefined), under names of their own. Anything else is one line naming the method and what it
    returned, instead of a failure in writing metrics.jsonl or a column overwritten."""
    where = f"{type(method).__name__}.epoch_metrics"
    if not isinstance(statistics, dict):
        raise TrainingError(f"{where} returned {_described(statistics)}; expected a dict of per-epoch statistics")
    taken = {*_ENGINE_COLUMNS, *(f"train_{name}" for name in train)}
    columns = {}
    for key, value in statistics.items():
        if key in taken:
            raise TrainingError(f"{where}'s statistic {key!r} has the name of a column satlearn fills in itself or "
                                "of a training metric; give it another name")
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = float(value)
        elif value is not None and not isinstance(value, numbers.Real):  # (a bool, a flag of the epoch, is one)
            raise TrainingError(f"{where}'s statistic {key!r} is {_described(value)}; expected a number, a "
                                "one-element tensor or None")
        columns[key] = value
    return columns


def _scalar(value: torch.Tensor) -> torch.Tensor:
    return value if value.dim() == 0 else value.reshape(())


def _described(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def train_one_epoch(method: Method, optimizer: torch.optim.Optimizer, loader, epoch: int, *,
                    amp: Any = None, progress: bool = False) -> dict[str, float]:
    """One pass over ``loader``; returns the example-weighted means of the method's metrics (one device sync), with
    ``loss`` the mean of the returned loss where the method's metrics leave it out."""
    method.train()
    keys: list[str] | None = None
    sums: torch.Tensor | None = None  # one tensor for all metrics: two kernels a step however many there are
    seen = 0
    batches = loader.epoch(epoch)
    if progress and len(loader) >= BATCH_BAR_MIN_STEPS:
        batches = tqdm(batches, total=len(loader), desc=f"epoch {epoch + 1}", unit="batch", leave=False,
                       position=1, dynamic_ncols=True)
    for batch in batches:
        try:
            with amp if amp is not None else contextlib.nullcontext():
                loss, metrics = _step_result(method, method.training_step(batch, epoch))
        except ValueError as exc:
            if len(batch[2]) == 1 and str(exc).startswith(_ONE_VALUE_PER_CHANNEL):
                # a training split of one example is a batch of one whatever the batch size
                remedy = ("the training split holds only this one example; give it at least 2"
                          if loader.num_examples == 1 else "use data.batch_size >= 2")
                raise TrainingError(f"epoch {epoch + 1}: a batch of one example cannot train this model (a BatchNorm "
                                    f"layer would see one value per channel); {remedy}") from None
            raise
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        size = len(batch[2])
        seen += size
        values = torch.stack([value.detach().float() for value in metrics.values()])
        if sums is None:
            keys, sums = list(metrics), values * size
        else:
            if list(metrics) != keys:
                raise TrainingError(f"epoch {epoch + 1}: the method's metrics changed within the epoch "
                                    f"({keys} → {list(metrics)})")
            sums.add_(values, alpha=size)
    if sums is None:
        return {}
    return dict(zip(keys, (sums / seen).tolist()))


@torch.no_grad()
def evaluate(method: Method, loader: InMemoryLoader | StreamingLoader, *, amp: Any = None,
             clean_labels: torch.Tensor | None = None) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``method``'s predictions over ``loader`` (eval mode). ``clean_labels``:
    the true labels of the loader's examples, in its order, where its own may be wrong (a validation split's given
    labels); adds ``clean_accuracy``, the accuracy against them."""
    was_training = method.training
    method.eval()
    loss_sum = torch.zeros((), device=loader.device)
    correct = torch.zeros((), device=loader.device)
    if clean_labels is not None:
        clean_labels = clean_labels.to(loader.device)
        correct_clean = torch.zeros((), device=loader.device)
    for x, y, idx in loader.epoch(0):
        with amp if amp is not None else contextlib.nullcontext():
            logits = method(x)
        logits = logits.float()[:, : method.num_classes]
        loss_sum += torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        predicted = logits.argmax(dim=1)
        correct += (predicted == y).sum()
        if clean_labels is not None:
            correct_clean += (predicted == clean_labels[idx.to(loader.device)]).sum()
    method.train(was_training)
    n = loader.num_examples
    result = {"loss": float(loss_sum) / n, "accuracy": float(correct) / n}
    if clean_labels is not None:
        result["clean_accuracy"] = float(correct_clean) / n
    return result


def _default_run_dir(config: Config) -> Path:
    name = config.run.name or f"{config.method.name}-{config.data.source}-{datetime.now():%Y%m%d-%H%M%S}"
    # a run.name ~x in run.out_dir . is the path ~x to pathlib: kept the folder it is wherever it is read again
    return literal_path(user_path(config.run.out_dir) / name)


def _during_an_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a KeyboardInterrupt was being handled (or while it was raised)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


def _prepare_run_dir(run_dir: Path, *, resume: bool) -> None:
    """Checks ``run_dir`` and creates it for a new run; called once the run holds the directory, and for one not
    there yet first, to create the directory the lock is taken on (another process may write there in between)."""
    if resume:
        if not (run_dir / CHECKPOINT_NAME).exists():
            raise TrainingError(f"{run_dir}: nothing to resume (no {CHECKPOINT_NAME})")
        return
    if (run_dir / CHECKPOINT_NAME).exists():
        if (run_dir / "summary.json").exists():  # a resumption would be refused: nothing is left to train
            raise FinishedRunHere(f"{run_dir}: already holds a run, which has finished (its results are in "
                                  "summary.json); choose another run.name / run directory")
        raise UnfinishedRunHere(
            f"{run_dir}: already holds a run; resume it (train --resume; in Python, fit(..., resume=True)) or choose "
            "another run.name / run directory"
        )
    make_output_dir(run_dir, what="run directory", create=False)  # a file in the way is named as such
    # files of the names training writes, but not a run's: the user's own, which a new run would overwrite. A run
    # stopped before its first checkpoint is started again in place, as its interruption message says.
    clashing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if clashing and not started_without_checkpoint(run_dir):
        raise TrainingError(f"{run_dir}: already holds {', '.join(clashing)}, which a new run would overwrite; choose "
                            "another run directory or run.name")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise TrainingError(f"{run_dir}: run directory is not writable ({exc.strerror or exc})") from None


def _clear_partial_writes(run_dir: Path) -> None:
    """Removes what a process killed mid-write left (atomic_write_bytes' ``.NAME.<hex>.tmp``) of the files training
    writes only, as another command may be writing its own output here right now."""
    for name in (*RUN_FILES, BEST_PENDING_NAME):
        for partial in run_dir.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                partial.unlink()


def _clear_stopped_attempt(run_dir: Path) -> None:
    """Removes what an attempt stopped before its first checkpoint wrote, when the run starts again in its place:
    its metrics (and any other output) are not the new run's, and the new run may be configured otherwise."""
    for name in (*RUN_FILES, BEST_PENDING_NAME):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    _clear_partial_writes(run_dir)


# the descriptors of the run-directory locks this process holds (hold_run_dir)
_HELD_RUN_DIR_LOCKS: set[int] = set()


def _drop_held_locks_in_child() -> None:
    """In a child forked while a run trains (the reference pipeline's loader workers), closes its copies of the lock
    descriptors: a flock lasts while any copy is open, so a worker outliving a killed training process (for
    seconds) would keep the run locked against its resumption. Closed, not unlocked: an unlock would release the
    training process's lock too, which the copies share."""
    for fd in _HELD_RUN_DIR_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_RUN_DIR_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_held_locks_in_child)


@contextlib.contextmanager
def hold_run_dir(run_dir: Path, *, resume: bool):
    """Within the block this process alone trains in ``run_dir``: a second ``fit`` there (a double-started job, a
    resume while the run still trains) stops, after :data:`~satlearn.engine.checkpoint.LOCK_WAIT_S`, instead of
    overwriting its checkpoints. An advisory lock on the directory itself (no lock file to leave behind), released when
    the process ends however it ends (processes it forks do not hold it); where the OS has no ``flock`` (Windows) there
    is no lock.
    ``resume``: the refusal's advice is for a resumption."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(run_dir, os.O_RDONLY)
    _HELD_RUN_DIR_LOCKS.add(fd)
    try:
        if lock_soon(fd) is False:
            advice = ("let it finish (or stop it), then resume" if resume else
                      "wait for it to finish (or stop it), or choose another run.name / run directory")
            raise RunDirectoryBusy(f"{run_dir}: another process is training this run; {advice}")
        yield
    finally:
        _HELD_RUN_DIR_LOCKS.discard(fd)
        os.close(fd)


def refuse_if_trained_elsewhere(run_dir: Path, *, resume: bool) -> None:
    """Raises :class:`RunDirectoryBusy` where another process trains in ``run_dir`` (see :func:`hold_run_dir`),
    before a command checks or writes anything there. The lock is released at once, so that the training this
    process then starts takes it again."""
    with hold_run_dir(run_dir, resume=resume):
        pass


class RunDirectoryBusy(TrainingError):
    """Another process holds the run directory: it is theirs, so nothing in it is touched, not even to tidy up."""


class UnfinishedRunHere(TrainingError):
    """A new run refused in a directory that holds an unfinished run (a checkpoint, no summary.json): the command
    that resumes it can be named."""


class FinishedRunHere(TrainingError):
    """A new run refused in a directory that holds a finished run (a checkpoint and summary.json)."""


class RunFinished(TrainingError):
    """A resumption refused as the run has trained all its epochs and its outputs are whole: there is nothing left
    to do, which a command that starts or resumes alike reports as done."""


def demo_running_in(folder: Path) -> bool:
    """Whether the lock that another process holds on ``folder`` is a demo's on its output folder (which holds the
    demo's request from its start, and no run of its own) rather than a training's on its run directory."""
    from satlearn.demo import REQUEST_NAME  # (the demo imports this module)

    return (folder / REQUEST_NAME).exists() and not (folder / "config.yaml").exists()


def started_elsewhere(run_dir: Path) -> str | None:
    """What a command reading a run says of ``run_dir`` where it finds none there, as a run just started by another
    process looks until it has loaded its data (its first file comes after that: minutes for a download); None
    where no process trains there, for the command's own message."""
    try:
        refuse_if_trained_elsewhere(run_dir, resume=True)
    except RunDirectoryBusy:
        if demo_running_in(run_dir):
            return (f"{run_dir}: the output of a demo still running, a folder of runs rather than one run; expected "
                    f"one run's directory, such as {run_dir / 'sat'}")
        return (f"{run_dir}: another process has started a run here and is still loading its data; it has written "
                "nothing yet")
    except OSError:  # no such directory, or one that cannot be opened: the command's own message says so
        pass
    return None


def _finite_weights(method: Method) -> bool:
    """Whether every parameter and every float buffer of the model (BatchNorm's running statistics) is finite, in
    one device sync. (The targets table is the method's, kept finite by its update; it can be large to read.)"""
    tensors = [*method.parameters(), *(b for b in method.model.buffers() if b.is_floating_point())]
    # the largest magnitude of each, reduced in place (no |t| copy), NaN and Inf carried through
    peaks = [torch.linalg.vector_norm(t.detach(), ord=float("inf")).float() for t in tensors if t.numel()]
    return not peaks or bool(torch.stack(peaks).isfinite().all())


def _same_setting(a: Any, b: Any) -> bool:
    # a config saved before non-finite values were refused may hold NaN, which equals nothing, not even itself
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def config_differences(saved: dict[str, Any], current: dict[str, Any], prefix: str = "", *,
                       free: Collection[str] = RESUME_FREE_KEYS) -> list[str]:
    """``"key: run has A, now B"`` for every setting (of two :func:`satlearn.config.to_dict` trees) in which a run's
    own config and ``current`` differ, less the ``free`` keys (:data:`RESUME_FREE_KEYS`): what makes ``current``
    another training than the run's, which a resumption refuses."""
    out = []
    for key in sorted(set(saved) | set(current)):
        path = f"{prefix}{key}"
        a, b = saved.get(key), current.get(key)
        # a mapping the run's version did not have yet (method.settings) was empty: only the keys in it now differ
        if key not in saved and isinstance(b, dict):
            a = {}
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(config_differences(a, b, f"{path}.", free=free))
        elif key not in saved and b is not None and path not in free:
            # a setting added since the run started (to its method's Settings, say); one that is None now is taken
            # as the run's, as a run's config written before a key existed reads as that key's None
            out.append(f"{path}: the run has no such setting, now {b!r}")
        elif not _same_setting(a, b) and path not in free:
            out.append(f"{path}: run has {a!r}, now {b!r}{_WHY_FIXED.get(path, '')}")
    return out


# why a setting that changes no training result may not change on resumption all the same
_WHY_FIXED = {"run.keep_best": ", but a run keeps the best epoch's weights from its start or not at all"}


# Keys added since runs were first saved, each with the value that does what runs did before it: a run saved without
# one resumes as if it had been given that value. Only keys listed here: a key added with a default that changes what
# runs do (data.pipeline's auto, run.channels_last's null) is a real difference, and stays refused.
KEYS_ADDED_SINCE = {"data.ignore_columns": [], "run.keep_best": False,
                    # a run held no validation split out
                    "data.val_size": 0, "data.val_pick": "random",
                    # a compiled model was compiled in torch's default mode, without tuning its kernels
                    "run.compile_mode": "default", "run.compile_tuning": False}


def _with_keys_added_since(saved: dict[str, Any]) -> dict[str, Any]:
    """A run's saved config with each of :data:`KEYS_ADDED_SINCE` that its version did not have yet at its earlier
    behaviour's value."""
    out = copy.deepcopy(saved)
    for key, value in KEYS_ADDED_SINCE.items():
        section, name = key.split(".")
        if isinstance(out.get(section), dict):
            out[section].setdefault(name, copy.deepcopy(value))
    return out


def listed_differences(differences: list[str], *, shown: int = 3) -> str:
    """The first ``shown`` of :func:`config_differences`, for a one-line error, and how many more there are."""
    more = len(differences) - shown
    return "; ".join(differences[:shown]) + (f"; and {more} more" if more > 0 else "")


def resumed_run_place(run_dir: str | Path) -> tuple[str, str]:
    """The ``run.out_dir`` and ``run.name`` that a run resumed in ``run_dir`` records: the folder it is in now and
    its name there. The ones it was started under play no part: it may have been moved, been time-stamped (a config
    without ``run.name`` would record none), or been named in a way no longer accepted (an absolute path)."""
    where = user_path(run_dir).resolve()
    return str(where.parent), where.name


def resumed_run_place_overrides(run_dir: str | Path) -> list[str]:
    """:func:`resumed_run_place` as ``--set`` overrides, to be given before the config is checked: the name the run
    was started under may be one no longer accepted."""
    out_dir, name = resumed_run_place(run_dir)
    return config_lib.overrides_from_dict({"run": {"name": name, "out_dir": out_dir}})


def kept_best(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The record, in a run's checkpoint, of the best epoch whose weights ``run.keep_best`` keeps: the one of best
    validation accuracy for a run with a validation split (``best_val``), else the one of best test accuracy
    (``best``). Its ``epoch`` is 0 before any epoch is evaluated."""
    return checkpoint.get("best_val") or checkpoint["best"]


def kept_best_chosen_by(checkpoint: dict[str, Any]) -> str:
    """The split that picked the epoch of :func:`kept_best`: ``val`` for a run with a validation split, else
    ``test``."""
    return "val" if checkpoint.get("best_val") else "test"


def _checked_stop(stop_after_epoch: Any) -> int | None:
    """``fit``'s ``stop_after_epoch`` as a plain int, checked before anything is written: a count of none or fewer
    epochs would leave a run directory with nothing trained, and a fraction fail in the loop."""
    if stop_after_epoch is None:
        return None
    if not is_whole_number(stop_after_epoch) or stop_after_epoch < 1:
        raise count_error(f"stop_after_epoch={stop_after_epoch!r}; expected a whole number of epochs, 1 or more",
                          stop_after_epoch)
    return int(stop_after_epoch)


def fit(config: Config, run_dir: str | Path | None = None, *, resume: bool = False,
        dataset: DatasetSplits | None = None, stop_after_epoch: int | None = None,
        log: Callable[[str], None] | None = None, progress: bool | None = None) -> RunResult:
    """Trains ``config`` and writes a run directory; returns the summary, history and trained method (in eval mode).

    Args:
        config: a :class:`satlearn.config.Config` (from :func:`satlearn.config.load_config`, or built in code:
            it is checked as load_config checks, and refused with a ConfigError). The run trains on, and saves, a
            checked copy with the method's settings filled in; the object passed is left as it was.
        run_dir: where to write (default ``run.out_dir/run.name``; without a ``run.name``, a new directory
            ``<method>-<source>-<time>``, ``-2``, ``-3``, ... added for runs started in the same second, whose name
            the run's config records).
        resume: continue the run in ``run_dir`` (given, or ``run.out_dir/run.name``; a ConfigError without
            either) from its checkpoint; ``config`` must match the run's own. Its ``run.out_dir`` and ``run.name``
            are taken from ``run_dir`` (:func:`resumed_run_place`), as ``train --resume`` takes them.
        dataset: use these splits instead of loading ``config.data.source`` (the noise model still applies).
        stop_after_epoch: stop (with a checkpoint) once this many epochs are complete — for staged runs; a whole
            number, 1 or more (a ConfigError otherwise).
        log: receives one-line messages (default: printed above the progress bar).
        progress: show the progress bars (False: one line per epoch instead) in this call, whatever ``run.progress``
            says, without recording it in the run's config: a choice made for where the output goes (a log file)
            rather than for the run. None: as ``run.progress`` says.

    The run seeds the global random generators (Python's, NumPy's, torch's) with ``run.seed``; once it returns or
    raises, they are as the caller left them, as are torch's CPU thread count and cuDNN settings.
    """
    _refuse_a_spawned_process_rerunning_the_script()
    stop_after_epoch = _checked_stop(stop_after_epoch)
    if progress is not None and not isinstance(progress, bool):
        raise ConfigTypeError(f"progress={progress!r}; expected True, False or None")
    # one built in code has not been through load_config: checked, and the method's settings filled in, in a copy
    config = config_lib.check(config, source="fit's config")
    time_stamped = run_dir is None and config.run.name is None
    if resume and time_stamped:  # a new time-stamped name would be a directory that holds no run to go on with
        raise ConfigError("fit(resume=True): no run_dir given and run.name is null; expected the directory of the "
                          "run to resume as run_dir")
    run_dir = user_path(run_dir) if run_dir is not None else _default_run_dir(config)
    if resume:  # the config it was given may name no run, or another: the run stays where it is
        config.run.out_dir, config.run.name = resumed_run_place(run_dir)
    # the directories this call creates: the run directory and any missing parents (run.out_dir/...)
    created = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    try:
        if time_stamped:
            run_dir = claim_new_dir(run_dir, what="run directory")
            created = [run_dir, *(d for d in created if d in run_dir.parents)]
            config.run.name = run_dir.name  # the name taken, in the run's config.yaml and checkpoint
        # an existing directory is locked before it is checked: one that another process trains holds a run that
        # a --resume, as the check's refusal advises, would not get either
        if not run_dir.is_dir():
            _prepare_run_dir(run_dir, resume=resume)  # checks, then creates the directory the lock is taken on
        with hold_run_dir(run_dir, resume=resume):
            _prepare_run_dir(run_dir, resume=resume)
            if not resume and started_without_checkpoint(run_dir):
                _clear_stopped_attempt(run_dir)
            else:  # a new run's too: one killed writing labels.npz, its first file, left only that write
                _clear_partial_writes(run_dir)
            with cudnn_autotuning(config.run.cudnn_benchmark, limit=config.run.cudnn_benchmark_limit), \
                    cpu_threads(config.run.threads), random_state_kept():
                return _fit(config, run_dir, resume=resume, dataset=dataset, stop_after_epoch=stop_after_epoch,
                            log=log, progress=config.run.progress if progress is None else progress)
    except RunDirectoryBusy:  # the directory may be the other process's, still empty while it loads
        raise
    except BaseException:
        # a run that failed before writing anything (bad data, say) leaves no empty directories behind
        for directory in created:  # innermost first; rmdir leaves any that are not empty
            try:
                directory.rmdir()
            except OSError:
                break
        raise


def _resumption_caveats(checkpoint: dict[str, Any], config: Config, device: torch.device,
                        runtime: dict[str, Any]) -> list[str]:
    """What makes a run resumed from ``checkpoint`` with ``config`` continue differently from an uninterrupted one,
    on ``device`` with ``runtime`` (what its ``auto`` settings resolved to now)."""
    caveats = []
    threads_before = checkpoint.get("threads")
    if device.type == "cpu" and threads_before is not None and threads_before != torch.get_num_threads():
        used = f"{threads_before} CPU thread" + ("s" if threads_before != 1 else "")
        caveats.append(f"the run used {used} and resumes on {torch.get_num_threads()} "
                       "(run.threads): sums round differently, so it continues close to, not bit-exactly like, "
                       "an uninterrupted run")
    device_before = checkpoint.get("runtime", {}).get("device")
    if device_before is not None and torch.device(device_before).type != device.type:
        caveats.append(f"the run trained on {device_before} and resumes on {device}: precision (run.amp=auto), "
                       "compilation and the rounding of sums may differ from here on, so it continues close to, "
                       "not exactly like, an uninterrupted run")
    pipeline_before = checkpoint.get("runtime", {}).get("pipeline")
    if pipeline_before is not None and pipeline_before != runtime["pipeline"]:
        caveats.append(f"the run trained on the {pipeline_before} pipeline and resumes on the "
                       f"{runtime['pipeline']} one (data.pipeline=auto, with other free device memory): batches "
                       "are drawn differently from here on")
    # the test loss is summed batch by batch, and a model's logits may round with the batch size: the training
    # is the same, the figures it is judged by (and so the best epoch) not quite
    eval_batch_before = checkpoint.get("config", {}).get("data", {}).get("eval_batch_size")
    if eval_batch_before is not None and eval_batch_before != config.data.eval_batch_size:
        caveats.append(f"the run evaluated in batches of {eval_batch_before} and resumes in batches of "
                       f"{config.data.eval_batch_size} (data.eval_batch_size): training is unchanged, but the test "
                       "figures from here on may differ from an uninterrupted run's in their last digits")
    return caveats


def _write_labels(run_dir: Path, noisy: NoisyDataset) -> None:
    """``labels.npz``: the training labels the learner sees, the source's, the class names and where each example
    is in the user's data, which find-issues and compare read; with a validation split, the positions of the
    examples trained on (``train_index``, whose order the per-example outputs follow) and held out
    (``val_index``)."""
    split = {} if noisy.val_index is None else {"train_index": noisy.train_index.numpy(),
                                                "val_index": noisy.val_index.numpy()}
    atomic_write_bytes(run_dir / "labels.npz", lambda f: np.savez(
        f, labels=noisy.labels.numpy(), clean_labels=noisy.clean_labels.numpy(),
        class_names=np.array(noisy.data.class_names), **noisy.data.origin_arrays(), **split))


def _damaged_outputs(run_dir: Path) -> str | None:
    """What is wrong with the outputs of a finished run (one with a ``summary.json``), in words: a summary that
    cannot be read, or a file it wrote that is gone since (removed by hand, say), which find-issues and compare need
    and its checkpoint can give again; None where they are whole."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = None
    if not isinstance(summary, dict):
        return "its summary.json cannot be read"
    # (a run whose method keeps soft targets counts its flagged labels in the summary)
    written = ["labels.npz", "curves.png",
               *(("refined_labels.csv", "soft_targets.npy") if "label_issues" in summary else ())]
    gone = [name for name in written if not (run_dir / name).exists()]
    if not gone:
        return None
    return f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} gone"


def _start_new_run(config: Config, run_dir: Path, noisy: NoisyDataset, log: Callable[[str], None]) -> None:
    """Writes a new run's training labels (``labels.npz``, its first file) and logs what the run trains on: its
    directory, the data's notes, the label noise drawn and the settings it leaves unused."""
    data = noisy.data
    _write_labels(run_dir, noisy)
    log(f"run directory: {run_dir}")
    for note in data.notes:
        log(f"note: {note}")
    if noisy.val_index is not None:
        pick = (f"drawn with data.data_seed {config.data.data_seed}" if config.data.val_pick == "random"
                else "the last ones in the training split's order")
        log(f"validation split: {len(noisy.val_index)} of the {len(noisy.labels)} training examples held out "
            f"({pick}), with their given labels; {len(noisy.labels) - len(noisy.val_index)} train")
    # a source whose class set is fixed in advance (MNIST-1D's digits, CIFAR's) may give a small split that lacks
    # some; noise may also take every label from a class
    counts = torch.bincount(noisy.trained_labels, minlength=data.num_classes)
    unseen = [data.class_names[c] for c in torch.nonzero(counts == 0).flatten().tolist()]
    if unseen:
        shown = ", ".join(unseen[:10]) + (f" and {len(unseen) - 10} more" if len(unseen) > 10 else "")
        log(f"note: no training label is {shown} (of {data.num_classes} classes): the model cannot learn to "
            f"predict {'it' if len(unseen) == 1 else 'them'}")
    noise = config.data.noise
    if noise.kind != "none":
        # a file's labels are used as they are: its rate is the one measured, not a setting
        given = f"file {noise.file}" if noise.kind == "file" else f"{noise.kind} (rate {noise.rate})"
        log(f"label noise {given}: actual error rate {noisy.actual_noise_rate:.2%} of {len(noisy.labels)} "
            "training labels")
        if noise.kind == "pair" and noise.rate >= 0.5:
            log(f"note: pair noise at rate {noise.rate} gives at least half the examples of each paired class "
                "their partner's label: the labels then favour the wrong class, or neither, which no method can "
                "be expected to see through")
    for key, switch, _ in config_lib.unused_settings(config):  # a --set of one is refused; the file's are told
        log(f"note: {config_lib.describe_unused(config, key, switch)} (unused)")


def _refuse_a_spawned_process_rerunning_the_script() -> None:
    """A process started by spawning or by a fork server, as the reference pipeline's data workers start on macOS,
    on Windows and, from Python 3.14, on Linux, first runs the main script again. One that trains outside
    ``if __name__ == "__main__":`` would then start a run in each worker, each in a new time-stamped run directory,
    before Python stops the worker as it starts its own."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):  # (Python's own mark of that re-run)
        raise TrainingError("fit was called again while a data worker process ran the main script, as a worker "
                            "started by spawning or a fork server does; put the script's training under "
                            "if __name__ == \"__main__\": so that it runs once")


def _fit(config: Config, run_dir: Path, *, resume: bool, dataset: DatasetSplits | None,
         stop_after_epoch: int | None, log: Callable[[str], None] | None, progress: bool) -> RunResult:
    fit_started = time.perf_counter()
    log = log or (lambda message: tqdm.write(message))

    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(run_dir)
        saved = _with_keys_added_since(checkpoint["config"])
        differences = config_differences(saved, config_lib.to_dict(config))
        if differences:
            raise TrainingError(f"{run_dir}: cannot resume with a different config ({listed_differences(differences)})")
        if checkpoint["epoch"] >= config.run.epochs and (run_dir / "summary.json").exists():
            # (without summary.json the run stopped between its last checkpoint and its outputs: resume writes them)
            damaged = _damaged_outputs(run_dir)
            if damaged is None:
                done = "its one epoch" if config.run.epochs == 1 else f"all {config.run.epochs} epochs"
                raise RunFinished(f"{run_dir}: the run already finished {done}; nothing to resume (its results "
                                    "are in summary.json)")
            log(f"{run_dir}: the run finished all its epochs, but {damaged}; its outputs are written again from "
                f"{CHECKPOINT_NAME}")

    device = resolve_device(config.run.device)
    amp = autocast(device, config.run.amp)

    if checkpoint is None:
        noisy = prepare_data(config, dataset, progress=progress)
        noisy.data.check_every_class_is_trained()  # (a run trained before this rule still resumes)
        noisy.val_index = hold_out(noisy.data, config.data.val_size, pick=config.data.val_pick,
                                   seed=config.data.data_seed)
        fingerprint = data_fingerprint(noisy.data)
    else:
        noisy, fingerprint = run_data(config, checkpoint, run_dir, doing="resume", dataset=dataset,
                                     progress=progress)
    data = noisy.data
    # a run on given splits stays one when resumed without them, from its source's copy (find-issues --config's)
    given_before = checkpoint is not None and bool(checkpoint.get("data_given"))
    data_given = dataset is not None or given_before
    given_splits_from_source = (loaded_with(dataset, config) if dataset is not None
                                else given_before and checkpoint.get("given_splits_from_source", True))

    seed_everything(config.run.seed)
    # the method's per-example state and the training loader cover the examples trained on (all, without a
    # validation split), in the order of their positions in the training split
    trained_labels = noisy.trained_labels
    method = build_method(config, data, trained_labels, device)
    optimizer = build_optimizer(config, method, device)
    train_loader, test_loader = make_loaders(config, data, trained_labels, device,
                                             skip_lone_last=needs_two_per_batch(method), train_index=noisy.train_index)
    runtime = describe_runtime(config, data, device, amp, optimizer, train_loader)
    val_loader = make_val_loader(config, noisy, device, pipeline=runtime["pipeline"])
    known = knows_true_labels(config.data.noise.kind)
    val_clean = noisy.clean_labels[noisy.val_index] if val_loader is not None and known else None

    history: list[dict[str, Any]] = []
    start_epoch = 0
    best = {"test_accuracy": -1.0, "epoch": 0}
    # with a validation split, the epoch of best validation accuracy (against its given labels, as a user can pick
    # one), and its test accuracy: the epoch whose weights run.keep_best keeps
    best_val = {"val_accuracy": -1.0, "test_accuracy": None, "epoch": 0} if val_loader is not None else None
    earlier_wall = 0.0  # the training loop's wall time in earlier processes, up to the checkpoint resumed from
    resumptions: list[dict[str, Any]] = []  # after which epoch each resumption began, and its caveats
    if checkpoint is not None:
        method.load_state_dict(checkpoint["method"])
        optimizer.load_state_dict(_for_this_optimizer(checkpoint["optimizer"], optimizer))
        set_rng_state(checkpoint["rng"])
        history = checkpoint["history"]
        best = checkpoint["best"]
        best_val = checkpoint.get("best_val", best_val)
        start_epoch = checkpoint["epoch"]
        if config.run.keep_best:  # a process stopped after writing the weights of a best epoch it did not checkpoint
            removed = settle_best_weights(run_dir, kept_best(checkpoint))
            if removed:
                log(removed)
        # checkpoints written before this was kept: the epochs' own time is the best estimate
        earlier_wall = checkpoint.get("wall_seconds", sum(row["epoch_seconds"] for row in history))
        resumptions = list(checkpoint.get("resumptions", []))
        if start_epoch < config.run.epochs:  # a finished run's outputs written again train nothing: no resumption
            log(f"resuming {run_dir} after epoch {start_epoch}")
            caveats = _resumption_caveats(checkpoint, config, device, runtime)
            for caveat in caveats:
                log(caveat)
            resumptions.append({"after_epoch": start_epoch, "caveats": caveats})
        elif not (run_dir / "summary.json").exists():  # stopped after its last epoch, before its outputs
            log(f"{run_dir}: the run trained all its epochs before it stopped; its outputs are written from "
                f"{CHECKPOINT_NAME}")
        if not (run_dir / "labels.npz").exists():  # (removed by hand): find-issues reads a run's labels there
            _write_labels(run_dir, noisy)
            log(f"{run_dir}: no labels.npz; written again from the labels kept in {CHECKPOINT_NAME}")
    else:
        _start_new_run(config, run_dir, noisy, log)
    # a resumed run's too: what a resumption may change (run.device, data.root, ...) as it is now, for the next one
    atomic_write_text(run_dir / "config.yaml", config_lib.dump_yaml(config))
    log(runtime_line(runtime))
    if config.data.pipeline == "auto" and runtime["pipeline"] == "reference":
        log(f"note: {auto_pipeline_note(data, device)}")
    if runtime["compile"] != "off":
        log("the first epoch and the first evaluation compile the model: a one-off wait before the epochs speed up")
        for note in compile_settings_without_effect(config, device):
            log(f"note: {note}")

    epochs = config.run.epochs
    last = min(epochs, stop_after_epoch) if stop_after_epoch is not None else epochs
    clean_for_metrics = noisy.trained_clean_labels if known else None
    started = time.perf_counter()

    saved_epoch = start_epoch if checkpoint is not None else None
    # run.keep_best: the weights of a best epoch that no checkpoint records yet, staged on the CPU at that epoch to be
    # written with the next checkpoint (so no best-weights file is ever ahead of the checkpoint on disk)
    best_weights: tuple[dict[str, Any], list[torch.cuda.Event]] | None = None
    checkpoint_wait = 0.0  # what training waited for its checkpoints: the snapshots, and the last writes at the end
    # the disk writes (checkpoints, metrics tables) overlap the next epochs; the state is copied (on CUDA: the copies
    # queued) before save() returns
    writer = CheckpointWriter(run_dir)
    metrics_tables = reporting.MetricsTables()  # used on the writer's thread only, one call at a time

    def save(epoch_done: int) -> None:
        nonlocal saved_epoch, checkpoint_wait, best_weights
        save_started = time.perf_counter()
        state = {
            "epoch": epoch_done,
            "config": config_lib.to_dict(config),
            "method": method.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": rng_state(),
            "labels": noisy.labels,
            "clean_labels": noisy.clean_labels,
            "data": fingerprint,
            "data_given": data_given,
            "given_splits_from_source": given_splits_from_source,
            "history": list(history),  # (rows are not changed once appended)
            "best": best,
            **({"val_index": noisy.val_index, "best_val": best_val} if best_val is not None else {}),
            "wall_seconds": earlier_wall + time.perf_counter() - started,
            "threads": torch.get_num_threads(),
            "runtime": runtime,
            "resumptions": resumptions,
        }
        # a better epoch since the last checkpoint (run.keep_best): its weights go with this one
        writer.save(state, best=best_weights, plain=("history",))
        best_weights = None
        saved_epoch = epoch_done
        checkpoint_wait += time.perf_counter() - save_started

    def interrupted() -> TrainingInterrupted:
        """Ctrl-C: names the checkpoint on disk, the last this process wrote in full, else the one resumed from."""
        on_disk = writer.written_epoch
        if on_disk is None and checkpoint is not None:
            on_disk = start_epoch
        return TrainingInterrupted(run_dir, on_disk)

    # Ctrl-C anywhere from the first epoch to the last output names the checkpoint to resume from
    try:
        with writer:
            bar = tqdm(range(start_epoch, last), total=epochs, initial=start_epoch, disable=not progress,
                       desc=f"{config.method.name}", unit="epoch", dynamic_ncols=True, leave=False)
            for epoch in bar:
                epoch_started = time.perf_counter()
                lr = learning_rate(config.optim, epoch, epochs)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                train = train_one_epoch(method, optimizer, train_loader, epoch, amp=amp, progress=progress)
                train_pass_seconds = time.perf_counter() - epoch_started  # train_one_epoch ends on a device sync
                # the loss is the mean before each step, so the weights after the last step are checked too
                diverged = ("training loss" if not math.isfinite(train["loss"])
                            else "weights" if not _finite_weights(method) else None)
                if diverged:
                    kept = (f"the last good checkpoint (epoch {saved_epoch}) is kept in {run_dir}"
                            if saved_epoch is not None else "no checkpoint was written yet")
                    raise TrainingError(f"non-finite {diverged} in epoch {epoch + 1} (lr {lr:.4g}); {kept}")

                row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr}
                row.update(_train_columns(method, train))
                if (epoch + 1) % config.run.eval_every == 0 or epoch + 1 == epochs:
                    eval_started = time.perf_counter()
                    test = evaluate(method, test_loader, amp=amp)
                    row.update({"test_loss": test["loss"], "test_accuracy": test["accuracy"]})
                    if val_loader is not None:
                        val = evaluate(method, val_loader, amp=amp, clean_labels=val_clean)
                        row.update({"val_loss": val["loss"], "val_accuracy": val["accuracy"]})
                        if "clean_accuracy" in val:
                            row["val_clean_accuracy"] = val["clean_accuracy"]
                    row["eval_seconds"] = time.perf_counter() - eval_started
                    if test["accuracy"] > best["test_accuracy"]:
                        best = {"test_accuracy": test["accuracy"], "epoch": epoch + 1}
                        if config.run.keep_best and best_val is None:
                            best_weights = stage_to_cpu({**best, "chosen_by": "test",
                                                         "model": method.model.state_dict()})
                    if best_val is not None and val["accuracy"] > best_val["val_accuracy"]:
                        best_val = {"val_accuracy": val["accuracy"], "test_accuracy": test["accuracy"],
                                    "epoch": epoch + 1}
                        if config.run.keep_best:
                            best_weights = stage_to_cpu({**best_val, "chosen_by": "val",
                                                         "model": method.model.state_dict()})
                row.update(_statistic_columns(method, method.epoch_metrics(clean_for_metrics), train))
                row["train_pass_seconds"] = train_pass_seconds
                row["epoch_seconds"] = time.perf_counter() - epoch_started
                history.append(row)
                # on the writer's thread, as the checkpoints are: the two files' fsyncs would otherwise hold up
                # every epoch (of a small model, a sizeable share); rows are not changed once appended
                rows = list(history)
                writer.write_files(lambda: reporting.write_metrics(run_dir, rows, tables=metrics_tables))
                if "test_accuracy" in row:
                    shown = {"val_acc": f"{row['val_accuracy']:.3f}"} if "val_accuracy" in row else {}
                    bar.set_postfix(loss=f"{train['loss']:.3f}", test_acc=f"{row['test_accuracy']:.3f}", **shown)
                if not progress:  # no bar to watch (a log file, say): one line per epoch instead
                    log(_epoch_line(row, epochs))
                if (epoch + 1) % config.run.checkpoint_every == 0 or epoch + 1 in (last, epochs):
                    save(epoch + 1)
            bar.close()
            loop_done = time.perf_counter()
        checkpoint_wait += time.perf_counter() - loop_done  # leaving the block waits for the last writes

        wall = time.perf_counter() - started
        if last < epochs:
            method.eval()
            return RunResult(run_dir=run_dir, summary={"epochs_done": max(last, start_epoch), "stopped_early": True},
                             history=history, method=method)
        # the last checkpoint is on disk: a run cut off from here on finishes its outputs when resumed
        summary = reporting.summarize(config, history, best=best, noisy=noisy, method=method,
                                      wall_seconds=earlier_wall + wall, device=device, best_val=best_val)
        if data_given:  # data.source names data the run did not train on
            summary["data"] = data.name
        summary["data_given"] = data_given  # such a run is resumed and evaluated with the splits given again
        summary["runtime"] = runtime
        summary["resumptions"] = resumptions  # where a finished run's figures may differ from an uninterrupted run's
        reporting.write_outputs(run_dir, config, history, summary, method=method, noisy=noisy)
        between_epochs = wall - sum(row["epoch_seconds"] for row in history[start_epoch:])  # this process's epochs
        summary["timing"] = reporting.fit_timing(history, setup_seconds=started - fit_started,
                                                 between_epochs_seconds=between_epochs,
                                                 checkpoint_wait_seconds=checkpoint_wait,
                                                 finish_seconds=time.perf_counter() - started - wall,
                                                 resumed=checkpoint is not None)
        atomic_write_text(run_dir / "summary.json", reporting.to_json(summary))
    except KeyboardInterrupt:
        raise interrupted() from None
    except Exception as exc:
        if _during_an_interrupt(exc):  # a loader worker stopped by the same signal, say: the interrupt is the news
            raise interrupted() from None
        raise

    method.eval()  # to predict with, as load_run gives it
    return RunResult(run_dir=run_dir, summary=summary, history=history, method=method)


def resume_config(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (), *,
                  log: Callable[[str], None] | None = None) -> Config:
    """The config to resume the run in ``run_dir`` with: its ``config.yaml``, then ``overrides``. Where that file
    is gone, the config the run's checkpoint keeps (the one it trained with) stands in for it, which ``log`` says in
    one line; the resumption writes ``config.yaml`` again. :func:`fit` checks either against the run's own.
    ``run.out_dir`` and ``run.name`` are the place the run is in (:func:`resumed_run_place`), as :func:`fit`
    records them. A ``~`` that ``run_dir`` starts with is the home directory, as for :func:`fit`."""
    run_dir = user_path(run_dir)
    place = resumed_run_place_overrides(run_dir)
    config_file = run_dir / "config.yaml"
    if config_file.exists():
        with contextlib.suppress(ConfigError):  # a file that cannot be read: load_config says why
            place += _as_the_run_trained(read_yaml_file(config_file))
        return config_lib.load_config(config_file, [*place, *overrides])
    kept = kept_config(run_dir)
    config = config_lib.config_from_dict(kept, source=f"{run_dir / CHECKPOINT_NAME} (its config)",
                                         overrides=[*place, *_as_the_run_trained(kept), *overrides])
    (log or (lambda message: tqdm.write(message)))(
        f"{run_dir}: no config.yaml; resuming with the config kept in {CHECKPOINT_NAME}, which the run writes back "
        "to config.yaml")
    return config


def _as_the_run_trained(saved: Any) -> list[str]:
    """Overrides, to be given before the config is checked, for what a run's saved config holds that satlearn now
    refuses but read as another setting when the run trained: an empty ``data.root``, then read as none."""
    data = saved.get("data") if isinstance(saved, dict) else None
    return ["data.root=null"] if isinstance(data, dict) and data.get("root") == "" else []


def _check_registered(config: Config, run_dir: Path) -> None:
    """Refuses a run whose source, model or method is not registered in this process (one of the user's own,
    registered by a module not imported here), naming the run rather than only the name."""
    for key, registry in config_lib.named_registries():
        name = config_lib._get(config, key)
        if name not in registry:
            raise ConfigError(f"{run_dir}: trained with {key}={name!r}, which is not registered here (import the "
                              "module that registers it first; on the command line, satlearn --import MODULE); "
                              f"registered: {', '.join(registry.names())}")


def load_run(run_dir: str | Path, *, device: str | torch.device | None = None,
             data_root: str | Path | None = None, dataset: DatasetSplits | None = None,
             best: bool = False) -> tuple[Config, Method, NoisyDataset, dict[str, Any]]:
    """Rebuilds a finished (or interrupted) run: config, trained method (in eval mode), data and the raw checkpoint.

    ``best``: the model gets the weights of the run's best epoch (:func:`kept_best`: by validation accuracy where the
    run held out a validation split, else by test accuracy, an optimistic pick), which a run started with
    ``run.keep_best`` keeps in ``best_model.pt``; a TrainingError in one line for a run that kept none. The rest of
    the method (SAT's targets) is the latest checkpoint's.

    ``data_root``: where the run's data are now, if they moved (another machine, say): a path that exists (a
    DataError otherwise); they must be the same data, which the run's digest of them checks. ``dataset``: the splits
    a run trained on when they were given to :func:`fit` (also checked against the digest). A run of a source, model
    or method registered by your own module needs that module imported first. A ``~`` that ``run_dir`` starts with
    is the home directory, as for :func:`fit`.
    The global random generators are left as the caller left them, as :func:`fit` leaves them."""
    run_dir = user_path(run_dir)
    return _loaded_run(run_dir, load_checkpoint(run_dir), device=device, data_root=data_root, dataset=dataset,
                       best=best)


def _loaded_run(run_dir: Path, checkpoint: dict[str, Any], *, device: str | torch.device | None,
                data_root: str | Path | None, dataset: DatasetSplits | None,
                best: bool) -> tuple[Config, Method, NoisyDataset, dict[str, Any]]:
    """:func:`load_run` from the run's ``checkpoint``, read already (by a caller that first checks what it holds)."""
    config = config_lib.from_dict_exact(checkpoint["config"])
    # read before the data are loaded: a run without them stops at once
    best_weights = load_best_weights(run_dir, kept_best(checkpoint), kept=config.run.keep_best) if best else None
    _data_settings_now(config, run_dir, data_root)
    try:
        torch_device = resolve_device(device, setting="device") if device else resolve_device(config.run.device)
    except DeviceUnavailable as exc:
        if device:
            raise
        # the run's own device: another is the caller's to give, not a change to the run's config
        raise DeviceUnavailable(f"{run_dir}: the run's {exc.message}", advice="give device='auto' or 'cpu'") from None
    noisy, _ = run_data(config, checkpoint, run_dir, doing="load the run", dataset=dataset)
    with random_state_kept():  # the weights drawn here are overwritten by the run's: the caller's draws stay theirs
        method = build_method(config, noisy.data, noisy.trained_labels, torch_device, for_training=False)
    method.load_state_dict(checkpoint["method"])
    if best_weights is not None:
        method.model.load_state_dict(best_weights["model"])
    method.eval()  # to predict with: batch norm then uses, and keeps, the statistics the run learned
    return config, method, noisy, checkpoint


def _data_settings_now(config: Config, run_dir: Path, data_root: str | Path | None) -> None:
    """Makes the config a run's checkpoint keeps (``config``) read its data where they are now: ``data_root`` where
    given (a path that exists), the run's own ``data.root`` otherwise; refuses a source not registered here."""
    _check_registered(config, run_dir)
    if config.data.root == "":  # kept by a run that read it as none, before an empty one was refused
        config.data.root = None
    if data_root is not None:
        # where the data are now is somewhere: a mistyped one would be taken as a new cache (MNIST-1D's) and made
        if not user_path(data_root).exists():
            raise DataError(f"data_root={str(data_root)!r}: no such file or folder; expected where the run's data "
                            "are now")
        config.data.root = str(data_root)


def load_run_data(run_dir: str | Path, *, data_root: str | Path | None = None, download: bool = True,
                  progress: bool = False) -> NoisyDataset:
    """The data of the run in ``run_dir`` (finished or not) as :func:`load_run` loads them, checked against the
    digest the run keeps, without building its model: the splits, the run's training labels and its validation
    split. ``data_root``: as for :func:`load_run`. ``download``: False loads a source that downloads its data
    (``data.download``) only from what is already there, a :class:`MissingDataError` where nothing is.
    ``progress``: show a long read's progress bar. A run trained on splits given to :func:`fit` that its source
    does not load is a DataError, as for :func:`load_run`."""
    run_dir = user_path(run_dir)
    checkpoint = load_checkpoint(run_dir, mmap=True)  # the weights are not read
    config = config_lib.from_dict_exact(checkpoint["config"])
    if checkpoint.get("data_given") and not checkpoint.get("given_splits_from_source", True):
        # (run_data's advice, to give the splits again as dataset=, is for load_run and fit, which take them)
        raise DataError(f"{run_dir}: trained on splits given to fit(dataset=...) in Python, which its data.source "
                        f"({config.data.source}) did not load; only the program that gave them has its data")
    _data_settings_now(config, run_dir, data_root)
    if not download:
        config.data.download = False
    noisy, _ = run_data(config, checkpoint, run_dir, doing="load its data", progress=progress)
    return noisy


# the splits evaluate_run scores, and the name of the file each is written to (before ``_best`` and ``.json``)
EVAL_SPLITS = {"test": "eval", "val": "eval_val"}


def evaluate_run(run_dir: str | Path, *, device: str | torch.device | None = None,
                 data_root: str | Path | None = None, out: str | Path | None = None,
                 dataset: DatasetSplits | None = None, threads: int | None = None,
                 best: bool = False, split: str = "test") -> dict[str, Any]:
    """Evaluates a run's latest weights on its test split, with ``threads`` CPU threads (None: the run's own
    ``run.threads``; the run's config is left as it is, and the count the process had is restored after); writes and
    returns ``eval.json``'s content: the epoch its checkpoint ends (``epoch``; fewer than ``epochs``, the run's
    ``run.epochs``, for an unfinished run), the test loss and accuracy, and the number of test examples.
    ``best``: the weights of the run's best epoch instead (see :func:`load_run`), written as ``eval_best.json`` (so
    that the latest weights' ``eval.json`` stays beside it): ``epoch`` is that epoch, and the content also holds
    ``best`` (true), ``best_by`` (the split that picked that epoch: ``val`` where the run held out a validation
    split, else ``test``) and ``latest_epoch``, the epoch the checkpoint ends; where the test split picked that
    epoch, its accuracy is an optimistic estimate of the model's.
    ``split``: ``val`` scores the run's validation split (``data.val_size``) instead, as each of its epochs scored
    it, into ``eval_val.json`` (``eval_val_best.json``): ``val_loss`` and ``val_accuracy`` against the labels given
    for it, ``val_clean_accuracy`` against the true ones (None where the run does not know them), and ``num_val``; a
    :class:`TrainingError` in one line, before any data are loaded, for a run that held out none.
    ``data_root``, ``dataset``: as for :func:`load_run`; ``out``: the JSON file to write, or a folder (existing, or a
    string ending in ``/``) for ``eval.json`` (``eval_best.json``) (default: in ``run_dir``).
    On the CPU, figures scored with another count may differ in their last bits from the run's own count's, as sums
    round with the thread count. A ``~`` that ``run_dir`` or ``out`` starts with is the home directory."""
    threads = checked_threads(threads)  # before the run is loaded
    if split not in EVAL_SPLITS:
        raise ConfigError(f"split={split!r}; expected one of: {', '.join(EVAL_SPLITS)}")
    run_dir = user_path(run_dir)
    name = f"{EVAL_SPLITS[split]}{'_best' if best else ''}.json"
    out_path = run_dir / name if out is None else output_file(out, name)
    if out is not None:
        make_output_dir(out_path.parent, what="--out", create=False)  # a bad path stops before the evaluation
    checkpoint = load_checkpoint(run_dir)
    if split == "val" and checkpoint.get("val_index") is None:
        raise TrainingError(f"{run_dir}: the run held out no validation split (it trained with data.val_size 0); a "
                            "run started with --set data.val_size=N holds out N training examples to score")
    config, method, noisy, checkpoint = _loaded_run(run_dir, checkpoint, device=device, data_root=data_root,
                                                    dataset=dataset, best=best)
    torch_device = next(method.parameters()).device
    if split == "val":
        loader = make_val_loader(config, noisy, torch_device,
                                 pipeline=choose_pipeline(config, noisy.data, torch_device))
        # the true labels, where the run knows them, as its epochs scored the split against them
        clean = noisy.clean_labels[noisy.val_index] if knows_true_labels(config.data.noise.kind) else None
    else:
        loader, clean = make_test_loader(config, noisy.data, torch_device), None
    # the run's own thread count (run.threads), as its device and precision are the run's, unless one is given
    with cpu_threads(config.run.threads if threads is None else threads):
        measured = evaluate(method, loader, amp=autocast(torch_device, config.run.amp), clean_labels=clean)
    epoch = kept_best(checkpoint)["epoch"] if best else checkpoint["epoch"]
    result = {"run_dir": str(run_dir), "epoch": epoch, "epochs": config.run.epochs,
              f"{split}_loss": measured["loss"], f"{split}_accuracy": measured["accuracy"],
              # null where the true labels are unknown, as summary.json's final_clean_accuracy
              **({"val_clean_accuracy": measured.get("clean_accuracy")} if split == "val" else {}),
              f"num_{split}": loader.num_examples}
    if best:  # (which split chose that epoch: the validation split's, where the run held one out)
        result.update(best=True, best_by=kept_best_chosen_by(checkpoint),
                      latest_epoch=checkpoint["epoch"])
    make_output_dir(out_path.parent, what="--out")
    with FilesWrittenTogether(folder=out_path.parent) as files:  # (which tidies what a killed eval left there)
        files.write_text(out_path, reporting.to_json(result))
    return result
