"""Typed run configuration: dataclass defaults, YAML files and ``key.sub=value`` overrides on top.

Defaults describe the small MNIST-1D run that works on a laptop CPU; the paper recipes live in ``configs/``, which the
package ships (:func:`shipped_config`).
Unknown keys and values of the wrong type are errors that name the file, the key and what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import numbers
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Union

import yaml

from satlearn.errors import ConfigError, first_line
from satlearn.paths import shell_quoted, user_path
from satlearn.yaml_text import (
    RefusedYaml, YamlFileError, number_spelling_hint, read_yaml, read_yaml_file, write_yaml, yaml_comment,
)


@dataclass
class NoiseConfig:
    kind: str = "none"  # none | symmetric | pair | file
    rate: float = 0.0  # fraction of labels resampled (symmetric, pair)
    mode: str = "paper"  # symmetric only — paper: new label uniform over all C (actual error r(C-1)/C); exact: always another class
    seed: int = 0  # the noise pattern's own seed, independent of run.seed
    file: str | None = None  # kind=file: .npy / .npz / .csv / .txt array of N labels in training-set order
    key: str | None = None  # kind=file with .npz: which array (e.g. "worst" in CIFAR-10N)


@dataclass
class DataConfig:
    source: str = "mnist1d"  # mnist1d | cifar10 | cifar100 | imagefolder | npz | csv
    root: str | None = None  # directory or file of the source; mnist1d: cache directory (default: user cache)
    download: bool = False  # cifar10/cifar100: fetch the archive when root lacks it
    url: str | None = None  # download address (default: the official archive)
    sha256: str | None = None  # expected archive checksum (default: the official archive's)
    num_samples: int = 12500  # mnist1d: examples generated (train + test)
    data_seed: int = 42  # mnist1d: generator seed; csv, npz, imagefolder: seed of a drawn test split; any: of val_size
    label_column: str = "label"  # csv: the column holding the class label
    ignore_columns: list[str] = field(default_factory=list)  # csv: columns left out (ids, free text, dates)
    # csv, npz without x_test/y_test, imagefolder without test/: fraction held out (seeded by data_seed)
    test_fraction: float = 0.2
    # training examples held out as a validation split (0 = none): evaluated each epoch against their given (noisy)
    # labels, never trained on; run.keep_best then picks the best epoch by validation accuracy
    val_size: int = 0
    val_pick: str = "random"  # random (drawn with data.data_seed) | last (the training split's last val_size)
    augment: str = "auto"  # auto (crop+flip for images, none otherwise) | none | crop_flip
    batch_size: int = 256
    eval_batch_size: int = 1024
    pipeline: str = "auto"  # auto (memory when the data fit on the device) | memory | reference (DataLoader + PIL)
    workers: int | None = None  # reference pipeline: DataLoader worker processes; None = min(4, usable CPUs)
    noise: NoiseConfig = field(default_factory=NoiseConfig)


@dataclass
class ModelConfig:
    name: str = "cnn1d"  # mlp | cnn1d | resnet18 | resnet34 | preact_resnet18 | wrn28_10 | vgg16_bn
    width: int | None = None  # base width (channels / hidden units); None = the model's own default
    num_classes: int | None = None  # expected class count, checked against the data; None = take the data's


@dataclass
class OptimConfig:
    name: str = "adam"  # sgd | adam
    lr: float = 0.003
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | step | constant
    milestones: list[int] = field(default_factory=list)  # step: epochs at which lr is multiplied by gamma
    gamma: float = 0.1  # step: lr factor at each milestone


@dataclass
class MethodConfig:
    name: str = "sat"  # erm | sat | selective_sat | gamblers
    loss: str = "ce"  # erm: ce | sce | gce ; sat: ce | sce ; selective_sat, gamblers: ce
    momentum: float = 0.9  # alpha, the EMA factor of the soft targets (paper: 0.9)
    start_epoch: int = 12  # Es: 0-based epochs of plain CE before targets move (paper: 60 of 200)
    sce_a: float = 1.0  # weight of the cross-entropy term of SCE (paper code: 1)
    sce_b: float = 0.3  # weight of the reverse cross-entropy term of SCE (paper code: 0.3)
    gce_q: float = 0.7  # generalized CE exponent q in (0, 1]
    payoff: float = 2.2  # gamblers: Deep Gamblers payoff o (1 < o < C; paper code default 2.2)
    targets_dtype: str = "float32"  # float32 | bfloat16 storage of the N x C table
    targets_device: str = "model"  # model (same device as the model) | cpu
    # the method's own settings, declared by its Settings dataclass; checked and filled in with its defaults once the
    # method is known (see method_settings), so a run's config.yaml records every value it trained with
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    epochs: int = 60
    seed: int = 0  # model init, shuffling and augmentation
    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps
    amp: str = "auto"  # auto (bf16 autocast on cuda, off elsewhere) | bf16 | off
    threads: int | None = None  # torch CPU threads; None = torch's default
    out_dir: str = "runs"  # parent of run directories
    name: str | None = None  # run directory name (default: <method>-<source>-<time>)
    progress: bool = True  # show a progress bar
    channels_last: bool | None = None  # image memory layout; None = on for images on CUDA
    compile: bool | str = False  # torch.compile the model (same maths; faster on GPU after a warm-up); auto = on cuda
    compile_mode: str = "default"  # default | reduce-overhead (CUDA graphs) | max-autotune
    compile_tuning: bool = False  # also time variants of each generated kernel and keep the fastest (max-autotune does)
    cudnn_benchmark: bool = True  # CUDA: let cuDNN time its convolution algorithms for the run's fixed shapes
    cudnn_benchmark_limit: int | None = None  # how many algorithms it times per convolution: 0 = all; None = torch's 10
    eval_every: int = 1  # evaluate on the test (and validation) split every N epochs (and always at the end)
    checkpoint_every: int = 1  # write the resumable checkpoint every N epochs (and always at the end)
    # also keep the weights of the best epoch in best_model.pt: by validation accuracy with data.val_size > 0, else by
    # test accuracy (then an optimistic estimate, the test split having picked it); set when a run starts: a
    # resumption keeps it
    keep_best: bool = False


@dataclass
class Config:
    """A run's whole configuration in five sections, ``data``, ``model``, ``optim``, ``method`` and ``run``: each a
    dataclass whose fields are the keys (``config.optim.lr``) that docs/configuration.md lists.

    ``Config()`` holds the defaults; :func:`load_config` puts a YAML file and ``key.sub=value`` overrides on top of
    them and checks the result. One built or changed in code is checked by :func:`satlearn.fit` (and
    :func:`satlearn.data.load_dataset`) as load_config checks a file.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    run: RunConfig = field(default_factory=RunConfig)


