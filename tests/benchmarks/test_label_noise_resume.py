"""A label-noise cell stopped part-way by SIGTERM and started again ends as the same cell trained without a stop; a
run directory that holds a run on other data or other noise labels is neither resumed nor recorded as the cell."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fixtures import write_fake_cifar10

BENCH = Path(__file__).parents[2] / "benchmarks"

# label_noise.py with SIGTERM sent to its own process in the middle of epoch STOP_IN (after its first step), as a
# scheduler's stop lands: the interrupted epoch is lost, the run resumes from its last checkpoint
SIGTERM_MID_EPOCH = """
import os, runpy, signal, sys
import satlearn.engine.trainer as trainer

STOP_IN = int(os.environ["STOP_IN_EPOCH"])
train_one_epoch = trainer.train_one_epoch


class StopAfterFirstBatch:
    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def epoch(self, epoch):
        for number, batch in enumerate(self.loader.epoch(epoch)):
            if number == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            yield batch


def stopping(method, optimizer, loader, epoch, **options):
    if epoch + 1 == STOP_IN:
        loader = StopAfterFirstBatch(loader)
    return train_one_epoch(method, optimizer, loader, epoch, **options)


trainer.train_one_epoch = stopping
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def cell_command(root, runs: Path, results: Path, method: str) -> list[str]:
    return [str(BENCH / "label_noise.py"), "--recipe", "fast", "--data-root", str(root), "--runs-dir", str(runs),
            "--results-dir", str(results), "--report", "none", "--methods", method, "--noise", "sym40",
            "--set", "model.width=2", "--set", "data.batch_size=16", "--set", "method.start_epoch=1",
            "--set", "run.device=cpu", "--set", "run.threads=1", "--set", "run.epochs=4",
            "--set", "run.checkpoint_every=2"]


def recorded(results: Path, method: str) -> dict:
    return json.loads((results / "label_noise" / "fast" / f"{method}-sym40.json").read_text())


