import csv
import json
import os
import re
import sys

import numpy as np
import pytest
import torch

from fixtures import tiny_overrides
from satlearn.config import dump_yaml, load_config
from satlearn.engine import evaluate_run, fit
from satlearn.engine.checkpoint import load_checkpoint, save_checkpoint
from satlearn.errors import ConfigError, DataError, TrainingError
from satlearn.methods.sat import SAT


def tiny_config(tmp_path, *extra):
    return load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4",
                                            "run.epochs=4", *extra))


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_run_writes_all_its_outputs(tmp_path):
    messages = []
    result = fit(tiny_config(tmp_path), tmp_path / "run", log=messages.append)
    run = tmp_path / "run"
    for name in ("config.yaml", "labels.npz", "metrics.jsonl", "metrics.csv", "summary.json", "curves.png",
                 "refined_labels.csv", "soft_targets.npy", "checkpoint.pt"):
        assert (run / name).exists(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_test_accuracy"] == result.history[-1]["test_accuracy"]
    assert 0.3 < summary["noise"]["actual_rate"] < 0.4
    rows = list(csv.DictReader((run / "refined_labels.csv").open()))
    assert list(rows[0]) == ["index", "given_label", "refined_label", "confidence", "flagged", "given_class",
                            "refined_class"]  # MNIST-1D: the training order is the source's own, no origin column
    targets = np.load(run / "soft_targets.npy")
    assert len(rows) == len(targets) == 320
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    flagged = sum(int(r["flagged"]) for r in rows)
    assert flagged == summary["label_issues"]["flagged"]
    assert [int(r["refined_label"]) for r in rows] == targets.argmax(axis=1).tolist()
    # the last epoch's refined-label accuracy is the written table's, scored against the labels before noise
    clean = np.load(run / "labels.npz")["clean_labels"]
    assert result.history[-1]["refined_label_accuracy"] == pytest.approx(
        (targets.argmax(axis=1) == clean).mean(), abs=1e-6)  # float32 mean of 320 flags vs float64: 1/320 apart
    assert len(list(csv.DictReader((run / "metrics.csv").open()))) == 4
    assert evaluate_run(run)["test_accuracy"] == pytest.approx(summary["final_test_accuracy"])
    # what the auto settings resolved to, logged at the start and kept
    threads = torch.get_num_threads()  # run.threads is null: torch's default, as the run found it
    assert summary["runtime"] == {"device": "cpu", "threads": threads, "pipeline": "memory", "amp": "off",
                                  "channels_last": False, "compile": "off", "fused_optimizer": False}
    assert f"runtime: device cpu, threads {threads}, pipeline memory, amp off, channels_last off, compile off, " \
           "fused_optimizer off" in messages
    assert summary["resumptions"] == []


def test_the_runtime_line_gives_every_switch_as_on_or_off_and_leaves_the_summarys_booleans_alone():
    from satlearn.engine.trainer import runtime_line

    # a CUDA run's settings, as describe_runtime gives them for summary.json
    runtime = {"device": "cuda:0", "device_name": "NVIDIA H100", "pipeline": "reference", "workers": 4, "amp": "bf16",
               "channels_last": True, "compile": "max-autotune+tuning", "fused_optimizer": False,
               "cudnn_benchmark": True, "cudnn_benchmark_limit": 0}
    kept = dict(runtime)
    assert runtime_line(runtime) == (
        "runtime: device cuda:0, device_name NVIDIA H100, pipeline reference, workers 4, amp bf16, channels_last on, "
        "compile max-autotune+tuning, fused_optimizer off, cudnn_benchmark on, cudnn_benchmark_limit 0")
    assert runtime == kept and runtime["channels_last"] is True  # what report.py reads stays a boolean


def test_a_run_says_where_its_wall_time_went(tmp_path):
    import time

    started = time.perf_counter()
    result = fit(tiny_config(tmp_path, "run.eval_every=2", "run.checkpoint_every=2"), tmp_path / "run",
                 log=lambda message: None)
    elapsed = time.perf_counter() - started
    timing = json.loads((tmp_path / "run" / "summary.json").read_text())["timing"]
    assert timing == result.summary["timing"] and timing["resumed"] is False
    rows = result.history
    assert [("eval_seconds" in row) for row in rows] == [False, True, False, True]
    for row in rows:
        assert 0 < row["train_pass_seconds"] <= row["epoch_seconds"]
        assert row["train_pass_seconds"] + row.get("eval_seconds", 0.0) <= row["epoch_seconds"]
    assert timing["epochs_seconds"] == sum(row["epoch_seconds"] for row in rows)
    assert timing["train_pass_seconds"] == sum(row["train_pass_seconds"] for row in rows)
    assert timing["eval_seconds"] == rows[1]["eval_seconds"] + rows[3]["eval_seconds"]
    parts = ("setup_seconds", "epochs_seconds", "between_epochs_seconds", "finish_seconds")
    assert all(timing[part] > 0 for part in parts)
    assert 0 < timing["checkpoint_wait_seconds"] <= timing["between_epochs_seconds"]
    # the parts tile the call: what is left is the summary file (an fsync) and the call itself, a small share even
    # on a busy machine, where a part left out would be most of a second or more
    assert 0 <= elapsed - sum(timing[part] for part in parts) < 0.5 + 0.1 * elapsed


def test_a_resumed_run_says_its_set_up_covers_the_last_process_only(tmp_path):
    config = tiny_config(tmp_path, "run.epochs=2")
    fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda message: None)
    result = fit(config, tmp_path / "run", resume=True, log=lambda message: None)
    timing = result.summary["timing"]
    assert timing["resumed"] is True
    assert timing["epochs_seconds"] == sum(row["epoch_seconds"] for row in result.history)  # both processes'
    assert 0 < timing["between_epochs_seconds"]


def test_each_resumption_carries_the_earlier_processes_wall_time_and_resumptions_forward(tmp_path):
    config = tiny_config(tmp_path)
    run = tmp_path / "run"
    fit(config, run, stop_after_epoch=1, log=lambda message: None)
    # as if the first process had run for 1000 s: more than a tiny run's epochs add up to, so only the time
    # carried over from the checkpoint reaches it
    state = load_checkpoint(run)
    state["wall_seconds"] = 1000.0
    torch.save(state, run / "checkpoint.pt")
    fit(config, run, resume=True, stop_after_epoch=2, log=lambda message: None)
    saved = load_checkpoint(run)
    assert saved["wall_seconds"] > 1000 and [r["after_epoch"] for r in saved["resumptions"]] == [1]
    result = fit(config, run, resume=True, log=lambda message: None)
    assert result.summary["wall_seconds"] > 1000
    assert [r["after_epoch"] for r in result.summary["resumptions"]] == [1, 2]


def test_the_runtime_names_the_reference_pipeline_and_forced_settings(tmp_path):
    result = fit(tiny_config(tmp_path, "data.pipeline=reference", "data.workers=0", "run.amp=bf16",
                             "run.epochs=2"), tmp_path / "run", log=lambda message: None)
    assert result.summary["runtime"] == {"device": "cpu", "threads": torch.get_num_threads(), "pipeline": "reference",
                                         "workers": 0, "amp": "bf16", "channels_last": False, "compile": "off",
                                         "fused_optimizer": False}


def test_the_reference_pipeline_by_default_starts_no_more_workers_than_cpus(tmp_path, monkeypatch):
    from satlearn.engine import runtime

    monkeypatch.setattr(runtime, "usable_cpus", lambda: 1)
    result = fit(tiny_config(tmp_path, "data.pipeline=reference", "run.epochs=2"), tmp_path / "run",
                 log=lambda message: None)
    assert result.summary["runtime"]["workers"] == 1
    assert load_config(tmp_path / "run" / "config.yaml").data.workers is None  # the setting, as asked


def test_a_worker_started_by_spawning_that_reruns_an_unguarded_script_starts_no_run_of_its_own(tmp_path,
                                                                                               monkeypatch):
    import multiprocessing

    # what a worker process started by spawning or a fork server is while it runs the main script again
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(TrainingError, match=r'^fit was called again while a data worker process ran the main '
                                            r'script, .* put the script\'s training under if __name__ == "__main__": '
                                            r'so that it runs once$'):
        fit(tiny_config(tmp_path / "out", "data.pipeline=reference", "data.workers=1"))
    assert not (tmp_path / "out").exists()  # no time-stamped run directory of the worker's


def test_compile_auto_compiles_on_cuda_only():
    from satlearn.config import load_config
    from satlearn.engine.trainer import use_compile

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    auto = load_config(None, ["run.compile=auto"])
    assert not use_compile(auto, cpu) and use_compile(auto, cuda)
    for setting, expected in (("true", True), ("false", False)):
        config = load_config(None, [f"run.compile={setting}"])
        assert use_compile(config, cpu) is expected and use_compile(config, cuda) is expected


def test_a_run_is_compiled_for_training_but_not_when_loaded_for_evaluation(tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda module, **options: compiled.append(options))
    messages = []
    fit(tiny_config(tmp_path, "run.compile=true", "run.epochs=2"), tmp_path / "run", log=messages.append)
    assert compiled == [{"mode": "default", "dynamic": False}]
    assert any("compile the model" in message for message in messages)  # why the first epoch is slow
    evaluate_run(tmp_path / "run")  # one pass over the test split: compiling it would not pay
    assert len(compiled) == 1


@pytest.mark.parametrize("pipeline", ["memory", "reference"])
def test_evaluating_a_run_makes_a_loader_of_its_test_split_alone(tmp_path, monkeypatch, pipeline):
    # a loader holds a copy of what it is given (the memory pipeline's on the device, where the training split may
    # not fit: a smaller device than the run trained on, say), and an evaluation never reads the training split
    from satlearn.engine import trainer

    fit(tiny_config(tmp_path, "run.epochs=2", f"data.pipeline={pipeline}", "data.workers=0"), tmp_path / "run",
        log=lambda m: None)
    given = []
    for name in ("InMemoryLoader", "StreamingLoader"):
        def counted(x, *args, _loader=getattr(trainer, name), **kwargs):
            given.append(len(x))
            return _loader(x, *args, **kwargs)

        monkeypatch.setattr(trainer, name, counted)
    result = evaluate_run(tmp_path / "run")
    assert given == [result["num_test"]]


def test_compile_tuning_adds_kernel_tuning_to_the_modes_own_options(tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda module, **options: compiled.append(options))
    messages = []
    fit(tiny_config(tmp_path, "run.compile=true", "run.compile_mode=reduce-overhead", "run.compile_tuning=true",
                    "run.epochs=2"), tmp_path / "run", log=messages.append)
    assert compiled == [{"options": {"triton.cudagraphs": True, "coordinate_descent_tuning": True}, "dynamic": False}]
    assert any("compile reduce-overhead+tuning" in message for message in messages)


def test_a_cpu_run_notes_the_compile_settings_that_act_on_cuda_only(tmp_path, monkeypatch):
    from satlearn.engine.trainer import compile_settings_without_effect

    monkeypatch.setattr(torch.nn.Module, "compile", lambda module, **options: None)
    cuda_only = ("run.compile=true", "run.compile_mode=reduce-overhead", "run.compile_tuning=true", "run.epochs=2")
    messages = []
    fit(tiny_config(tmp_path, *cuda_only), tmp_path / "run", log=messages.append)
    notes = [message for message in messages if message.startswith("note: on cpu")]
    assert len(notes) == 2
    assert "run.compile_mode=reduce-overhead" in notes[0] and "CUDA graphs" in notes[0]
    assert "run.compile_tuning" in notes[1]
    assert compile_settings_without_effect(tiny_config(tmp_path, *cuda_only), torch.device("cuda")) == []
    # the default mode does the same on a CPU as on a GPU: nothing to say
    messages.clear()
    fit(tiny_config(tmp_path, "run.compile=true", "run.epochs=2"), tmp_path / "default", log=messages.append)
    assert not any(message.startswith("note: on cpu") for message in messages)


def test_compile_tuning_options_are_ones_torch_compile_accepts(tmp_path):
    from satlearn.engine.trainer import build_method, prepare_data

    for mode in ("default", "reduce-overhead", "max-autotune"):
        config = tiny_config(tmp_path, "run.compile=true", f"run.compile_mode={mode}", "run.compile_tuning=true")
        noisy = prepare_data(config)
        # torch.compile checks its options when it wraps the model (it compiles at the first call, not made here)
        method = build_method(config, noisy.data, noisy.labels, torch.device("cpu"))
        assert method.model._compiled_call_impl is not None

@pytest.mark.parametrize("targets_dtype", ["float32", "bfloat16"])  # bfloat16: its rounding draws random numbers
def test_staged_resume_is_bit_identical(tmp_path, targets_dtype):
    config = tiny_config(tmp_path, f"method.targets_dtype={targets_dtype}")
    fit(config, tmp_path / "whole")
    fit(config, tmp_path / "staged", stop_after_epoch=2)
    assert load_checkpoint(tmp_path / "staged")["epoch"] == 2
    messages = []
    fit(config, tmp_path / "staged", resume=True, log=messages.append)
    # the resumed process trains epochs 3 and 4 only: one that retrained from epoch 1 would match bit for bit too
    assert [m.split(":")[0] for m in messages if m.startswith("epoch ")] == ["epoch 3/4", "epoch 4/4"]
    whole, staged = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "staged")
    assert_same_state(whole["method"], staged["method"])
    assert "targets.targets" in whole["method"]
    assert [r["train_loss"] for r in whole["history"]] == [r["train_loss"] for r in staged["history"]]


def test_a_run_whose_checkpoint_keeps_numpys_own_random_state_evaluates_the_same_and_resumes_bit_exactly(tmp_path):
    # as every checkpoint written before NumPy's random state was kept in lists: NumPy's own tuple, with an array
    config = tiny_config(tmp_path)
    fit(config, tmp_path / "whole", log=lambda m: None)
    staged = tmp_path / "staged"
    fit(config, staged, stop_after_epoch=2, log=lambda m: None)
    scored = evaluate_run(staged, out=tmp_path / "scored.json")
    state = torch.load(staged / "checkpoint.pt", weights_only=True)
    kept = state["rng"]["numpy"]
    state["rng"]["numpy"] = (kept["bit_generator"], np.array(kept["state"]["key"], dtype=np.uint32),
                             kept["state"]["pos"], kept["has_gauss"], kept["gauss"])
    torch.save(state, staged / "checkpoint.pt")
    assert evaluate_run(staged, out=tmp_path / "scored_again.json") == scored
    fit(config, staged, resume=True, log=lambda m: None)
    whole, resumed = load_checkpoint(tmp_path / "whole"), load_checkpoint(staged)
    assert_same_state(whole["method"], resumed["method"])
    assert [r["train_loss"] for r in whole["history"]] == [r["train_loss"] for r in resumed["history"]]
    assert isinstance(resumed["rng"]["numpy"], dict)  # written again as satlearn keeps it now


def test_a_run_whose_config_yaml_is_gone_resumes_bit_exactly_with_the_config_its_checkpoint_keeps(tmp_path):
    from satlearn.engine import resume_config

    config = tiny_config(tmp_path)
    whole = fit(config, tmp_path / "whole", log=lambda m: None)
    staged = tmp_path / "staged"
    fit(config, staged, stop_after_epoch=2, log=lambda m: None)
    written = (staged / "config.yaml").read_text()
    (staged / "config.yaml").unlink()
    messages = []
    resumed = fit(resume_config(staged, log=messages.append), staged, resume=True, log=messages.append)
    assert messages[0] == (f"{staged}: no config.yaml; resuming with the config kept in checkpoint.pt, which the run "
                           "writes back to config.yaml")
    assert [m.split(":")[0] for m in messages if m.startswith("epoch ")] == ["epoch 3/4", "epoch 4/4"]
    assert_same_state(load_checkpoint(tmp_path / "whole")["method"], load_checkpoint(staged)["method"])
    assert resumed.history == [{**row, **{key: resumed.history[i][key] for key in row if key.endswith("seconds")}}
                               for i, row in enumerate(whole.history)]  # the same figures, but for the times
    rewritten = load_config(staged / "config.yaml")
    # the run directory is whole again, its config naming the place the run is in, as any resumption's does
    assert (rewritten.run.out_dir, rewritten.run.name) == (str(staged.resolve().parent), "staged")
    rewritten.run.out_dir, rewritten.run.name = config.run.out_dir, config.run.name
    assert dump_yaml(rewritten) == written


def test_a_run_whose_labels_npz_is_gone_writes_it_again_when_resumed_and_find_issues_reads_it(tmp_path):
    from satlearn.label_issues import load_run_targets

    config = tiny_config(tmp_path)
    fit(config, tmp_path / "whole", log=lambda m: None)
    staged = tmp_path / "staged"
    fit(config, staged, stop_after_epoch=1, log=lambda m: None)
    messages = []
    fit(config, staged, resume=True, stop_after_epoch=2, log=messages.append)
    assert not any("labels.npz" in m for m in messages)  # kept: nothing to say
    (staged / "labels.npz").unlink()
    fit(config, staged, resume=True, log=messages.append)
    assert f"{staged}: no labels.npz; written again from the labels kept in checkpoint.pt" in messages
    with np.load(tmp_path / "whole" / "labels.npz") as whole, np.load(staged / "labels.npz") as rewritten:
        assert sorted(whole) == sorted(rewritten)
        for key in whole:
            np.testing.assert_array_equal(whole[key], rewritten[key])
    assert (load_run_targets(staged).labels == load_run_targets(tmp_path / "whole").labels).all()


@pytest.mark.parametrize("damage", ["summary.json cut short", "curves.png gone", "refined_labels.csv gone",
                                    "labels.npz gone"])
def test_a_finished_run_whose_outputs_are_damaged_writes_them_again_when_resumed(tmp_path, damage):
    # a copy cut short, a file removed by hand: the outputs come from the checkpoint, which still holds the run
    config = tiny_config(tmp_path)
    run = tmp_path / "run"
    fit(config, run, log=lambda m: None)
    before = {name: (run / name).read_bytes() for name in ("refined_labels.csv", "soft_targets.npy")}
    summary = json.loads((run / "summary.json").read_text())
    name = damage.split()[0]
    if damage.endswith("cut short"):
        (run / name).write_text((run / name).read_text()[:100])
    else:
        (run / name).unlink()
    messages = []
    fit(config, run, resume=True, log=messages.append)
    why = "its summary.json cannot be read" if damage.endswith("cut short") else f"{name} is gone"
    assert messages[0] == (f"{run}: the run finished all its epochs, but {why}; its outputs are written again from "
                           "checkpoint.pt")
    assert not any(m.startswith("epoch ") for m in messages)  # nothing trained again
    # nor resumed: no resumption, and none of a resumption's caveats (on how it continues) to read as one
    assert not any(m.startswith("resuming ") for m in messages)
    assert {name: (run / name).read_bytes() for name in before} == before
    assert (run / "labels.npz").exists()  # which find-issues and compare read
    rewritten = json.loads((run / "summary.json").read_text())
    assert rewritten["resumptions"] == []
    timed = ("wall_seconds", "timing")
    assert {k: v for k, v in rewritten.items() if k not in timed} == {k: v for k, v in summary.items() if k not in timed}
    with pytest.raises(TrainingError, match="already finished all 4 epochs"):  # whole again: nothing to do
        fit(config, run, resume=True, log=lambda m: None)


def test_a_run_saved_before_a_key_existed_resumes_with_the_same_config_from_config_yaml_or_its_checkpoint(tmp_path):
    # both are read over today's defaults, and the resumption fills the run's own saved config in the same way
    from satlearn.config import to_dict
    from satlearn.yaml_text import write_yaml
    from satlearn.engine import resume_config

    run = tmp_path / "run"
    fit(tiny_config(tmp_path), run, stop_after_epoch=1, log=lambda m: None)
    state = load_checkpoint(run)
    del state["config"]["data"]["ignore_columns"]  # as a version before the key wrote both
    save_checkpoint(state, run)
    (run / "config.yaml").write_text(write_yaml(state["config"], sort_keys=False))
    from_file = resume_config(run, log=lambda m: None)
    (run / "config.yaml").unlink()
    from_checkpoint = resume_config(run, log=lambda m: None)
    assert to_dict(from_checkpoint) == to_dict(from_file)
    assert len(fit(from_checkpoint, run, resume=True, log=lambda m: None).history) == 4