# ---------------------------------------------------------------------------------------------------------------
# Building configs from mappings, files and overrides


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _as_written(value: Any) -> str:
    """A value as YAML and ``--set`` spell it (``true``, ``null``), where Python's spelling differs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(value)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Checks ``value`` against the annotation ``tp``; ints are accepted for floats, and any whole number (a NumPy
    integer from a sweep) or real is taken as a plain ``int`` or ``float``, so config.yaml and checkpoints hold
    Python numbers; nothing else is converted."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        hint = _number_hint(value, tp)
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {_as_written(value)}{hint}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {_as_written(value)}")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    hint = _number_hint(value, tp)
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {_as_written(value)}{hint}")


def _number_hint(value: Any, tp: Any) -> str:
    """How a number is written, for a text given where the annotation ``tp`` expects a number."""
    expected = {tp, *typing.get_args(tp)}
    if not isinstance(value, str):
        return ""
    return number_spelling_hint(value, whole=int in expected, fractional=float in expected)


def _apply(obj: Any, values: dict[str, Any], *, prefix: str, source: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{source}: unknown key {path!r}; valid keys here: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {path} must be a mapping of its keys, got {_as_written(value)}")
            _apply(current, value, prefix=f"{path}.", source=source)
        elif isinstance(current, dict):
            # method.settings: its keys are the method's, so they are checked once the method is known (a later
            # --set may name it); merged key by key, as a section is, so --set method.settings.x=1 keeps the others
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {path} must be a mapping of its keys, got {_as_written(value)}")
            _merge(current, copy.deepcopy(value))
        elif path in _CHOICES and not isinstance(value, str):
            # `amp: false` reads as a boolean: naming the words that are right says more than "expected str"
            raise ConfigError(f"{source}: {path}: expected one of: {', '.join(_CHOICES[path])}, got "
                              f"{_as_written(value)}")
        elif path in _EXPECTED:
            try:
                setattr(obj, key, _coerce(value, hints[key], f"{source}: {path}"))
            except ConfigError:  # what the number counts says more than its type's name ("expected int, got 0.1")
                raise ConfigError(f"{source}: {path}: expected {_EXPECTED[path]}, got {_as_written(value)}"
                                  f"{_number_hint(value, hints[key])}") from None
        else:
            setattr(obj, key, _coerce(value, hints[key], f"{source}: {path}"))


def config_from_dict(values: dict[str, Any], *, source: str = "config",
                     overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Returns the defaults overridden by the nested mapping ``values``, then by ``key.sub=value`` ``overrides``
    (as :func:`load_config` applies them to a file's), validated."""
    _check_overrides_type(overrides)
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (data, model, ...), got {values!r}")
    return _configured(values, overrides, source=source)