def test_a_cell_stopped_by_sigterm_mid_epoch_resumes_to_the_uninterrupted_cells_figures(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    method = "sat"  # the method whose state (soft targets) a resumption must carry too
    subprocess.run([sys.executable, *cell_command(root, tmp_path / "whole", tmp_path / "whole_results", method)],
                   check=True, capture_output=True, text=True)
    wrapper = tmp_path / "sigterm_mid_epoch.py"
    wrapper.write_text(SIGTERM_MID_EPOCH)
    stopped_command = cell_command(root, tmp_path / "stopped", tmp_path / "stopped_results", method)
    # stopped in epoch 4, after the checkpoint of epoch 2: epoch 3's training is lost and done again
    stopped = subprocess.run([sys.executable, str(wrapper), *stopped_command], capture_output=True, text=True,
                             env={**os.environ, "STOP_IN_EPOCH": "4"})
    assert stopped.returncode == 143, stopped.stderr
    assert "checkpoint after epoch 2" in stopped.stderr, stopped.stderr
    assert not (tmp_path / "stopped_results").exists()  # nothing recorded for a cell stopped part-way
    again = subprocess.run([sys.executable, *stopped_command], check=True, capture_output=True, text=True)
    assert "resumed" in again.stdout
    whole, resumed = recorded(tmp_path / "whole_results", method), recorded(tmp_path / "stopped_results", method)
    for key in ("epochs", "last_test_accuracy", "best_test_accuracy", "best_epoch", "actual_noise_rate",
                "label_issues"):
        assert resumed[key] == whole[key], key
    # the per-epoch metrics, one row per epoch, with no row of the lost attempt left behind
    rows = [json.loads(line) for line in
            (tmp_path / "stopped_results" / "label_noise" / "fast" / f"{method}-sym40.metrics.jsonl").open()]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    # each epoch trained exactly as without the stop (a tiny run's accuracy alone could agree by chance)
    whole_rows = [json.loads(line) for line in
                  (tmp_path / "whole_results" / "label_noise" / "fast" / f"{method}-sym40.metrics.jsonl").open()]
    assert [(r["train_loss"], r["test_loss"]) for r in rows] == [(r["train_loss"], r["test_loss"]) for r in whole_rows]
    assert resumed["run_seconds"] == sum(row["epoch_seconds"] for row in rows)
    # a resumed cell has no whole-run time; the uninterrupted one has
    assert resumed["fit_seconds"] is None and whole["fit_seconds"] > 0
    assert [r["after_epoch"] for r in resumed["resumptions"]] == [2] and whole["resumptions"] == []
    # started once more, the finished cell is neither trained again nor recorded again
    before = (tmp_path / "stopped_results" / "label_noise" / "fast" / f"{method}-sym40.json").read_text()
    third = subprocess.run([sys.executable, *stopped_command], check=True, capture_output=True, text=True)
    assert "recorded earlier, skipped" in third.stdout and "resumed" not in third.stdout
    assert (tmp_path / "stopped_results" / "label_noise" / "fast" / f"{method}-sym40.json").read_text() == before


def test_a_finished_run_trained_on_other_data_is_not_recorded_as_the_cell(tmp_path):
    # data.root may differ from machine to machine, so a run's config leaves it out: its data decide, as they do
    # when a stopped run resumes (a smoke test's fake CIFAR-10 left in the same --runs-dir is no cell of the grid)
    trained_on = write_fake_cifar10(tmp_path / "trained_on", per_batch=8, seed=0)
    other = write_fake_cifar10(tmp_path / "other", per_batch=8, seed=1)
    results = tmp_path / "results"
    command = cell_command(trained_on, tmp_path / "runs", results, "ce")
    subprocess.run([sys.executable, *command], check=True, capture_output=True, text=True)
    kept = (results / "label_noise" / "fast" / "ce-sym40.json").read_text()
    command[command.index("--data-root") + 1] = str(other)
    again = subprocess.run([sys.executable, *command, "--redo"], capture_output=True, text=True)
    run_dir = tmp_path / "runs" / "fast" / "ce-sym40"
    assert again.returncode == 1 and again.stderr == "1 of 1 cells failed; see above\n", again.stderr
    assert f"ce-sym40: FAILED: {run_dir}: cannot record it: the data differ from those the run was trained on (" \
        in again.stdout
    assert "not recorded as this cell" in again.stdout
    assert (results / "label_noise" / "fast" / "ce-sym40.json").read_text() == kept
    # on the data it trained on, it is recorded again without training
    command[command.index("--data-root") + 1] = str(trained_on)
    same = subprocess.run([sys.executable, *command, "--redo"], check=True, capture_output=True, text=True)
    assert "ce-sym40: finished earlier" in same.stdout and "resumed" not in same.stdout


def test_a_stopped_run_trained_on_other_noise_labels_is_not_resumed_as_the_cell(tmp_path):
    # a resumption takes the labels its checkpoint kept, not the file's: the file's content decides, as it does for
    # a finished run, before the run goes on under the cell's name
    root = write_fake_cifar10(tmp_path, per_batch=8)
    for name, seed in (("trained_on", 0), ("other", 1)):
        np.savez(tmp_path / f"{name}.npz", worst=np.random.default_rng(seed).integers(0, 10, 40).astype(np.uint8))
    results = tmp_path / "results"
    command = cell_command(root, tmp_path / "runs", results, "ce")
    command[command.index("sym40")] = "c10n-worst"
    stopped = subprocess.run([sys.executable, *command, "--cifar10n", str(tmp_path / "trained_on.npz"),
                              "--stop-after-epoch", "1"], check=True, capture_output=True, text=True)
    assert "(stopped early)" in stopped.stdout
    again = subprocess.run([sys.executable, *command, "--cifar10n", str(tmp_path / "other.npz")],
                           capture_output=True, text=True)
    run_dir = tmp_path / "runs" / "fast" / "ce-c10n-worst"
    assert again.returncode == 1 and "ce-c10n-worst: resumed" not in again.stdout, again.stdout
    assert f"ce-c10n-worst: FAILED: {run_dir}: started on other noisy labels than {tmp_path / 'other.npz'} (worst)" \
        in again.stdout
    assert not results.exists()
    # with the labels it started on, it resumes
    resumed = subprocess.run([sys.executable, *command, "--cifar10n", str(tmp_path / "trained_on.npz")],
                             check=True, capture_output=True, text=True)
    assert "ce-c10n-worst: resumed" in resumed.stdout


def test_a_stopped_run_trained_on_other_data_fails_its_cell_alone(tmp_path):
    # its resumption would refuse the data too, but as bad data shared by the grid, stopping every cell after it
    trained_on = write_fake_cifar10(tmp_path / "trained_on", per_batch=8, seed=0)
    other = write_fake_cifar10(tmp_path / "other", per_batch=8, seed=1)
    command = cell_command(trained_on, tmp_path / "runs", tmp_path / "results", "ce")
    subprocess.run([sys.executable, *command, "--stop-after-epoch", "1"], check=True, capture_output=True, text=True)
    command[command.index("--data-root") + 1] = str(other)
    command[command.index("--noise") + 1:command.index("--noise") + 2] = ["sym40", "sym20"]  # a cell after it
    again = subprocess.run([sys.executable, *command], capture_output=True, text=True)
    run_dir = tmp_path / "runs" / "fast" / "ce-sym40"
    assert again.returncode == 1 and again.stderr == "1 of 2 cells failed; see above\n", again.stderr
    assert f"ce-sym40: FAILED: {run_dir}: cannot resume: the data differ from those the run was trained on (" \
        in again.stdout
    assert "not resumed as this cell" in again.stdout
    assert (tmp_path / "results" / "label_noise" / "fast" / "ce-sym20.json").exists()