def test_a_run_whose_config_yaml_is_gone_resumes_with_the_overrides_given_over_its_checkpoints_config(tmp_path):
    from satlearn.engine import resume_config

    fit(tiny_config(tmp_path, "run.epochs=2"), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    (tmp_path / "run" / "config.yaml").unlink()
    # as train --resume gives them: the run's place, and what a resumption may change (a smaller device's batches)
    config = resume_config(tmp_path / "run", ["run.name=moved", "data.eval_batch_size=7"], log=lambda m: None)
    assert (config.run.name, config.data.eval_batch_size) == ("moved", 7)
    fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    assert load_config(tmp_path / "run" / "config.yaml").data.eval_batch_size == 7


def test_resume_without_a_run_dir_or_a_run_name_is_refused_in_one_line_not_sent_to_a_new_time_stamped_one(tmp_path):
    with pytest.raises(ConfigError, match=r"^fit\(resume=True\): no run_dir given and run\.name is null; expected "
                                          r"the directory of the run to resume as run_dir$"):
        fit(tiny_config(tmp_path), resume=True, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("config_yaml", ["kept", "gone"])
def test_resume_config_gives_a_run_named_as_no_longer_accepted_the_place_it_is_in(tmp_path, config_yaml):
    # a run started when run.name could be an absolute path: its config, read as it was saved, is now refused
    from satlearn.config import to_dict
    from satlearn.yaml_text import write_yaml
    from satlearn.engine import resume_config

    run = tmp_path / "run"
    fit(tiny_config(tmp_path, "run.epochs=2"), run, stop_after_epoch=1, log=lambda m: None)
    state = load_checkpoint(run)
    state["config"]["run"]["name"] = str(run.resolve())
    save_checkpoint(state, run)
    (run / "config.yaml").write_text(write_yaml(state["config"], sort_keys=False))
    with pytest.raises(ConfigError, match="not absolute"):
        load_config(run / "config.yaml")
    if config_yaml == "gone":
        (run / "config.yaml").unlink()
    config = resume_config(run, ["data.eval_batch_size=7"], log=lambda m: None)
    assert (config.run.out_dir, config.run.name) == (str(run.resolve().parent), run.name)
    assert config.data.eval_batch_size == 7  # the caller's overrides still apply
    assert to_dict(config)["method"] == state["config"]["method"]
    assert len(fit(config, run, resume=True, log=lambda m: None).history) == 2


@pytest.mark.parametrize("config_yaml", ["kept", "gone"])
def test_a_run_that_kept_an_empty_data_root_resumes_and_loads_with_none_as_it_trained(tmp_path, config_yaml):
    # a run started when an empty data.root was read as none (the default): its config is now refused as it is
    from satlearn.engine import resume_config
    from satlearn.engine.trainer import load_run
    from satlearn.yaml_text import write_yaml

    run = tmp_path / "run"
    fit(tiny_config(tmp_path, "run.epochs=2"), run, stop_after_epoch=1, log=lambda m: None)
    state = load_checkpoint(run)
    state["config"]["data"]["root"] = ""
    save_checkpoint(state, run)
    (run / "config.yaml").write_text(write_yaml(state["config"], sort_keys=False))
    with pytest.raises(ConfigError, match="data.root is empty"):
        load_config(run / "config.yaml")
    assert load_run(run)[0].data.root is None
    if config_yaml == "gone":
        (run / "config.yaml").unlink()
    config = resume_config(run, ["data.eval_batch_size=7"], log=lambda m: None)
    assert (config.data.root, config.data.eval_batch_size) == (None, 7)
    assert resume_config(run, [f"data.root={tmp_path}"], log=lambda m: None).data.root == str(tmp_path)
    assert len(fit(config, run, resume=True, log=lambda m: None).history) == 2
    assert load_config(run / "config.yaml").data.root is None


@pytest.mark.parametrize("config_yaml", ["kept", "gone"])
def test_a_run_named_from_the_home_directory_resumes_through_resume_config_as_fit_takes_it(tmp_path, monkeypatch,
                                                                                          config_yaml):
    from satlearn.engine import resume_config

    monkeypatch.setenv("HOME", str(tmp_path))
    fit(tiny_config(tmp_path, "run.epochs=2"), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    if config_yaml == "gone":
        (tmp_path / "run" / "config.yaml").unlink()
    config = resume_config("~/run", log=lambda m: None)
    assert (config.run.out_dir, config.run.name) == (str(tmp_path.resolve()), "run")
    assert len(fit(config, "~/run", resume=True, log=lambda m: None).history) == 2


def test_a_run_directory_in_a_folder_whose_name_starts_with_a_tilde_is_given_with_dot_slash(tmp_path, monkeypatch):
    from satlearn.engine import resume_config

    monkeypatch.chdir(tmp_path)  # ./~name is a folder here, not the home of a user "name"
    result = fit(tiny_config(tmp_path, "run.epochs=2"), "./~satlearn-run", stop_after_epoch=1, log=lambda m: None)
    assert result.run_dir.resolve() == (tmp_path / "~satlearn-run").resolve()
    config = resume_config("./~satlearn-run", log=lambda m: None)
    assert (config.run.out_dir, config.run.name) == (str(tmp_path.resolve()), "~satlearn-run")
    assert len(fit(config, "./~satlearn-run", resume=True, log=lambda m: None).history) == 2


def test_a_run_named_from_the_home_directory_is_loaded_and_evaluated(tmp_path, monkeypatch):
    from satlearn.engine import load_run

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # a ~ left unexpanded makes its folder here, not where pytest started
    fit(tiny_config(tmp_path, "run.epochs=1", "method.start_epoch=0"), tmp_path / "run", log=lambda m: None)
    config, _, _, checkpoint = load_run("~/run")
    assert (config.run.epochs, checkpoint["epoch"]) == (1, 1)
    result = evaluate_run("~/run", out="~/evals/")
    assert result["run_dir"] == str(tmp_path / "run")
    assert json.loads((tmp_path / "evals" / "eval.json").read_text()) == result


def test_a_run_under_the_home_of_no_such_user_is_no_such_directory(tmp_path, monkeypatch):
    from satlearn.engine import resume_config

    monkeypatch.chdir(tmp_path)  # where the path, left as it is, is looked for
    with pytest.raises(TrainingError) as refused:
        resume_config("~satlearn-no-such-user/run", log=lambda m: None)
    assert "~satlearn-no-such-user/run: no such directory" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_run_without_config_yaml_or_a_readable_checkpoint_has_no_config_to_resume_with(tmp_path):
    from satlearn.engine import resume_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"cut off")
    with pytest.raises(TrainingError) as refused:
        resume_config(run, log=lambda m: None)
    message = str(refused.value)
    assert message.startswith(f"{run}: no config.yaml, and the run's config cannot be taken from its checkpoint (")
    assert message.endswith("; expected a readable config.yaml or checkpoint.pt") and "\n" not in message


def test_a_run_directory_that_is_not_there_is_named_so_not_as_missing_its_config_yaml(tmp_path):
    from satlearn.engine import resume_config

    given = tmp_path / "checkpoint.pt"
    given.write_bytes(b"")  # a file where the run directory belongs
    for run, why in ((tmp_path / "nope", "no such directory"), (given, "is a file, not a directory")):
        with pytest.raises(TrainingError) as refused:
            resume_config(run, log=lambda m: None)
        assert str(refused.value) == f"{run}: {why}; expected a satlearn run directory"


@pytest.mark.parametrize("pipeline", ["memory", "reference"])  # reference: a DataLoader per evaluation
def test_a_resumption_may_evaluate_in_smaller_batches_and_trains_the_same(tmp_path, pipeline):
    # a bfloat16 table rounds at random from torch's generator: a number drawn by evaluating would change training
    settings = ("method.targets_dtype=bfloat16", f"data.pipeline={pipeline}", "data.workers=0")
    config = tiny_config(tmp_path, *settings)
    fit(config, tmp_path / "whole")
    fit(config, tmp_path / "staged", stop_after_epoch=1)
    # as on a smaller device: evaluation in smaller batches; how often it runs decides the best epoch, and stays
    with pytest.raises(TrainingError, match=r"cannot resume with a different config \(run\.eval_every: run has 1, "
                                            r"now 2\)"):
        fit(tiny_config(tmp_path, *settings, "run.eval_every=2"), tmp_path / "staged", resume=True)
    fit(tiny_config(tmp_path, *settings, "data.eval_batch_size=7"), tmp_path / "staged", resume=True)
    whole, staged = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "staged")
    assert_same_state(whole["method"], staged["method"])
    assert [r["train_loss"] for r in whole["history"]] == [r["train_loss"] for r in staged["history"]]
    accuracies = [r["test_accuracy"] for r in staged["history"]]
    assert accuracies == [r["test_accuracy"] for r in whole["history"]] and None not in accuracies


def test_a_crash_mid_epoch_keeps_the_last_checkpoint_and_resume_matches(tmp_path, monkeypatch):
    config = tiny_config(tmp_path, "model.name=mlp")  # mlp: a different model than the staged test
    fit(config, tmp_path / "whole")
    calls = {"n": 0}
    original = SAT.training_step

    def crashing(self, batch, epoch):
        if epoch == 2:
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
        return original(self, batch, epoch)

    monkeypatch.setattr(SAT, "training_step", crashing)
    with pytest.raises(KeyboardInterrupt):
        fit(config, tmp_path / "crashed")
    assert load_checkpoint(tmp_path / "crashed")["epoch"] == 2
    monkeypatch.setattr(SAT, "training_step", original)
    messages = []
    fit(config, tmp_path / "crashed", resume=True, log=messages.append)
    assert [m.split(":")[0] for m in messages if m.startswith("epoch ")] == ["epoch 3/4", "epoch 4/4"]  # not from 1
    assert_same_state(load_checkpoint(tmp_path / "whole")["method"], load_checkpoint(tmp_path / "crashed")["method"])


def test_non_finite_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    original = SAT.training_step

    def poisoned(self, batch, epoch):
        loss, metrics = original(self, batch, epoch)
        if epoch == 2:
            loss = loss * float("nan")
            metrics["loss"] = loss.detach()
        return loss, metrics

    monkeypatch.setattr(SAT, "training_step", poisoned)
    with pytest.raises(TrainingError, match=r"non-finite training loss in epoch 3 .* last good checkpoint \(epoch 2\)"):
        fit(tiny_config(tmp_path), tmp_path / "run")
    state = load_checkpoint(tmp_path / "run")
    assert state["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in state["method"].values() if v.is_floating_point())


def test_resume_with_a_different_config_is_refused(tmp_path):
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=1)
    with pytest.raises(TrainingError, match=r"cannot resume with a different config \(method\.momentum: run has 0\.9, now 0\.5\)"):
        fit(tiny_config(tmp_path, "method.momentum=0.5"), tmp_path / "run", resume=True)
    assert load_checkpoint(tmp_path / "run")["epoch"] == 1
    # more than three differences: the first three, and how many more
    with pytest.raises(TrainingError, match=r"; and 2 more\)$"):
        fit(tiny_config(tmp_path, "method.momentum=0.5", "optim.lr=0.01", "run.seed=3", "data.batch_size=32",
                        "method.start_epoch=2"), tmp_path / "run", resume=True)


def test_resume_with_a_changed_method_setting_is_refused(tmp_path, method_with_settings):
    run = tmp_path / "run"
    fit(tiny_config(tmp_path, "method.name=label_smoothing"), run, stop_after_epoch=1, log=lambda m: None)
    default = method_with_settings.Settings().smoothing
    with pytest.raises(TrainingError, match=rf"cannot resume with a different config \(method\.settings\.smoothing: "
                                            rf"run has {default}, now 0\.5\)"):
        fit(tiny_config(tmp_path, "method.name=label_smoothing", "method.settings.smoothing=0.5"), run, resume=True)
    assert load_checkpoint(run)["epoch"] == 1
    # the run's own config.yaml gives the setting it trained with
    fit(load_config(run / "config.yaml"), run, resume=True, log=lambda m: None)
    assert load_checkpoint(run)["config"]["method"]["settings"]["smoothing"] == default


def test_a_config_built_in_code_trains_with_its_method_settings_filled_in(tmp_path, method_with_settings):
    config = tiny_config(tmp_path, "method.name=label_smoothing")
    config.method.settings = {"smoothing": 0}  # (an int, and the others left out)
    run = fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None).run_dir
    assert config.method.settings == {"smoothing": 0}  # the config given to fit is left as it was
    recorded = load_config(run / "config.yaml").method.settings
    assert recorded == load_checkpoint(run)["config"]["method"]["settings"]
    assert recorded == {"smoothing": 0.0, "warmup": None, "tags": []}


def a_run_saved_without(tmp_path, section: str, key: str):
    """A run stopped after epoch 1 whose checkpoint and config.yaml lack ``section.key``, as an earlier satlearn,
    without that key, wrote them."""
    from satlearn.yaml_text import read_yaml, write_yaml

    run = tmp_path / "run"
    fit(tiny_config(tmp_path), run, stop_after_epoch=1, log=lambda m: None)
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    del state["config"][section][key]
    torch.save(state, run / "checkpoint.pt")
    saved = read_yaml((run / "config.yaml").read_text())
    del saved[section][key]
    (run / "config.yaml").write_text(write_yaml(saved, sort_keys=False))
    return run


def test_a_run_saved_before_methods_had_settings_resumes(tmp_path):
    run = a_run_saved_without(tmp_path, "method", "settings")
    result = fit(load_config(run / "config.yaml"), run, resume=True, log=lambda m: None)
    assert len(result.history) == 4
    assert load_checkpoint(run)["config"]["method"]["settings"] == {}


def test_a_run_saved_before_a_key_of_satlearn_existed_resumes_and_a_value_other_than_its_default_is_refused(tmp_path):
    run = a_run_saved_without(tmp_path, "data", "ignore_columns")
    with pytest.raises(TrainingError, match=r"cannot resume with a different config \(data\.ignore_columns: run "
                                            r"has \[\], now \['x'\]\)"):
        fit(load_config(run / "config.yaml", ["data.ignore_columns=[x]"]), run, resume=True, log=lambda m: None)
    result = fit(load_config(run / "config.yaml"), run, resume=True, log=lambda m: None)
    assert len(result.history) == 4
    assert load_checkpoint(run)["config"]["data"]["ignore_columns"] == []


def test_a_run_saved_before_a_key_whose_default_changes_what_runs_do_is_refused_it(tmp_path):
    # data.pipeline came after runs trained on the in-memory pipeline alone: its default, auto, is no such promise
    run = a_run_saved_without(tmp_path, "data", "pipeline")
    with pytest.raises(TrainingError, match=r"cannot resume with a different config \(data\.pipeline: the run has "
                                            r"no such setting"):
        fit(tiny_config(tmp_path), run, resume=True, log=lambda m: None)


