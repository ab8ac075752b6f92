import os

import pytest
import torch

from fixtures import tiny_overrides
from satlearn.config import load_config
from satlearn.engine import fit
from satlearn.engine import runtime
from satlearn.engine.runtime import cudnn_autotuning, loader_workers
from satlearn.errors import ConfigError


def test_cudnn_autotuning_is_scoped_and_restored():
    before = torch.backends.cudnn.benchmark
    with cudnn_autotuning(not before):
        assert torch.backends.cudnn.benchmark is (not before)
    assert torch.backends.cudnn.benchmark is before
    try:
        with cudnn_autotuning(not before):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert torch.backends.cudnn.benchmark is before


def test_cudnn_autotuning_limit_is_scoped_and_left_alone_when_not_given():
    before = torch.backends.cudnn.benchmark_limit
    with cudnn_autotuning(True, limit=0):
        assert torch.backends.cudnn.benchmark_limit == 0
        with cudnn_autotuning(True):
            assert torch.backends.cudnn.benchmark_limit == 0
    assert torch.backends.cudnn.benchmark_limit == before


def test_a_negative_cudnn_benchmark_limit_is_refused():
    with pytest.raises(ConfigError, match="run.cudnn_benchmark_limit=-1; expected a non-negative"):
        load_config(None, ["run.cudnn_benchmark_limit=-1"])
    assert load_config(None, ["run.cudnn_benchmark_limit=0"]).run.cudnn_benchmark_limit == 0


def test_fit_leaves_the_global_cudnn_setting_as_it_found_it(tmp_path, monkeypatch):
    seen = []
    from satlearn.engine import trainer

    real_fit = trainer._fit
    monkeypatch.setattr(trainer, "_fit", lambda *a, **k: (seen.append(torch.backends.cudnn.benchmark),
                                                           real_fit(*a, **k))[1])
    torch.backends.cudnn.benchmark = False
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=1", "method.start_epoch=0")), tmp_path / "run")
    assert seen == [True] and torch.backends.cudnn.benchmark is False


def test_a_device_error_names_the_setting_it_came_from():
    from satlearn.engine.runtime import resolve_device

    with pytest.raises(ConfigError, match=r"^run\.device='gpu0' is not a device name"):
        resolve_device("gpu0")
    # a command's option is named with its value, as its other options are (--data-root nope: ...)
    with pytest.raises(ConfigError, match=r"^--device gpu0: not a device name; expected auto, cpu, cuda, cuda:N or "
                                          r"mps$"):
        resolve_device("gpu0", setting="--device")
    for other in ("meta", "xla"):  # names torch knows but cannot train a run on here
        with pytest.raises(ConfigError, match=rf"^run\.device='{other}' is not a device satlearn runs on; expected "
                                              r"auto, cpu, cuda, cuda:N or mps$"):
            resolve_device(other)
    with pytest.raises(ConfigError, match=r"^--device meta: not a device satlearn runs on; expected "):
        resolve_device("meta", setting="--device")


def test_a_device_this_machine_lacks_is_named_with_the_setting_that_picks_another(monkeypatch):
    from satlearn.engine.runtime import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # (also where the tests run on a GPU)
    with pytest.raises(ConfigError, match=r"^run\.device='cuda' but CUDA is not available on this machine; use "
                                          r"run\.device=auto or cpu$"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match=r"^--device cuda:1: CUDA is not available on this machine; use --device auto "
                                          r"or cpu$"):
        resolve_device("cuda:1", setting="--device")


def test_the_random_state_includes_the_mps_generator_where_there_is_one(monkeypatch):
    from satlearn.engine.runtime import rng_state, set_rng_state

    generator = {"state": torch.tensor([1, 2, 3], dtype=torch.uint8)}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: generator["state"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: generator.update(state=state))
    saved = rng_state()
    generator["state"] = torch.tensor([9, 9, 9], dtype=torch.uint8)  # draws move the generator on
    set_rng_state(saved)
    assert generator["state"].tolist() == [1, 2, 3]


def test_a_run_resumed_on_fewer_gpus_restores_the_generators_of_those_it_has(monkeypatch):
    from satlearn.engine.runtime import rng_state, set_rng_state

    restored = []
    state = {**rng_state(), "cuda": [torch.full((16,), i, dtype=torch.uint8) for i in range(4)]}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda generator, device: restored.append((int(generator[0]), device)))
    set_rng_state(state)
    assert restored == [(0, 0), (1, 1)]


@pytest.mark.parametrize("cpus, expected", [(1, 1), (2, 2), (4, 4), (16, 4)])
def test_unset_loader_workers_are_the_official_four_or_one_per_cpu_where_fewer(monkeypatch, cpus, expected):
    monkeypatch.setattr(runtime, "usable_cpus", lambda: cpus)
    assert loader_workers(None) == expected


