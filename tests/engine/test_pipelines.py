"""The in-memory fast path and the DataLoader reference path compute the same training trajectory on CPU."""

import pytest
import torch

from fixtures import write_fake_cifar10
from satlearn.config import load_config
from satlearn.engine import fit
from satlearn.engine.checkpoint import load_checkpoint


def assert_pipelines_train_alike(base: list[str], tmp_path) -> dict:
    """Trains ``base`` on the memory and on the reference pipeline; asserts equal losses and final state, and
    returns the memory run's checkpointed method state."""
    fast = fit(load_config(None, [*base, "data.pipeline=memory"]), tmp_path / "fast")
    reference = fit(load_config(None, [*base, "data.pipeline=reference", "data.workers=0"]), tmp_path / "ref")
    # two pipelines compared, not one twice: equal results of one loader would prove nothing
    assert (fast.summary["runtime"]["pipeline"], reference.summary["runtime"]["pipeline"]) == ("memory", "reference")
    assert [r["train_loss"] for r in fast.history] == [r["train_loss"] for r in reference.history]
    a, b = load_checkpoint(tmp_path / "fast")["method"], load_checkpoint(tmp_path / "ref")["method"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    return a


def test_fast_path_maths_equals_the_reference_path(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=12)
    base = ["data.source=cifar10", f"data.root={root}", "data.augment=crop_flip", "data.batch_size=16",
            "model.name=resnet18", "model.width=2", "run.epochs=3", "method.start_epoch=1", "run.progress=false",
            "run.device=cpu", "data.noise.kind=symmetric", "data.noise.rate=0.4", "optim.name=sgd", "optim.lr=0.05"]
    a = assert_pipelines_train_alike(base, tmp_path)
    assert not torch.equal(a["targets.targets"], torch.nn.functional.one_hot(a["targets.labels"], 10).float())


def test_channels_last_changes_layout_not_results(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    # width 8: torch 2.13's CPU oneDNN kernel for the backward of a channels-last 1x1 stride-2 convolution with
    # fewer than 8 input channels hangs or corrupts memory on some x86 CPUs
    base = ["data.source=cifar10", f"data.root={root}", "data.batch_size=16", "model.name=resnet18", "model.width=8",
            "run.epochs=2", "method.start_epoch=1", "run.progress=false", "run.device=cpu"]
    plain = fit(load_config(None, [*base, "run.channels_last=false"]), tmp_path / "plain")
    nhwc = fit(load_config(None, [*base, "run.channels_last=true"]), tmp_path / "nhwc")
    # other conv kernels round differently, and BatchNorm on batches of 16 amplifies that from step to step
    first, last = (abs(x["train_loss"] - y["train_loss"]) / x["train_loss"] for x, y in zip(plain.history, nhwc.history))
    assert first < 1e-3 and last < 1e-2


def test_compiled_model_follows_the_eager_trajectory(tmp_path):
    from fixtures import tiny_overrides

    eager = fit(load_config(None, tiny_overrides(tmp_path, "model.name=mlp")), tmp_path / "eager")
    compiled = fit(load_config(None, tiny_overrides(tmp_path, "model.name=mlp", "run.compile=true")),
                   tmp_path / "compiled")
    for x, y in zip(eager.history, compiled.history):
        assert abs(x["train_loss"] - y["train_loss"]) < 1e-5 * abs(x["train_loss"])
    # the checkpoint of a compiled run loads into an eager model (same state_dict keys)
    assert load_checkpoint(tmp_path / "compiled")["method"].keys() == load_checkpoint(tmp_path / "eager")["method"].keys()


def test_auto_pipeline_falls_back_to_streaming_when_the_data_would_crowd_the_gpu(monkeypatch):
    from satlearn.data.base import DatasetSplits
    from satlearn.engine.trainer import choose_pipeline

    x = torch.zeros(100, 3, 8, 8, dtype=torch.uint8)  # 19,200 bytes for train, the same for test
    y = torch.zeros(100, dtype=torch.int64)
    data = DatasetSplits(x_train=x, y_train=y, x_test=x, y_test=y, num_classes=10, class_names=list("abcdefghij"),
                         kind="image", name="toy")
    config = load_config(None, ["data.pipeline=auto"])
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * 38_400, 10**9))
    assert choose_pipeline(config, data, cuda) == "memory"  # exactly half the free memory still fits
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * 38_400 - 2, 10**9))
    assert choose_pipeline(config, data, cuda) == "reference"
    assert choose_pipeline(load_config(None, ["data.pipeline=memory"]), data, cuda) == "memory"
    assert choose_pipeline(config, data, torch.device("cpu")) == "memory"


def test_the_pipelines_train_alike_when_the_step_draws_from_torchs_generator(tmp_path):
    # a bfloat16 table rounds its updates at random from torch's global generator, as dropout draws its masks
    from fixtures import tiny_overrides

    assert_pipelines_train_alike(tiny_overrides(tmp_path, "model.name=mlp", "method.targets_dtype=bfloat16",
                                                "run.threads=1"), tmp_path)


def test_data_that_do_not_fit_on_the_device_for_the_memory_pipeline_are_refused_in_one_line(monkeypatch):
    # data.pipeline=memory puts the whole dataset on the device whatever the free memory: an allocation that fails
    # there is the data's size, which the reference pipeline (data in host memory) gets round
    from satlearn.data.base import DatasetSplits
    from satlearn.engine import trainer
    from satlearn.errors import ConfigError

    x, y = torch.zeros(10, 3, 8, 8, dtype=torch.uint8), torch.arange(10) % 2
    data = DatasetSplits(x_train=x, y_train=y, x_test=x, y_test=y, num_classes=2, class_names=["a", "b"],
                         kind="image", name="toy")
    failure = "CUDA out of memory. Tried to allocate 2.00 GiB\nmore of torch's advice"

    def no_room(*args, **kwargs):
        raise getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)(failure)  # (torch.cuda's before 2.5)

    monkeypatch.setattr(trainer, "InMemoryLoader", no_room)
    config = load_config(None, ["data.pipeline=memory"])
    with pytest.raises(ConfigError, match=r"^data\.pipeline=memory: the toy data do not fit in cpu memory \(CUDA out "
                                          r"of memory\. Tried to allocate 2\.00 GiB\); use data\.pipeline=reference, "
                                          r"which keeps them in host memory$"):
        trainer.make_loaders(config, data, y, torch.device("cpu"))
    monkeypatch.setattr(trainer, "InMemoryLoader", lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError, match="^x$"):  # any other failure is not blamed on the data's size
        trainer.make_loaders(config, data, y, torch.device("cpu"))