def test_a_run_started_on_a_gpu_resumes_on_the_cpu_and_says_what_changes(tmp_path):
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)  # as the run would have saved it on a GPU machine
    state["config"]["run"]["device"] = "cuda"
    state["runtime"]["device"] = "cuda:0"
    for group in state["optimizer"]["param_groups"]:
        group["fused"] = True  # the CUDA run's fused optimizer
    state["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8)]
    torch.save(state, path)
    messages = []
    result = fit(tiny_config(tmp_path), tmp_path / "run", resume=True, log=messages.append)
    assert any("the run trained on cuda:0 and resumes on cpu: precision" in m for m in messages)
    assert result.summary["runtime"]["device"] == "cpu" and len(result.history) == 4
    # the CPU's own kernels from here on, as its optimizer chose them
    assert all(not group["fused"] for group in load_checkpoint(tmp_path / "run")["optimizer"]["param_groups"])


def test_existing_run_is_never_overwritten(tmp_path):
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=1)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(TrainingError, match="already holds a run"):
        fit(tiny_config(tmp_path), tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_a_new_run_in_the_directory_of_a_finished_one_is_not_told_to_resume_it(tmp_path):
    # the same command run again (a job requeued after it finished): a resumption would be refused too
    run = fit(tiny_config(tmp_path, "run.epochs=1", "method.start_epoch=0"), tmp_path / "run",
              log=lambda m: None).run_dir
    with pytest.raises(TrainingError) as refused:
        fit(tiny_config(tmp_path, "run.epochs=1", "method.start_epoch=0"), run, log=lambda m: None)
    assert str(refused.value) == (f"{run}: already holds a run, which has finished (its results are in "
                                  "summary.json); choose another run.name / run directory")


class _OneSecond:
    """A clock stopped in one second, as two runs started together read it."""

    @staticmethod
    def now():
        from datetime import datetime

        return datetime(2024, 5, 6, 7, 8, 9)


def test_runs_started_in_the_same_second_take_their_own_time_stamped_directories(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    monkeypatch.setattr(trainer, "datetime", _OneSecond)
    out = tmp_path / "sweep"  # not there yet: the first run creates it
    first = fit(tiny_config(out, "run.epochs=2"), log=lambda m: None)
    messages = []
    second = fit(tiny_config(out, "run.epochs=2"), log=messages.append)
    stem = "sat-mnist1d-20240506-070809"
    assert (first.run_dir, second.run_dir) == (out / stem, out / f"{stem}-2")
    assert f"run directory: {out / stem}-2" in messages
    for result in (first, second):  # each run records the name it took, which a resumption and load_run read
        assert load_config(result.run_dir / "config.yaml").run.name == result.run_dir.name
        assert load_checkpoint(result.run_dir)["config"]["run"]["name"] == result.run_dir.name
    assert sorted(p.name for p in out.iterdir()) == [stem, f"{stem}-2"]
    # a name the user chose is theirs: a run there already is still refused, not renamed
    with pytest.raises(TrainingError, match="already holds a run"):
        fit(tiny_config(out, "run.epochs=2", f"run.name={stem}"), log=lambda m: None)


def test_a_run_resumed_in_python_keeps_the_place_it_is_in(tmp_path):
    config = tiny_config(tmp_path, "run.epochs=3")  # no run.name: the run takes a time-stamped directory
    run_dir = fit(config, stop_after_epoch=1, log=lambda m: None).run_dir
    assert config.run.name is None
    fit(config, run_dir, resume=True, stop_after_epoch=2, log=lambda m: None)
    place = (str(run_dir.resolve().parent), run_dir.name)
    kept = load_config(run_dir / "config.yaml").run
    assert (kept.out_dir, kept.name) == place
    # a config naming another run is still the one in run_dir, as train --resume records it, here moved to another
    # folder than the config's run.out_dir
    config.run.name = "another"
    moved = tmp_path / "elsewhere" / run_dir.name
    moved.parent.mkdir()
    run_dir.rename(moved)
    fit(config, moved, resume=True, log=lambda m: None)
    place = (str(moved.parent.resolve()), moved.name)
    kept = load_config(moved / "config.yaml").run
    assert (kept.out_dir, kept.name) == place
    saved = load_checkpoint(moved)["config"]["run"]
    assert (saved["out_dir"], saved["name"]) == place


TRAIN_AT_ONE_SECOND = """
import sys, time
from datetime import datetime
from pathlib import Path

from satlearn.config import load_config
from satlearn.engine import trainer

trainer.datetime = type("OneSecond", (), {"now": staticmethod(lambda: datetime(2024, 5, 6, 7, 8, 9))})
ready = Path(sys.argv[1])
(ready / sys.argv[2]).touch()
while len(list(ready.iterdir())) < 2:  # both processes start training together, once both have imported torch
    time.sleep(0.01)
print(trainer.fit(load_config(None, sys.argv[3:]), log=lambda m: None).run_dir)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_two_processes_started_in_the_same_second_train_into_their_own_directories(tmp_path):
    import subprocess

    script, ready, out = tmp_path / "train.py", tmp_path / "ready", tmp_path / "sweep"
    script.write_text(TRAIN_AT_ONE_SECOND)
    ready.mkdir()
    overrides = tiny_overrides(out, "run.epochs=2", "run.threads=1")
    processes = [subprocess.Popen([sys.executable, script, ready, str(n), *overrides], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    done = [process.communicate(timeout=240) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-2000:] for _, err in done]
    stem = "sat-mnist1d-20240506-070809"
    assert sorted(stdout.strip() for stdout, _ in done) == [str(out / stem), str(out / f"{stem}-2")]


def test_a_time_stamped_run_that_fails_leaves_no_directory(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    monkeypatch.setattr(trainer, "datetime", _OneSecond)
    taken = tmp_path / "runs" / "sat-csv-20240506-070809"  # as a run started this second just took it
    taken.mkdir(parents=True)
    with pytest.raises(DataError, match="there is no file .*missing.csv"):
        fit(tiny_config(taken.parent, "data.source=csv", f"data.root={tmp_path / 'missing.csv'}"), log=lambda m: None)
    assert list(taken.parent.iterdir()) == [taken]  # the -2 it took is removed, the other run's left alone
    with pytest.raises(DataError, match="there is no file .*missing.csv"):  # nor the folders it made for its own
        fit(tiny_config(tmp_path / "new" / "runs", "data.source=csv", f"data.root={tmp_path / 'missing.csv'}"),
            log=lambda m: None)
    assert not (tmp_path / "new").exists()


def test_a_run_directory_under_a_file_is_named_as_such(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match=r"run directory .*file/run: is under .*file, which is a file"):
        fit(tiny_config(tmp_path), tmp_path / "file" / "run")


def test_class_count_mismatch(tmp_path):
    with pytest.raises(ConfigError, match="model.num_classes=100, but the mnist1d data have 10 classes"):
        fit(tiny_config(tmp_path, "model.num_classes=100"), tmp_path / "run")


def one_epoch_of(training_step, batches):
    """train_one_epoch over ``batches`` (x, y, idx) of a method ``Step`` whose ``training_step(w, batch)`` is given
    its one parameter ``w``, a scalar at 0 that stays there (lr 0)."""
    from satlearn.engine.trainer import train_one_epoch

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def training_step(self, batch, epoch):
            return training_step(self.w, batch)

    class Loader:
        def __len__(self):
            return len(batches)

        def epoch(self, epoch):
            return iter(batches)

    step = Step()
    return train_one_epoch(step, torch.optim.SGD(step.parameters(), lr=0.0), Loader(), 0)


def test_train_one_epoch_averages_metrics_by_example_and_rejects_changing_keys():
    def reporting(metric_keys):
        def training_step(w, batch):
            x, _, idx = batch
            loss = (w - x.mean()) ** 2
            return loss, {key: x.mean() for key in metric_keys(int(idx[0]))}

        return training_step

    batches = [(torch.full((3,), 1.0), None, torch.tensor([0, 1, 2])), (torch.full((1,), 5.0), None, torch.tensor([3]))]
    # (3·1 + 1·5) / 4
    assert one_epoch_of(reporting(lambda first: ["loss", "accuracy"]), batches) == {"loss": 2.0, "accuracy": 2.0}
    with pytest.raises(TrainingError, match="metrics changed within the epoch"):
        one_epoch_of(reporting(lambda first: ["loss"] if first == 0 else ["loss", "confidence"]), batches)


def test_a_training_step_that_returns_something_else_is_one_line_naming_it_and_numbers_count_as_metrics():
    batches = [(torch.full((2,), 1.0), None, torch.tensor([0, 1])), (torch.full((2,), 3.0), None, torch.tensor([2, 3]))]

    def one_epoch(returns):
        return one_epoch_of(lambda w, batch: returns((w - batch[0].mean()) ** 2), batches)

    assert one_epoch(lambda loss: (loss, {"seen": 2, "share": 0.5})) == {"loss": 5.0, "seen": 2.0, "share": 0.5}
    # NumPy's scalars are numbers as well (a metric worked out with NumPy)
    assert one_epoch(lambda loss: (loss, {"seen": np.int64(2), "share": np.float32(0.5)})) == \
        {"loss": 5.0, "seen": 2.0, "share": 0.5}
    # one value in a (1,) tensor is a scalar too, as a loss and as a metric
    assert one_epoch(lambda loss: (loss.reshape(1), {"seen": torch.ones(1)})) == {"loss": 5.0, "seen": 1.0}
    for returns, message in (
            (lambda loss: (loss, {"done": True}), "Step.training_step's metric 'done' is a bool; expected"),
            (lambda loss: loss, "Step.training_step returned a tensor of shape (); expected a tuple (loss, dict of "
                                "metrics)"),
            (lambda loss: (loss.expand(2), {}), "Step.training_step returned as its loss a tensor of shape (2,); "
                                                "expected a scalar tensor"),
            (lambda loss: (loss, {"per_example": loss.expand(2)}), "Step.training_step's metric 'per_example' is a "
                                                                   "tensor of shape (2,); expected a scalar"),
            (lambda loss: (loss, {"note": "fine"}), "Step.training_step's metric 'note' is a str; expected"),
            (lambda loss: (loss, {"done": np.True_}), "Step.training_step's metric 'done' is a bool"),
            # backward() would fail on these inside the engine
            (lambda loss: (loss.detach(), {}), "Step.training_step returned a loss that carries no gradient "
                                               "(detached, or computed under torch.no_grad); expected"),
            (lambda loss: (torch.tensor(1.0), {}), "Step.training_step returned a loss that carries no gradient")):
        with pytest.raises(TrainingError, match="^" + re.escape(message)):
            one_epoch(returns)


def test_a_method_that_reports_no_loss_metric_trains_with_the_loss_it_returns(tmp_path, monkeypatch):
    from satlearn.methods import METHODS
    from satlearn.methods.erm import ERM

    class QuietERM(ERM):  # ERM's loss, reporting only its accuracy
        def training_step(self, batch, epoch):
            loss, metrics = super().training_step(batch, epoch)
            return loss, {"accuracy": metrics["accuracy"]}

    monkeypatch.setitem(METHODS._entries, "quiet_erm", QuietERM)
    reported = fit(tiny_config(tmp_path, "method.name=erm"), tmp_path / "erm").history
    quiet = fit(tiny_config(tmp_path, "method.name=quiet_erm"), tmp_path / "quiet").history
    assert [row["train_loss"] for row in quiet] == [row["train_loss"] for row in reported]
    assert [row["train_accuracy"] for row in quiet] == [row["train_accuracy"] for row in reported]


def test_a_methods_metrics_keep_off_the_engines_columns_and_its_statistics_are_numbers(tmp_path, monkeypatch):
    from satlearn.methods import METHODS
    from satlearn.methods.erm import ERM

    def method_with(statistics, metrics=None):
        class Own(ERM):
            def training_step(self, batch, epoch):
                loss, own = super().training_step(batch, epoch)
                return loss, own if metrics is None else metrics

            def epoch_metrics(self, clean_labels=None):
                return statistics

        monkeypatch.setitem(METHODS._entries, "own", Own)
        return tiny_config(tmp_path, "method.name=own", "run.epochs=1")

    # a scalar tensor, an undefined value (None) and a flag (a bool, written as such before this check) are
    # statistics as a number is
    run = fit(method_with({"spread": torch.tensor(0.25), "undefined": None, "converged": True}), tmp_path / "fine")
    assert (run.history[0]["spread"], run.history[0]["undefined"], run.history[0]["converged"]) == (0.25, None, True)
    assert '"converged": true' in (tmp_path / "fine" / "metrics.jsonl").read_text()
    for n, (statistics, metrics, message) in enumerate((
            ({"test_accuracy": 0.999}, None, "Own.epoch_metrics's statistic 'test_accuracy' has the name of a column"),
            ({"epoch": 99}, None, "Own.epoch_metrics's statistic 'epoch' has the name of a column"),
            ({"train_loss": 0.5}, None, "Own.epoch_metrics's statistic 'train_loss' has the name of a column"),
            ({}, {"pass_seconds": 1.0}, "Own.training_step's metric 'pass_seconds' would be the column "
                                        "'train_pass_seconds'"),
            ({"spread": torch.ones(3)}, None, "Own.epoch_metrics's statistic 'spread' is a tensor of shape (3,); "
                                              "expected a number"),
            (None, None, "Own.epoch_metrics returned a NoneType; expected a dict"))):
        with pytest.raises(TrainingError, match="^" + re.escape(message)):
            fit(method_with(statistics, metrics), tmp_path / f"run{n}")


def test_a_run_of_a_method_or_model_not_registered_here_is_refused_naming_the_run(tmp_path, monkeypatch):
    from satlearn.methods import METHODS
    from satlearn.methods.erm import ERM
    from satlearn.models import MODELS

    monkeypatch.setitem(MODELS._entries, "own_model", MODELS.get("mlp"))
    monkeypatch.setitem(METHODS._entries, "own_method", ERM)
    run_dir = tmp_path / "own"
    fit(tiny_config(tmp_path, "model.name=own_model", "method.name=own_method"), run_dir)
    monkeypatch.delitem(MODELS._entries, "own_model")  # a process that has not imported the module registering it
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(run_dir))}: trained with "
                                          "model.name='own_model', which is not registered here"):
        evaluate_run(run_dir)
    monkeypatch.setitem(MODELS._entries, "own_model", MODELS.get("mlp"))
    monkeypatch.delitem(METHODS._entries, "own_method")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(run_dir))}: trained with method.name='own_method'"):
        evaluate_run(run_dir)


def test_a_run_that_fails_before_writing_leaves_no_directory_but_keeps_one_it_did_not_make(tmp_path):
    from satlearn.errors import DataError

    config = load_config(None, tiny_overrides(tmp_path, "data.source=npz", f"data.root={tmp_path / 'missing.npz'}"))
    with pytest.raises(DataError, match="missing.npz"):
        fit(config, tmp_path / "new" / "run", log=lambda message: None)
    assert not (tmp_path / "new").exists()  # nor the parent it made for it
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError):
        fit(config, tmp_path / "mine", log=lambda message: None)
    assert (tmp_path / "mine").is_dir()


def test_an_interrupt_names_the_checkpoint_that_reached_the_disk(tmp_path, monkeypatch):
    from satlearn.engine import checkpoint as checkpoint_module
    from satlearn.errors import TrainingInterrupted

    written = checkpoint_module.save_checkpoint
    calls = {"n": 0}

    def full_disk_on_the_second(state, run_dir):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return written(state, run_dir)

    original = SAT.training_step

    def interrupted_in_epoch_3(self, batch, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, batch, epoch)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", full_disk_on_the_second)
    monkeypatch.setattr(SAT, "training_step", interrupted_in_epoch_3)
    with pytest.raises(TrainingInterrupted) as stopped:
        fit(tiny_config(tmp_path), tmp_path / "run")
    assert stopped.value.checkpoint_epoch == 1 == load_checkpoint(tmp_path / "run")["epoch"]


def test_an_interrupt_while_the_outputs_are_written_says_resume_finishes_them(tmp_path, monkeypatch):
    from satlearn.engine import reporting
    from satlearn.errors import TrainingInterrupted

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reporting, "write_outputs", interrupted)
    with pytest.raises(TrainingInterrupted) as stopped:
        fit(tiny_config(tmp_path), tmp_path / "run")
    assert stopped.value.checkpoint_epoch == 4 and not (tmp_path / "run" / "summary.json").exists()
    monkeypatch.undo()
    messages = []
    result = fit(tiny_config(tmp_path), tmp_path / "run", resume=True, log=messages.append)  # what was cut off
    assert (tmp_path / "run" / "summary.json").exists() and result.summary["epochs"] == 4
    assert (f"{tmp_path / 'run'}: the run trained all its epochs before it stopped; its outputs are written from "
            "checkpoint.pt") in messages
    assert not any(m.startswith("resuming ") for m in messages) and result.summary["resumptions"] == []


def test_the_reference_pipelines_worker_count_may_change_on_resume_and_changes_nothing(tmp_path):
    from fixtures import write_fake_cifar10

    root = write_fake_cifar10(tmp_path, per_batch=8)
    base = ["data.source=cifar10", f"data.root={root}", "data.batch_size=16", "model.name=resnet18", "model.width=2",
            "run.epochs=3", "method.start_epoch=1", "run.progress=false", "run.device=cpu", "data.pipeline=reference"]
    fit(load_config(None, [*base, "data.workers=0"]), tmp_path / "whole", log=lambda m: None)
    fit(load_config(None, [*base, "data.workers=0"]), tmp_path / "staged", stop_after_epoch=2, log=lambda m: None)
    fit(load_config(None, [*base, "data.workers=1"]), tmp_path / "staged", resume=True, log=lambda m: None)
    assert_same_state(load_checkpoint(tmp_path / "whole")["method"], load_checkpoint(tmp_path / "staged")["method"])


def test_targets_device_cpu_keeps_the_table_on_the_cpu_when_the_model_moves(tmp_path):
    from satlearn.engine.trainer import build_method, prepare_data

    config = tiny_config(tmp_path, "method.name=sat", "method.targets_device=cpu")
    noisy = prepare_data(config)
    method = build_method(config, noisy.data, noisy.labels, torch.device("meta"))  # meta: stands in for CUDA
    assert next(method.parameters()).device.type == "meta"
    assert method.targets.targets.device.type == "cpu"


def test_resuming_on_another_cpu_thread_count_says_it_is_no_longer_bit_exact(tmp_path):
    threads = torch.get_num_threads()
    try:
        fit(tiny_config(tmp_path, "run.threads=1"), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
        assert load_checkpoint(tmp_path / "run")["threads"] == 1
        assert torch.get_num_threads() == threads  # a run leaves the process's thread count as it found it
        same, other = [], []
        fit(tiny_config(tmp_path, "run.threads=1"), tmp_path / "run", resume=True, stop_after_epoch=2,
            log=same.append)
        result = fit(tiny_config(tmp_path, "run.threads=2"), tmp_path / "run", resume=True, log=other.append)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(threads)
    assert not any("CPU thread" in m for m in same)
    assert any("used 1 CPU thread and resumes on 2" in m for m in other)
    # kept with the run, so that its figures can be read for what they are after the messages are gone
    resumptions = result.summary["resumptions"]
    assert [(r["after_epoch"], len(r["caveats"])) for r in resumptions] == [(1, 0), (2, 1)]
    assert resumptions[1]["caveats"][0].startswith("the run used 1 CPU thread and resumes on 2")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["resumptions"] == resumptions
    assert result.summary["runtime"]["threads"] == 2


def test_resuming_with_another_eval_batch_size_says_the_test_figures_round_otherwise(tmp_path):
    # the test loss is a sum over batches, so its last digits follow the batch size: a resumption that changes it
    # keeps training as it was but not the figures it is judged by, which the run's summary says
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    same, other = [], []
    fit(tiny_config(tmp_path), tmp_path / "run", resume=True, stop_after_epoch=2, log=same.append)
    result = fit(tiny_config(tmp_path, "data.eval_batch_size=7"), tmp_path / "run", resume=True, log=other.append)
    assert not any("data.eval_batch_size" in m for m in same)
    assert any("batches of 256 and resumes in batches of 7 (data.eval_batch_size)" in m for m in other)
    resumptions = result.summary["resumptions"]
    assert [(r["after_epoch"], len(r["caveats"])) for r in resumptions] == [(1, 0), (2, 1)]
    assert "data.eval_batch_size" in resumptions[1]["caveats"][0]


def test_weights_gone_non_finite_after_a_finite_loss_stop_the_run_before_a_checkpoint(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    original = trainer.train_one_epoch

    def last_step_blows_up(method, optimizer, loader, epoch, **kwargs):
        metrics = original(method, optimizer, loader, epoch, **kwargs)
        if epoch == 2:  # the mean loss was finite; the step after the last batch was not
            with torch.no_grad():
                next(method.parameters()).fill_(float("inf"))
        return metrics

    monkeypatch.setattr(trainer, "train_one_epoch", last_step_blows_up)
    with pytest.raises(TrainingError, match=r"non-finite weights in epoch 3 .* last good checkpoint \(epoch 2\)"):
        fit(tiny_config(tmp_path), tmp_path / "run")
    assert load_checkpoint(tmp_path / "run")["epoch"] == 2
    for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"metrics.jsonl holds {name}"))


def test_metrics_rows_are_strict_json(tmp_path):
    from satlearn.engine.reporting import write_metrics

    write_metrics(tmp_path, [{"epoch": 1, "test_loss": float("nan"), "lr": np.float32(0.1)}])
    row = json.loads((tmp_path / "metrics.jsonl").read_text(),
                     parse_constant=lambda name: pytest.fail(f"metrics.jsonl holds {name}"))
    assert row["test_loss"] is None and row["lr"] == pytest.approx(0.1)


def test_resume_clears_what_a_killed_write_left_behind(tmp_path):
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    partial = tmp_path / "run" / ".checkpoint.pt.k1ll3d.tmp"  # as atomic_write_bytes names its temporary file
    partial.write_bytes(b"\0" * 1000)
    # not training's own: a user's file, and another command's output being written at this moment
    others = [tmp_path / "run" / ".my-notes.tmp", tmp_path / "run" / ".compare.png.0f0f0f0f.tmp"]
    for other in others:
        other.write_text("keep")
    fit(tiny_config(tmp_path), tmp_path / "run", resume=True, log=lambda m: None)
    assert not partial.exists() and (tmp_path / "run" / "summary.json").exists()
    assert all(other.read_text() == "keep" for other in others)


def test_a_run_started_again_after_it_was_killed_writing_its_first_file_clears_that_write(tmp_path):
    # killed while labels.npz was written: the folder holds only its temporary file, and the run starts again there
    run = tmp_path / "run"
    run.mkdir()
    partial = run / ".labels.npz.k1ll3d.tmp"
    partial.write_bytes(b"PK\x03\x04" + b"\0" * 1000)
    other = run / ".compare.png.0f0f0f0f.tmp"  # not training's own
    other.write_text("keep")
    fit(tiny_config(tmp_path), run, log=lambda m: None)
    assert not partial.exists() and (run / "summary.json").exists() and other.read_text() == "keep"


def test_an_epoch_that_would_end_on_one_example_skips_it_so_batchnorm1d_trains(tmp_path):
    from fixtures import write_fake_cifar10
    from satlearn.engine.trainer import make_loaders, prepare_data

    root = write_fake_cifar10(tmp_path, per_batch=13)  # 65 training images: 32 + 32 + 1
    base = ["data.source=cifar10", f"data.root={root}", "data.batch_size=32", "model.name=vgg16_bn",
            "model.width=2", "method.name=selective_sat", "run.epochs=2", "method.start_epoch=1",
            "run.progress=false", "run.device=cpu", "data.workers=0"]
    for pipeline in ("memory", "reference"):
        config = load_config(None, [*base, f"data.pipeline={pipeline}"])
        noisy = prepare_data(config)
        train, _ = make_loaders(config, noisy.data, noisy.labels, torch.device("cpu"), skip_lone_last=True)
        assert [len(idx) for _, _, idx in train.epoch(0)] == [32, 32], pipeline
    # only a model with BatchNorm loses the example (a ResNet too: at 8×8 its last stage is 1×1)
    train, _ = make_loaders(config, noisy.data, noisy.labels, torch.device("cpu"))
    assert [len(idx) for _, _, idx in train.epoch(0)] == [32, 32, 1]
    from satlearn.engine.trainer import needs_two_per_batch
    from satlearn.models import create_model

    assert needs_two_per_batch(create_model("vgg16_bn", 10, input_shape=(3, 32, 32), width=2))
    assert needs_two_per_batch(create_model("resnet18", 10, input_shape=(3, 8, 8), width=2))
    assert not needs_two_per_batch(create_model("mlp", 10, input_shape=(40,), width=8))
    fit(config, tmp_path / "run", log=lambda m: None)  # VGG's BatchNorm1d raised on the batch of one
    assert (tmp_path / "run" / "summary.json").exists()


def test_a_model_with_batchnorm_on_one_training_example_is_told_the_split_is_too_small_not_the_batch(tmp_path):
    # one example is a batch of one at any batch size: "use data.batch_size >= 2" would send the user nowhere
    from satlearn.data import DatasetSplits

    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0])
    base = ["model.name=resnet18", "model.width=2", "method.name=erm", "run.epochs=1", "run.progress=false",
            "run.device=cpu"]

    def splits(n):
        return DatasetSplits(x_train=images[:n], y_train=labels[:n], x_test=images, y_test=labels, num_classes=2,
                             class_names=["a", "b"], kind="image", name="tiny")

    with pytest.raises(TrainingError, match=r"^epoch 1: a batch of one example cannot train this model \(a BatchNorm "
                                            r"layer would see one value per channel\); the training split holds only "
                                            r"this one example; give it at least 2$"):
        fit(load_config(None, base), tmp_path / "one", dataset=splits(1), log=lambda m: None)
    with pytest.raises(TrainingError, match=r"; use data\.batch_size >= 2$"):
        fit(load_config(None, [*base, "data.batch_size=1"]), tmp_path / "batch", dataset=splits(2),
            log=lambda m: None)


def test_a_resume_that_auto_puts_on_another_pipeline_says_so(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    fit(tiny_config(tmp_path, "data.workers=0"), tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    assert load_checkpoint(tmp_path / "run")["runtime"]["pipeline"] == "memory"
    monkeypatch.setattr(trainer, "choose_pipeline", lambda config, data, device: "reference")  # less free memory
    messages = []
    fit(tiny_config(tmp_path, "data.workers=0"), tmp_path / "run", resume=True, log=messages.append)
    assert any("trained on the memory pipeline and resumes on the reference one" in m for m in messages)


def test_a_run_that_auto_puts_on_the_reference_pipeline_says_why(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    monkeypatch.setattr(trainer, "choose_pipeline", lambda config, data, device: "reference")  # less free memory
    messages = []
    fit(tiny_config(tmp_path, "data.workers=0", "run.epochs=2"), tmp_path / "auto", log=messages.append)
    notes = [m for m in messages if m.startswith("note: data.pipeline=auto chose the reference pipeline")]
    assert len(notes) == 1 and "data.pipeline=memory" in notes[0]
    messages.clear()  # asked for, the reference pipeline needs no explaining
    fit(tiny_config(tmp_path, "data.workers=0", "run.epochs=2", "data.pipeline=reference"), tmp_path / "asked",
        log=messages.append)
    assert not any("data.pipeline=auto" in m for m in messages)


def test_the_auto_pipeline_note_gives_the_sizes_it_compared(monkeypatch):
    from satlearn.data.base import DatasetSplits
    from satlearn.engine.trainer import auto_pipeline_note

    x = torch.zeros((), dtype=torch.uint8).expand(2**20, 3, 8, 8)  # the size of a large dataset, in no memory
    y = torch.zeros(len(x), dtype=torch.int64)
    data = DatasetSplits(x_train=x, y_train=y, x_test=x, y_test=y, num_classes=10, class_names=list("abcdefghij"),
                         kind="image", name="toy")
    free = 2**29
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2**34))
    note = auto_pipeline_note(data, torch.device("cuda", 0))
    assert f"({2 * x.numel() / 2**30:.2f} GiB of data, {free / 2**30:.2f} GiB free on cuda:0)" in note


def test_a_stop_before_the_checkpoint_resumed_from_reports_the_epochs_done(tmp_path):
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=2, log=lambda m: None)
    result = fit(tiny_config(tmp_path), tmp_path / "run", resume=True, stop_after_epoch=1, log=lambda m: None)
    assert result.summary == {"epochs_done": 2, "stopped_early": True}
    assert load_checkpoint(tmp_path / "run")["epoch"] == 2


@pytest.mark.parametrize("stop", [0, -1, 1.5, "1", True])
def test_a_stop_after_epoch_that_is_no_count_of_epochs_is_refused_before_anything_is_written(tmp_path, stop):
    from satlearn.errors import ConfigError

    expected = f"stop_after_epoch={stop!r}; expected a whole number of epochs, 1 or more"
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=stop, log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_fit_progress_shows_or_hides_the_bars_for_the_call_and_the_run_keeps_its_run_progress(tmp_path):
    # how a command's output is read (a log file) is no setting of the run: a later resumption decides again
    logged = []
    run = tmp_path / "run"
    fit(tiny_config(tmp_path, "run.progress=true"), run, stop_after_epoch=1, log=logged.append, progress=False)
    assert any(line.startswith("epoch 1/4: train loss") for line in logged)  # a line per epoch, as without bars
    assert load_config(run / "config.yaml").run.progress is True
    assert load_checkpoint(run)["config"]["run"]["progress"] is True
    logged.clear()
    fit(tiny_config(tmp_path, "run.progress=false"), run, resume=True, stop_after_epoch=2, log=logged.append,
        progress=True)
    assert not any(line.startswith("epoch 2/4") for line in logged)
    assert load_config(run / "config.yaml").run.progress is False


def test_a_progress_that_is_no_bool_is_refused_before_anything_is_written(tmp_path):
    from satlearn.errors import ConfigTypeError

    with pytest.raises(ConfigTypeError, match=r"^progress='no'; expected True, False or None$"):
        fit(tiny_config(tmp_path), tmp_path / "run", progress="no", log=lambda m: None)
    assert not (tmp_path / "run").exists()


def scripted_accuracies(monkeypatch, accuracies):
    """Replaces the test-split evaluation by ``accuracies``, one per call, in order (across fit calls)."""
    from satlearn.engine import trainer

    script = iter(accuracies)
    monkeypatch.setattr(trainer, "evaluate", lambda method, loader, amp=None: {"loss": 1.0, "accuracy": next(script)})


def test_best_accuracy_is_the_highest_and_its_first_epoch(tmp_path, monkeypatch):
    scripted_accuracies(monkeypatch, [0.3, 0.6, 0.5, 0.6])
    result = fit(tiny_config(tmp_path), tmp_path / "run", log=lambda m: None)
    assert [row["test_accuracy"] for row in result.history] == [0.3, 0.6, 0.5, 0.6]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["best_test_accuracy"], summary["best_epoch"]) == (0.6, 2)


def test_a_resumed_run_keeps_the_best_accuracy_of_the_epochs_before_its_checkpoint(tmp_path, monkeypatch):
    # the best (0.9, epoch 1) lies before the checkpoint: a run that forgot it would name 0.5 at epoch 4
    scripted_accuracies(monkeypatch, [0.9, 0.2, 0.4, 0.5])
    fit(tiny_config(tmp_path), tmp_path / "run", stop_after_epoch=2, log=lambda m: None)
    result = fit(tiny_config(tmp_path), tmp_path / "run", resume=True, log=lambda m: None)
    assert (result.summary["best_test_accuracy"], result.summary["best_epoch"]) == (0.9, 1)


def test_checkpoints_are_written_every_checkpoint_every_epochs_and_at_the_end(tmp_path, monkeypatch):
    from satlearn.engine.checkpoint import CheckpointWriter

    saved = []
    real_save = CheckpointWriter.save

    def counting_save(self, state, **options):
        saved.append(state["epoch"])
        return real_save(self, state, **options)

    monkeypatch.setattr(CheckpointWriter, "save", counting_save)
    fit(tiny_config(tmp_path, "run.epochs=5", "run.checkpoint_every=2", "method.name=erm"), tmp_path / "run",
        log=lambda m: None)
    assert saved == [2, 4, 5]


def test_the_next_epoch_trains_while_the_metrics_tables_are_being_written(tmp_path, monkeypatch):
    # each write ends on two fsyncs, which a busy disk makes last as long as a small model's epoch: they wait on the
    # checkpoint writer's thread, not in the training loop
    import threading

    from satlearn.engine import reporting, trainer

    second_epoch_began = threading.Event()
    real_train_one_epoch, real_write_metrics = trainer.train_one_epoch, reporting.write_metrics
    overlapped = {}

    def train_one_epoch(method, optimizer, loader, epoch, **kwargs):
        if epoch == 1:
            second_epoch_began.set()
        return real_train_one_epoch(method, optimizer, loader, epoch, **kwargs)

    def slow_write_metrics(run_dir, history, **options):
        if len(history) == 1:  # the first epoch's tables, as slow as the second epoch, at least
            overlapped[1] = second_epoch_began.wait(timeout=5)
        real_write_metrics(run_dir, history, **options)

    monkeypatch.setattr(trainer, "train_one_epoch", train_one_epoch)
    monkeypatch.setattr(reporting, "write_metrics", slow_write_metrics)
    result = fit(tiny_config(tmp_path, "run.epochs=2", "method.name=erm"), tmp_path / "run", log=lambda m: None)
    assert overlapped == {1: True}
    # the last tables are written before fit returns, whole
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows == result.history and len(rows) == 2


def test_a_metrics_table_that_cannot_be_written_stops_the_run_naming_it(tmp_path, monkeypatch):
    import errno

    from satlearn.engine import reporting

    def full_disk(run_dir, history, **options):
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "metrics.jsonl"))

    monkeypatch.setattr(reporting, "write_metrics", full_disk)
    with pytest.raises(OSError) as failed:
        fit(tiny_config(tmp_path, "run.epochs=3", "method.name=erm"), tmp_path / "run", log=lambda m: None)
    assert (failed.value.errno, failed.value.filename) == (errno.ENOSPC, str(tmp_path / "run" / "metrics.jsonl"))
    assert not (tmp_path / "run" / "summary.json").exists()


def test_each_epochs_metrics_row_is_rendered_once_however_long_the_run(tmp_path, monkeypatch):
    from satlearn.engine import reporting

    # the tables are rewritten whole after every epoch; rendering every row again made each epoch of a long run
    # slower than the one before
    cleaned, lines = [], []
    real_clean, real_csv_line = reporting._clean, reporting._csv_line

    def clean(value):
        if isinstance(value, dict) and "epoch" in value:
            cleaned.append(value["epoch"])
        return real_clean(value)

    def csv_line(columns, row):
        lines.append(None if row is None else row["epoch"])
        return real_csv_line(columns, row)

    monkeypatch.setattr(reporting, "_clean", clean)
    monkeypatch.setattr(reporting, "_csv_line", csv_line)
    # SAT from epoch 3: its train_confidence column first comes with epoch 3, and the CSV lines before are redrawn
    result = fit(tiny_config(tmp_path, "run.epochs=6", "method.start_epoch=2"), tmp_path / "run", log=lambda m: None)
    assert cleaned == [1, 2, 3, 4, 5, 6]
    assert [epoch for epoch in lines if epoch is not None] == [1, 2, 1, 2, 3, 4, 5, 6]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows == result.history
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in table] == [1, 2, 3, 4, 5, 6]
    assert list(table[0]) == list(result.history[-1]) and table[0]["train_confidence"] == ""


def test_a_checkpoint_takes_the_history_without_searching_it_for_tensors(tmp_path, monkeypatch):
    from satlearn.engine import checkpoint

    searched = []
    real_stage = checkpoint.stage_to_cpu

    def stage(state):
        searched.append("history" in state)
        return real_stage(state)

    monkeypatch.setattr(checkpoint, "stage_to_cpu", stage)
    result = fit(tiny_config(tmp_path, "run.epochs=3", "run.keep_best=true"), tmp_path / "run", log=lambda m: None)
    assert searched and not any(searched)
    assert load_checkpoint(tmp_path / "run")["history"] == result.history


def test_a_run_evaluates_every_eval_every_epochs_and_at_the_last_one(tmp_path):
    result = fit(tiny_config(tmp_path, "run.epochs=3", "run.eval_every=2", "method.name=erm"), tmp_path / "run",
                 log=lambda m: None)
    assert [row["epoch"] for row in result.history if "test_accuracy" in row] == [2, 3]
    columns = next(csv.reader((tmp_path / "run" / "metrics.csv").open()))
    assert "test_accuracy" in columns and "eval_seconds" in columns  # though the first row has no evaluation


def test_metrics_csv_holds_each_epochs_own_evaluation(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    script = iter([{"loss": 2.5, "accuracy": 0.25}, {"loss": 1.5, "accuracy": 0.75}])
    monkeypatch.setattr(trainer, "evaluate", lambda method, loader, amp=None: next(script))
    result = fit(tiny_config(tmp_path, "run.epochs=2", "method.name=erm"), tmp_path / "run", log=lambda m: None)
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [(row["epoch"], row["test_loss"], row["test_accuracy"]) for row in rows] == [("1", "2.5", "0.25"),
                                                                                       ("2", "1.5", "0.75")]
    assert [float(row["train_loss"]) for row in rows] == [row["train_loss"] for row in result.history]
    header = next(csv.reader((tmp_path / "run" / "metrics.csv").open()))
    assert header[:2] == ["epoch", "lr"] and header == list(result.history[0])  # in the order the rows give them


def test_a_best_accuracy_of_zero_still_names_its_epoch(tmp_path, monkeypatch):
    scripted_accuracies(monkeypatch, [0.0, 0.0])
    result = fit(tiny_config(tmp_path, "run.epochs=2", "method.name=erm"), tmp_path / "run", log=lambda m: None)
    assert (result.summary["best_test_accuracy"], result.summary["best_epoch"]) == (0.0, 1)


def test_a_run_stopped_after_an_epoch_keeps_its_checkpoint_whatever_checkpoint_every(tmp_path):
    config = tiny_config(tmp_path, "run.epochs=4", "run.checkpoint_every=5", "method.name=erm")
    fit(config, tmp_path / "run", stop_after_epoch=2, log=lambda m: None)
    assert load_checkpoint(tmp_path / "run")["epoch"] == 2
    assert len(fit(config, tmp_path / "run", resume=True, log=lambda m: None).history) == 4


def test_a_setting_free_to_change_on_resume_is_free_also_where_the_run_had_no_such_setting_yet():
    from satlearn.config import to_dict
    from satlearn.engine.trainer import config_differences

    saved = to_dict(load_config(None))
    del saved["run"]["checkpoint_every"]  # as a run saved before the setting existed
    current = to_dict(load_config(None, ["run.checkpoint_every=5"]))
    assert config_differences(saved, current) == []


def test_a_key_added_since_is_filled_in_only_where_the_run_had_none_not_over_the_runs_own_value():
    from satlearn.config import to_dict
    from satlearn.engine.trainer import _with_keys_added_since, config_differences

    own = to_dict(load_config(None, ["data.ignore_columns=[id]"]))  # a run that left out a column of its own
    assert _with_keys_added_since(own)["data"]["ignore_columns"] == ["id"]
    assert config_differences(_with_keys_added_since(own), to_dict(load_config(None))) == [
        "data.ignore_columns: run has ['id'], now []"]
    older = to_dict(load_config(None))
    del older["data"]["ignore_columns"]
    assert _with_keys_added_since(older)["data"]["ignore_columns"] == []


def test_a_refused_resumption_lists_three_differences_and_counts_the_rest():
    from satlearn.engine.trainer import listed_differences

    assert listed_differences(["a", "b", "c"]) == "a; b; c"
    assert listed_differences(["a", "b", "c", "d"]) == "a; b; c; and 1 more"


def test_a_setting_the_run_had_that_its_method_no_longer_takes_is_a_difference():
    from satlearn.engine.trainer import config_differences

    saved = {"method": {"settings": {"smoothing": 0.2, "warmup": 3}}}
    current = {"method": {"settings": {"smoothing": 0.2}}}  # the method's Settings lost warmup since
    assert config_differences(saved, current) == ["method.settings.warmup: run has 3, now None"]


def test_only_settings_of_how_a_run_runs_may_differ_on_resume():
    from satlearn.config import to_dict
    from satlearn.engine.trainer import RESUME_FREE_KEYS, config_differences

    assert RESUME_FREE_KEYS == {"run.progress", "run.out_dir", "run.name", "run.threads", "run.checkpoint_every",
                                "run.cudnn_benchmark", "run.cudnn_benchmark_limit", "run.device", "data.root",
                                "data.noise.file", "data.workers", "data.eval_batch_size"}
    saved = to_dict(load_config(None))
    current = to_dict(load_config(None, ["run.seed=7", "optim.lr=0.01", "data.noise.seed=3", "run.name=again",
                                         "data.workers=0", "run.checkpoint_every=5"]))
    assert config_differences(saved, current) == ["data.noise.seed: run has 0, now 3",
                                                   "optim.lr: run has 0.003, now 0.01",
                                                   "run.seed: run has 0, now 7"]
    # another set of keys left out, as compare leaves out the seeds of runs of one experiment (inner mappings too)
    assert config_differences(saved, current, free={"run.seed", "data.noise.seed", "run.name"}) == [
        "data.workers: run has None, now 0", "optim.lr: run has 0.003, now 0.01",
        "run.checkpoint_every: run has 1, now 5"]


def test_a_nan_saved_by_an_older_version_is_no_difference_from_itself():
    from satlearn.config import to_dict
    from satlearn.engine.trainer import config_differences

    saved = to_dict(load_config(None))
    saved["optim"]["gamma"] = float("nan")
    current = to_dict(load_config(None))
    current["optim"]["gamma"] = float("nan")
    assert config_differences(saved, current) == []
    current["optim"]["gamma"] = 0.1
    assert config_differences(saved, current) == ["optim.gamma: run has nan, now 0.1"]


def test_a_setting_a_method_gained_since_its_run_started_is_named_as_new_not_as_none():
    from satlearn.engine.trainer import config_differences

    saved = {"method": {"settings": {"smoothing": 0.2}}}
    current = {"method": {"settings": {"smoothing": 0.2, "temperature": 1.0, "floor": None}}}
    assert config_differences(saved, current) == ["method.settings.temperature: the run has no such setting, now 1.0"]
    saved["method"]["settings"]["temperature"] = None
    assert config_differences(saved, current) == ["method.settings.temperature: run has None, now 1.0"]

def test_the_training_order_follows_run_seed(tmp_path):
    from satlearn.engine.trainer import make_loaders, prepare_data

    def first_batch(seed):
        config = tiny_config(tmp_path, f"run.seed={seed}")
        noisy = prepare_data(config)
        train, _ = make_loaders(config, noisy.data, noisy.labels, torch.device("cpu"))
        assert train.seed == seed
        return next(iter(train.epoch(0)))[2]

    assert torch.equal(first_batch(1), first_batch(1))
    assert not torch.equal(first_batch(1), first_batch(2))


@pytest.mark.parametrize("overrides, expected_type, expected", [
    (["optim.name=sgd", "optim.lr=0.05", "optim.momentum=0.8", "optim.nesterov=true", "optim.weight_decay=0.0005"],
     torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.0005}),
    (["optim.name=sgd", "optim.momentum=0", "optim.nesterov=false"],
     torch.optim.SGD, {"lr": 0.003, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}),
    (["optim.name=adam", "optim.lr=0.002", "optim.weight_decay=0.001"],
     torch.optim.Adam, {"lr": 0.002, "weight_decay": 0.001}),
])
def test_the_optimizer_takes_its_settings_from_the_config(overrides, expected_type, expected):
    from satlearn.engine.trainer import build_optimizer

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model[0].bias.requires_grad_(False)
    optimizer = build_optimizer(load_config(None, overrides), model, torch.device("cpu"))
    assert type(optimizer) is expected_type
    assert {key: optimizer.defaults[key] for key in expected} == expected
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in trainable]


@pytest.mark.parametrize("momentum", ["1.0", "9.0"])
def test_sgd_momentum_of_one_or_more_is_refused_before_a_run_diverges(momentum):
    # a heavy ball that keeps all of every past gradient (9 for 0.9, say) makes ever larger steps
    with pytest.raises(ConfigError, match=rf"^--set optim\.momentum={momentum}: optim\.momentum={momentum}; "
                                          r"expected a value in \[0, 1\)"):
        load_config(None, ["optim.name=sgd", f"optim.momentum={momentum}"])


def test_evaluation_scores_the_class_logits_only_not_an_abstain_output():
    import torch.nn.functional as F

    from satlearn.data.loader import InMemoryLoader
    from satlearn.engine.trainer import evaluate

    class WithAbstain(torch.nn.Module):
        """Its inputs are its class logits; the extra (abstain) logit outweighs them all."""

        num_classes = 3

        def forward(self, x):
            return torch.cat([x, torch.full((len(x), 1), 1e4)], dim=1)

    torch.manual_seed(0)
    logits, labels = torch.randn(10, 3), torch.randint(0, 3, (10,))
    method = WithAbstain().train()
    result = evaluate(method, InMemoryLoader(logits, labels, batch_size=4))
    assert result["accuracy"] == int((logits.argmax(dim=1) == labels).sum()) / 10 > 0
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    assert method.training  # put back in the mode it came in


def cifar_config(tmp_path, *extra):
    from fixtures import write_fake_cifar10

    root = write_fake_cifar10(tmp_path, per_batch=8)
    return load_config(None, ["data.source=cifar10", f"data.root={root}", "data.batch_size=16",
                              "data.eval_batch_size=4", "model.name=resnet18", "model.width=2", "run.epochs=3",
                              "method.start_epoch=1", "run.progress=false", "run.device=cpu",
                              "data.pipeline=memory", *extra])


def test_the_test_split_is_never_augmented(tmp_path):
    from satlearn.engine.trainer import make_loaders, prepare_data

    config = cifar_config(tmp_path)
    noisy = prepare_data(config)
    data = noisy.data
    train, test = make_loaders(config, data, noisy.labels, torch.device("cpu"))
    assert train.augment == "crop_flip"  # augment=auto: the training split of images is
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    plain = (data.x_test.float().div_(255.0) - mean) / std
    for epoch in (0, 1):
        batches = list(test.epoch(epoch))
        assert torch.equal(torch.cat([x for x, _, _ in batches]), plain), epoch
        assert torch.equal(torch.cat([y for _, y, _ in batches]), data.y_test)


@pytest.mark.parametrize("channels_last", [True, False])
def test_run_channels_last_sets_the_layout_of_batches_and_convolutions(tmp_path, channels_last):
    from satlearn.engine.trainer import build_method, make_loaders, prepare_data

    config = cifar_config(tmp_path, f"run.channels_last={str(channels_last).lower()}")
    noisy = prepare_data(config)
    cpu = torch.device("cpu")
    train, test = make_loaders(config, noisy.data, noisy.labels, cpu)
    layout = torch.channels_last
    for loader in (train, test):
        x = next(iter(loader.epoch(0)))[0]
        assert x.is_contiguous(memory_format=layout) is channels_last
    method = build_method(config, noisy.data, noisy.labels, cpu)
    conv = next(m for m in method.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.shape[1:] == (3, 3, 3)  # a layout both memory formats cannot share
    assert conv.weight.is_contiguous(memory_format=layout) is channels_last


def test_running_statistics_gone_non_finite_count_as_diverged_weights():
    from satlearn.config import MethodConfig
    from satlearn.engine.trainer import _finite_weights
    from satlearn.methods import create_method
    from satlearn.models import create_model

    model = create_model("resnet18", 10, input_shape=(3, 32, 32), width=2)
    method = create_method(MethodConfig(name="sat"), model, labels=torch.zeros(4, dtype=torch.int64), num_classes=10)
    assert _finite_weights(method)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_var[0] = float("inf")  # the parameters are all finite still
    assert not _finite_weights(method)


def test_batch_size_one_on_a_model_batchnorm_cannot_train_is_one_line_through_the_cli(tmp_path, capsys):
    from fixtures import write_fake_cifar10
    from satlearn.cli import main

    root = write_fake_cifar10(tmp_path, per_batch=2)
    args = ["train", "--run-dir", str(tmp_path / "run"), "--no-progress"]
    for key in ("data.source=cifar10", f"data.root={root}", "data.batch_size=1", "model.name=vgg16_bn",
                "model.width=2", "method.name=erm", "run.epochs=1", "run.device=cpu", "data.workers=0"):
        args += ["--set", key]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.batch_size >= 2" in err[0] and "BatchNorm" in err[0], err


def test_a_run_is_neither_resumed_nor_evaluated_on_other_data(tmp_path, capsys):
    from satlearn.cli import main
    from satlearn.engine import evaluate_run, load_run

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(130, 6)).astype(np.float32), rng.integers(0, 3, 130)
    path = tmp_path / "table.npz"

    def save(**change):
        arrays = {"x_train": x[:100], "y_train": y[:100], "x_test": x[100:], "y_test": y[100:], **change}
        np.savez(path, **arrays)

    save()
    config = load_config(None, ["data.source=npz", f"data.root={path}", "model.name=mlp", "model.width=8",
                                "data.batch_size=32", "run.epochs=2", "method.start_epoch=1", "run.progress=false",
                                "run.device=cpu"])
    fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    assert evaluate_run(tmp_path / "run")["num_test"] == 30
    shrunk = {"x_test": x[100:105], "y_test": y[100:105]}
    classes = len(np.unique(y))
    for change, named in (({"y_train": np.r_[y[:99], classes]}, f"{classes} classes, now {classes + 1}"),
                          (shrunk, r"test split of shape \(30, 6\), now \(5, 6\)"),
                          ({"x_test": x[100:] + 1}, "its test inputs differ"),
                          ({"y_test": (y[100:] + 1) % 3}, "its test labels differ"),
                          ({"x_train": np.r_[x[:99], x[99:100] + 1]}, "its train inputs differ")):
        save(**change)
        with pytest.raises(DataError, match=rf"cannot load the run: the data differ .*\({named}\)"):
            load_run(tmp_path / "run")
        with pytest.raises(DataError, match=rf"cannot resume: the data differ .*\({named}\)"):
            fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    assert main(["eval", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    save()
    fit(config, tmp_path / "run", resume=True, log=lambda m: None)  # the original data: both work again
    assert evaluate_run(tmp_path / "run")["epoch"] == 2


# ~10^14 bytes at once; then sizes whose bytes, and a width whose count alone, exceed torch's 64 bits
@pytest.mark.parametrize("width", [10**12, 2**62, 10**20])
def test_a_model_too_large_for_memory_is_one_line_naming_its_width(tmp_path, capsys, width):
    from satlearn.cli import main

    args = ["train", "--run-dir", str(tmp_path / "run")]
    for key in tiny_overrides(tmp_path, "model.name=mlp", f"model.width={width}"):
        args += ["--set", key]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"model.width={width}: the model does not fit in cpu memory" in err[0], err


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_a_run_directory_another_process_trains_in_is_left_alone(tmp_path):
    import fcntl
    import os

    run = tmp_path / "run"
    fit(tiny_config(tmp_path), run, stop_after_epoch=1, log=lambda m: None)
    partial = run / ".checkpoint.pt.0a1b2c3d.tmp"  # as the other process's checkpoint write in progress
    partial.write_bytes(b"half")
    held = os.open(run, os.O_RDONLY)  # what a training process holds (a separate open: flock conflicts in-process)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
        with pytest.raises(TrainingError, match=r"run: another process is training this run; let it finish"):
            fit(tiny_config(tmp_path), run, resume=True, log=lambda m: None)
        assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # its files untouched
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        os.close(held)
        held = os.open(fresh, os.O_RDONLY)
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TrainingError, match="another process is training this run"):
            fit(tiny_config(tmp_path), fresh, log=lambda m: None)
    finally:
        os.close(held)
    fit(tiny_config(tmp_path), run, resume=True, log=lambda m: None)  # the lock gone: it resumes
    assert (run / "summary.json").exists() and not partial.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_a_new_run_into_a_directory_another_process_trains_says_so_not_to_resume(tmp_path):
    import fcntl

    run, loading = tmp_path / "run", tmp_path / "loading"
    fit(tiny_config(tmp_path), run, stop_after_epoch=1, log=lambda m: None)
    loading.mkdir()  # a run whose process still loads its data: no checkpoint yet
    for directory in (run, loading):
        held = os.open(directory, os.O_RDONLY)  # the other process's lock (a separate open: flock conflicts in-process)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(TrainingError) as refused:  # a --resume would be refused too while it trains
                fit(tiny_config(tmp_path), directory, log=lambda m: None)
            assert str(refused.value) == (f"{directory}: another process is training this run; wait for it to "
                                          "finish (or stop it), or choose another run.name / run directory")
            with pytest.raises(TrainingError, match=r"another process is training this run; let it finish \(or "
                                                    r"stop it\), then resume"):
                fit(tiny_config(tmp_path), directory, resume=True, log=lambda m: None)
        finally:
            os.close(held)
    # nobody trains it now: a run there is resumed
    with pytest.raises(TrainingError, match=r"already holds a run; resume it \(train --resume; in Python, "
                                            r"fit\(\.\.\., resume=True\)\) or choose another run\.name"):
        fit(tiny_config(tmp_path), run, log=lambda m: None)


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_a_run_refused_a_busy_directory_leaves_it_even_when_both_found_it_missing(tmp_path, monkeypatch):
    import fcntl
    import os

    from satlearn.engine import trainer

    run = tmp_path / "runs" / "race"  # neither it nor its parent exists when fit starts
    held = []
    prepare = trainer._prepare_run_dir

    def the_other_process_wins(run_dir, *, resume):
        prepare(run_dir, resume=resume)
        if not held:  # it created the directory too, took the lock first and is still loading its data
            held.append(os.open(run_dir, os.O_RDONLY))
            fcntl.flock(held[0], fcntl.LOCK_EX | fcntl.LOCK_NB)

    monkeypatch.setattr(trainer, "_prepare_run_dir", the_other_process_wins)
    try:
        with pytest.raises(TrainingError, match="another process is training this run"):
            fit(tiny_config(tmp_path), run, log=lambda m: None)
        assert run.is_dir()  # not removed from under the process that holds it
    finally:
        os.close(held[0])


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_a_run_starting_while_a_reader_looks_at_its_directory_is_not_refused(tmp_path):
    import fcntl
    import threading

    # a command reading a run that holds no file yet (compare, eval, find-issues) takes its lock for an instant, to
    # learn whether a training loads its data there: a training that starts at that instant waits for it
    run = tmp_path / "run"
    run.mkdir()
    held = os.open(run, os.O_RDONLY)  # the reader's lock (a separate open: flock conflicts in-process)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    reader = threading.Timer(0.1, os.close, args=(held,))
    reader.start()
    try:
        result = fit(tiny_config(tmp_path), run, log=lambda m: None)
    finally:
        reader.join()
    assert result.run_dir == run and (run / "summary.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_a_process_forked_by_training_does_not_keep_the_run_directory_locked_after_the_training(tmp_path):
    import multiprocessing
    import time

    from satlearn.engine.trainer import RunDirectoryBusy, hold_run_dir, refuse_if_trained_elsewhere

    # the reference pipeline's loader workers are forked: where the training process is killed (SIGKILL, the OOM
    # killer), they outlive it for a few seconds, and a resumption then must not be told the run still trains
    run = tmp_path / "run"
    run.mkdir()
    fork = multiprocessing.get_context("fork")
    working = fork.Event()

    def work():  # (the child has done what a fork does to it, then it works)
        working.set()
        time.sleep(60)

    worker = fork.Process(target=work, daemon=True)
    try:
        with hold_run_dir(run, resume=False):
            worker.start()
            assert working.wait(timeout=30)
            with pytest.raises(RunDirectoryBusy):  # the training still holds it: the child took nothing from it
                refuse_if_trained_elsewhere(run, resume=True)
        assert worker.is_alive()
        refuse_if_trained_elsewhere(run, resume=True)  # the training is gone; the forked child holds no lock
    finally:
        worker.terminate()
        worker.join()


def test_a_class_without_training_examples_stops_a_new_run_but_not_one_trained_before_the_rule(tmp_path,
                                                                                               monkeypatch):
    from satlearn.data import DatasetSplits
    from satlearn.engine import evaluate_run

    rng = np.random.default_rng(0)
    path = tmp_path / "one_based.npz"  # labels 1..3: class 0 is empty
    np.savez(path, x_train=rng.normal(size=(60, 4)), y_train=rng.integers(1, 4, 60),
             x_test=rng.normal(size=(20, 4)), y_test=rng.integers(1, 4, 20))
    config = load_config(None, ["data.source=npz", f"data.root={path}", "model.name=mlp", "model.width=8",
                                "data.batch_size=16", "run.epochs=2", "method.start_epoch=1", "run.progress=false",
                                "run.device=cpu"])
    with pytest.raises(DataError, match=r"one_based\.npz: class 0 has no training example"):
        fit(config, tmp_path / "new", log=lambda m: None)
    assert not (tmp_path / "new").exists()
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr(DatasetSplits, "check_every_class_is_trained", lambda self: None)
        fit(config, tmp_path / "old", stop_after_epoch=1, log=lambda m: None)
    fit(config, tmp_path / "old", resume=True, log=lambda m: None)  # resumes and evaluates as it did
    assert evaluate_run(tmp_path / "old")["epoch"] == 2


def test_a_tuple_where_a_list_belongs_is_the_same_setting_for_fit(tmp_path):
    config = tiny_config(tmp_path, "optim.schedule=step")
    config.optim.milestones = (1,)  # as a script might write it
    assert fit(config, tmp_path / "run", log=lambda m: None).summary["epochs"] == 4


def test_a_path_where_a_str_belongs_is_the_same_setting_for_fit_and_load_dataset(tmp_path):
    from pathlib import Path

    from satlearn.config import DataConfig
    from satlearn.data import load_dataset

    config = tiny_config(tmp_path, "run.epochs=2")
    config.run.out_dir = Path(tmp_path)  # as a script might write it
    assert fit(config, tmp_path / "run", log=lambda m: None).summary["epochs"] == 2
    assert load_config(tmp_path / "run" / "config.yaml").run.out_dir == str(tmp_path)
    table = tmp_path / "t.csv"
    table.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(10)))
    assert load_dataset(DataConfig(source="csv", root=table)).x_train.shape == (8, 1)


@pytest.mark.parametrize("key, value, message", [
    ("method.momentum", 1.5, r"method\.momentum=1\.5; expected a value in \[0, 1\)"),
    ("method.momentum", "0.9", r"method\.momentum: expected float, got '0\.9'"),
    ("method.loss", "gce", r"method\.loss='gce' is not available for method 'sat'"),
    ("run.epochs", 0, r"run\.epochs=0"),
    ("data.noise.rate", 1.7, r"data\.noise\.rate"),
    ("run.name", "../escape", r"run\.name='\.\./escape'"),
])
def test_a_config_changed_in_code_is_checked_as_load_config_checks_it(tmp_path, key, value, message):
    config = tiny_config(tmp_path)
    section, name = key.split(".", 1)
    target = getattr(config, section)
    for part in name.split(".")[:-1]:
        target = getattr(target, part)
    setattr(target, name.split(".")[-1], value)
    with pytest.raises(ConfigError, match=rf"^fit's config: .*{message}"):
        fit(config, tmp_path / "run", log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_the_log_gives_file_noise_as_its_file_and_measured_rate_not_a_rate_it_ignores(tmp_path):
    import numpy as np

    labels = tmp_path / "labels.npy"
    np.save(labels, np.arange(320) % 10)  # MNIST-1D with 400 examples trains on 320
    messages = []
    recipe = tmp_path / "recipe.yaml"  # a recipe's rate, which file noise leaves in the config unused
    recipe.write_text("data:\n  noise:\n    kind: symmetric\n    rate: 0.3\n")
    config = load_config(recipe, tiny_overrides(tmp_path, "data.noise.kind=file", f"data.noise.file={labels}",
                                                "run.epochs=1", "method.start_epoch=0"))
    fit(config, tmp_path / "run", log=messages.append)
    line = next(m for m in messages if m.startswith("label noise"))
    assert line.startswith(f"label noise file {labels}: actual error rate ") and "(rate" not in line
    assert "note: data.noise.rate=0.3 has no effect with data.noise.kind=file (unused)" in messages


@pytest.mark.parametrize("rate, noted", [(0.4, False), (0.5, True)])
def test_pair_noise_that_makes_the_wrong_label_the_majority_is_noted(tmp_path, rate, noted):
    messages = []
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=pair", f"data.noise.rate={rate}",
                                              "run.epochs=1", "method.start_epoch=0"))
    fit(config, tmp_path / "run", log=messages.append)
    assert any(m.startswith(f"note: pair noise at rate {rate} gives at least half the examples") for m in messages) == noted


def test_the_log_names_classes_that_no_training_label_holds(tmp_path):
    import numpy as np

    labels = tmp_path / "labels.npy"
    np.save(labels, np.arange(320) % 8)  # digits 8 and 9 taken away by the label file
    messages = []
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=file", f"data.noise.file={labels}",
                                              "run.epochs=1", "method.start_epoch=0"))
    fit(config, tmp_path / "run", log=messages.append)
    assert "note: no training label is 8, 9 (of 10 classes): the model cannot learn to predict them" in messages
    messages.clear()
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=1", "method.start_epoch=0")), tmp_path / "all",
        log=messages.append)
    assert not any(m.startswith("note: no training label") for m in messages)


def test_a_run_needs_its_noise_file_only_to_start(tmp_path):
    import numpy as np

    from satlearn.engine import evaluate_run

    labels = tmp_path / "labels.npy"
    np.save(labels, (np.arange(320) * 7) % 10)
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=file", f"data.noise.file={labels}",
                                              "run.epochs=2", "method.start_epoch=1"))
    fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    kept = load_checkpoint(tmp_path / "run")["labels"]
    labels.unlink()  # the labels live in the checkpoint: resume and evaluation do not read the file again
    result = fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    assert len(result.history) == 2 and torch.equal(load_checkpoint(tmp_path / "run")["labels"], kept)
    assert evaluate_run(tmp_path / "run")["epoch"] == 2


def test_an_mnist1d_run_trained_on_the_earlier_standardisation_goes_on_with_it(tmp_path):
    from satlearn.data import load_earlier_form
    from satlearn.engine import evaluate_run, load_run
    from satlearn.engine.trainer import data_fingerprint

    config = tiny_config(tmp_path, "run.threads=1")
    fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    earlier = load_earlier_form(config.data)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    assert state["data"] != data_fingerprint(earlier)  # the two standardisations differ in the last bits
    state["data"] = data_fingerprint(earlier)  # as a run trained before the float64 statistics recorded it
    torch.save(state, path)
    _, _, noisy, _ = load_run(tmp_path / "run")
    assert torch.equal(noisy.data.x_train, earlier.x_train)  # evaluated on the inputs it trained on
    assert evaluate_run(tmp_path / "run")["epoch"] == 1
    result = fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    assert len(result.history) == 4 and load_checkpoint(tmp_path / "run")["data"] == data_fingerprint(earlier)
    # data that are neither form are still refused
    state = torch.load(path, weights_only=False)
    state["data"]["train"]["inputs"] = "0" * 32
    torch.save(state, path)
    with pytest.raises(DataError, match="its train inputs differ"):
        load_run(tmp_path / "run")


def test_the_earlier_mnist1d_form_is_recognised_under_another_thread_count(tmp_path, monkeypatch):
    # its float32 statistics rounded with the thread count: a run trained on one thread, evaluated on two
    from satlearn.data import load_earlier_form, mnist1d
    from satlearn.engine import load_run
    from satlearn.engine.runtime import cpu_threads
    from satlearn.engine.trainer import data_fingerprint

    rng = np.random.default_rng(0)
    big = {"x": rng.normal(3.0, 2.0, (10_000, 40)), "y": np.arange(10_000) % 10,
           "x_test": rng.normal(3.0, 2.0, (500, 40)), "y_test": np.arange(500) % 10}
    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: big)
    config = load_config(None, tiny_overrides(tmp_path, "data.num_samples=10500", "model.name=mlp", "run.epochs=1",
                                              "method.start_epoch=0", "run.threads=1", "data.batch_size=1000"))
    fit(config, tmp_path / "run", log=lambda m: None)
    with cpu_threads(1):
        earlier = load_earlier_form(config.data)
    with cpu_threads(2):
        assert data_fingerprint(load_earlier_form(config.data)) != data_fingerprint(earlier)  # it does round so
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    state["data"] = data_fingerprint(earlier)
    torch.save(state, path)
    with cpu_threads(2):
        _, _, noisy, _ = load_run(tmp_path / "run")
    assert torch.equal(noisy.data.x_train, earlier.x_train)


def standardize_as_satlearn_did_before(train, test, *, what="features", **_):
    """Feature standardisation before a column of one value got std 1 whatever its rounding residue."""
    train, test = train.astype(np.float64), test.astype(np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32), mean, std


def table_with_a_constant_column(tmp_path, source: str, *, label_shift: int = 0):
    """A 60-row table whose third column is 1234567.89 throughout, whose computed std is a rounding residue; as a
    CSV file or a .npz file without a test split; ``label_shift`` moves each row's label to the next class. Returns
    the run's config."""
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=(60, 2)), np.full(60, 1234567.89)])
    y = (np.arange(60) + label_shift) % 3
    if source == "csv":
        path = tmp_path / "t.csv"
        rows = "".join(f"{a!r},{b!r},{c!r},{label}\n" for (a, b, c), label in zip(x.tolist(), y.tolist()))
        path.write_text("a,b,const,label\n" + rows)
    else:
        path = tmp_path / "t.npz"
        np.savez(path, x_train=x, y_train=y)
    return load_config(None, [f"data.root={path}", f"data.source={source}", "model.name=mlp", "model.width=8",
                              "run.epochs=3", "method.start_epoch=1", "run.progress=false", "run.device=cpu",
                              "data.batch_size=16", "run.threads=1", f"run.out_dir={tmp_path}"])