def from_dict_exact(values: dict[str, Any], *, source: str = "saved config") -> Config:
    """Rebuilds a config saved with :func:`to_dict` (no validation beyond types and keys; ``source`` names it in
    errors)."""
    if not isinstance(values, dict):  # an emptied or overwritten config.yaml: None, a list, a text
        got = "nothing" if values is None else type(values).__name__
        raise ConfigError(f"{source}: expected a mapping of sections (data, model, ...), got {got}")
    config = Config()
    _apply(config, values, prefix="", source=source)
    return config


def check(config: Config, *, source: str) -> Config:
    """Raises :class:`ConfigError` for a config built in code (a dataclass changed by hand) that
    :func:`load_config` would refuse: the types, then the choices and ranges; ``source`` names it in errors.
    Returns the config as :func:`load_config` would have built it (a copy, with the method's settings filled in)."""
    def as_saved(value: Any, key: str = "") -> Any:  # a tuple where a list belongs is the same setting, a Path a str
        if isinstance(value, dict):
            return {name: as_saved(item, name) for name, item in value.items()}
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        torch = sys.modules.get("torch")  # (no torch.device exists before torch is imported)
        # run.device = torch.device("cuda:1"), and only a device setting: one given for a path is no path
        if torch is not None and isinstance(value, torch.device) and key.endswith("device"):
            return str(value)
        return [as_saved(item) for item in value] if isinstance(value, tuple) else value

    def sections(obj: Any, expected: type, path: str) -> None:
        # the check below reads a copy (asdict turns sections into mappings): a section given as a mapping would pass
        # it, and the run would then fail on the mapping itself ('dict' object has no attribute 'kind')
        if not isinstance(obj, expected):
            where = f"{path} must be" if path else "expected"
            raise ConfigError(f"{source}: {where} a satlearn.config.{expected.__name__}, got {type(obj).__name__}")
        names = {f.name for f in dataclasses.fields(expected)}
        unknown = sorted(set(vars(obj)) - names)
        if unknown:  # a misspelt key set in code makes an attribute of its own, which no run would read
            key = f"{path}.{unknown[0]}" if path else unknown[0]
            raise ConfigError(f"{source}: unknown key {key!r}; valid keys here: {', '.join(sorted(names))}")
        hints = typing.get_type_hints(expected)
        for f in dataclasses.fields(expected):
            if dataclasses.is_dataclass(hints[f.name]):
                sections(getattr(obj, f.name), hints[f.name], f"{path}.{f.name}" if path else f.name)

    sections(config, Config, "")
    return config_from_dict(as_saved(to_dict(config)), source=source)


def parse_override(text: str) -> tuple[str, Any]:
    """Parses ``a.b=value``; the value is read as YAML (so ``0.1``, ``true``, ``[1, 2]``, ``null`` work)."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text}: empty key")
    try:
        value = read_yaml(raw) if raw.strip() else ""
    except RefusedYaml as exc:  # a key given twice, a tag whose text does not fit it (`!!float abc`)
        raise ConfigError(f"--set {text}: {exc.problem}") from None
    except yaml.YAMLError:  # text YAML cannot read (`run.name=a: b: c`, `run.name=!x`) is taken as it is
        return key, raw
    comment = yaml_comment(raw)
    if comment is not None:  # a # that reached satlearn was meant as part of the value: the shell keeps its own
        quoted = write_yaml(raw.strip(), default_style='"', width=math.inf).strip()
        raise ConfigError(f"--set {text}: YAML reads {comment!r} as a comment and drops it, leaving "
                          f"{_as_written(value)}; leave it out, or to keep it as text, quote the value: "
                          f"--set {shell_quoted(f'{key}={quoted}')}")
    return key, value


def _nest(key: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def _merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the YAML file at ``path`` (if any), then ``key.sub=value`` overrides. A name alone that is no
    file here, such as ``mnist1d_sat`` or ``mnist1d_sat.yaml``, is the recipe of that name that satlearn ships."""
    _check_overrides_type(overrides)
    values: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        given = os.fspath(path)
        path = user_path(path)
        if given == path.name and not path.exists():  # a name alone, not ./name: no file here
            path = shipped_config(given) or path
        source = str(path)
        try:
            loaded = read_yaml_file(path)
        except YamlFileError as exc:
            if not path.exists() and (given == path.name or path.parent.name == "configs"):
                # a recipe's name mistyped (mnist1d_sat_selective): name the recipes, nearest first
                recipes = shipped_recipes()
                near = difflib.get_close_matches(path.name.removesuffix(".yaml").lower(), recipes, n=3, cutoff=0.6)
                if shipped_config(path.name) is None and recipes:
                    named = ", ".join(map(repr, near[:-1])) + " or " * (len(near) > 1) + repr(near[-1]) if near else ""
                    hint = (f"did you mean {named}? (recipes satlearn ships)" if near else
                            f"the recipes satlearn ships: {', '.join(recipes)}")
                    raise ConfigError(f"{exc}; {hint}") from None
            if path.exists() or shipped_config(path.name) is None:
                raise
            # the README's configs/... paths are a source checkout's: an installed satlearn has them by name
            raise ConfigError(f"{exc}; satlearn ships a recipe of that name: give it as "
                              f"'{path.name.removesuffix('.yaml')}'") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (data, model, ...), got {type(loaded).__name__}")
        values = loaded
    return _configured(values, overrides, source=source)