@pytest.mark.parametrize("configured", [0, 3, 8])
def test_loader_workers_asked_for_are_kept_whatever_the_cpus(monkeypatch, configured):
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 2)
    assert loader_workers(configured) == configured


def test_usable_cpus_counts_at_least_one():
    assert 1 <= runtime.usable_cpus() <= (os.cpu_count() or 1)


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_picks_cuda_before_mps_before_the_cpu(monkeypatch, cuda, mps, expected):
    from satlearn.engine.runtime import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)


@pytest.mark.parametrize("amp, expected", [("bf16", torch.bfloat16), ("auto", torch.float32), ("off", torch.float32)])
def test_amp_on_the_cpu_is_bf16_only_when_asked_for(amp, expected):
    from satlearn.engine.runtime import autocast

    a, b = torch.ones(2, 3), torch.ones(3, 2)
    with autocast(torch.device("cpu"), amp):
        assert (a @ b).dtype == expected


def draws():
    import random

    import numpy as np

    return random.random(), float(np.random.rand()), float(torch.rand(()))


@pytest.mark.parametrize("seed", [3, -1, 2**40])
def test_seeding_fixes_the_draws_of_python_numpy_and_torch(seed):
    from satlearn.engine.runtime import seed_everything

    seed_everything(seed)
    first = draws()
    seed_everything(seed + 1)
    other = draws()
    seed_everything(seed)
    assert draws() == first and all(a != b for a, b in zip(first, other))


def test_a_saved_random_state_brings_back_every_generators_next_draws():
    from satlearn.engine.runtime import rng_state, seed_everything, set_rng_state

    seed_everything(0)
    saved = rng_state()
    expected = draws()
    draws()  # the generators move on
    set_rng_state(saved)
    assert draws() == expected


def test_a_saved_random_state_holds_only_what_a_checkpoint_is_read_back_with_and_numpys_own_tuple_restores_too():
    # checkpoints are read with torch's restricted loading, which makes no NumPy array unless told to: NumPy's state
    # is kept in numbers and lists; checkpoints written before keep NumPy's own tuple, which restores the same
    import numpy as np

    from satlearn.engine.runtime import rng_state, seed_everything, set_rng_state

    def leaves(value):
        if isinstance(value, dict):
            return [leaf for item in value.values() for leaf in leaves(item)]
        if isinstance(value, (list, tuple)):
            return [leaf for item in value for leaf in leaves(item)]
        return [value]

    seed_everything(0)
    np.random.standard_normal()  # leaves a cached Gaussian in NumPy's state
    saved, numpys_own = rng_state(), np.random.get_state()
    assert {type(leaf) for leaf in leaves(saved)} <= {int, float, str, type(None), torch.Tensor}
    expected = (*draws(), float(np.random.standard_normal()))
    for state in (saved, {**saved, "numpy": numpys_own}):
        draws()
        np.random.standard_normal()
        set_rng_state(state)
        assert (*draws(), float(np.random.standard_normal())) == expected


def test_fit_leaves_the_callers_random_numbers_as_it_found_them(tmp_path):
    # a random search that draws each run's settings between runs would otherwise draw the same ones from the
    # second run on: every run reseeds the generators with run.seed
    from satlearn.engine.runtime import seed_everything

    seed_everything(123)
    expected = draws()
    seed_everything(123)
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=1", "method.start_epoch=0")), tmp_path / "run",
        log=lambda message: None)
    assert draws() == expected


def test_loading_a_run_leaves_the_callers_random_numbers_as_it_found_them(finished_sat_run, tmp_path):
    # the model is built, with random weights, before the run's own are loaded into it: a notebook that seeds, loads
    # a run to predict with and then draws its own random inputs would otherwise draw other ones than without it
    from satlearn.engine import evaluate_run, load_run
    from satlearn.engine.runtime import seed_everything
    from satlearn.selective import SelectivePredictor

    seed_everything(123)
    expected = draws()
    seed_everything(123)
    load_run(finished_sat_run)
    evaluate_run(finished_sat_run, out=tmp_path / "eval.json")
    SelectivePredictor.from_run(finished_sat_run, coverage=0.9)
    assert draws() == expected


def test_usable_cpus_are_the_ones_this_process_may_run_on_else_all(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)  # as when started pinned to CPUs 0 and 3
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert runtime.usable_cpus() == 2
    monkeypatch.delattr(os, "sched_getaffinity")  # as on macOS and Windows
    assert runtime.usable_cpus() == 8