def train_whole_and_stopped_as_satlearn_did_before(config, tmp_path, monkeypatch, *, given: bool):
    """With the earlier standardisation: a run trained to the end in ``whole`` and one stopped after its first
    epoch in ``run`` (``given``: on the splits the source loaded, handed to fit); returns those splits."""
    from satlearn.data import load_dataset, tabular
    from satlearn.data import npz as npz_source

    with monkeypatch.context() as before:
        for module in (tabular, npz_source):
            before.setattr(module, "standardize", standardize_as_satlearn_did_before)
        trained_on = load_dataset(config.data)
        dataset = trained_on if given else None
        fit(config, tmp_path / "whole", dataset=dataset, log=lambda m: None)
        fit(config, tmp_path / "run", dataset=dataset, stop_after_epoch=1, log=lambda m: None)
    return trained_on


@pytest.mark.parametrize("source", ["csv", "npz"])
def test_a_tabular_run_trained_when_a_constant_column_was_scaled_by_its_residue_goes_on_exactly(
        tmp_path, monkeypatch, source):
    from satlearn.data import load_dataset
    from satlearn.engine import load_run
    from satlearn.engine.trainer import data_fingerprint

    config = table_with_a_constant_column(tmp_path, source)
    trained_on = train_whole_and_stopped_as_satlearn_did_before(config, tmp_path, monkeypatch, given=False)
    saved = load_checkpoint(tmp_path / "run")["data"]
    assert saved["train"]["inputs"] != data_fingerprint(load_dataset(config.data))["train"]["inputs"]
    _, _, noisy, _ = load_run(tmp_path / "run")
    assert torch.equal(noisy.data.x_train, trained_on.x_train) and torch.equal(noisy.data.x_test, trained_on.x_test)
    assert evaluate_run(tmp_path / "run")["epoch"] == 1
    fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    # trained on to the end as if never stopped
    assert_same_state(load_checkpoint(tmp_path / "run")["method"], load_checkpoint(tmp_path / "whole")["method"])
    assert load_checkpoint(tmp_path / "run")["data"] == saved