def _recipe_folder() -> Path:
    installed = Path(__file__).resolve().parent / "configs"
    # run from a source checkout (an editable install), the recipes are where the repository keeps them
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "configs"


def shipped_config(name: str) -> Path | None:
    """The file of the recipe ``name`` (``mnist1d_sat`` or ``mnist1d_sat.yaml``) that satlearn ships, or None where
    it ships none of that name. The recipes are the source's ``configs/``, which an installed package holds as
    ``satlearn/configs``."""
    stem = name.removesuffix(".yaml")
    if not stem or stem != Path(stem).name or stem.startswith("."):
        return None
    file = _recipe_folder() / f"{stem}.yaml"
    return file if file.is_file() else None


def shipped_recipes() -> list[str]:
    """The names of the recipes satlearn ships, sorted (``mnist1d_sat``, ...)."""
    folder = _recipe_folder()
    return sorted(file.stem for file in folder.glob("*.yaml") if not file.name.startswith(".")) \
        if folder.is_dir() else []


def _check_overrides_type(overrides: Any) -> None:
    if isinstance(overrides, (str, bytes)) or not isinstance(overrides, (list, tuple)):
        # a lone string would be read character by character
        raise ConfigError(f"overrides={overrides!r}; expected a list of 'key.sub=value' strings")


def _configured(values: dict[str, Any], overrides: list[str] | tuple[str, ...], *, source: str) -> Config:
    """The defaults, then ``values`` (read from ``source``), then the overrides, validated: an error about a key an
    override set names that override."""
    config = Config()
    _apply(config, values, prefix="", source=source)
    overridden: dict[str, str] = {}
    for text in overrides:
        key, value = parse_override(text)
        _apply(config, _nest(key, value), prefix="", source=f"--set {text}")
        overridden.update(dict.fromkeys(override_keys(text), f"--set {text}"))
    validate(config, source=source, overridden=overridden)
    return config


def override_keys(text: str) -> list[str]:
    """The dotted keys a ``key.sub=value`` override sets: ``optim={lr: 1, gamma: 0.5}`` sets ``optim.lr`` and
    ``optim.gamma``."""

    def leaves(values: dict[str, Any], prefix: str) -> list[str]:
        out = []
        for key, value in values.items():
            if isinstance(value, dict) and value:
                out.extend(leaves(value, f"{prefix}{key}."))
            else:
                out.append(f"{prefix}{key}")
        return out

    return leaves(_nest(*parse_override(text)), "")


def given_by(key: str, overrides: list[str] | tuple[str, ...], default: str) -> str:
    """Where a config's ``key`` came from, for an error about its value: the last ``--set`` among ``overrides`` that
    sets it (``--set run.device=cuda``), else ``default`` (the config file, say)."""
    return next((f"--set {text}" for text in reversed(overrides) if key in override_keys(text)), default)


def to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dump_yaml(config: Config) -> str:
    return write_yaml(to_dict(config), sort_keys=False)


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(dump_yaml(config))


