import numpy as np
import pytest
import torch

from fixtures import tiny_overrides
from satlearn.config import load_config
from satlearn.engine import evaluate_run, fit
from satlearn.engine.checkpoint import load_checkpoint


def split_config(tmp_path, *extra):
    return load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4",
                                            "run.epochs=2", "data.val_size=60", *extra))


def test_the_training_batches_are_the_examples_outside_the_validation_split_with_their_given_labels(tmp_path,
                                                                                                 monkeypatch):
    from satlearn.engine import trainer

    seen = []
    real_train_one_epoch = trainer.train_one_epoch

    def recording(method, optimizer, loader, epoch, **options):
        seen.extend(loader.epoch(epoch))  # the batches this epoch trains on (each epoch's order is its seed's)
        return real_train_one_epoch(method, optimizer, loader, epoch, **options)

    monkeypatch.setattr(trainer, "train_one_epoch", recording)
    fit(split_config(tmp_path), tmp_path / "run", log=lambda m: None)
    monkeypatch.undo()
    _, _, noisy, _ = trainer.load_run(tmp_path / "run")
    with np.load(tmp_path / "run" / "labels.npz") as saved:
        train_index, val_index = torch.from_numpy(saved["train_index"]), saved["val_index"]
    inputs, labels = noisy.data.x_train[train_index], noisy.labels[train_index]
    assert seen and sum(len(y) for _, y, _ in seen) == 2 * 260
    for x, y, idx in seen:  # idx numbers the examples trained on, as the targets' rows do
        assert torch.equal(x, inputs[idx]) and torch.equal(y, labels[idx])
    trained = {tuple(row.tolist()) for x, _, _ in seen for row in x}
    assert not trained & {tuple(row.tolist()) for row in noisy.data.x_train[val_index]}


def test_a_split_of_the_last_examples_says_so_in_its_log_and_summary_and_each_epoch_line_gives_its_accuracy(
        tmp_path):
    messages = []
    result = fit(split_config(tmp_path, "data.val_pick=last"), tmp_path / "run", log=messages.append)
    assert ("validation split: 60 of the 320 training examples held out (the last ones in the training split's "
            "order), with their given labels; 260 train") in messages
    assert result.summary["validation"]["pick"] == "last"
    assert np.load(tmp_path / "run" / "labels.npz")["val_index"].tolist() == list(range(260, 320))
    # without progress bars, one line per epoch, the validation accuracy after the test accuracy, saying it is
    # against the given labels (a log read alone may be taken for the clean accuracy)
    lines = [m for m in messages if m.startswith("epoch ")]
    assert len(lines) == 2
    for line, row in zip(lines, result.history):
        assert line.startswith(f"epoch {row['epoch']}/2: train loss ")
        assert (f", test accuracy {100 * row['test_accuracy']:.2f} %, validation accuracy "
                f"{100 * row['val_accuracy']:.2f} % (given labels), ") in line


def test_under_bf16_autocast_the_validation_figures_of_each_epoch_are_what_eval_split_val_gives(tmp_path):
    # a run on CUDA evaluates in bf16 by default (run.amp auto): the split is scored in the run's precision, as
    # the test split and eval --split val score it
    result = fit(split_config(tmp_path, "run.amp=bf16"), tmp_path / "run", log=lambda m: None)
    last = result.history[-1]
    scored = evaluate_run(tmp_path / "run", split="val")
    assert scored["val_loss"] == pytest.approx(last["val_loss"], rel=1e-5)
    assert (scored["val_accuracy"], scored["val_clean_accuracy"]) == (last["val_accuracy"],
                                                                      last["val_clean_accuracy"])


def test_splits_a_source_loaded_without_a_validation_split_are_its_own_for_a_run_that_holds_one_out(tmp_path):
    from satlearn.data import load_dataset

    splits = load_dataset(split_config(tmp_path, "data.val_size=0").data, progress=False)
    # the split is held out by fit, not by the source: the same splits with or without one
    run = tmp_path / "run"
    result = fit(split_config(tmp_path, "data.val_pick=last"), run, dataset=splits, log=lambda m: None)
    assert load_checkpoint(run)["given_splits_from_source"] is True
    # resumed and evaluated without them, from the source
    assert evaluate_run(run, split="val")["val_accuracy"] == result.history[-1]["val_accuracy"]


def test_a_resumed_run_keeps_the_weights_of_the_epoch_its_validation_split_picked(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    # the validation split (60 examples) picks epoch 2, the test split (80) epoch 1: the run stops after epoch 3
    # and is resumed
    scripts = {60: iter([0.2, 0.5, 0.3, 0.4]), 80: iter([0.6, 0.1, 0.2, 0.3])}
    real_evaluate = trainer.evaluate
    monkeypatch.setattr(trainer, "evaluate", lambda method, loader, **options: {
        **real_evaluate(method, loader, **options), "accuracy": next(scripts[loader.num_examples])})
    config = split_config(tmp_path, "run.epochs=4", "run.keep_best=true")
    fit(config, tmp_path / "run", stop_after_epoch=3, log=lambda m: None)
    messages = []
    fit(config, tmp_path / "run", resume=True, log=messages.append)
    monkeypatch.undo()
    assert not [m for m in messages if "removed" in m]
    kept = torch.load(tmp_path / "run" / "best_model.pt", weights_only=True)
    assert (kept["epoch"], kept["chosen_by"]) == (2, "val")
    assert evaluate_run(tmp_path / "run", best=True)["epoch"] == 2


def test_an_epoch_that_would_end_on_one_example_of_those_outside_the_split_skips_it_so_batchnorm_trains(tmp_path):
    from fixtures import write_fake_cifar10

    root = write_fake_cifar10(tmp_path, per_batch=8)  # 40 training images, 7 held out: 33 = 4 × 8 + 1 trained on
    config = load_config(None, ["data.source=cifar10", f"data.root={root}", "data.batch_size=8", "model.name=vgg16_bn",
                                "model.width=2", "method.name=erm", "run.epochs=1", "run.progress=false",
                                "run.device=cpu", "data.val_size=7", f"run.out_dir={tmp_path}"])
    result = fit(config, tmp_path / "run", log=lambda m: None)  # VGG's BatchNorm1d would refuse the batch of one
    assert result.summary["validation"]["size"] == 7