@pytest.mark.parametrize("given, remedy", [(False, r"point data\.root"),
                                           (True, "pass the same splits again as dataset=")])
@pytest.mark.parametrize("source", ["csv", "npz"])
def test_a_tabular_run_trained_under_the_earlier_rule_whose_labels_changed_is_refused_for_its_labels(
        tmp_path, monkeypatch, source, given, remedy):
    # its inputs are those of the earlier form: what differs is the labels, not the inputs that today's
    # standardisation makes otherwise; also for a run on the splits the source loaded, handed to fit (given)
    from satlearn.engine import load_run

    config = table_with_a_constant_column(tmp_path, source)
    train_whole_and_stopped_as_satlearn_did_before(config, tmp_path, monkeypatch, given=given)
    table_with_a_constant_column(tmp_path, source, label_shift=1)  # the same file, its labels changed
    with pytest.raises(DataError, match=rf"\(its train labels differ\); (to resume, )?{remedy}"):
        fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    with pytest.raises(DataError, match=r"\(its train labels differ\)"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize("given", [False, True])
def test_a_tabular_run_trained_under_the_earlier_rule_whose_test_inputs_changed_is_refused_for_those(
        tmp_path, monkeypatch, given):
    # its training inputs are those of the earlier form: what differs is a test row, not the training inputs that
    # today's standardisation makes otherwise
    from satlearn.data import load_dataset
    from satlearn.engine import load_run

    config = table_with_a_constant_column(tmp_path, "csv")
    train_whole_and_stopped_as_satlearn_did_before(config, tmp_path, monkeypatch, given=given)
    training_rows = set(load_dataset(config.data).source_rows.tolist())
    test_row = next(row for row in range(60) if row not in training_rows)
    table = tmp_path / "t.csv"  # (table_with_a_constant_column's)
    lines = table.read_text().splitlines(keepends=True)
    first_value, rest = lines[test_row + 1].split(",", 1)  # (after the header)
    lines[test_row + 1] = f"{float(first_value) + 1!r},{rest}"
    table.write_text("".join(lines))
    with pytest.raises(DataError, match=r"\(its test inputs differ\)"):
        fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    with pytest.raises(DataError, match=r"\(its test inputs differ\)"):
        load_run(tmp_path / "run")


def test_a_tabular_run_trained_under_todays_rule_whose_labels_changed_is_refused_for_its_labels(tmp_path):
    # its source has an earlier form, whose inputs the run did not train on: what differs is told against today's
    from satlearn.engine import load_run

    config = table_with_a_constant_column(tmp_path, "csv")
    fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    table_with_a_constant_column(tmp_path, "csv", label_shift=1)  # the same file, its labels changed
    with pytest.raises(DataError, match=r"\(its train labels differ\); point data\.root"):
        fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    with pytest.raises(DataError, match=r"\(its train labels differ\)"):
        load_run(tmp_path / "run")


def write_csv_table(path, rows: int, *, label_shift: int = 0) -> None:
    """A CSV table of ``rows`` rows, two features and a label of three classes (``label_shift``: each row's label
    moved to the next class)."""
    x = np.random.default_rng(0).normal(size=(rows, 2))
    labels = (np.arange(rows) + label_shift) % 3
    path.write_text("a,b,label\n" + "".join(f"{a!r},{b!r},{c}\n" for (a, b), c in zip(x.tolist(), labels.tolist())))


@pytest.mark.parametrize("change", ["labels", "rows", "unreadable"])
def test_a_run_on_its_sources_splits_that_the_source_no_longer_loads_is_refused_naming_what_differs(tmp_path,
                                                                                                     change):
    # find-issues --config hands fit the splits its source loaded: resumed or loaded without them, the run is
    # refused for what differs in the source's data now, as a run that loaded them itself is
    from satlearn.data import load_dataset
    from satlearn.engine import load_run

    table = tmp_path / "t.csv"
    write_csv_table(table, 90)
    config = tiny_config(tmp_path, "data.source=csv", f"data.root={table}", "model.name=mlp", "data.batch_size=16")
    run = tmp_path / "run"
    fit(config, run, dataset=load_dataset(config.data, progress=False), stop_after_epoch=1, log=lambda m: None)
    if change == "labels":
        write_csv_table(table, 90, label_shift=1)
        what = "its train labels differ"
    elif change == "rows":
        write_csv_table(table, 80)
        before = tuple(load_checkpoint(run)["data"]["train"]["shape"])
        what = f"train split of shape {before}, now {tuple(load_dataset(config.data).x_train.shape)}"
    else:  # the source cannot read its file now: why is said
        table.write_text(table.read_text().replace("\n", "\nx", 1))  # its first row's first value
        with pytest.raises(DataError) as unreadable:
            load_dataset(config.data)
        what = str(unreadable.value)
    for doing, load in (("resume", lambda: fit(config, run, resume=True, log=lambda m: None)),
                        ("load the run", lambda: load_run(run)), ("load the run", lambda: evaluate_run(run))):
        with pytest.raises(DataError) as refused:
            load()
        assert str(refused.value) == (f"{run}: trained on splits given to fit(dataset=...) (in Python, or by "
                                      "find-issues --config), which its data.source (csv) does not load "
                                      f"({what}); to {doing}, pass the same splits again as dataset=")


@pytest.mark.parametrize("source", ["csv", "npz"])
def test_a_run_trained_on_its_sources_splits_under_the_earlier_rule_goes_on_exactly_without_them(
        tmp_path, monkeypatch, source):
    # find-issues --config hands fit the splits its source loaded: a run trained so when a column of one value was
    # scaled by its rounding residue goes on with those inputs, as a run that loaded them itself does
    from satlearn.engine import load_run

    config = table_with_a_constant_column(tmp_path, source)
    trained_on = train_whole_and_stopped_as_satlearn_did_before(config, tmp_path, monkeypatch, given=True)
    saved = load_checkpoint(tmp_path / "run")
    assert saved["data_given"] and saved["given_splits_from_source"]
    _, _, noisy, _ = load_run(tmp_path / "run")
    assert torch.equal(noisy.data.x_train, trained_on.x_train) and torch.equal(noisy.data.x_test, trained_on.x_test)
    assert evaluate_run(tmp_path / "run")["epoch"] == 1
    fit(config, tmp_path / "run", resume=True, log=lambda m: None)
    assert_same_state(load_checkpoint(tmp_path / "run")["method"], load_checkpoint(tmp_path / "whole")["method"])
    assert load_checkpoint(tmp_path / "run")["data"] == saved["data"]


def test_a_resumed_optimizer_state_takes_the_kernels_of_the_optimizer_it_is_loaded_into():
    # set before loading: torch places Adam's step counts by the groups' `fused` (on the device for fused kernels)
    import types

    from satlearn.engine.trainer import _for_this_optimizer

    saved = {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 0.1, "fused": None, "foreach": None,
                                                                          "params": [0]}]}
    on_cuda = types.SimpleNamespace(defaults={"lr": 0.5, "fused": True, "foreach": None})
    adapted = _for_this_optimizer(saved, on_cuda)
    assert adapted["param_groups"] == [{"lr": 0.1, "fused": True, "foreach": None, "params": [0]}]
    assert saved["param_groups"][0]["fused"] is None and adapted["state"] is saved["state"]