def overrides_from_dict(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Flattens a nested mapping into ``key.sub=value`` strings (the inverse of applying overrides)."""
    out = []
    for key, value in values.items():
        if isinstance(value, dict):
            out.extend(overrides_from_dict(value, f"{prefix}{key}."))
        else:
            text = write_yaml(value, default_flow_style=True, width=float("inf"))  # one line, however long
            out.append(f"{prefix}{key}={text.strip().removesuffix('...').strip()}")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Semantic checks (choices and ranges); registries are consulted lazily to avoid import cycles

_CHOICES = {
    "data.noise.kind": ("none", "symmetric", "pair", "file"),
    "data.noise.mode": ("paper", "exact"),
    "data.val_pick": ("random", "last"),
    "data.augment": ("auto", "none", "crop_flip"),
    "data.pipeline": ("auto", "memory", "reference"),
    "optim.name": ("sgd", "adam"),
    "optim.schedule": ("cosine", "step", "constant"),
    "method.targets_dtype": ("float32", "bfloat16"),
    "method.targets_device": ("model", "cpu"),
    "run.amp": ("auto", "bf16", "off"),
    "run.compile_mode": ("default", "reduce-overhead", "max-autotune"),
}

# what a key's value counts, named in place of its type where a value of another type is given: a share of the
# training split (0.1) is what other libraries take for a validation split's size
_EXPECTED = {
    "data.val_size": "a whole number of training examples to hold out (a count, not a fraction)",
}


# torch.set_num_threads crashes the process on a count far beyond the machine's; the bound is fixed, not the core
# count, as a run may resume on another machine with the thread count it started with
_MAX_THREADS = 1024

# run.seed reaches torch's generators through the loaders' per-epoch seeds (run.seed * EPOCH_SEED_STRIDE + epoch), which
# take [-2**63, 2**64 - 1]: exactly the run seeds that always worked, negative ones included. numpy's generators
# for the noise and the data split take any non-negative seed (mnist1d's legacy one checks its own).
EPOCH_SEED_STRIDE = 1_000_003
_NON_NEGATIVE_SEED_KEYS = ("data.data_seed", "data.noise.seed")

# method settings that only some methods read (each method lists its own in Method.options)
METHOD_OPTIONS = ("momentum", "payoff", "targets_dtype", "targets_device")


def _get(config: Config, dotted: str) -> Any:
    obj: Any = config
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _leaves(obj: Any, prefix: str = "") -> typing.Iterator[tuple[str, Any]]:
    """(dotted key, value) of every setting of a config (or of one of its sections), the method's own included."""
    items = obj.items() if isinstance(obj, dict) else ((f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj))
    for name, value in items:
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


DEVICE_NAMES = "auto, cpu, cuda, cuda:N or mps"


def device_name_problem(name: Any) -> str | None:
    """What keeps ``name`` from naming a device satlearn trains on (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``),
    or None; whether this machine has that device is for whoever resolves it."""
    import torch

    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        return f"is not a device name; expected {DEVICE_NAMES}"
    if device.type not in ("cpu", "cuda", "mps"):  # torch knows more (meta, xla, ...), which cannot train a run here
        return f"is not a device satlearn runs on; expected {DEVICE_NAMES}"
    return None


def thread_count_problem(count: Any) -> str | None:
    """What keeps ``count`` from being a torch CPU thread count as ``run.threads`` takes one (a whole number from 1
    to 1024), or None; a command's ``--threads`` and a function's ``threads`` are checked by it too."""
    if isinstance(count, bool) or not isinstance(count, numbers.Integral):
        return f"expected a whole number of threads, from 1 to {_MAX_THREADS}"
    if not 1 <= count <= _MAX_THREADS:
        return f"expected a thread count from 1 to {_MAX_THREADS}"
    return None


def validate(config: Config, *, source: str = "config", overridden: dict[str, str] | None = None) -> None:
    """Checks choices and ranges that the types alone do not express, and the method's own settings against the
    method, filling in their defaults (``config.method.settings`` then holds every one, as a run records them).

    Args:
        source: where the values came from, named in errors (a file, ``defaults``).
        overridden: dotted key → the ``--set`` text that gave it; an error about such a key names that instead.
    """
    overridden = overridden or {}

    def where(*keys: str) -> str:
        for key in keys:
            if key in overridden:
                return overridden[key]
        return source

    # every range check below is a comparison, and any comparison with NaN is false: NaN would pass them all
    for key, value in _leaves(config):
        items = [(f"{key}[{i}]", item) for i, item in enumerate(value)] if isinstance(value, list) else [(key, value)]
        for name, item in items:  # a method's own setting may be a list of floats
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"{where(key)}: {name}={item!r}; expected a finite number")
    for key, choices in _CHOICES.items():
        value = _get(config, key)
        if value not in choices:
            raise ConfigError(f"{where(key)}: {key}={value!r}; expected one of: {', '.join(choices)}")

    from satlearn.methods import METHODS

    for key, registry in named_registries():
        value = _get(config, key)
        if value not in registry:  # a name of the user's own is registered by a module not imported yet
            raise ConfigError(f"{where(key)}: {key}={value!r}; expected one of: {', '.join(registry.names())} (or "
                              "a name your own module registers, imported first: satlearn --import MODULE)")
    settings = method_settings(METHODS.get(config.method.name), config.method.settings, name=config.method.name,
                               where=where)
    config.method.settings = settings_values(settings)  # as the run will record them

    def positive(key: str, allow_zero: bool = False) -> None:
        value = _get(config, key)
        if value is None:
            return
        if value < 0 or (value == 0 and not allow_zero):
            raise ConfigError(f"{where(key)}: {key}={value!r}; expected a "
                              f"{'non-negative' if allow_zero else 'positive'} number")

    for key in ("data.batch_size", "data.eval_batch_size", "data.num_samples", "run.epochs", "optim.lr",
                "run.eval_every", "run.checkpoint_every", "model.width", "model.num_classes"):
        positive(key)
    for key in ("optim.weight_decay", "optim.momentum", "method.start_epoch", "data.workers", "data.val_size",
                "run.cudnn_benchmark_limit", "method.sce_a", "method.sce_b"):
        positive(key, allow_zero=True)
    threads = config.run.threads
    problem = thread_count_problem(threads) if threads is not None else None
    if problem:
        raise ConfigError(f"{where('run.threads')}: run.threads={threads!r}; {problem} (or null for torch's default)")
    lowest = -(2**63 // EPOCH_SEED_STRIDE)
    highest = (2**64 - 1 - max(config.run.epochs, 0)) // EPOCH_SEED_STRIDE
    if highest < lowest:  # so many epochs that no run seed leaves them all in 64 bits: the count is what is wrong
        raise ConfigError(f"{where('run.epochs')}: run.epochs={config.run.epochs!r}; expected at most "
                          f"{2**64 - 1 - lowest * EPOCH_SEED_STRIDE} (each epoch's seed, run.seed * "
                          f"{EPOCH_SEED_STRIDE} + epoch, must fit torch's 64 bits)")
    if not lowest <= config.run.seed <= highest:
        raise ConfigError(f"{where('run.seed', 'run.epochs')}: run.seed={config.run.seed!r}; expected a seed from "
                          f"{lowest} to {highest} (each epoch's seed, run.seed * {EPOCH_SEED_STRIDE} + epoch, must "
                          "fit torch's 64 bits)")
    for key in _NON_NEGATIVE_SEED_KEYS:
        if _get(config, key) < 0:
            raise ConfigError(f"{where(key)}: {key}={_get(config, key)!r}; expected a seed of 0 or more")
    # an empty path is most often an unset shell variable (--set run.out_dir=$OUT): read as a path it is the current
    # directory, and data.root read as none is the default cache, whose data may be others than those meant
    if config.run.out_dir == "":
        raise ConfigError(f"{where('run.out_dir')}: run.out_dir is empty; expected a folder (. for the current one)")
    if config.data.root == "":
        raise ConfigError(f"{where('data.root')}: data.root is empty; expected a path (or null for the default)")
    name = config.run.name
    # the run directory is run.out_dir/run.name: an absolute name or a .. would put it elsewhere, and "" or "."
    # would make out_dir itself the run directory (a relative path such as group/run stays inside, and is fine)
    parts = PurePath(name).parts if name is not None else ()
    if name is not None and (not parts or PurePath(name).anchor or os.pardir in parts):
        raise ConfigError(f"{where('run.name')}: run.name={name!r}; expected a directory name inside run.out_dir "
                          "(or a relative path such as group/run; not empty or ., no .., not absolute)")
    if isinstance(config.run.compile, str) and config.run.compile != "auto":
        raise ConfigError(f"{where('run.compile')}: run.compile={config.run.compile!r}; expected true, false or auto")
    device_problem = device_name_problem(config.run.device)  # whether the machine has it: when the run starts
    if device_problem:
        raise ConfigError(f"{where('run.device')}: run.device={config.run.device!r} {device_problem}")
    noise = config.data.noise
    if not 0.0 <= noise.rate <= 1.0:
        raise ConfigError(f"{where('data.noise.rate')}: data.noise.rate={noise.rate!r}; expected a fraction in [0, 1]")
    if noise.kind == "file" and not noise.file:
        raise ConfigError(f"{where('data.noise.kind', 'data.noise.file')}: data.noise.kind=file needs "
                          "data.noise.file (a path to the label array)")
    if not 0.0 < config.data.test_fraction < 1.0:
        raise ConfigError(f"{where('data.test_fraction')}: data.test_fraction={config.data.test_fraction!r}; "
                          "expected a fraction in (0, 1)")
    if not 0.0 <= config.method.momentum < 1.0:
        raise ConfigError(f"{where('method.momentum')}: method.momentum={config.method.momentum!r}; "
                          "expected a value in [0, 1)")
    _check_loss_options(config.method, where)
    _check_schedule(config.optim, where)
    _check_unused_settings(config, overridden)
    optim = config.optim
    if optim.name == "sgd" and optim.momentum >= 1.0:  # a heavy ball that never forgets: ever larger steps
        raise ConfigError(f"{where('optim.momentum')}: optim.momentum={optim.momentum!r}; expected a value in [0, 1) "
                          "(the fraction of the last step that the next one keeps)")
    if optim.name == "sgd" and optim.nesterov and optim.momentum == 0:
        raise ConfigError(f"{where('optim.nesterov', 'optim.momentum')}: optim.nesterov=true with optim.momentum="
                          f"{optim.momentum!r}; expected a positive optim.momentum (Nesterov's look-ahead is along it)")
    METHODS.get(config.method.name).check_config(config, where=where)


def named_registries() -> tuple[tuple[str, Any], ...]:
    """(key, registry) of the settings that name a registered data source, model and method."""
    from satlearn.data import SOURCES  # (those modules import this one)
    from satlearn.methods import METHODS
    from satlearn.models import MODELS

    return (("data.source", SOURCES), ("model.name", MODELS), ("method.name", METHODS))


def method_settings(method: type, values: Any, *, name: str,
                    where: typing.Callable[..., str] = lambda *keys: "config") -> Any:
    """The ``method.settings`` mapping ``values`` as an instance of ``method.Settings`` (a dataclass; its defaults
    fill in the keys not given), or None for a method that declares none, which takes an empty mapping only.

    Values are typed as satlearn's own settings are (an int is taken for a float, nothing else is converted).
    Raises :class:`ConfigError` beginning with ``where(key)`` for a key the method does not take, a value of the
    wrong type or a setting without a default left out; ``name``: the method's registered name, for the errors."""
    declared = getattr(method, "Settings", None)
    if declared is not None and not (isinstance(declared, type) and dataclasses.is_dataclass(declared)):
        raise TypeError(f"method {name!r}: {method.__name__}.Settings must be a dataclass, got {declared!r}")
    if not isinstance(values, dict):
        raise ConfigError(f"{where('method.settings')}: method.settings must be a mapping of its keys, got "
                          f"{_as_written(values)}")
    fields = [f for f in dataclasses.fields(declared) if f.init] if declared is not None else []
    _refuse_settings_not_taken(values, [f.name for f in fields], name=name, where=where)
    if declared is None:
        return None
    hints = typing.get_type_hints(declared)
    typed = {f.name: _setting_value(f, hints[f.name], values, method=method, name=name, where=where) for f in fields}
    try:
        return declared(**typed)
    except ValueError as exc:  # a __post_init__ that refuses a value: the user's own check, said in one line
        given = [f"method.settings.{key}" for key in values]
        raise ConfigError(f"{where(*given, 'method.settings')}: method {name!r} refuses its settings "
                          f"({_settings_text(typed)}): {first_line(exc)}") from None


def _settings_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={_as_written(value)}" for key, value in values.items())


def settings_values(settings: Any) -> dict[str, Any]:
    """The mapping a config holds for ``settings`` (a method's Settings instance, or None): the fields a config
    gives, not those the dataclass derives itself (``field(init=False)``), which a config could not give back."""
    if settings is None:
        return {}
    return {f.name: copy.deepcopy(getattr(settings, f.name)) for f in dataclasses.fields(settings) if f.init}


def _refuse_settings_not_taken(values: dict[str, Any], taken: list[str], *, name: str,
                               where: typing.Callable[..., str]) -> None:
    for key, value in values.items():
        if key not in taken:
            # a method.name set by --set may be what made a file's settings foreign
            origin = where(f"method.settings.{key}", "method.name")
            if not taken:
                raise ConfigError(f"{origin}: method.settings.{key}={_as_written(value)}; method {name!r} takes no "
                                  "settings of its own (its class declares no Settings)")
            raise ConfigError(f"{origin}: unknown key 'method.settings.{key}'; method {name!r} takes: "
                              f"{', '.join(taken)}")


def _setting_value(f: dataclasses.Field, tp: Any, values: dict[str, Any], *, method: type, name: str,
                   where: typing.Callable[..., str]) -> Any:
    """The typed value of the method's setting ``f``: the given one, else its default."""
    key = f"method.settings.{f.name}"
    if f.name in values:
        return _coerce(values[f.name], tp, f"{where(key)}: {key}")
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        raise ConfigError(f"{where(key, 'method.name')}: method {name!r} needs {key} (its Settings give it no "
                          "default)")
    default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
    try:
        return _coerce(default, tp, key)
    except ConfigError:  # a default the config cannot hold would be refused when the run's config.yaml is read back
        raise TypeError(f"method {name!r}: {method.__name__}.Settings.{f.name} defaults to {default!r}, not a value "
                        f"of its type ({_type_name(tp)}); a setting holds a bool, int, float, str, a list of one of "
                        "them, or null") from None


def _check_loss_options(method: MethodConfig, where: typing.Callable[..., str]) -> None:
    # checked whatever the loss, so that a run switched to another loss later finds no bad value waiting
    if method.sce_a == 0 and method.sce_b == 0:
        raise ConfigError(f"{where('method.sce_a', 'method.sce_b')}: method.sce_a and method.sce_b are both 0, "
                          "which leaves symmetric cross-entropy no loss to train on; expected at least one positive")
    if not 0.0 < method.gce_q <= 1.0:
        raise ConfigError(f"{where('method.gce_q')}: method.gce_q={method.gce_q!r}; expected a value in (0, 1]")


def _check_schedule(optim: OptimConfig, where: typing.Callable[..., str]) -> None:
    if optim.gamma <= 0:
        raise ConfigError(f"{where('optim.gamma')}: optim.gamma={optim.gamma!r}; expected a positive factor "
                          "(the learning rate is multiplied by it at each milestone)")
    milestones = optim.milestones
    if any(m < 1 for m in milestones) or any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ConfigError(f"{where('optim.milestones')}: optim.milestones={milestones!r}; expected epochs of at "
                          "least 1 in increasing order")


def unused_settings(config: Config) -> list[tuple[str, str, str]]:
    """``(key, switch, hint)`` for every setting that another one, ``switch``, switches off; only a value other
    than the default counts, so a config that leaves the key out has none."""
    defaults = Config()
    found = []

    def check(key: str, switch: str, hint: str) -> None:
        if _get(config, key) != _get(defaults, key):
            found.append((key, switch, hint))

    noise = config.data.noise
    if noise.kind == "none":
        check("data.noise.rate", "data.noise.kind", "set data.noise.kind=symmetric or pair")
    elif noise.kind == "file":
        check("data.noise.rate", "data.noise.kind", "the file's labels are trained on as they are")
    if noise.kind != "symmetric":
        check("data.noise.mode", "data.noise.kind", "it applies to data.noise.kind=symmetric only")
    if noise.kind != "file":
        check("data.noise.file", "data.noise.kind", "set data.noise.kind=file to train on its labels")
        check("data.noise.key", "data.noise.kind", "it names an array of a .npz data.noise.file")
    elif Path(noise.file).suffix in (".npy", ".csv", ".txt"):  # the other suffixes are the label reader's to refuse
        check("data.noise.key", "data.noise.file", "only a .npz archive holds arrays to choose from")
    if config.data.val_size == 0:
        check("data.val_pick", "data.val_size", "set data.val_size to hold out a validation split")
    if config.optim.name != "sgd":
        check("optim.momentum", "optim.name", "it applies to optim.name=sgd only")
        check("optim.nesterov", "optim.name", "it applies to optim.name=sgd only")
    if config.optim.schedule != "step":
        check("optim.milestones", "optim.schedule", "set optim.schedule=step to use it")
        check("optim.gamma", "optim.schedule", "set optim.schedule=step to use it")
    from satlearn.methods import METHODS  # (not at module level: the methods import this module)

    if config.method.name in METHODS:  # (an unknown one is the choices check's to name)
        for key in _foreign_options(config.method.name):
            check(key, "method.name", f"method {config.method.name} does not use it")
    return found


def _foreign_options(method: str) -> list[str]:
    """The ``method.*`` options (of :data:`METHOD_OPTIONS`, in its order) that ``method`` does not read."""
    from satlearn.methods import METHODS

    reads = METHODS.get(method).options
    return [f"method.{option}" for option in METHOD_OPTIONS if option not in reads]


def overrides_for_method(overrides, method: str, *, shared_by: typing.Sequence[str] = ()) -> list[str]:
    """``overrides`` less those that set only options ``method`` does not read (``method.momentum`` for ``erm``, say):
    for one set of ``--set``s shared by runs of several methods, where each option is meant for the methods that
    have it. ``shared_by``: all the methods of those runs; an override none of them reads is a
    :class:`ConfigError` (it would be dropped from every run)."""
    def only(text: str, foreign: list[str]) -> bool:
        keys = override_keys(text)
        return bool(keys) and set(keys) <= set(foreign)

    for text in overrides:
        if shared_by and all(only(text, _foreign_options(other)) for other in shared_by):
            raise ConfigError(f"--set {text}: none of the methods here ({', '.join(sorted(set(shared_by)))}) uses it")
    foreign = _foreign_options(method)
    return [text for text in overrides if not only(text, foreign)]


def describe_unused(config: Config, key: str, switch: str) -> str:
    return f"{key}={_get(config, key)!r} has no effect with {switch}={_get(config, switch)}"


def _check_unused_settings(config: Config, overridden: dict[str, str]) -> None:
    """Refuses a ``--set`` whose setting another one switches off: the run would look configured and silently not
    be (``--set data.noise.rate=0.4`` without a noise kind trained on clean labels). A config file's own unused
    values are not refused: a recipe switched off from the command line (``--set data.noise.kind=none`` on a
    noisy recipe) keeps its rate in the file, and the run logs a note instead (see the trainer)."""
    for key, switch, hint in unused_settings(config):
        if key in overridden:
            raise ConfigError(f"{overridden[key]}: {describe_unused(config, key, switch)}; {hint}")