def test_an_image_folder_run_logs_the_files_it_skipped_and_keeps_each_images_path(tmp_path):
    from PIL import Image

    root = tmp_path / "images"
    for split, count in (("train", 4), ("test", 2)):
        for c, name in enumerate(("ant", "bee")):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (8, 8), (200 * c, 20 * i, 0)).save(root / split / name / f"{i}.png")
    Image.new("RGB", (8, 8)).save(root / "train" / "bee" / "scan.tif")
    # a file name that is not UTF-8 (Latin-1 é), which Linux allows: the CSV keeps its byte as \xe9
    with open(os.path.join(os.fsencode(root / "train" / "bee"), b"caf\xe9.png"), "wb") as f:
        Image.new("RGB", (8, 8), (200, 90, 0)).save(f, format="png")
    config = load_config(None, [f"data.root={root}", "data.source=imagefolder", "model.name=mlp", "run.epochs=2",
                                "method.start_epoch=1", "run.progress=false", "run.device=cpu", "data.augment=none",
                                f"run.out_dir={tmp_path}"])
    lines: list[str] = []
    run = fit(config, tmp_path / "run", log=lines.append).run_dir
    assert f"note: {root / 'train'}: skipped 1 file(s) that are not .png/.jpg/.jpeg/.bmp/.webp images (1 .tif)" in lines
    files = [f"train/{n}/{i}.png" for n in ("ant", "bee") for i in range(4)] + ["train/bee/caf\\xe9.png"]
    with np.load(run / "labels.npz") as saved:
        assert saved["train_files"].tolist() == files
    assert [row["file"] for row in csv.DictReader((run / "refined_labels.csv").open(encoding="utf-8"))] == files


def image_folder_run_config(root, tmp_path, *extra: str):
    """A tiny run on an image folder without test/ (its test split drawn), on the reference pipeline."""
    return load_config(None, [f"data.root={root}", "data.source=imagefolder", "model.name=mlp", "run.epochs=2",
                              "method.start_epoch=1", "run.progress=false", "run.device=cpu", "data.augment=crop_flip",
                              "data.pipeline=reference", "data.workers=0", "data.test_fraction=0.3",
                              "data.data_seed=5", "run.checkpoint_every=1", f"run.out_dir={tmp_path}", *extra])


def test_an_image_folder_run_without_test_folder_keeps_its_drawn_split_through_resume_and_eval(tmp_path):
    from fixtures import write_class_folders
    from satlearn.data import load_dataset
    from satlearn.engine.checkpoint import save_checkpoint

    root = tmp_path / "images"
    write_class_folders(root / "train", {"ant": 9, "bee": 8}, size=(8, 8))
    config = image_folder_run_config(root, tmp_path)
    data = load_dataset(config.data)
    lines: list[str] = []
    run = fit(config, tmp_path / "run", stop_after_epoch=1, log=lines.append).run_dir
    assert "drawn with data.test_fraction=0.3 and data.data_seed=5" in data.notes[0]
    assert f"note: {data.notes[0]}" in lines  # the log says the test split was drawn, and how
    with np.load(run / "labels.npz") as saved:
        assert saved["train_files"].tolist() == data.train_files and "source_rows" not in saved.files
    result = fit(config, run, resume=True, log=lambda m: None)  # the split drawn again matches the run's digest
    assert result.summary["runtime"]["pipeline"] == "reference"
    evaluated = evaluate_run(run)
    assert evaluated["num_test"] == len(data.y_test)
    assert evaluated["test_accuracy"] == result.summary["final_test_accuracy"]
    # a split drawn with another seed is other data: the run's digest refuses it
    checkpoint = load_checkpoint(run)
    checkpoint["config"]["data"]["data_seed"] = 6
    save_checkpoint(checkpoint, run)
    with pytest.raises(DataError, match=r"cannot load the run: the data differ from those the run was trained on "
                                        r"\(its train inputs differ\)"):
        evaluate_run(run)


@pytest.mark.parametrize("per", ["image", "training example"])
def test_file_noise_on_an_image_folder_without_test_folder_takes_a_label_per_image_or_per_training_example(
        tmp_path, per):
    from fixtures import write_class_folders
    from satlearn.engine.trainer import prepare_data

    root = tmp_path / "images"
    files = write_class_folders(root, {"ant": 5, "bee": 5})
    clean = np.array([0] * 5 + [1] * 5)  # the images' own labels, in sorted order
    config = image_folder_run_config(root, tmp_path)
    data = prepare_data(config).data
    flipped = 1 - (clean if per == "image" else data.y_train.numpy())
    np.save(tmp_path / "labels.npy", flipped)
    noisy = prepare_data(image_folder_run_config(root, tmp_path, "data.noise.kind=file",
                                                 f"data.noise.file={tmp_path / 'labels.npy'}"))
    assert len(noisy.labels) == len(data.train_files) < len(files)
    assert noisy.labels.tolist() == (1 - noisy.clean_labels).tolist()


def test_file_noise_per_image_follows_the_order_the_folder_is_read_in_not_the_sorted_paths(tmp_path):
    from fixtures import write_class_folders
    from satlearn.engine.trainer import prepare_data

    root = tmp_path / "images"
    # sorted path strings put "cat food/..." before "cat/..." (" " sorts before "/"); the source reads "cat" first
    files = write_class_folders(root, {"cat": 4, "cat food": 4})
    assert sorted(files) != files
    per_image = np.array([1] * 4 + [0] * 4)  # every image's other class, as the source reads them
    np.save(tmp_path / "labels.npy", per_image)
    noisy = prepare_data(image_folder_run_config(root, tmp_path, "data.noise.kind=file",
                                                 f"data.noise.file={tmp_path / 'labels.npy'}"))
    assert noisy.labels.tolist() == (1 - noisy.clean_labels).tolist()


def test_names_that_are_not_utf8_are_written_as_their_bytes_even_from_a_run_that_kept_them_raw(tmp_path):
    from PIL import Image

    root = tmp_path / "images"
    for split in ("train", "test"):
        for c, name in enumerate((b"ant", b"b\xe9e")):  # a class folder named in Latin-1, which Linux allows
            folder = os.path.join(os.fsencode(root / split), name)
            os.makedirs(folder)
            for i in range(3):
                Image.new("RGB", (8, 8), (200 * c, 20 * i, 0)).save(os.path.join(folder, b"%d.png" % i))
    config = load_config(None, [f"data.root={root}", "data.source=imagefolder", "model.name=mlp", "run.epochs=2",
                                "method.start_epoch=1", "run.progress=false", "run.device=cpu", "data.augment=none",
                                "run.checkpoint_every=1", f"run.out_dir={tmp_path}"])
    run = fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None).run_dir
    with np.load(run / "labels.npz") as saved:
        kept = {key: saved[key] for key in saved.files}
    assert kept["class_names"].tolist() == ["ant", "b\\xe9e"]
    # as a run started before names were made printable kept them: the undecodable byte as a lone surrogate
    kept["train_files"] = np.array([name.replace("\\xe9", "\udce9") for name in kept["train_files"].tolist()])
    kept["class_names"] = np.array(["ant", "b\udce9e"])
    np.savez(run / "labels.npz", **kept)
    fit(config, run, resume=True, log=lambda m: None)
    rows = list(csv.DictReader((run / "refined_labels.csv").open(encoding="utf-8")))
    assert rows[-1]["file"] == "train/b\\xe9e/2.png" and rows[-1]["given_class"] == "b\\xe9e"
    from satlearn.label_issues import load_run_targets

    targets = load_run_targets(run)
    assert targets.class_names == ["ant", "b\\xe9e"] and targets.origin[1][-1] == "train/b\\xe9e/2.png"


def csv_run_config(tmp_path, epochs: int):
    """A tiny SAT run on a 60-row CSV file, whose training split is drawn from its rows."""
    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(60))
    (tmp_path / "t.csv").write_text("a,b,label\n" + rows)
    return load_config(None, [f"data.root={tmp_path / 't.csv'}", "data.source=csv", "model.name=mlp",
                              f"run.epochs={epochs}", "method.start_epoch=1", "run.progress=false", "run.device=cpu",
                              "run.checkpoint_every=1", f"run.out_dir={tmp_path}"])


def test_a_labels_file_damaged_during_training_does_not_keep_the_run_from_its_outputs(tmp_path):
    config = csv_run_config(tmp_path, epochs=2)
    run = fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None).run_dir
    (run / "labels.npz").write_bytes((run / "labels.npz").read_bytes()[:100])
    fit(config, run, resume=True, log=lambda m: None)
    assert (run / "summary.json").exists()
    assert "source_row" not in next(csv.reader((run / "refined_labels.csv").open()))


def test_a_run_started_before_origins_were_kept_writes_none_when_resumed(tmp_path):
    # both per-example files take the origin from labels.npz, as the run kept it when it started
    config = csv_run_config(tmp_path, epochs=3)
    run = fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None).run_dir
    with np.load(run / "labels.npz") as saved:
        kept = {key: saved[key] for key in saved.files}
    assert "source_rows" in kept
    del kept["source_rows"]  # as a run started before this was kept
    np.savez(run / "labels.npz", **kept)
    fit(config, run, resume=True, log=lambda m: None)
    assert "source_row" not in next(csv.reader((run / "refined_labels.csv").open()))


def test_a_dataset_whose_origins_do_not_fit_its_examples_is_refused():
    from satlearn.data import DatasetSplits

    def splits(**origin):
        return DatasetSplits(x_train=torch.zeros(4, 2), y_train=torch.tensor([0, 1, 0, 1]), x_test=torch.zeros(2, 2),
                             y_test=torch.tensor([0, 1]), num_classes=2, class_names=["a", "b"], kind="tabular",
                             name="built", **origin)

    assert splits(source_rows=np.array([0, 2, 3, 5]), source_size=6).validate()
    for origin in ({"source_rows": np.arange(3), "source_size": 6}, {"source_rows": np.arange(4)},
                   {"source_rows": np.array([0, 2, 3, 6]), "source_size": 6}):
        with pytest.raises(DataError, match="built: source_rows must give each of the 4 training examples a row"):
            splits(**origin).validate()
    with pytest.raises(DataError, match="built: 3 train_files for 4 training examples"):
        splits(train_files=["a.png", "b.png", "c.png"]).validate()


def test_a_section_built_in_code_as_a_mapping_is_a_config_error_naming_it(tmp_path):
    from satlearn.config import Config

    config = tiny_config(tmp_path)
    config.data.noise = {"kind": "symmetric", "rate": 0.2}  # a mapping where its dataclass belongs
    with pytest.raises(ConfigError, match=r"^fit's config: data\.noise must be a satlearn\.config\.NoiseConfig, "
                                          r"got dict$"):
        fit(config, tmp_path / "run", log=lambda m: None)
    with pytest.raises(ConfigError, match=r"^fit's config: expected a satlearn\.config\.Config, got dict$"):
        fit({"run": {"epochs": 1}}, tmp_path / "run", log=lambda m: None)
    assert isinstance(tiny_config(tmp_path), Config) and not (tmp_path / "run").exists()


@pytest.mark.parametrize("given", [(torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64)), {"x_train": None}])
def test_splits_given_as_something_other_than_dataset_splits_are_refused_in_one_line(tmp_path, given):
    config = tiny_config(tmp_path, "model.name=mlp")
    with pytest.raises(DataError, match=rf"^dataset=: expected a satlearn\.data\.DatasetSplits, got "
                                        rf"{type(given).__name__}$"):
        fit(config, tmp_path / "run", dataset=given, log=lambda m: None)
    assert not (tmp_path / "run").exists()
    fit(config, tmp_path / "run", stop_after_epoch=1, log=lambda m: None)
    with pytest.raises(DataError, match=r"^dataset=: expected a satlearn\.data\.DatasetSplits"):
        evaluate_run(tmp_path / "run", dataset=given)


def test_a_run_on_splits_given_in_python_says_so_and_is_resumed_and_evaluated_with_them_given_again(tmp_path):
    from satlearn.data import DatasetSplits

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 6, generator=generator), torch.arange(96) % 3
    splits = DatasetSplits(x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:], num_classes=3,
                           class_names=["a", "b", "c"], kind="tabular", name="my table")
    config = tiny_config(tmp_path, "model.name=mlp", "data.batch_size=16")
    run = tmp_path / "run"
    fit(config, run, dataset=splits, stop_after_epoch=2, log=lambda m: None)
    with pytest.raises(DataError, match=rf"^{run}: trained on splits given to fit\(dataset=\.\.\.\) in Python, which "
                                        r"its data.source \(mnist1d\) did not load; to resume, pass the same splits "
                                        "again as dataset="):
        fit(config, run, resume=True, log=lambda m: None)
    result = fit(config, run, resume=True, dataset=splits, log=lambda m: None)
    assert result.summary["data"] == "my table" and result.summary["data_given"] is True
    with pytest.raises(DataError, match="to load the run, pass the same splits again as dataset="):
        evaluate_run(run)
    assert evaluate_run(run, dataset=splits)["test_accuracy"] == result.history[-1]["test_accuracy"]
    other = DatasetSplits(**{**splits.__dict__, "x_test": splits.x_test + 1})
    with pytest.raises(DataError, match=r"cannot load the run: the data differ from those the run was trained on "
                                        r"\(its test inputs differ\); give the splits it was trained on as dataset=$"):
        evaluate_run(run, dataset=other)  # the digest still guards against other splits
    assert fit(config, tmp_path / "sourced", log=lambda m: None).summary["data_given"] is False
    # saved before the splits' origin was kept, a run tries its source, which may have loaded them; one that does
    # not load at all: the message says why, as well as what to do
    absent = tiny_config(tmp_path, "model.name=mlp", "data.batch_size=16", "data.source=npz",
                         f"data.root={tmp_path / 'absent.npz'}")
    fit(absent, tmp_path / "npz", dataset=splits, stop_after_epoch=1, log=lambda m: None)
    earlier = load_checkpoint(tmp_path / "npz")
    del earlier["given_splits_from_source"]
    save_checkpoint(earlier, tmp_path / "npz")
    with pytest.raises(DataError, match=r"does not load \(.*absent\.npz.*\); to resume, pass the same splits again"):
        fit(absent, tmp_path / "npz", resume=True, log=lambda m: None)


def test_a_run_on_splits_given_in_python_asks_for_them_again_before_loading_any_data(tmp_path, monkeypatch, capsys):
    from satlearn.cli import main
    from satlearn.data import DatasetSplits, load_dataset

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 6, generator=generator), torch.arange(96) % 3
    splits = DatasetSplits(x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:], num_classes=3,
                           class_names=["a", "b", "c"], kind="tabular", name="my table")
    config = tiny_config(tmp_path, "model.name=mlp", "data.batch_size=16", "run.epochs=2")
    fit(config, tmp_path / "given", dataset=splits, stop_after_epoch=1, log=lambda m: None)
    # the splits its data.source loads, handed to fit as find-issues --config hands them: loaded from the source again
    fit(config, tmp_path / "sourced", dataset=load_dataset(config.data, progress=False), log=lambda m: None)

    def no_loading(*args, **kwargs):
        raise AssertionError("data were loaded")

    monkeypatch.setattr("satlearn.engine.trainer.load_dataset", no_loading)
    monkeypatch.setattr("satlearn.engine.trainer.load_earlier_form", no_loading)
    run = tmp_path / "given"
    for doing, load in (("resume", lambda: fit(config, run, resume=True, log=lambda m: None)),
                        ("load the run", lambda: evaluate_run(run))):
        with pytest.raises(DataError) as refused:
            load()
        assert str(refused.value) == (f"{run}: trained on splits given to fit(dataset=...) in Python, which its "
                                      f"data.source (mnist1d) did not load; to {doing}, pass the same splits again "
                                      "as dataset=")
    # load_run_data takes no splits: it says so rather than advise giving them
    from satlearn.engine.trainer import load_run_data

    with pytest.raises(DataError) as refused:
        load_run_data(run)
    assert str(refused.value) == (f"{run}: trained on splits given to fit(dataset=...) in Python, which its "
                                  "data.source (mnist1d) did not load; only the program that gave them has its data")
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"satlearn: error: {run}: trained on splits given") and err.count("\n") == 1, err
    monkeypatch.undo()
    assert evaluate_run(tmp_path / "sourced")["epoch"] == 2


def test_a_run_on_its_sources_own_splits_resumed_without_them_still_says_it_trained_on_given_splits(tmp_path):
    from satlearn.data import load_dataset

    config = tiny_config(tmp_path, "model.name=mlp", "run.epochs=2")
    fit(config, tmp_path / "run", dataset=load_dataset(config.data, progress=False), stop_after_epoch=1,
        log=lambda m: None)
    # resumed from the source, which loads the same splits (as find-issues --config gave them to fit)
    summary = fit(config, tmp_path / "run", resume=True, log=lambda m: None).summary
    assert summary["data_given"] is True and summary["data"] == "mnist1d"
    kept = load_checkpoint(tmp_path / "run")
    assert kept["data_given"] is True and kept["given_splits_from_source"] is True
    assert evaluate_run(tmp_path / "run")["epoch"] == 2  # still found at its source without the splits


def test_a_run_on_its_sources_own_splits_resumed_without_them_names_its_data_as_the_splits_do(tmp_path,
                                                                                              monkeypatch):
    from dataclasses import replace

    from satlearn.data import SOURCES, load_dataset
    from satlearn.data.mnist1d import load_mnist1d

    monkeypatch.setattr(SOURCES, "_entries", dict(SOURCES._entries))

    @SOURCES.register("my_waves")  # a source of the user's own, whose splits carry a name other than its own
    def load_my_waves(config):
        return replace(load_mnist1d(config), name="waves")

    config = tiny_config(tmp_path, "data.source=my_waves", "model.name=mlp", "run.epochs=2")
    fit(config, tmp_path / "run", dataset=load_dataset(config.data, progress=False), stop_after_epoch=1,
        log=lambda m: None)
    summary = fit(config, tmp_path / "run", resume=True, log=lambda m: None).summary
    # as an uninterrupted run on those splits says: data.source names no data the run trained on
    assert (summary["data"], summary["data_given"]) == ("waves", True)


@pytest.mark.parametrize("error", [ConfigError, DataError])
def test_a_run_on_its_sources_own_splits_that_the_source_now_refuses_to_load_says_why_and_what_to_give(
        tmp_path, monkeypatch, error):
    from satlearn.data import SOURCES, load_dataset
    from satlearn.data.mnist1d import load_mnist1d

    monkeypatch.setattr(SOURCES, "_entries", dict(SOURCES._entries))
    refusing = []

    @SOURCES.register("my_waves")  # a source of the user's own, which refuses its settings or its data once trained
    def load_my_waves(config):
        if refusing:
            raise error("my_waves: the waves are gone")
        return load_mnist1d(config)

    config = tiny_config(tmp_path, "data.source=my_waves", "model.name=mlp", "run.epochs=2")
    fit(config, tmp_path / "run", dataset=load_dataset(config.data, progress=False), stop_after_epoch=1,
        log=lambda m: None)
    refusing.append(True)
    with pytest.raises(DataError, match=r"which its data\.source \(my_waves\) does not load \(my_waves: the waves are "
                                        r"gone\); to resume, pass the same splits again as dataset=$"):
        fit(config, tmp_path / "run", resume=True, log=lambda m: None)


def test_splits_a_source_loaded_under_other_noise_or_batch_settings_are_loaded_from_it_again(tmp_path):
    from satlearn.data import load_dataset

    loading = tiny_config(tmp_path, "model.name=mlp", "run.epochs=2")
    splits = load_dataset(loading.data, progress=False)
    # the same data settings but for what the trainer alone reads: the label noise and how batches are made
    config = tiny_config(tmp_path, "model.name=mlp", "run.epochs=2", "data.noise.rate=0.2", "data.batch_size=32",
                         "data.eval_batch_size=64", "data.augment=none", "data.pipeline=reference", "data.workers=0")
    result = fit(config, tmp_path / "run", dataset=splits, log=lambda m: None)
    assert load_checkpoint(tmp_path / "run")["given_splits_from_source"] is True
    assert evaluate_run(tmp_path / "run")["test_loss"] == result.history[-1]["test_loss"]
    # splits loaded under another setting a source reads are not the run's source's: asked for again
    other = load_dataset(tiny_config(tmp_path, "data.data_seed=7").data, progress=False)
    fit(config, tmp_path / "other", dataset=other, log=lambda m: None)
    assert load_checkpoint(tmp_path / "other")["given_splits_from_source"] is False


def test_the_actual_noise_rate_is_the_count_of_changed_labels_over_their_number():
    from satlearn.engine.trainer import NoisyDataset

    clean = torch.arange(480) % 10
    noisy = clean.clone()
    noisy[:98] = (noisy[:98] + 1) % 10
    # 98 / 480 exactly: a float32 mean gives 0.20416666567..., which summaries and tables would carry
    assert NoisyDataset(data=None, labels=noisy, clean_labels=clean).actual_noise_rate == 98 / 480


def image_folder_config(tmp_path):
    """A tiny SAT run on a folder of 12 coloured 8×8 PNG images in two classes."""
    from PIL import Image

    root = tmp_path / "images"
    for split, count in (("train", 4), ("test", 2)):
        for c, name in enumerate(("ant", "bee")):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (8, 8), (200 * c + 10 * i, 40 * i, 90 - 20 * c)).save(root / split / name / f"{i}.png")
    return load_config(None, [f"data.root={root}", "data.source=imagefolder", "model.name=mlp", "model.width=8",
                              "run.epochs=3", "method.start_epoch=1", "run.progress=false", "run.device=cpu",
                              "data.augment=none", "data.batch_size=4", "run.checkpoint_every=1",
                              f"run.out_dir={tmp_path}"])


def test_an_image_run_goes_on_with_the_normalization_it_was_trained_with(tmp_path, monkeypatch):
    from satlearn.data import imagefolder
    from satlearn.engine import load_run

    config = image_folder_config(tmp_path)
    fit(config, tmp_path / "whole", log=lambda m: None)
    fit(config, tmp_path / "part", stop_after_epoch=1, log=lambda m: None)
    kept = load_checkpoint(tmp_path / "part")["data"]["normalization"]
    assert len(kept["mean"]) == 3 and len(kept["std"]) == 3
    # the source now works out other statistics for the same images (a change to how satlearn computes them)
    monkeypatch.setattr(imagefolder, "channel_stats", lambda images, chunk=1024: ((0.25,) * 3, (0.5,) * 3))
    _, _, noisy, _ = load_run(tmp_path / "part")
    assert [list(noisy.data.mean), list(noisy.data.std)] == [kept["mean"], kept["std"]]
    fit(config, tmp_path / "part", resume=True, log=lambda m: None)
    assert_same_state(load_checkpoint(tmp_path / "part")["method"], load_checkpoint(tmp_path / "whole")["method"])
    assert load_checkpoint(tmp_path / "part")["data"]["normalization"] == kept


def test_an_image_run_on_its_sources_own_splits_goes_on_without_them_with_the_normalization_it_was_trained_with(
        tmp_path, monkeypatch):
    from satlearn.data import imagefolder, load_dataset
    from satlearn.engine import load_run

    config = image_folder_config(tmp_path)
    # the splits find-issues --config hands fit: found at the run's source again without being given
    fit(config, tmp_path / "part", dataset=load_dataset(config.data, progress=False), stop_after_epoch=1,
        log=lambda m: None)
    kept = load_checkpoint(tmp_path / "part")["data"]["normalization"]
    monkeypatch.setattr(imagefolder, "channel_stats", lambda images, chunk=1024: ((0.25,) * 3, (0.5,) * 3))
    _, _, noisy, _ = load_run(tmp_path / "part")
    assert [list(noisy.data.mean), list(noisy.data.std)] == [kept["mean"], kept["std"]]
    fit(config, tmp_path / "part", resume=True, log=lambda m: None)
    assert load_checkpoint(tmp_path / "part")["data"]["normalization"] == kept


def test_an_image_run_kept_before_its_normalization_was_recorded_goes_on_with_the_sources(tmp_path):
    config = image_folder_config(tmp_path)
    fit(config, tmp_path / "whole", log=lambda m: None)
    fit(config, tmp_path / "part", stop_after_epoch=1, log=lambda m: None)
    path = tmp_path / "part" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    normalization = state["data"].pop("normalization")
    torch.save(state, path)
    fit(config, tmp_path / "part", resume=True, log=lambda m: None)
    assert_same_state(load_checkpoint(tmp_path / "part")["method"], load_checkpoint(tmp_path / "whole")["method"])
    assert load_checkpoint(tmp_path / "part")["data"]["normalization"] == normalization


def test_the_trained_method_comes_back_ready_to_predict(tmp_path):
    """fit's and load_run's method in eval mode: a prediction with it leaves batch norm's statistics and dropout
    alone, as a user predicting with a trained model expects."""
    from satlearn.engine import load_run

    finished = fit(tiny_config(tmp_path, "run.epochs=2"), tmp_path / "run", log=lambda m: None)
    stopped = fit(tiny_config(tmp_path, "run.epochs=2"), tmp_path / "stopped", stop_after_epoch=1,
                  log=lambda m: None)
    _, loaded, _, _ = load_run(tmp_path / "run")
    for method in (finished.method, stopped.method, loaded):
        assert not any(module.training for module in method.modules())


def test_a_data_root_that_is_not_there_is_refused_in_python_too_and_not_made(tmp_path):
    from satlearn.engine import load_run

    run = tmp_path / "run"
    fit(tiny_config(tmp_path, "run.epochs=1", "method.name=erm"), run, log=lambda m: None)
    missing = tmp_path / "nowhere"
    for call in (lambda: evaluate_run(run, data_root=missing), lambda: load_run(run, data_root=missing)):
        with pytest.raises(DataError, match=rf"^data_root='{re.escape(str(missing))}': no such file or folder; "
                                            "expected where the run's data are now$"):
            call()
    assert not missing.exists()  # (MNIST-1D's data.root is its cache: it was made, and the data generated into it)


def test_a_run_results_repr_counts_its_epochs_instead_of_printing_every_row(tmp_path):
    # a notebook cell that ends in fit(...) shows the repr: a 200-epoch run's history is some 90,000 characters
    result = fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=2", "method.start_epoch=1")), tmp_path / "run",
                 log=lambda message: None)
    shown = repr(result)
    assert "history=<2 epochs>" in shown
    assert repr(result.run_dir) in shown and repr(result.summary) in shown and repr(result.method) in shown
    result.history = result.history * 100
    assert len(repr(result)) == len(shown) + 2  # "<200 epochs>", not 200 rows


def best_weights(run_dir):
    from satlearn.engine.checkpoint import BEST_NAME

    return torch.load(run_dir / BEST_NAME, weights_only=True)


def model_weights_of(checkpoint):
    """The model's own weights in a checkpoint's method state (keys ``model.…``), as a model's state dict."""
    return {key.removeprefix("model."): value for key, value in checkpoint["method"].items()
            if key.startswith("model.")}


def assert_same_best_weights(a, b):
    assert (a["epoch"], a["test_accuracy"]) == (b["epoch"], b["test_accuracy"])
    assert_same_state(a["model"], b["model"])


def test_the_best_epochs_weights_are_kept_only_with_keep_best_and_are_the_models_at_that_epoch(tmp_path):
    from satlearn.engine.checkpoint import BEST_NAME, BEST_PENDING_NAME

    plain = fit(tiny_config(tmp_path), tmp_path / "plain", log=lambda m: None)
    assert not (plain.run_dir / BEST_NAME).exists() and not (plain.run_dir / BEST_PENDING_NAME).exists()
    kept = fit(tiny_config(tmp_path, "run.keep_best=true"), tmp_path / "kept", log=lambda m: None)
    # the same training: keeping the weights changes nothing it computes
    assert_same_state(load_checkpoint(plain.run_dir)["method"], load_checkpoint(kept.run_dir)["method"])
    best = best_weights(kept.run_dir)
    epoch = kept.summary["best_epoch"]
    assert 1 <= epoch < 4  # (an epoch before the last, whose weights are not the final ones)
    assert (best["epoch"], best["test_accuracy"]) == (epoch, kept.summary["best_test_accuracy"])
    assert not (kept.run_dir / BEST_PENDING_NAME).exists()
    # the model as it was at that epoch: a run of the same config stopped there
    stopped = fit(tiny_config(tmp_path), tmp_path / "stopped", stop_after_epoch=epoch, log=lambda m: None)
    assert_same_state(best["model"], model_weights_of(load_checkpoint(stopped.run_dir)))
    # loaded, and scored, as the run scored that epoch
    from satlearn.engine import load_run

    _, method, _, _ = load_run(kept.run_dir, best=True)
    assert_same_state(method.model.state_dict(), best["model"])
    scored = evaluate_run(kept.run_dir, best=True, out=tmp_path / "best.json")
    assert scored["test_accuracy"] == kept.summary["best_test_accuracy"]
    assert (scored["best"], scored["epoch"], scored["latest_epoch"]) == (True, epoch, 4)
    with pytest.raises(TrainingError, match=r"the run kept no best epoch's weights \(it trained with run.keep_best "
                                            "false\\)"):
        evaluate_run(plain.run_dir, best=True, out=tmp_path / "none.json")
    assert not (tmp_path / "none.json").exists()


def a_run_stopped_in_its_checkpoint_write(tmp_path, monkeypatch, name, epoch, *extra):
    """A keep_best run whose process stopped while it wrote the checkpoint of ``epoch``: after the weights of that
    epoch's best were written aside, before the checkpoint itself."""
    from satlearn.engine import checkpoint as checkpoint_module

    real_save = checkpoint_module.save_checkpoint

    def stopped_at(state, run_dir):
        if state["epoch"] == epoch:
            raise OSError(5, "Input/output error")
        return real_save(state, run_dir)

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_module, "save_checkpoint", stopped_at)
        with pytest.raises(TrainingError, match="cannot write the checkpoint"):
            fit(tiny_config(tmp_path, "run.keep_best=true", *extra), tmp_path / name, log=lambda m: None)
    return tmp_path / name


def test_a_resumed_run_keeps_the_best_weights_an_uninterrupted_run_keeps(tmp_path, monkeypatch):
    from satlearn.engine.checkpoint import BEST_NAME, BEST_PENDING_NAME

    config = tiny_config(tmp_path, "run.keep_best=true")
    whole = fit(config, tmp_path / "whole", log=lambda m: None)
    epoch = whole.summary["best_epoch"]
    assert epoch > 1  # so that a run stopped before it holds the weights of another epoch
    runs = {}
    # stopped after the weights of the best epoch were written aside, before the checkpoint recording it
    runs["aside"] = a_run_stopped_in_its_checkpoint_write(tmp_path, monkeypatch, "aside", epoch)
    assert best_weights(runs["aside"])["epoch"] < epoch
    assert torch.load(runs["aside"] / BEST_PENDING_NAME, weights_only=True)["epoch"] == epoch
    # best_model.pt itself of an epoch after the checkpoint (the checkpoint of that epoch lost, say)
    runs["ahead"] = tmp_path / "ahead"
    fit(config, runs["ahead"], stop_after_epoch=epoch - 1, log=lambda m: None)
    (runs["ahead"] / BEST_NAME).write_bytes((whole.run_dir / BEST_NAME).read_bytes())
    # stopped after the checkpoint recording the best epoch, before its weights took their name
    runs["unnamed"] = tmp_path / "unnamed"
    fit(config, runs["unnamed"], stop_after_epoch=epoch, log=lambda m: None)
    os.replace(runs["unnamed"] / BEST_NAME, runs["unnamed"] / BEST_PENDING_NAME)
    fit(config, tmp_path / "before", stop_after_epoch=epoch - 1, log=lambda m: None)
    (runs["unnamed"] / BEST_NAME).write_bytes((tmp_path / "before" / BEST_NAME).read_bytes())
    # which eval --best already reads as the checkpoint's best
    assert evaluate_run(runs["unnamed"], best=True, out=tmp_path / "e.json")["epoch"] == epoch
    for case, run in runs.items():
        messages = []
        resumed = fit(load_config(run / "config.yaml"), run, resume=True, log=messages.append)
        assert resumed.summary["best_epoch"] == epoch, case
        assert_same_best_weights(best_weights(run), best_weights(whole.run_dir))
        assert_same_state(load_checkpoint(run)["method"], load_checkpoint(whole.run_dir)["method"])
        assert not (run / BEST_PENDING_NAME).exists(), case
        removed = [m for m in messages if m.startswith(str(run / BEST_NAME))]
        assert removed == ([f"{run / BEST_NAME}: held the weights of epoch {epoch}, not those of the run's best epoch "
                            f"so far ({epoch - 1}, as checkpoint.pt records it); removed: the run writes it again "
                            "with the next epoch that scores better"] if case == "ahead" else []), case


def test_keep_best_is_set_when_a_run_starts_and_a_resumption_may_not_change_it(tmp_path):
    run = tmp_path / "run"
    fit(tiny_config(tmp_path), run, stop_after_epoch=1, log=lambda m: None)
    for before, now in ((False, True), (True, False)):
        if before:
            run = tmp_path / "kept"
            fit(tiny_config(tmp_path, "run.keep_best=true"), run, stop_after_epoch=1, log=lambda m: None)
        with pytest.raises(TrainingError) as refused:
            fit(load_config(run / "config.yaml", [f"run.keep_best={str(now).lower()}"]), run, resume=True,
                log=lambda m: None)
        assert str(refused.value) == (
            f"{run}: cannot resume with a different config (run.keep_best: run has {before}, now {now}, but a run "
            "keeps the best epoch's weights from its start or not at all)")


def test_a_run_saved_before_keep_best_existed_resumes_keeping_no_best_weights(tmp_path):
    from satlearn.engine.checkpoint import BEST_NAME

    run = a_run_saved_without(tmp_path, "run", "keep_best")
    assert len(fit(load_config(run / "config.yaml"), run, resume=True, log=lambda m: None).history) == 4
    assert load_checkpoint(run)["config"]["run"]["keep_best"] is False and not (run / BEST_NAME).exists()


def test_a_run_saved_before_the_compile_mode_and_tuning_existed_resumes_as_compiled_then(tmp_path):
    run = a_run_saved_without(tmp_path, "run", "compile_mode")
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    del state["config"]["run"]["compile_tuning"]  # both came after the first runs
    torch.save(state, run / "checkpoint.pt")
    with pytest.raises(TrainingError, match=r"cannot resume with a different config \(run\.compile_mode: run has "
                                            r"'default', now 'max-autotune'\)"):
        fit(load_config(run / "config.yaml", ["run.compile_mode=max-autotune"]), run, resume=True,
            log=lambda m: None)
    assert len(fit(load_config(run / "config.yaml"), run, resume=True, log=lambda m: None).history) == 4
    saved = load_checkpoint(run)["config"]["run"]
    assert (saved["compile_mode"], saved["compile_tuning"]) == ("default", False)

# ---------------------------------------------------------------------------------------------------------------
# A validation split held out of the training split (data.val_size)


def without_times(history):
    return [{key: value for key, value in row.items() if "seconds" not in key} for row in history]


def test_a_run_without_a_validation_split_trains_as_runs_did_before_there_was_one(tmp_path):
    # figures of this run recorded before data.val_size existed (one CPU thread: sums round with the count); a
    # change to what a run without a split trains or reports shows here. Another CPU rounds sums otherwise, so the
    # losses are held to 1e-4, and the accuracies, of a model near chance whose predictions such rounding may flip,
    # to two of the 80 test examples
    result = fit(tiny_config(tmp_path, "run.threads=1", "run.keep_best=true"), tmp_path / "run", log=lambda m: None)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert [row["test_accuracy"] for row in result.history] == pytest.approx([0.125, 0.15, 0.125, 0.125],
                                                                             abs=2 / 80 + 1e-9)
    assert [row["train_loss"] for row in result.history] == pytest.approx(
        [2.306796073913574, 2.3002407550811768, 2.295988082885742, 2.2945990562438965], rel=1e-4)
    assert [row["test_loss"] for row in result.history] == pytest.approx(
        [2.2929027557373045, 2.290110778808594, 2.288040542602539, 2.287172317504883], rel=1e-4)
    assert [row["mean_confidence"] for row in result.history] == pytest.approx(
        [1.0, 0.9100513458251953, 0.829147458076477, 0.7563591599464417], rel=1e-4)
    assert result.summary["label_issues"]["truly_wrong"] == 120
    first_best = max(result.history, key=lambda row: row["test_accuracy"])["epoch"]  # (max keeps the first of ties)
    assert (result.summary["best_epoch"], result.summary["best_by"]) == (first_best, "test")
    assert torch.load(tmp_path / "run" / "best_model.pt", weights_only=True)["chosen_by"] == "test"
    assert "validation" not in result.summary and not any("val_accuracy" in row for row in result.history)
    # the run's files are laid out as before: no split in its labels or its checkpoint
    assert sorted(np.load(tmp_path / "run" / "labels.npz").files) == ["class_names", "clean_labels", "labels"]
    checkpoint = load_checkpoint(tmp_path / "run")
    assert "val_index" not in checkpoint and "best_val" not in checkpoint
    assert len(np.load(tmp_path / "run" / "soft_targets.npy")) == 320


def split_config(tmp_path, *extra):
    return tiny_config(tmp_path, "data.val_size=60", *extra)


def test_a_validation_split_is_scored_each_epoch_against_its_given_labels_and_never_trained_on(tmp_path):
    from satlearn.data.loader import InMemoryLoader
    from satlearn.engine import load_run
    from satlearn.engine.trainer import evaluate

    messages = []
    result = fit(split_config(tmp_path), tmp_path / "run", log=messages.append)
    run = tmp_path / "run"
    with np.load(run / "labels.npz") as saved:
        labels, clean = saved["labels"], saved["clean_labels"]
        train_index, val_index = saved["train_index"], saved["val_index"]
    assert len(labels) == 320 and len(val_index) == 60 and len(train_index) == 260
    assert sorted([*train_index, *val_index]) == list(range(320))
    assert "validation split: 60 of the 320 training examples held out (drawn with data.data_seed 42), with their " \
           "given labels; 260 train" in messages
    for row in result.history:
        assert {"val_loss", "val_accuracy", "val_clean_accuracy"} <= set(row)
    assert list(result.history[0]).index("val_loss") == list(result.history[0]).index("test_accuracy") + 1
    # the method's per-example state covers the examples trained on, in their order
    _, method, noisy, _ = load_run(run)
    assert torch.equal(method.soft_targets.labels.cpu(), torch.from_numpy(labels[train_index]))
    assert torch.equal(noisy.val_index, torch.from_numpy(val_index))
    assert len(np.load(run / "soft_targets.npy")) == 260
    # the last epoch's figures are those of the final model on the held-out examples: given labels, then clean ones
    held = InMemoryLoader(noisy.data.x_train[val_index], torch.from_numpy(labels[val_index]), batch_size=7)
    scored = evaluate(method, held, clean_labels=torch.from_numpy(clean[val_index]))
    last = result.history[-1]
    assert (last["val_accuracy"], last["val_clean_accuracy"]) == (scored["accuracy"], scored["clean_accuracy"])
    assert last["val_loss"] == pytest.approx(scored["loss"], rel=1e-5)
    assert result.summary["validation"] == {
        "size": 60, "pick": "random", "final_loss": last["val_loss"], "final_accuracy": last["val_accuracy"],
        "final_clean_accuracy": last["val_clean_accuracy"],
        "best_accuracy": max(row["val_accuracy"] for row in result.history),
        "best_epoch": next(row["epoch"] for row in result.history
                           if row["val_accuracy"] == max(r["val_accuracy"] for r in result.history)),
        "test_accuracy_at_best_epoch": next(row["test_accuracy"] for row in result.history
                                            if row["epoch"] == result.summary["validation"]["best_epoch"])}
    # the label-issue counts are over the examples trained on
    assert result.summary["label_issues"]["truly_wrong"] == int((labels != clean)[train_index].sum())
    # refined_labels.csv names each example by its place in the whole training split
    rows = list(csv.DictReader((run / "refined_labels.csv").open()))
    assert [int(r["index"]) for r in rows] == train_index.tolist()
    assert [int(r["given_label"]) for r in rows] == labels[train_index].tolist()


def test_the_noise_is_drawn_over_the_whole_training_split_before_a_validation_split_is_held_out(tmp_path):
    fit(tiny_config(tmp_path, "run.epochs=2"), tmp_path / "whole", log=lambda m: None)
    fit(split_config(tmp_path, "run.epochs=2"), tmp_path / "split", log=lambda m: None)
    whole, split = np.load(tmp_path / "whole" / "labels.npz"), np.load(tmp_path / "split" / "labels.npz")
    # the same noisy labels, where they are trained on as much as where they are held out
    assert np.array_equal(whole["labels"], split["labels"])
    assert np.array_equal(whole["clean_labels"], split["clean_labels"])


def test_a_validation_split_is_drawn_by_the_data_seed_not_the_run_seed(tmp_path):
    fit(split_config(tmp_path, "run.epochs=2"), tmp_path / "a", log=lambda m: None)
    fit(split_config(tmp_path, "run.epochs=2", "run.seed=3", "data.noise.seed=4"), tmp_path / "b",
        log=lambda m: None)
    fit(split_config(tmp_path, "run.epochs=2", "data.data_seed=7"), tmp_path / "c", log=lambda m: None)
    held = {name: np.load(tmp_path / name / "labels.npz")["val_index"] for name in "abc"}
    assert np.array_equal(held["a"], held["b"]) and not np.array_equal(held["a"], held["c"])


def test_keep_best_with_a_validation_split_keeps_the_epoch_of_best_validation_accuracy(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    # validation and test figures that disagree on the best epoch: the validation split's is the one kept
    val_accuracy = iter([0.2, 0.5, 0.3, 0.4])
    test_accuracy = iter([0.6, 0.1, 0.2, 0.7])
    real_evaluate = trainer.evaluate

    def scripted(method, loader, *, amp=None, clean_labels=None):
        measured = real_evaluate(method, loader, amp=amp, clean_labels=clean_labels)
        return {**measured, "accuracy": next(val_accuracy if loader.num_examples == 60 else test_accuracy)}

    monkeypatch.setattr(trainer, "evaluate", scripted)
    result = fit(split_config(tmp_path, "run.keep_best=true"), tmp_path / "run", log=lambda m: None)
    monkeypatch.undo()
    assert result.summary["best_by"] == "val"
    assert (result.summary["best_epoch"], result.summary["best_test_accuracy"]) == (4, 0.7)  # the test split's pick
    assert result.summary["validation"]["best_epoch"] == 2
    assert result.summary["validation"]["test_accuracy_at_best_epoch"] == 0.1
    kept = torch.load(tmp_path / "run" / "best_model.pt", weights_only=True)
    assert (kept["epoch"], kept["chosen_by"], kept["val_accuracy"], kept["test_accuracy"]) == (2, "val", 0.5, 0.1)
    evaluated = evaluate_run(tmp_path / "run", best=True)
    assert (evaluated["epoch"], evaluated["best_by"]) == (2, "val")
    assert evaluate_run(tmp_path / "run")["epoch"] == 4


def test_eval_of_the_validation_split_scores_it_as_the_runs_epochs_did_into_a_file_of_its_own(tmp_path, monkeypatch):
    from satlearn.engine import trainer

    run = tmp_path / "run"
    result = fit(split_config(tmp_path, "run.keep_best=true"), run, log=lambda m: None)
    last = result.history[-1]
    scored = evaluate_run(run, split="val")
    assert list(scored) == ["run_dir", "epoch", "epochs", "val_loss", "val_accuracy", "val_clean_accuracy", "num_val"]
    assert (scored["epoch"], scored["num_val"]) == (4, 60)
    assert (scored["val_accuracy"], scored["val_clean_accuracy"]) == (last["val_accuracy"], last["val_clean_accuracy"])
    assert scored["val_loss"] == pytest.approx(last["val_loss"], rel=1e-5)
    assert json.loads((run / "eval_val.json").read_text()) == scored and not (run / "eval.json").exists()
    # the best epoch's weights: the one the validation split picked, scored as it was then
    best = evaluate_run(run, split="val", best=True)
    validation = result.summary["validation"]
    assert (best["epoch"], best["best_by"], best["val_accuracy"]) == (validation["best_epoch"], "val",
                                                                     validation["best_accuracy"])
    assert json.loads((run / "eval_val_best.json").read_text()) == best
    # the test split's file is as it was
    assert list(evaluate_run(run)) == ["run_dir", "epoch", "epochs", "test_loss", "test_accuracy", "num_test"]
    # a run without a split: one line, before its data are loaded, and nothing written
    plain = tmp_path / "plain"
    fit(tiny_config(tmp_path, "run.epochs=2"), plain, log=lambda m: None)
    monkeypatch.setattr(trainer, "_run_data", lambda *a, **k: pytest.fail("the data were loaded"))
    with pytest.raises(TrainingError, match=rf"^{re.escape(str(plain))}: the run held out no validation split \(it "
                                            r"trained with data\.val_size 0\); a run started with --set "
                                            r"data\.val_size=N holds out N training examples to score$"):
        evaluate_run(plain, split="val")
    with pytest.raises(ConfigError, match=r"^split='train'; expected one of: test, val$"):
        evaluate_run(run, split="train")
    assert not (plain / "eval_val.json").exists()


def test_eval_of_the_validation_split_of_a_run_that_knows_no_true_labels_gives_their_accuracy_as_null(tmp_path):
    run = tmp_path / "run"
    config = load_config(None, tiny_overrides(tmp_path, "data.val_size=60", "run.epochs=2"))  # (no noise)
    result = fit(config, run, log=lambda m: None)
    scored = evaluate_run(run, split="val")
    # the key a reader looks for, null, as summary.json's final_clean_accuracy is
    assert list(scored) == ["run_dir", "epoch", "epochs", "val_loss", "val_accuracy", "val_clean_accuracy", "num_val"]
    assert scored["val_clean_accuracy"] is None and result.summary["validation"]["final_clean_accuracy"] is None
    assert json.loads((run / "eval_val.json").read_text())["val_clean_accuracy"] is None


def test_a_run_with_a_validation_split_resumes_exactly_and_keeps_its_split(tmp_path):
    whole = fit(split_config(tmp_path, "run.keep_best=true"), tmp_path / "whole", log=lambda m: None)
    fit(split_config(tmp_path, "run.keep_best=true"), tmp_path / "run", stop_after_epoch=2, log=lambda m: None)
    for changed in ("data.val_size=50", "data.val_pick=last"):
        with pytest.raises(TrainingError, match=rf"cannot resume with a different config \({changed.split('=')[0]}: "
                                                r"run has "):
            fit(split_config(tmp_path, "run.keep_best=true", changed), tmp_path / "run", resume=True,
                log=lambda m: None)
    resumed = fit(split_config(tmp_path, "run.keep_best=true"), tmp_path / "run", resume=True, log=lambda m: None)
    assert without_times(resumed.history) == without_times(whole.history)
    assert np.array_equal(np.load(tmp_path / "run" / "soft_targets.npy"),
                          np.load(tmp_path / "whole" / "soft_targets.npy"))
    assert resumed.summary["validation"] == whole.summary["validation"]
    assert torch.equal(load_checkpoint(tmp_path / "run")["val_index"], load_checkpoint(tmp_path / "whole")["val_index"])


def test_a_run_saved_before_data_val_size_existed_resumes_without_a_split(tmp_path):
    from satlearn.engine import resume_config
    from satlearn.yaml_text import write_yaml

    run = tmp_path / "run"
    fit(tiny_config(tmp_path), run, stop_after_epoch=1, log=lambda m: None)
    state = load_checkpoint(run)
    for key in ("val_size", "val_pick"):  # as a version before the keys wrote both
        del state["config"]["data"][key]
    save_checkpoint(state, run)
    (run / "config.yaml").write_text(write_yaml(state["config"], sort_keys=False))
    result = fit(resume_config(run, log=lambda m: None), run, resume=True, log=lambda m: None)
    assert len(result.history) == 4 and "validation" not in result.summary
    assert not any("val_accuracy" in row for row in result.history)


def test_a_validation_split_of_an_image_folder_on_the_reference_pipeline_names_each_example_by_its_file(tmp_path):
    from fixtures import write_class_folders
    from satlearn.data import load_dataset

    root = tmp_path / "images"
    write_class_folders(root / "train", {"ant": 9, "bee": 8}, size=(8, 8))
    config = image_folder_run_config(root, tmp_path, "data.val_size=3", "method.name=sat")
    files = load_dataset(config.data).train_files
    result = fit(config, tmp_path / "run", log=lambda m: None)
    assert result.summary["runtime"]["pipeline"] == "reference"
    assert all("val_accuracy" in row and "val_clean_accuracy" not in row for row in result.history)  # no noise
    assert result.summary["validation"]["final_clean_accuracy"] is None
    with np.load(tmp_path / "run" / "labels.npz") as saved:
        train_index = saved["train_index"]
        assert saved["train_files"].tolist() == files  # every file of the training split, held out or not
    rows = list(csv.DictReader((tmp_path / "run" / "refined_labels.csv").open()))
    assert [(int(r["index"]), r["file"]) for r in rows] == [(int(i), files[i]) for i in train_index]
    # an image folder is read class by class: its last examples are its last class, which a split may not take whole
    with pytest.raises(ConfigError, match=r"^data.val_size=[0-9]+, data.val_pick=last: the validation split takes all "
                                          r"[0-9]+ training examples of class 1 \('bee'\)"):
        fit(image_folder_run_config(root, tmp_path, f"data.val_size={sum('bee' in f.split('/') for f in files)}",
                                    "data.val_pick=last"), tmp_path / "refused", log=lambda m: None)
    assert not (tmp_path / "refused").exists()


def test_the_last_pick_holds_out_cifars_last_training_images(tmp_path):
    from fixtures import write_fake_cifar10

    root = write_fake_cifar10(tmp_path, per_batch=8)  # 40 training images
    config = load_config(None, [f"data.root={root.parent}", "data.source=cifar10", "model.name=mlp", "run.epochs=2",
                                "method.name=erm", "run.progress=false", "run.device=cpu", "data.val_size=5",
                                "data.val_pick=last", "data.noise.kind=symmetric", "data.noise.rate=0.5",
                                f"run.out_dir={tmp_path}"])
    result = fit(config, tmp_path / "run", log=lambda m: None)
    with np.load(tmp_path / "run" / "labels.npz") as saved:
        assert saved["val_index"].tolist() == [35, 36, 37, 38, 39]
    assert all("val_clean_accuracy" in row for row in result.history)



def test_load_run_data_reads_a_runs_data_and_split_without_its_model_and_downloads_nothing(tmp_path, monkeypatch):
    from satlearn.data import load_dataset
    from satlearn.data.base import SOURCES
    from satlearn.engine.trainer import load_run_data

    config = load_config(None, tiny_overrides(tmp_path, "data.val_size=40", "run.epochs=2"))
    run_dir = fit(config, tmp_path / "run", log=lambda message: None).run_dir
    noisy = load_run_data(run_dir)
    assert torch.equal(noisy.data.x_train, load_dataset(config.data).x_train)
    assert noisy.val_index.tolist() == np.load(run_dir / "labels.npz")["val_index"].tolist()
    asked, loader = [], SOURCES.get("mnist1d")

    def recording(data_config):  # what a source that downloads is asked for
        asked.append(data_config.download)
        return loader(data_config)

    monkeypatch.setitem(SOURCES._entries, "mnist1d", recording)
    checkpoint = load_checkpoint(run_dir)
    checkpoint["config"]["data"]["download"] = True  # as a CIFAR run that downloaded its data keeps it
    save_checkpoint(checkpoint, run_dir)
    load_run_data(run_dir, download=False)
    load_run_data(run_dir)
    assert asked == [False, True]
