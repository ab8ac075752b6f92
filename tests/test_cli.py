import argparse
import csv
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import interrupt_sat_in, threads_of_each_forward_pass, tiny_overrides
from satlearn.cli import main
from satlearn.paths import user_path
from satlearn.methods.sat import SAT


SAT_TRAINING_STEP = SAT.training_step


def sets(values):
    return [arg for value in values for arg in ("--set", value)]


def stderr_on_a_terminal(monkeypatch, terminal=True):
    """stderr, where the progress bars are drawn, seen as a terminal (or as a log file: ``terminal=False``)."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)


def test_demo_runs_end_to_end_in_reduced_form(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--no-progress",
                 *sets(["data.num_samples=400", "model.width=8", "run.epochs=3", "method.start_epoch=1"])])
    assert code == 0
    printed = capsys.readouterr().out
    assert "final test acc" in printed and "SAT" in printed and "CE" in printed
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["runs"]) == {"CE", "SAT"}
    # the flagged count is the SAT run's own: its refined labels that left the given ones
    with open(out / "sat" / "refined_labels.csv") as f:
        flagged = sum(int(row["flagged"]) for row in csv.DictReader(f))
    assert summary["runs"]["SAT"]["label_issues"]["flagged"] == flagged
    assert (out / "demo_accuracy.png").stat().st_size > 1000
    assert (out / "sat" / "refined_labels.csv").exists()
    # again into the same folder: refused before any training, pointing at the option the demo has
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    assert "already holds the demo's erm run; choose another --out" in capsys.readouterr().err


def test_train_resume_and_eval(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  noise:\n    kind: symmetric\n    rate: 0.2\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--run-dir", str(run), *sets(tiny_overrides(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "final test accuracy" in out
    assert "time: set-up " in out and "(checkpoints " in out  # where the wall time went
    # without progress bars (run.progress=false, as --no-progress), one line per epoch tells how it goes
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(re.fullmatch(r"epoch \d/3: train loss \d\.\d{4}, test accuracy \d+\.\d\d %, \d+\.\d s", line)
               for line in epochs), epochs
    # the last line gives the final and best accuracy in percent too, the final one as the last epoch's line does
    final = next(line for line in out.splitlines() if line.startswith("final test accuracy "))
    assert final.startswith(f"final test accuracy {epochs[-1].split('test accuracy ')[1].split(',')[0]} (best "), final
    assert main(["eval", str(run)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["epoch"] == json.loads(printed.out)["epochs"] == 3 and printed.err == ""
    # resuming a finished run is refused, and its outputs stay as they were
    summary = (run / "summary.json").read_bytes()
    assert main(["train", "--resume", str(run)]) == 2
    assert "already finished all 3 epochs; nothing to resume" in capsys.readouterr().err
    assert (run / "summary.json").read_bytes() == summary


def test_eval_of_an_unfinished_run_says_so_beside_its_json(tmp_path, capsys, monkeypatch):
    interrupt_sat_in(monkeypatch, 2)
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 130
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["epoch"] == 2 and json.loads((run / "eval.json").read_text())["epochs"] == 4
    assert printed.err == "note: an unfinished run, evaluated at its checkpoint after epoch 2 of 4\n"


def test_eval_best_scores_the_best_epochs_weights_of_a_run_that_kept_them_and_is_one_line_for_one_that_did_not(
        tmp_path, capsys, monkeypatch):
    kept, plain = tmp_path / "kept", tmp_path / "plain"
    overrides = tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4", "run.epochs=4")
    assert main(["train", "--run-dir", str(kept), *sets([*overrides, "run.keep_best=true"])]) == 0
    summary = json.loads((kept / "summary.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(kept), "--best"]) == 0
    printed = capsys.readouterr()
    scored = json.loads(printed.out)
    assert (scored["best"], scored["epoch"], scored["latest_epoch"], scored["epochs"]) == (
        True, summary["best_epoch"], 4, 4)
    assert scored["test_accuracy"] == summary["best_test_accuracy"] and printed.err == ""
    assert json.loads((kept / "eval_best.json").read_text()) == scored
    assert main(["eval", str(kept)]) == 0  # the latest weights' figures, beside the best epoch's
    assert json.loads((kept / "eval.json").read_text())["epoch"] == 4 and (kept / "eval_best.json").exists()
    # one stopped: its best epoch so far, which the note says
    interrupt_sat_in(monkeypatch, 3)
    stopped = tmp_path / "stopped"
    assert main(["train", "--run-dir", str(stopped), *sets([*overrides, "run.keep_best=true"])]) == 130
    capsys.readouterr()
    assert main(["eval", str(stopped), "--best"]) == 0
    printed = capsys.readouterr()
    best = json.loads(printed.out)["epoch"]
    assert printed.err == (f"note: an unfinished run, evaluated at its best epoch so far (epoch {best}; 3 of 4 "
                           "trained)\n")
    assert main(["train", "--run-dir", str(plain), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0
    capsys.readouterr()
    assert main(["eval", str(plain), "--best"]) == 2
    printed = capsys.readouterr()
    assert printed.err == (f"satlearn: error: {plain}: the run kept no best epoch's weights (it trained with "
                           "run.keep_best false); a run started with --set run.keep_best=true keeps them in "
                           "best_model.pt\n")
    assert printed.out == "" and not (plain / "eval_best.json").exists()


def test_eval_split_val_scores_the_validation_split_and_is_one_line_for_a_run_without_one(tmp_path, capsys):
    split, plain = tmp_path / "split", tmp_path / "plain"
    overrides = tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4")
    assert main(["train", "--run-dir", str(split), *sets([*overrides, "data.val_size=40"])]) == 0
    assert main(["train", "--run-dir", str(plain), *sets(overrides)]) == 0
    capsys.readouterr()
    assert main(["eval", str(split), "--split", "val"]) == 0
    printed = capsys.readouterr()
    scored = json.loads(printed.out)
    assert json.loads((split / "eval_val.json").read_text()) == scored and printed.err == ""
    last = json.loads((split / "metrics.jsonl").read_text().splitlines()[-1])
    assert (scored["num_val"], scored["val_accuracy"], scored["val_clean_accuracy"]) == (
        40, last["val_accuracy"], last["val_clean_accuracy"])
    assert main(["eval", str(plain), "--split", "val"]) == 2
    printed = capsys.readouterr()
    assert printed.err == (f"satlearn: error: {plain}: the run held out no validation split (it trained with "
                           "data.val_size 0); a run started with --set data.val_size=N holds out N training "
                           "examples to score\n")
    assert printed.out == "" and not (plain / "eval_val.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: output folders there are not locked")
def test_eval_and_selective_eval_remove_the_temporary_files_a_killed_one_left_of_their_own_files_only(tmp_path,
                                                                                                     capsys):
    from satlearn.config import load_config
    from satlearn.engine import fit

    run = fit(load_config(None, tiny_overrides(tmp_path)), tmp_path / "run", log=lambda m: None).run_dir
    left = [".eval.json.0123abcd.tmp", ".selective_max_softmax.json.0123abcd.tmp",
            ".selective_max_softmax_curve.csv.89abcdef.tmp"]  # eval and selective-eval killed as they wrote
    kept = [".checkpoint.pt.0123abcd.tmp", ".selective_margin.json.0123abcd.tmp"]  # a training's, another score's
    for name in left + kept:
        (run / name).write_text("")
    assert main(["eval", str(run)]) == 0
    assert main(["selective-eval", str(run), "--score", "max_softmax"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == sorted(kept)


def test_eval_and_selective_eval_score_with_the_threads_given_and_leave_the_runs_config_as_it_was(tmp_path, capsys,
                                                                                                   monkeypatch):
    # a run trained with more threads than the machine that scores it has cores: --threads N for the scoring alone
    import torch

    from satlearn.config import load_config
    from satlearn.engine import fit

    before = torch.get_num_threads()
    config = load_config(None, tiny_overrides(tmp_path, "method.name=selective_sat", f"run.threads={before + 1}"))
    run = fit(config, tmp_path / "run", log=lambda m: None).run_dir
    config_file = (run / "config.yaml").read_bytes()
    forwards_ran_with = threads_of_each_forward_pass(monkeypatch)
    for command in (["eval", str(run)], ["selective-eval", str(run), "--out", str(tmp_path / "selective")]):
        # without --threads, the run's own run.threads
        for given, expected in ((["--threads", str(before + 2)], before + 2), ([], before + 1)):
            forwards_ran_with.clear()
            assert main([*command, *given]) == 0
            assert forwards_ran_with and set(forwards_ran_with) == {expected}, [*command, *given]
            assert torch.get_num_threads() == before
    assert (run / "config.yaml").read_bytes() == config_file
    assert load_config(run / "config.yaml").run.threads == before + 1
    capsys.readouterr()


def test_a_resumed_run_reports_its_whole_wall_time_and_which_times_are_this_processs(tmp_path, capsys):
    from satlearn.config import load_config
    from satlearn.engine import fit
    from satlearn.engine.checkpoint import load_checkpoint

    run = tmp_path / "run"
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=4")), run, stop_after_epoch=2)
    earlier = load_checkpoint(run)["wall_seconds"]
    assert earlier > 0
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "(all epochs); this process: set-up " in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["timing"]["resumed"] and summary["wall_seconds"] > earlier
    assert summary["wall_seconds"] >= summary["train_seconds"] * 0.99  # the loop's time includes every epoch's


def test_a_run_whose_config_yaml_is_gone_resumes_from_its_checkpoints_config_and_gets_it_back(tmp_path, capsys):
    from satlearn.config import load_config
    from satlearn.engine import fit

    run = tmp_path / "run"
    # named as --resume names it, so that the config.yaml written back reads as the first one did
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=2", "run.name=run")), run, stop_after_epoch=1,
        log=lambda m: None)
    written = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(written.replace("momentum: 0.9", "momentum: 0.5"))
    assert main(["train", "--resume", str(run)]) == 2  # a config.yaml of its own is read, and must be the run's
    assert "cannot resume with a different config (method.momentum: run has 0.9, now 0.5" in capsys.readouterr().err
    (run / "config.yaml").unlink()
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{run}: no config.yaml; resuming with the config kept in checkpoint.pt" in out
    assert (run / "summary.json").exists() and (run / "config.yaml").read_text() == written
    # with neither to take the config from: one line naming the run and what it lacks
    (run / "config.yaml").unlink()
    (run / "checkpoint.pt").write_bytes(b"cut off")
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"satlearn: error: {run}: no config.yaml, and the run's config cannot be taken from its "
                          "checkpoint") and "\n" not in err, err


def test_conflicting_or_ignored_options_are_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--run-dir", str(tmp_path / "other")]) == 2
    assert "give only --resume" in capsys.readouterr().err
    assert main(["find-issues", str(run), "--set", "run.epochs=5"]) == 2
    assert "--set goes with --config" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "demo"), "--set", "method.name=erm"]) == 2
    assert "the demo sets method.name" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_a_bad_demo_setting_stops_before_any_training(tmp_path, capsys):
    # run.epochs=3 is fine for CE but leaves SAT (start_epoch 12) nothing to do: found before CE trains
    assert main(["demo", "--out", str(tmp_path / "demo"), "--no-progress", "--set", "run.epochs=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("satlearn: error: --set run.epochs=3: method.start_epoch=12 is not below run.epochs=3")
    assert not (tmp_path / "demo").exists()


def test_a_device_this_machine_lacks_is_named_where_it_was_given_before_anything_is_written(tmp_path, capsys,
                                                                                            monkeypatch,
                                                                                            finished_sat_run):
    import torch

    # it was refused only once training began, without the --set, file or run it came from, a demo after writing its
    # request and saying it trained CE
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # (also where the tests run on a GPU)
    lacks = "run.device='cuda' but CUDA is not available on this machine; use run.device=auto or cpu"
    config = tmp_path / "gpu.yaml"
    config.write_text("run:\n  device: cuda\n")
    run = tmp_path / "run"
    shutil.copytree(finished_sat_run, run)
    (run / "summary.json").unlink()  # (an unfinished run, as a resumed one is)
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("device: cpu", "device: cuda"))
    new = tmp_path / "new"
    started = tmp_path / "started"  # a demo started on a GPU, resumed here: the setting is its request's
    started.mkdir()
    (started / "demo_request.json").write_text('{"overrides": ["run.device=cuda"]}')
    for argv, given in [
        (["train", "--run-dir", str(new), *sets(tiny_overrides(tmp_path, "run.device=cuda"))], "--set run.device=cuda"),
        (["demo", "--resume", str(started)], f"--resume {started}: its demo_request.json sets run.device=cuda"),
        (["demo", "--resume", str(started), "--set", "run.device=cuda"], "--set run.device=cuda"),
        (["train", "--config", str(config), "--run-dir", str(new)], str(config)),
        (["train", "--resume", str(run)], f"--resume {run}"),
        (["find-issues", "--config", str(config)], str(config)),
        (["demo", "--out", str(new), "--set", "run.device=cuda"], "--set run.device=cuda"),
    ]:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("", f"satlearn: error: {given}: {lacks}\n"), argv
        assert not new.exists()
        assert [path.name for path in started.iterdir()] == ["demo_request.json"]


def test_a_resumed_demo_whose_request_sets_the_device_twice_is_told_of_the_setting_that_holds(tmp_path, capsys,
                                                                                               monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    started = tmp_path / "started"
    started.mkdir()
    (started / "demo_request.json").write_text('{"overrides": ["run.device=cpu", "run.device=cuda"]}')
    assert main(["demo", "--resume", str(started)]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: --resume {started}: its demo_request.json sets "
                                       "run.device=cuda: run.device='cuda' but CUDA is not available on this "
                                       "machine; use run.device=auto or cpu\n")


def test_a_device_given_to_eval_that_this_machine_lacks_is_named_as_given(tmp_path, capsys, monkeypatch,
                                                                          finished_sat_run):
    import torch

    # (not as the run's own device, whose advice is to give --device)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for command in ("eval", "selective-eval"):
        assert main([command, str(finished_sat_run), "--device", "cuda"]) == 2
        assert capsys.readouterr().err == ("satlearn: error: --device cuda: CUDA is not available on this machine; "
                                           "use --device auto or cpu\n")
    from satlearn import load_run
    from satlearn.errors import DeviceUnavailable

    with pytest.raises(DeviceUnavailable) as refused:  # in Python, as the device argument
        load_run(finished_sat_run, device="cuda")
    assert str(refused.value) == "device='cuda' but CUDA is not available on this machine; use device=auto or cpu"


def test_a_run_trained_on_a_device_this_machine_lacks_is_told_how_to_evaluate_it_on_another(tmp_path, capsys,
                                                                                             monkeypatch,
                                                                                             finished_sat_run):
    import torch

    from satlearn import load_run
    from satlearn.errors import ConfigError

    # a GPU run evaluated on a laptop was told "use run.device=auto or cpu", a setting eval cannot change
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # (also where the tests run on a GPU)
    run = tmp_path / "run"
    shutil.copytree(finished_sat_run, run)
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=False)
    checkpoint["config"]["run"]["device"] = "cuda"
    torch.save(checkpoint, run / "checkpoint.pt")
    lacks = f"{run}: the run's run.device='cuda' but CUDA is not available on this machine"
    for command in ("eval", "selective-eval"):
        assert main([command, str(run)]) == 2
        assert capsys.readouterr().err == f"satlearn: error: {lacks}; give --device auto or cpu\n"
    assert main(["eval", str(run), "--device", "cpu"]) == 0
    with pytest.raises(ConfigError, match=re.escape(f"{lacks}; give device='auto' or 'cpu'")):
        load_run(run)


def test_output_paths_that_cannot_be_directories_give_one_line(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0
    capsys.readouterr()
    for command in (["compare", str(run), "--out", str(a_file / "x.png")],
                    ["selective-eval", str(run), "--out", str(a_file)],
                    ["demo", "--out", str(a_file)]):
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "is a file, not a directory" in err and str(a_file) in err, err
    for where in (["--run-dir", str(a_file)], ["--run-dir", str(a_file / "run")],
                  ["--set", f"run.out_dir={a_file}"]):
        assert main(["train", *sets(tiny_overrides(tmp_path, "run.epochs=2")), *where]) == 2, where
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "is a file" in err and str(a_file) in err, err


def test_resume_names_a_missing_or_foreign_directory_and_paths_expand_the_home_directory(tmp_path, capsys,
                                                                                          monkeypatch):
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "--resume " + str(tmp_path / "nowhere") + ": no such run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["train", "--resume", str(tmp_path / "empty")]) == 2
    assert "not a satlearn run directory" in capsys.readouterr().err
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # a ~ left unexpanded makes its folder here, not where pytest started
    overrides = [o for o in tiny_overrides(tmp_path, "run.epochs=1", "method.start_epoch=0", "run.name=r")
                 if not o.startswith("run.out_dir=")]
    assert main(["train", *sets([*overrides, "run.out_dir=~/runs"])]) == 0
    assert (tmp_path / "home" / "runs" / "r" / "summary.json").exists()
    capsys.readouterr()
    # --resume=~/... is left to satlearn by the shell: the run is found, and it is finished
    assert main(["train", "--resume=~/runs/r"]) == 2
    assert "already finished its one epoch; nothing to resume" in capsys.readouterr().err


def test_a_run_in_a_folder_whose_name_starts_with_a_tilde_trains_and_resumes_from_dot_slash(tmp_path, monkeypatch,
                                                                                           capsys):
    from satlearn.config import load_config
    from satlearn.engine import fit

    # ./~name is a folder here, not the home of a user "name" (of whom there is none)
    monkeypatch.chdir(tmp_path)
    overrides = [o for o in tiny_overrides(tmp_path, "run.epochs=2") if not o.startswith("run.out_dir=")]
    assert main(["train", *sets([*overrides, "run.out_dir=./~satlearn-runs", "run.name=r"])]) == 0
    assert (tmp_path / "~satlearn-runs" / "r" / "summary.json").exists()
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=2")), tmp_path / "~satlearn-run", stop_after_epoch=1,
        log=lambda m: None)
    capsys.readouterr()
    assert main(["train", "--resume", "./~satlearn-run"]) == 0, capsys.readouterr().err
    assert (tmp_path / "~satlearn-run" / "summary.json").exists()


def test_resume_under_the_home_of_no_such_user_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", "~satlearn-no-such-user/run"]) == 2
    assert capsys.readouterr().err == "satlearn: error: --resume ~satlearn-no-such-user/run: no such run directory\n"


def test_resume_does_not_judge_the_name_the_run_was_started_under(tmp_path, monkeypatch, capsys):
    import yaml

    from satlearn.config import load_config
    from satlearn.engine import fit

    run = tmp_path / "run"
    fit(load_config(None, tiny_overrides(tmp_path)), run, stop_after_epoch=1, log=lambda m: None)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["run"]["name"] = "../escape"  # as a run started before such names were refused has it
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    monkeypatch.chdir(run)
    assert main(["train", "--resume", "."]) == 0  # "." from inside the run: its name is the directory's
    assert (run / "summary.json").exists() and not (tmp_path / "escape").exists()


def test_an_interrupt_names_the_kept_checkpoint_or_says_there_is_none(tmp_path, capsys, monkeypatch):
    interrupt_sat_in(monkeypatch, 2)
    run = tmp_path / "a run"  # the command it suggests must work when pasted into a shell
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"satlearn: interrupted; the checkpoint after epoch 2 is kept: resume with satlearn train --resume '{run}'"
    interrupt_sat_in(monkeypatch, 0)
    fresh = tmp_path / "fresh"
    assert main(["train", "--run-dir", str(fresh), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 130
    assert f"before the first checkpoint of {fresh}; nothing to resume" in capsys.readouterr().err


def test_an_interrupt_while_a_resumption_is_set_up_says_the_run_can_still_be_resumed(tmp_path, capsys, monkeypatch):
    import satlearn.engine.trainer as trainer

    interrupt_sat_in(monkeypatch, 2)
    run = tmp_path / "a run"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 130
    capsys.readouterr()
    monkeypatch.setattr(SAT, "training_step", SAT_TRAINING_STEP)
    checkpoint = (run / "checkpoint.pt").read_bytes()

    def interrupted_while_loading(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the run's data are read again

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "run_data", interrupted_while_loading)
        assert main(["train", "--resume", str(run)]) == 130
    assert capsys.readouterr().err.strip() == ("satlearn: interrupted before the run went on; its checkpoint is as "
                                               f"it was: resume with satlearn train --resume '{run}'")
    assert (run / "checkpoint.pt").read_bytes() == checkpoint
    assert main(["train", "--resume", str(run)]) == 0  # as the message says


def test_sigterm_stops_training_as_ctrl_c_does_and_a_stopped_run_starts_again_in_place(tmp_path, capsys, monkeypatch):
    import os
    import signal

    from satlearn.methods.sat import SAT

    original = SAT.training_step

    def terminated_in(epoch_to_stop):
        def step(self, batch, epoch):
            if epoch == epoch_to_stop:
                os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler or `timeout` stops the job
            return original(self, batch, epoch)
        return step

    unhandled = []  # where the command does not take the signal, this does (instead of ending the test process)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: unhandled.append(signum))
    try:
        before = signal.getsignal(signal.SIGTERM)
        monkeypatch.setattr(SAT, "training_step", terminated_in(2))
        run = tmp_path / "run"
        assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 143
        assert capsys.readouterr().err.strip() == ("satlearn: interrupted; the checkpoint after epoch 2 is kept: "
                                                   f"resume with satlearn train --resume {run}")
        assert signal.getsignal(signal.SIGTERM) is before  # the command's handler is gone with it
        monkeypatch.setattr(SAT, "training_step", original)
        assert main(["train", "--resume", str(run)]) == 0

        # stopped before its first checkpoint, a run is started again in its own directory, as its message says
        monkeypatch.setattr(SAT, "training_step", terminated_in(0))
        fresh = tmp_path / "fresh"
        assert main(["train", "--run-dir", str(fresh), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 143
        assert "nothing to resume, start the run again" in capsys.readouterr().err
        monkeypatch.setattr(SAT, "training_step", original)
        assert main(["train", "--run-dir", str(fresh), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 0
        assert not unhandled
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGUSR1"), reason="no SIGUSR1 on this OS")
def test_sigusr1_ahead_of_a_time_limit_stops_training_as_sigterm_does(tmp_path, capsys, monkeypatch):
    import signal

    from satlearn.methods.sat import SAT

    original = SAT.training_step

    def step(self, batch, epoch):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGUSR1)  # as SLURM's --signal=USR1@SECONDS warns the job
        return original(self, batch, epoch)

    unhandled = []  # where the command does not take the signal, this does (instead of ending the test process)
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: unhandled.append(signum))
    try:
        before = signal.getsignal(signal.SIGUSR1)
        monkeypatch.setattr(SAT, "training_step", step)
        run = tmp_path / "run"
        assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=4"))]) == 138
        assert capsys.readouterr().err.strip() == ("satlearn: interrupted; the checkpoint after epoch 2 is kept: "
                                                   f"resume with satlearn train --resume {run}")
        assert signal.getsignal(signal.SIGUSR1) is before  # the command's handler is gone with it
        assert not unhandled
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_new_run_does_not_overwrite_files_of_its_names_in_a_folder_that_is_not_a_run(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.csv").write_text("my own table")
    (mine / "notes.txt").write_text("kept")
    assert main(["train", "--run-dir", str(mine), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {mine}: already holds metrics.csv, which a new run "
                                               "would overwrite; choose another run directory or run.name")
    assert sorted(p.name for p in mine.iterdir()) == ["metrics.csv", "notes.txt"]
    assert (mine / "metrics.csv").read_text() == "my own table"
    # a finished run whose checkpoint was deleted keeps its outputs too
    run = tmp_path / "finished"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0
    (run / "checkpoint.pt").unlink()
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 2
    assert "already holds config.yaml, labels.npz" in capsys.readouterr().err
    # a project folder with a config.yaml and a labels.npz of its own is not a run stopped early
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text("# my notes\nrun:\n  epochs: 2\n")
    np.savez(project / "labels.npz", my_noisy=np.zeros(3))
    assert main(["train", "--run-dir", str(project), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 2
    assert "already holds config.yaml, labels.npz" in capsys.readouterr().err
    assert np.load(project / "labels.npz").files == ["my_noisy"]
    # nor is one whose labels.npz looks like a run's but whose config.yaml is not satlearn's, or is a .npy
    np.savez(project / "labels.npz", labels=np.zeros(3), clean_labels=np.zeros(3), class_names=np.array(["a"]))
    (project / "config.yaml").write_text("project: mine\n")
    assert main(["train", "--run-dir", str(project), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 2
    assert "already holds config.yaml, labels.npz" in capsys.readouterr().err
    with open(project / "labels.npz", "wb") as f:
        np.save(f, np.zeros(3))
    assert main(["train", "--run-dir", str(project), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 2
    assert "already holds config.yaml, labels.npz" in capsys.readouterr().err
    assert main(["eval", str(project)]) == 2 and "no checkpoint here" in capsys.readouterr().err
    # a run that stopped after its labels.npz, before its config.yaml, starts again
    for name in ("config.yaml", "metrics.jsonl", "metrics.csv", "summary.json", "curves.png", "refined_labels.csv",
                 "soft_targets.npy"):
        (run / name).unlink(missing_ok=True)
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0
    # other files beside do not stop a run
    other = tmp_path / "other"
    other.mkdir()
    (other / "README.txt").write_text("a folder for my runs")
    assert main(["train", "--run-dir", str(other), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0


def test_find_issues_flags_by_the_threshold_given_and_a_clean_run_has_no_truth_to_compare(tmp_path, capsys):
    run = tmp_path / "run"
    overrides = tiny_overrides(tmp_path, "data.noise.kind=none", "run.epochs=2")
    assert main(["train", "--run-dir", str(run), *sets(overrides)]) == 0
    probs = np.load(run / "soft_targets.npy").astype(np.float64)
    labels = np.load(run / "labels.npz")["labels"]
    rows = np.arange(len(labels))
    others = probs.copy()
    others[rows, labels] = -np.inf
    margins = others.max(axis=1) - probs[rows, labels]
    # a threshold inside the margins' range, so its mask differs from the default rule's (margin > 0)
    threshold = round(float(np.median(margins)), 3)
    expected = margins > threshold
    assert 0 < expected.sum() < len(labels) and not np.array_equal(expected, margins > 0)
    capsys.readouterr()
    assert main(["find-issues", str(run), "--threshold", str(threshold), "--out", str(tmp_path / "issues")]) == 0
    assert "against the true labels" not in capsys.readouterr().out
    assert np.load(tmp_path / "issues" / "label_issues_mask.npy").tolist() == expected.tolist()
    summary = json.loads((tmp_path / "issues" / "label_issues_summary.json").read_text())
    assert summary["num_flagged"] == expected.sum() and "against_true_labels" not in summary
    assert not (tmp_path / "issues" / "label_issues_pr.png").exists()
    # no margin exceeds 1: nothing is flagged, and the command says how to see the likeliest anyway
    assert main(["find-issues", str(run), "--threshold", "1", "--out", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        f"0 of {len(labels)} labels flagged (0.0 %); list in {tmp_path / 'none' / 'label_issues.csv'}",
        "  --num-issues K flags the K labels most likely wrong, by score, whatever their margin"]
    # a count of none is taken, and flags none without the hint, which offers a count
    assert main(["find-issues", str(run), "--num-issues", "0", "--out", str(tmp_path / "zero")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"0 of {len(labels)} labels flagged (0.0 %); list in "
                              f"{tmp_path / 'zero' / 'label_issues.csv'}\n") and "--num-issues K" not in printed


def test_bad_input_gives_one_line_and_status_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("run:\n  epochz: 3\n")
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'run.epochz'" in err and str(config) in err
    assert main(["eval", str(tmp_path)]) == 2
    assert "no checkpoint here" in capsys.readouterr().err
    for command in ("eval", "selective-eval"):  # a bad --device is named as the option, before any run is read
        assert main([command, str(tmp_path / "nowhere"), "--device", "gpu0"]) == 2
        assert capsys.readouterr().err == ("satlearn: error: --device gpu0: not a device name; expected auto, cpu, "
                                           "cuda, cuda:N or mps\n")
    assert main(["train", *sets(tiny_overrides(tmp_path, "data.source=npz", f"data.root={tmp_path / 'x.npz'}"))]) == 2
    assert "x.npz" in capsys.readouterr().err


def test_several_processes_started_together_are_stopped_before_writing(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    train = ["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path))]
    monkeypatch.setenv("WORLD_SIZE", "2")
    for command in (train, ["demo", "--out", str(tmp_path / "demo")], ["find-issues", "--config", "x.yaml"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "WORLD_SIZE=2" in err and "torchrun" in err
    assert not run.exists() and not (tmp_path / "demo").exists()
    assert main(["compare", str(tmp_path / "nowhere")]) == 2  # a command that trains nothing is not stopped by it
    assert "WORLD_SIZE" not in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert main(train) == 0


def test_the_demo_title_names_the_noise_it_was_trained_with(tmp_path):
    from satlearn.demo import demo_config, demo_title

    def title(*overrides):
        return demo_title(demo_config("sat", out_dir=tmp_path, overrides=overrides))

    assert title() == "MNIST-1D, 40% symmetric label noise (paper mode)"
    assert title("data.noise.kind=pair", "data.noise.rate=0.2") == "MNIST-1D, 20% pair label noise"
    assert title("data.noise.kind=none") == "MNIST-1D, no label noise"


def test_a_demo_folder_given_with_a_tilde_is_one_folder_in_the_home_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out=~/demo", "--no-progress",
                 *sets(["data.num_samples=400", "model.width=8", "run.epochs=2", "method.start_epoch=1"])]) == 0
    assert (tmp_path / "home" / "demo" / "demo_summary.json").exists() and not (tmp_path / "~").exists()


def test_a_demo_setting_of_sat_alone_leaves_the_ce_run_alone(tmp_path):
    from satlearn.demo import demo_config

    overrides = ("method.momentum=0.5", "method.targets_dtype=bfloat16", "model.width=8")
    ce, sat = (demo_config(method, out_dir=tmp_path, overrides=overrides) for method in ("erm", "sat"))
    assert (sat.method.momentum, sat.method.targets_dtype) == (0.5, "bfloat16")
    assert (ce.method.momentum, ce.method.targets_dtype) == (0.9, "float32") and ce.model.width == sat.model.width == 8
    assert main(["demo", "--out", str(tmp_path / "d"), "--set", "method.payoff=3"]) == 2  # neither run reads it


def demo_summary(*, final, best, best_epoch, wall, rate=0.4, actual_rate=0.362, label_issues=None):
    """A run's summary as the demo reads it (only the fields its table and summary use)."""
    summary = {"final_test_accuracy": final, "best_test_accuracy": best, "best_epoch": best_epoch,
               "wall_seconds": wall, "noise": {"rate": rate, "actual_rate": actual_rate}}
    if label_issues is not None:
        summary["label_issues"] = label_issues
    return summary


def test_the_demo_table_puts_each_figure_under_its_own_heading():
    from satlearn.demo import format_table

    results = {"CE": demo_summary(final=0.764, best=0.8604, best_epoch=18, wall=10.44),
               "SAT": demo_summary(final=0.8736, best=0.8792, best_epoch=30, wall=11.0,
                                   label_issues={"flagged": 3790, "precision": 0.907, "recall": 0.95})}
    lines = format_table(results).splitlines()
    assert len(lines) == 4 and set(lines[1].replace(" ", "")) == {"-"}  # the rule under the headings
    cells = [re.split(r" {2,}", line.rstrip()) for line in lines]
    header = cells[0]
    assert header == ["method", "noise (actual)", "final test acc", "best test acc", "wall s", "flagged", "precision",
                      "recall"]
    assert dict(zip(header, cells[2])) == {
        "method": "CE", "noise (actual)": "36.2%", "final test acc": "76.4%", "best test acc": "86.0% (ep 18)",
        "wall s": "10.4", "flagged": "—", "precision": "—", "recall": "—"}
    assert dict(zip(header, cells[3])) == {
        "method": "SAT", "noise (actual)": "36.2%", "final test acc": "87.4%", "best test acc": "87.9% (ep 30)",
        "wall s": "11.0", "flagged": "3790", "precision": "90.7%", "recall": "95.0%"}
    # the columns line up: each cell starts where its heading does
    starts = [lines[0].index(name) for name in header]
    for line in lines[2:]:
        assert all(line[start - 2:start] == "  " and line[start] != " " for start in starts[1:]), line
    assert [line for line in lines if line != line.rstrip()] == []  # as the README shows it: no trailing spaces


def test_the_demo_table_prints_an_undefined_flag_measure_as_n_a_and_leaves_the_dash_to_a_run_without_flags():
    from satlearn.demo import format_table

    results = {"CE": demo_summary(final=0.7, best=0.8, best_epoch=3, wall=1.0),
               # nothing flagged: no precision; no label really changed: no recall
               "SAT": demo_summary(final=0.8, best=0.8, best_epoch=4, wall=1.0, rate=0.0, actual_rate=0.0,
                                   label_issues={"flagged": 0, "truly_wrong": 0, "precision": None, "recall": None})}
    header, _, ce, sat = (re.split(r" {2,}", line.rstrip()) for line in format_table(results).splitlines())
    assert [dict(zip(header, ce))[key] for key in ("flagged", "precision", "recall")] == ["—", "—", "—"]
    assert [dict(zip(header, sat))[key] for key in ("flagged", "precision", "recall")] == ["0", "n/a", "n/a"]


class FakeDemoTraining:
    """Stands in for fit and the plot in satlearn.demo: records each training asked for and returns the summary
    given for its method, so that the demo's own bookkeeping is checked without training."""

    def __init__(self, monkeypatch, summaries):
        import satlearn.demo

        self.summaries, self.calls, self.plots = summaries, [], []
        monkeypatch.setattr(satlearn.demo, "fit", self.fit)
        monkeypatch.setattr(satlearn.demo, "read_run", lambda path, name: (Path(path), name))
        monkeypatch.setattr(satlearn.demo, "plot_runs",
                            lambda runs, path, title: self.plots.append((runs, path, title)))

    def fit(self, config, run_dir, *, resume=False, log=None, progress=None):
        from types import SimpleNamespace

        self.calls.append({"method": config.method.name, "run_dir": Path(run_dir), "resume": resume,
                           "config": config, "progress": progress})
        return SimpleNamespace(summary=self.summaries[config.method.name], run_dir=Path(run_dir))


def test_the_demo_summary_gives_sat_minus_ce_and_says_nothing_of_a_resume_it_did_not_do(tmp_path, monkeypatch):
    from satlearn.demo import run_demo

    ce = demo_summary(final=0.75, best=0.8, best_epoch=3, wall=1.0)
    sat = demo_summary(final=0.875, best=0.875, best_epoch=4, wall=1.0, label_issues={"flagged": 5})
    training = FakeDemoTraining(monkeypatch, {"erm": ce, "sat": sat})
    lines = []
    out = tmp_path / "demo"
    (out / "erm").mkdir(parents=True)  # a summary left without its run is no finished run of a new demo
    (out / "erm" / "summary.json").write_text(json.dumps(demo_summary(final=0.1, best=0.1, best_epoch=1, wall=1.0)))
    summary = run_demo(out, progress=False, log=lines.append)
    assert [(call["method"], call["run_dir"], call["resume"]) for call in training.calls] == [
        ("erm", out / "erm", False), ("sat", out / "sat", False)]
    assert summary["runs"] == {"CE": ce, "SAT": sat}
    assert summary["sat_minus_ce_final"] == 0.125 and "resumed" not in summary
    assert json.loads((out / "demo_summary.json").read_text())["sat_minus_ce_final"] == 0.125
    assert lines[-2].startswith("SAT − CE (final test accuracy): +12.5 points; whole demo "), lines
    assert lines[-1] == f"plot: {out / 'demo_accuracy.png'}; refined labels: {out / 'sat' / 'refined_labels.csv'}"
    assert training.plots == [([(out / "erm", "CE"), (out / "sat", "SAT")], out / "demo_accuracy.png",
                               "MNIST-1D, 40% symmetric label noise (paper mode)")]
    assert lines[-4] == summary["title"] == training.plots[0][2]  # the table's title is the plot's


def test_a_resumed_demo_takes_the_settings_given_now_over_those_it_started_with_and_trains_a_run_never_checkpointed(
        tmp_path, monkeypatch):
    from satlearn.demo import REQUEST_NAME, run_demo

    out = tmp_path / "demo"
    (out / "erm").mkdir(parents=True)
    (out / "sat").mkdir()  # SAT was stopped in its first epoch: a folder without a checkpoint
    (out / REQUEST_NAME).write_text(json.dumps({"overrides": ["run.threads=2", "model.width=8"]}))
    ce = demo_summary(final=0.5, best=0.625, best_epoch=2, wall=1.0)
    (out / "erm" / "summary.json").write_text(json.dumps(ce))
    sat = demo_summary(final=0.75, best=0.75, best_epoch=4, wall=1.0, label_issues={"flagged": 5})
    training = FakeDemoTraining(monkeypatch, {"sat": sat})
    lines = []
    summary = run_demo(out, overrides=("run.threads=1",), progress=False, log=lines.append, resume=True)
    (call,) = training.calls  # the finished CE run is kept
    assert (call["method"], call["run_dir"], call["resume"]) == ("sat", out / "sat", False)
    # how it runs is the resume's own; what it trains is what the demo was started with
    assert (call["config"].run.threads, call["config"].model.width) == (1, 8)
    assert lines[0] == "CE: finished earlier" and lines[1].startswith("training SAT")
    assert summary["runs"] == {"CE": ce, "SAT": sat} and summary["resumed"] is True
    assert summary["sat_minus_ce_final"] == 0.25


def test_a_demo_keeps_a_set_of_run_progress_as_train_does(tmp_path, monkeypatch):
    summary = demo_summary(final=0.5, best=0.5, best_epoch=1, wall=1.0)
    training = FakeDemoTraining(monkeypatch, {"erm": summary, "sat": summary})
    stderr_on_a_terminal(monkeypatch)
    assert main(["demo", "--out", str(tmp_path / "quiet"), "--set", "run.progress=false"]) == 0
    assert main(["demo", "--out", str(tmp_path / "shown")]) == 0
    assert main(["demo", "--out", str(tmp_path / "flag"), "--no-progress"]) == 0
    stderr_on_a_terminal(monkeypatch, terminal=False)
    assert main(["demo", "--out", str(tmp_path / "log")]) == 0
    shown = [call["progress"] if call["progress"] is not None else call["config"].run.progress
             for call in training.calls]
    assert shown == [False, False, True, True, False, False, False, False]
    # what the runs keep: a --set of it, not --no-progress or a log file, which hide the bars of that process only
    assert [call["config"].run.progress for call in training.calls] == [False, False, True, True, True, True, True,
                                                                         True]


class OneSecond:
    """A clock stopped in one second, as two demos started together read it."""

    @staticmethod
    def now():
        from datetime import datetime

        return datetime(2024, 5, 6, 7, 8, 9)


def test_demos_started_in_the_same_second_take_their_own_folders(tmp_path, monkeypatch, capsys):
    import satlearn.demo
    from satlearn.demo import REQUEST_NAME, run_demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(satlearn.demo, "datetime", OneSecond)
    # a bad setting is found with the folder's name, before the folder is created
    assert main(["demo", "--no-progress", "--set", "run.epochs=3"]) == 2
    assert "method.start_epoch=12 is not below run.epochs=3" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    taken = Path("runs") / "demo-20240506-070809"
    (taken / "erm").mkdir(parents=True)  # a demo started this second took it, and still loads CE's data
    summary = demo_summary(final=0.5, best=0.5, best_epoch=1, wall=1.0)
    training = FakeDemoTraining(monkeypatch, {"erm": summary, "sat": summary})
    lines = []
    run_demo(progress=False, log=lines.append)
    mine = Path("runs") / "demo-20240506-070809-2"
    assert [(call["run_dir"], call["config"].run.out_dir) for call in training.calls] == [
        (mine / "erm", str(mine)), (mine / "sat", str(mine))]
    assert (mine / REQUEST_NAME).exists() and (mine / "demo_summary.json").exists()
    assert lines[-1].startswith(f"plot: {mine / 'demo_accuracy.png'}")
    assert [p.name for p in taken.iterdir()] == ["erm"]  # the other demo's folder is left as it was


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_a_demo_whose_runs_another_process_trains_says_so_and_writes_nothing(tmp_path, capsys, monkeypatch):
    # another --out, or a --resume, would be the wrong advice: either is refused while that process trains
    import fcntl

    import satlearn.demo
    from satlearn.demo import REQUEST_NAME

    def fit(*args, **kwargs):
        raise AssertionError("trained in a demo's run directory another process trains")

    monkeypatch.setattr(satlearn.demo, "fit", fit)
    out = tmp_path / "demo"
    (out / "erm").mkdir(parents=True)  # the other demo still loads CE's data: no checkpoint yet
    request = json.dumps({"overrides": ["model.width=8"]})
    (out / REQUEST_NAME).write_text(request)
    for method in ("erm", "sat"):
        if method == "sat":  # CE finished; SAT has checkpoints
            for name in ("checkpoint.pt", "summary.json"):
                (out / "erm" / name).write_text("{}")
            (out / "sat").mkdir()
            (out / "sat" / "checkpoint.pt").write_text("")
        held = os.open(out / method, os.O_RDONLY)  # the other's lock (a separate open: flock conflicts in-process)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert main(["demo", "--out", str(out), "--no-progress"]) == 2
            assert capsys.readouterr().err.strip() == (
                f"satlearn: error: demo output directory {out}: another process is training the demo's {method} run "
                "in it; wait for it to finish (or stop it), or choose another --out")
            assert main(["demo", "--resume", str(out), "--no-progress"]) == 2
            assert capsys.readouterr().err.strip() == (
                f"satlearn: error: demo output directory {out}: another process is training the demo's {method} run "
                "in it; wait for it to finish (or stop it) before resuming the demo")
        finally:
            os.close(held)
        assert (out / REQUEST_NAME).read_text() == request
    # nobody trains there now: the demo's own refusal is back
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    assert "already holds the demo's erm run; choose another --out" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: demos there are not locked")
def test_a_demo_started_beside_another_in_its_folder_stops_without_touching_its_request(tmp_path, capsys, monkeypatch):
    # started within the same instant, the second demo finds no run directory of the first to refuse it by: it used
    # to pass the check and rewrite demo_request.json with its own settings before its training was refused, so
    # that a --resume of the first demo then trained with the second's settings
    import satlearn.demo
    from satlearn.demo import REQUEST_NAME
    from satlearn.engine.trainer import hold_run_dir

    monkeypatch.setattr(satlearn.demo, "fit", lambda *args, **kwargs: pytest.fail("trained beside another demo"))
    first = tmp_path / "demo"
    first.mkdir()
    request = json.dumps({"overrides": ["run.seed=1"]})
    (first / REQUEST_NAME).write_text(request)  # the first demo's, which holds its folder and has no run directory yet
    refusal = f"satlearn: error: demo output directory {first}: another demo is running in it; wait for it to finish"
    with hold_run_dir(first, resume=False):  # (a lock of its own: flock conflicts in-process)
        assert main(["demo", "--out", str(first), "--no-progress", "--set", "run.seed=2"]) == 2
        assert capsys.readouterr().err.strip() == f"{refusal} (or stop it), or choose another --out"
        assert main(["demo", "--resume", str(first), "--no-progress"]) == 2
        assert capsys.readouterr().err.strip() == f"{refusal} (or stop it) before resuming the demo"
    assert [p.name for p in first.iterdir()] == [REQUEST_NAME] and (first / REQUEST_NAME).read_text() == request


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: demos there are not locked")
def test_a_running_demos_folder_given_as_a_run_is_named_as_a_demos_not_as_a_run_loading_its_data(tmp_path, capsys):
    # the demo holds its folder with a run directory's lock, which commands reading a run took for a training still
    # loading its data there ("has written nothing yet", beside the demo's request and runs)
    from satlearn.demo import REQUEST_NAME
    from satlearn.engine.trainer import hold_run_dir

    out = tmp_path / "demo"
    (out / "erm").mkdir(parents=True)
    (out / REQUEST_NAME).write_text(json.dumps({"overrides": []}))
    as_a_run = (f"satlearn: error: {out}: the output of a demo still running, a folder of runs rather than one run; "
                f"expected one run's directory, such as {out / 'sat'}")
    with hold_run_dir(out, resume=False):  # (a lock of its own: flock conflicts in-process)
        for command in (["find-issues", str(out)], ["eval", str(out)]):
            assert main(command) == 2
            assert capsys.readouterr().err.strip() == as_a_run
        assert main(["train", "--resume", str(out)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"satlearn: error: --resume {out}: the output of a demo still running, not one run's directory; the demo "
            "finishes its runs itself")
        (out / REQUEST_NAME).unlink()  # no demo's: a training that holds the folder, named as before
        assert main(["find-issues", str(out)]) == 2
        assert "another process has started a run here and is still loading its data" in capsys.readouterr().err


def test_a_demo_into_a_training_runs_directory_is_refused_and_leaves_it_as_it_was(tmp_path, capsys,
                                                                                  finished_sat_run):
    # it was accepted: the demo's erm/, sat/, plot and summary went in among the run's files, and compare, eval and
    # train --resume then read the folder as the one run, its demo's runs unseen
    run = tmp_path / "run"
    shutil.copytree(finished_sat_run, run)
    before = sorted(path.name for path in run.iterdir())
    small = ["data.num_samples=400", "model.width=8", "run.epochs=2", "method.start_epoch=1", "run.device=cpu"]
    assert main(["demo", "--out", str(run), "--no-progress", *sets(small)]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: --out {run}: a training run's directory (it holds "
                                       "checkpoint.pt, config.yaml, ...), which the demo's runs and files would be "
                                       "mixed into; choose another --out\n")
    assert sorted(path.name for path in run.iterdir()) == before


def test_a_demo_into_a_folder_with_a_config_yaml_of_its_own_is_no_run_directory(tmp_path, monkeypatch):
    # a project's folder holding a config.yaml or summary.json of another tool was refused as a training run's
    import satlearn.demo

    out = tmp_path / "project"
    out.mkdir()
    (out / "config.yaml").write_text("lr: 0.1\n")
    (out / "summary.json").write_text("{}")
    trained = []
    monkeypatch.setattr(satlearn.demo, "_train_and_report", lambda out_dir, *args, **kwargs: trained.append(out_dir))
    assert main(["demo", "--out", str(out), "--no-progress", "--set", "run.device=cpu"]) == 0
    assert trained == [out]


def test_a_demo_request_file_that_is_not_a_list_of_settings_is_one_line(tmp_path, capsys):
    from satlearn.demo import REQUEST_NAME, run_demo
    from satlearn.errors import ConfigError

    out = tmp_path / "demo"
    out.mkdir()
    (out / REQUEST_NAME).write_text(json.dumps({"overrides": "model.width=8"}))  # a string, not a list of them
    assert main(["demo", "--resume", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: --resume {out}: its {REQUEST_NAME}'s 'overrides' is "
                                               "not a list of strings; start a new demo")
    (out / REQUEST_NAME).write_text("{")
    assert main(["demo", "--resume", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"satlearn: error: --resume {out}: its {REQUEST_NAME} is unreadable "
                                              "(JSONDecodeError: ")
    with pytest.raises(ConfigError, match="^resuming a demo needs its output directory$"):
        run_demo(None, resume=True)


def test_the_demo_trains_pair_noise_at_its_own_rate_and_names_a_label_file_and_its_key(tmp_path):
    from satlearn.demo import demo_config, demo_title

    symmetric = demo_config("sat", out_dir=tmp_path)
    pair = demo_config("sat", out_dir=tmp_path, overrides=("data.noise.kind=pair",))
    assert pair.data.noise.rate == symmetric.data.noise.rate > 0
    given = ("data.noise.kind=file", f"data.noise.file={tmp_path / 'given.npz'}")
    assert demo_title(demo_config("sat", out_dir=tmp_path, overrides=given)) == "MNIST-1D, labels from given.npz"
    assert demo_title(demo_config("sat", out_dir=tmp_path, overrides=(*given, "data.noise.key=noisy"))) == \
        "MNIST-1D, labels from given.npz (noisy)"


def test_a_run_whose_data_moved_resumes_and_evaluates_from_where_they_are_now(tmp_path, capsys):
    import shutil

    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 3}\n" for i in range(90))
    first = tmp_path / "first" / "t.csv"
    first.parent.mkdir()
    first.write_text("a,b,label\n" + rows)
    run = tmp_path / "run"
    tabular = ["data.source=csv", f"data.root={first}", "model.name=mlp", "data.batch_size=16", "run.epochs=3",
               "method.start_epoch=1", "run.progress=false", "run.device=cpu", "run.threads=1"]
    assert main(["train", "--run-dir", str(run), *sets(tabular)]) == 0
    (run / "summary.json").unlink()  # as if cut off before its outputs, which a resume writes
    moved = tmp_path / "moved" / "t.csv"
    moved.parent.mkdir()
    shutil.move(first, moved)
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2
    assert f"csv: there is no file {first} (" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--set", f"data.root={moved}"]) == 0
    assert (run / "summary.json").exists()
    assert f"root: {moved}" in (run / "config.yaml").read_text()  # the run's config says where its data are now
    capsys.readouterr()
    assert main(["eval", str(run), "--data-root", str(moved)]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == 3
    assert main(["selective-eval", str(run), "--data-root", str(moved), "--out", str(tmp_path / "sel")]) == 0
    # other data under the new path are refused: the run's digest of its data decides, not the path
    moved.write_text("a,b,label\n" + rows.replace("6,", "5,"))
    capsys.readouterr()
    assert main(["eval", str(run), "--data-root", str(moved)]) == 2
    assert "the data differ from those the run was trained on (its train inputs differ); point data.root (eval, " \
           "selective-eval: --data-root) at the original data" in capsys.readouterr().err


def test_an_interrupted_demo_is_finished_with_the_settings_it_was_started_with(tmp_path, capsys, monkeypatch):
    from satlearn.methods.sat import SAT

    original = SAT.training_step

    def interrupted_in_epoch_2(self, batch, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, batch, epoch)

    out = tmp_path / "the demo"
    tiny = sets(["data.num_samples=400", "model.width=8", "run.epochs=4", "method.start_epoch=1"])
    monkeypatch.setattr(SAT, "training_step", interrupted_in_epoch_2)
    assert main(["demo", "--out", str(out), "--no-progress", *tiny]) == 130
    assert capsys.readouterr().err.strip() == f"satlearn: interrupted; finish the demo with satlearn demo --resume '{out}'"
    assert not (out / "demo_summary.json").exists() and (out / "erm" / "summary.json").exists()
    assert main(["train", "--resume", str(out)]) == 2  # the demo's folder, not one of its runs
    assert capsys.readouterr().err.strip() == (f"satlearn: error: --resume {out}: the output of a demo, not one run's "
                                               f"directory; finish the demo with satlearn demo --resume '{out}'")
    monkeypatch.setattr(SAT, "training_step", original)
    assert main(["demo", "--resume", str(out), "--no-progress", "--set", "run.epochs=9"]) == 2
    refused = capsys.readouterr().err
    assert "--set run.epochs=9: a resumed demo keeps the settings it was started with" in refused
    assert "run.threads" in refused and "run.name" not in refused  # the demo names its runs itself
    assert main(["demo", "--resume", str(out), "--no-progress", "--set", "run.threads=1"]) == 0  # how it runs
    printed = capsys.readouterr().out
    assert "CE: finished earlier" in printed and "resuming SAT after epoch 2 of 4 ..." in printed and "SAT − CE" in printed
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["resumed"] is True and summary["runs"]["SAT"]["epochs"] == 4
    assert (out / "demo_accuracy.png").exists()
    assert main(["demo", "--resume", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"satlearn: error: --resume {out}: the demo already finished; nothing "
                                              "to resume")
    assert main(["train", "--resume", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: --resume {out}: the output of a finished demo, not "
                                               "one run's directory; nothing to resume (see demo_summary.json)")
    assert main(["demo", "--resume", str(tmp_path / "erm-only")]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: --resume {tmp_path / 'erm-only'}: no such demo output "
                                       "directory\n")
    (tmp_path / "older").mkdir()
    assert main(["demo", "--resume", str(tmp_path / "older")]) == 2
    assert capsys.readouterr().err.startswith(
        f"satlearn: error: --resume {tmp_path / 'older'}: holds no demo_request.json, so the settings its demo was "
        "started with are unknown; finish its runs with satlearn train --resume")


def test_wrong_labels_in_a_csv_lead_back_to_its_rows(tmp_path, capsys):
    # a drawn training split: the CSV's rows are not the run's examples, so every per-example file names its row
    rng = np.random.default_rng(0)
    names = ["cat", "dog", "eel"]
    true = np.arange(300) % 3
    x = rng.normal(0, 3, (3, 4))[true] + rng.normal(0, 0.5, (300, 4))
    data = tmp_path / "animals.csv"
    data.write_text("a,b,c,d,species\n" + "".join(f"{','.join(f'{v:.4f}' for v in row)},{names[label]}\n"
                                                  for row, label in zip(x, true)))
    wrong = np.zeros(300, dtype=bool)
    wrong[rng.choice(300, 60, replace=False)] = True
    given = np.where(wrong, (true + 1) % 3, true)
    np.savetxt(tmp_path / "given.txt", given, fmt="%d")  # one label per CSV row, as the user knows them
    run = tmp_path / "run"
    overrides = [f"data.root={data}", "data.source=csv", "data.label_column=species", "data.noise.kind=file",
                 f"data.noise.file={tmp_path / 'given.txt'}", "model.name=mlp", "run.epochs=12",
                 "method.start_epoch=3", "run.progress=false", "run.device=cpu", "optim.lr=0.05"]
    assert main(["train", "--run-dir", str(run), *sets(overrides)]) == 0
    assert main(["find-issues", str(run)]) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader((run / "label_issues.csv").open()))
    first = next(row for row in rows if row["rank"] == "1")  # the most suspicious, named as the user finds it
    assert (f"flagged, most likely wrong first:\n  source_row {first['source_row']}: given {first['given_class']} → suggested "
            f"{first['suggested_class']} (score {float(first['score']):.3f})") in printed
    assert len(rows) == 240
    for row in rows:
        source_row = int(row["source_row"])
        assert int(row["given_label"]) == given[source_row] and row["given_class"] == names[given[source_row]]
        assert row["suggested_class"] == names[int(row["suggested_label"])]
    flagged = [int(row["source_row"]) for row in rows if row["flagged"] == "1"]
    assert len(flagged) > 20 and wrong[flagged].mean() > 0.9  # the rows found are the rows made wrong
    refined = list(csv.DictReader((run / "refined_labels.csv").open()))
    assert [r["source_row"] for r in refined] == [r["source_row"] for r in rows]
    assert all(r["refined_class"] == names[int(r["refined_label"])] for r in refined)


def test_a_read_only_run_directory_is_named_and_eval_writes_elsewhere(tmp_path, capsys, monkeypatch):
    import errno
    import os

    from satlearn.engine import checkpoint

    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path))]) == 0
    real_open = os.open

    def read_only_run(path, *args, **kwargs):  # a run directory on a read-only mount
        if str(path).startswith(str(run)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.os, "open", read_only_run)
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {run / 'eval.json'}: Read-only file system "
                                               "(--out writes the outputs elsewhere)")
    assert main(["find-issues", str(run)]) == 2
    assert capsys.readouterr().err.strip().endswith("label_issues.csv: Read-only file system (--out writes the "
                                                    "outputs elsewhere)")
    assert main(["eval", str(run), "--out", str(tmp_path / "results" / "eval.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "results" / "eval.json").read_text()) == printed
    (tmp_path / "folder").mkdir()  # a folder, existing or ending in /, gets eval.json
    for folder in (str(tmp_path / "folder"), f"{tmp_path / 'new'}/"):
        assert main(["eval", str(run), "--out", folder]) == 0
        assert json.loads((tmp_path / folder / "eval.json").read_text()) == json.loads(capsys.readouterr().out)


def test_a_run_stopped_before_its_first_checkpoint_is_told_so(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("run:\n  epochs: 3\n")  # what a run in its first epoch has written
    np.savez(run / "labels.npz", labels=np.zeros(4, dtype=np.int64), clean_labels=np.zeros(4, dtype=np.int64),
             class_names=np.array(["a", "b"]))
    for command in ("eval", "selective-eval"):
        assert main([command, str(run)]) == 2
        assert capsys.readouterr().err.strip() == (f"satlearn: error: {run}: no checkpoint written yet (a run in "
                                                   "its first epochs, or one stopped before its first checkpoint)")
    (run / "labels.npz").unlink()  # a folder of the user's own with a config.yaml: not taken for a run
    assert main(["eval", str(run)]) == 2
    assert "no checkpoint here (is" in capsys.readouterr().err


def test_a_run_directory_that_does_not_exist_is_named_as_such(tmp_path, capsys):
    nowhere = tmp_path / "nowhere"
    assert main(["eval", str(nowhere)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {nowhere}: no such directory; expected a satlearn "
                                               "run directory")
    assert main(["train", "--resume", str(nowhere)]) == 2
    assert capsys.readouterr().err.strip() == f"satlearn: error: --resume {nowhere}: no such run directory"



@pytest.mark.parametrize("command", [["eval"], ["compare"], ["selective-eval"], ["find-issues"], ["train", "--resume"],
                                     ["demo", "--resume"]])
def test_a_file_given_for_a_run_directory_is_named_a_file_not_missing(tmp_path, capsys, command):
    # a run's own file given for the run, a likely slip: "no such directory" would send one looking for a path there is
    given = tmp_path / "checkpoint.pt"
    given.write_bytes(b"")
    assert main([*command, str(given)]) == 2
    err = capsys.readouterr().err
    assert f"{given}: is a file, not a" in err and "no such" not in err


@pytest.mark.parametrize("command, option", [("train", "--resume"), ("train", "--run-dir"), ("demo", "--out"),
                                             ("demo", "--resume")])
def test_an_empty_path_option_is_refused_not_read_as_none_or_the_current_directory(tmp_path, capsys, monkeypatch,
                                                                                    command, option):
    # an unset shell variable: an empty --resume started a new run, an empty --run-dir or --out wrote into the
    # current directory
    monkeypatch.chdir(tmp_path)
    small = ["data.num_samples=400", "model.width=8", "run.epochs=2", "method.start_epoch=1", "run.device=cpu"]
    assert main([command, option, "", "--no-progress", *sets(small)]) == 2
    assert capsys.readouterr().err == f"satlearn: error: {option} is empty; expected a path\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["eval", "selective-eval"])
def test_a_data_root_that_is_not_there_is_refused_not_made(tmp_path, capsys, command):
    # an MNIST-1D run's data.root is its cache: a mistyped --data-root was made, and the data generated into it
    missing = tmp_path / "nowhere"
    assert main([command, str(tmp_path), "--data-root", str(missing)]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: --data-root {missing}: no such file or folder; expected "
                                       "where the run's data are now\n")
    assert not missing.exists()


@pytest.mark.parametrize("argv, named", [
    (["eval", ""], "RUN_DIR"), (["eval", "RUN", "--data-root", ""], "--data-root"),
    (["eval", "RUN", "--out", ""], "--out"), (["compare", "RUN", ""], "RUN_DIR"),
    (["compare", "RUN", "--out", ""], "--out"), (["selective-eval", ""], "RUN_DIR"),
    (["selective-eval", "RUN", "--data-root", ""], "--data-root"), (["find-issues", ""], "RUN_DIR"),
    (["find-issues", "--config", ""], "--config"), (["train", "--config", ""], "--config"),
])
def test_an_empty_path_argument_of_any_command_is_named_as_such(tmp_path, capsys, monkeypatch, argv, named):
    # an empty --data-root was ignored, and an empty run directory was read as the current one
    monkeypatch.chdir(tmp_path)
    (tmp_path / "RUN").mkdir()
    assert main(argv) == 2
    assert capsys.readouterr().err == f"satlearn: error: {named} is empty; expected a path\n"


@pytest.mark.parametrize("command, takes", [
    ("eval", "a JSON file or a folder (eval prints its JSON on stdout as well)"), ("compare", "a plot file or a folder"),
    ("selective-eval", "an output folder"), ("find-issues", "an output folder"), ("demo", "an output folder"),
])
def test_an_out_of_a_dash_is_refused_not_written_as_a_file_named_dash(tmp_path, capsys, monkeypatch, finished_sat_run,
                                                                      command, takes):
    # - is stdout by convention: eval wrote its JSON into a file named - in the current directory, compare its PNG
    monkeypatch.chdir(tmp_path)
    given = [] if command == "demo" else [str(finished_sat_run)]
    small = ["data.num_samples=400", "model.width=8", "run.epochs=2", "method.start_epoch=1", "run.device=cpu"]
    assert main([command, *given, "--out", "-", *(sets(small) if command == "demo" else [])]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"satlearn: error: --out -: expected {takes}, not stdout; for one named -, give ./-\n"
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def test_a_run_dir_of_a_dash_is_refused_not_made_a_folder_named_dash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "-c", "mnist1d_sat", "--run-dir", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.err == ("satlearn: error: --run-dir -: expected a run directory, not stdout; for one named -, "
                            "give ./-\n")
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def train_then_move_its_data(tmp_path, capsys, data, moved, *overrides):
    """A 3-epoch run (a checkpoint after each) in tmp_path/run trained on ``data``, which then moves to ``moved``;
    returns the run and the overrides it trained with, with the output so far read away."""
    overrides = tiny_overrides(tmp_path, f"data.root={data}", "model.name=mlp", "run.epochs=3",
                               "run.checkpoint_every=1", *overrides)
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *sets(overrides)]) == 0
    data.rename(moved)
    capsys.readouterr()
    return run, overrides


def test_a_find_issues_runs_moved_data_are_named_with_the_option_that_points_to_where_they_are_now(tmp_path, capsys):
    # find-issues --config hands fit the splits its source loaded: a run whose source's data moved is found again as
    # any run is, with --data-root, which the error names beside giving splits of one's own again
    rng = np.random.default_rng(0)
    data, moved = tmp_path / "data.npz", tmp_path / "moved.npz"
    np.savez(data, x_train=rng.normal(size=(60, 5)), y_train=np.arange(60) % 2, x_test=rng.normal(size=(20, 5)),
             y_test=np.arange(20) % 2)
    config = tmp_path / "issues.yaml"
    config.write_text("{}\n")
    run = tmp_path / "runs" / "issues"
    overrides = tiny_overrides(tmp_path / "runs", "data.source=npz", f"data.root={data}", "model.name=mlp",
                               "run.name=issues", "run.epochs=3")
    assert main(["find-issues", "--config", str(config), "--no-progress", *sets(overrides)]) == 0
    data.rename(moved)
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"satlearn: error: {run}: trained on splits given to fit(dataset=...) (in Python, or by "
                          f"find-issues --config), which its data.source (npz) does not load (npz: there is no file "
                          f"{data} ("), err
    assert err.endswith("; or give where the run's data are now with --data-root PATH") and "\n" not in err, err
    assert main(["eval", str(run), "--data-root", str(moved)]) == 0


def test_a_runs_moved_data_are_named_with_the_option_that_points_to_where_they_are_now(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "data.npz"
    np.savez(data, x_train=rng.normal(size=(60, 5)), y_train=np.arange(60) % 2, x_test=rng.normal(size=(20, 5)),
             y_test=np.arange(20) % 2)
    moved = tmp_path / "moved.npz"
    run, _ = train_then_move_its_data(tmp_path, capsys, data, moved, "data.source=npz", "model.num_classes=2")
    assert main(["eval", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"satlearn: error: npz: there is no file {data} (expected a .npz file with x_train, y_train, x_test, y_test); "
        "or give where the run's data are now with --data-root PATH")
    assert main(["eval", str(run), "--data-root", str(moved)]) == 0
    (run / "summary.json").unlink()  # as a run cut off after its last checkpoint
    assert main(["train", "--resume", str(run)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "; or give where the run's data are now with --set data.root=PATH")
    assert main(["train", "--resume", str(run), "--set", f"data.root={moved}"]) == 0


def test_sigterm_to_the_whole_process_group_with_loader_workers_stops_as_ctrl_c_does(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from fixtures import write_fake_cifar10

    root = write_fake_cifar10(tmp_path, per_batch=40)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "satlearn.cli", "train", "--config", str(Path(__file__).parents[1] / "configs" / "cifar10_sat.yaml"),
               "--run-dir", str(run), "--no-progress", *sets([
                   f"data.root={root}", "data.pipeline=reference", "data.workers=2", "run.compile=false",
                   "run.device=cpu", "run.threads=1", "model.name=resnet18", "model.width=2", "run.epochs=1000",
                   "run.checkpoint_every=1", "method.start_epoch=1"])]
    # a session of its own: its process group holds the command and its loader workers, as a job's does
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoint.pt").exists() or len(_children(job.pid)) < 2:  # workers at work
            assert job.poll() is None and time.monotonic() < deadline, job.communicate()
            time.sleep(0.05)
        os.killpg(job.pid, signal.SIGTERM)  # as a scheduler, `timeout` or `kill -TERM -PGID` does
        _, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == 143, err
    assert "Traceback" not in err and "killed by signal" not in err, err
    assert err.strip().splitlines()[-1].startswith("satlearn: interrupted; the checkpoint after epoch ")


def test_ctrl_c_while_loader_workers_start_stops_the_run_as_it_stops_at_any_other_time(tmp_path):
    # Ctrl-C reaches the whole foreground process group: the command, and the loader worker it is forking right
    # then. Python runs the command's handler in the functions that run after a fork (logging registers one),
    # where the KeyboardInterrupt was lost: the run went on, to its end, or failed with torch's error on finding
    # its worker gone.
    # Here the signal is sent from such a function, as the first worker after the first checkpoint starts.
    import signal
    import subprocess
    import sys

    run = tmp_path / "run"
    script = f"""
import os, pathlib, signal, sys, threading, time
checkpoint = pathlib.Path({str(run)!r}) / "checkpoint.pt"
sent = []
def ctrl_c_as_a_worker_starts():
    if checkpoint.exists() and not sent:
        sent.append(1)
        os.killpg(0, signal.SIGINT)
        for _ in range(100):  # time for the thread below to take it, where it does
            time.sleep(0.01)
os.register_at_fork(after_in_parent=ctrl_c_as_a_worker_starts)
# a thread that takes the signal where the forking one holds it back, as a checkpoint writer's or torch's may
threading.Thread(target=threading.Event().wait, daemon=True).start()
from satlearn.cli import command_line
sys.argv[0] = "satlearn"
command_line()
"""
    train = ["train", "--config", "mnist1d_sat", "--run-dir", str(run), "--no-progress", *sets([
        "method.name=erm", "data.num_samples=200", "data.pipeline=reference", "data.workers=1", "run.epochs=3",
        "run.threads=1"])]

    def as_from_a_terminal():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    # a session of its own: its process group holds the command and its loader workers, as a terminal's does
    done = subprocess.run([sys.executable, "-c", script, *train], capture_output=True, text=True, timeout=120,
                          start_new_session=True, preexec_fn=as_from_a_terminal)
    assert done.returncode == -signal.SIGINT, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]  # (the checkpoint after epoch 1, or 2 where it is written later)
    assert last.startswith("satlearn: interrupted; the checkpoint after epoch "), done.stderr
    assert last.endswith(f" is kept: resume with satlearn train --resume {run}"), done.stderr
    resumed = subprocess.run([sys.executable, "-m", "satlearn", "train", "--resume", str(run), "--no-progress"],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert (run / "summary.json").exists()


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_a_run_started_again_in_place_keeps_no_metrics_of_the_attempt_before(tmp_path, capsys, monkeypatch):
    # a run stopped before its first checkpoint starts again in its directory; the epochs the stopped attempt
    # logged are not this run's, so they must not stay beside its new config.yaml (compare would show them)
    run = tmp_path / "run"
    overrides = sets(tiny_overrides(tmp_path, "run.epochs=4", "run.checkpoint_every=4"))
    interrupt_sat_in(monkeypatch, 2)
    assert main(["train", "--run-dir", str(run), *overrides]) == 130
    assert "nothing to resume, start the run again" in capsys.readouterr().err
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2  # the stopped attempt's epochs 1 and 2
    interrupt_sat_in(monkeypatch, 0)
    assert main(["train", "--run-dir", str(run), *overrides, "--set", "optim.lr=0.001"]) == 130
    assert "nothing to resume, start the run again" in capsys.readouterr().err
    assert "lr: 0.001" in (run / "config.yaml").read_text()
    assert not (run / "metrics.jsonl").exists() and not (run / "metrics.csv").exists()


def test_moved_cifar_data_of_a_run_are_not_offered_a_download_the_command_cannot_do(tmp_path, capsys):
    # eval and selective-eval take no --set, and --resume refuses a changed data.download: for a run's moved CIFAR
    # data, "set data.download=true" would only lead to another error; the option that points at them is the hint
    from fixtures import write_fake_cifar10

    folder = write_fake_cifar10(tmp_path / "data")
    run, overrides = train_then_move_its_data(tmp_path, capsys, folder, tmp_path / "moved", "data.source=cifar10")
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.download" not in err and err.endswith("; or give where the run's data are now with --data-root PATH")
    assert main(["eval", str(run), "--data-root", str(tmp_path / "elsewhere")]) == 2
    assert "data.download" not in capsys.readouterr().err
    (run / "summary.json").unlink()  # as a run cut off after its last checkpoint
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.download" not in err and err.endswith("with --set data.root=PATH")
    # a new run is still told that it can fetch the data
    assert main(["train", "--run-dir", str(tmp_path / "new"), *sets(overrides)]) == 2
    assert capsys.readouterr().err.strip().endswith("; set data.download=true to fetch it")


def test_a_resumed_run_records_the_place_it_resumed_in_and_no_other(tmp_path, capsys):
    import shutil

    from satlearn.config import load_config
    from satlearn.engine import fit
    from satlearn.engine.checkpoint import load_checkpoint

    run = tmp_path / "first"
    fit(load_config(None, tiny_overrides(tmp_path, "run.name=first")), run, stop_after_epoch=1, log=lambda m: None)
    moved = tmp_path / "elsewhere" / "second"  # a stopped run moved to another folder, under another name
    moved.parent.mkdir()
    shutil.move(run, moved)
    for key in ("run.name=zzz", "run.out_dir=/nowhere"):
        assert main(["train", "--resume", str(moved), "--set", key]) == 2
        assert capsys.readouterr().err.strip() == (f"satlearn: error: --set {key}: a resumed run stays in {moved}, "
                                                   "whose folder and name are its run.out_dir and run.name")
    assert main(["train", "--resume", str(moved)]) == 0
    saved = load_checkpoint(moved)["config"]["run"]
    assert (saved["out_dir"], saved["name"]) == (str(moved.parent.resolve()), "second")
    assert f"out_dir: {moved.parent.resolve()}" in (moved / "config.yaml").read_text()


USER_MODEL = '''
import math

from torch import nn

from satlearn.models import MODELS


@MODELS.register("user_mlp")
def user_mlp(num_classes, *, input_shape, width=None):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width or 8), nn.ReLU(),
                         nn.Linear(width or 8, num_classes))
'''


def test_import_brings_a_model_of_your_own_to_training_resuming_and_the_resume_hint(tmp_path, capsys, monkeypatch):
    import sys

    from satlearn.models import MODELS

    package = tmp_path / "user_plugins"  # a folder without __init__.py: a namespace package, as most users' are
    package.mkdir()
    (package / "user_model.py").write_text(USER_MODEL)
    (package / "needs_more.py").write_text("import satlearn_absent_dependency\n")
    monkeypatch.chdir(tmp_path)
    # as the installed satlearn script starts: the current directory is not on sys.path
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", str(tmp_path))])
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    run = tmp_path / "run"
    overrides = sets(tiny_overrides(tmp_path, "run.epochs=4", "model.name=user_mlp"))
    try:
        assert main(["train", "--run-dir", str(run), *overrides]) == 2  # not imported: the error says how
        assert "satlearn --import MODULE" in capsys.readouterr().err
        interrupt_sat_in(monkeypatch, 2)
        assert main(["--import", "user_plugins/user_model.py", "train", "--run-dir", str(run), *overrides]) == 130
        assert capsys.readouterr().err.strip().endswith(
            f"resume with satlearn --import user_plugins/user_model.py train --resume {run}")
        monkeypatch.setattr(SAT, "training_step", SAT_TRAINING_STEP)
        assert main(["--import", "user_plugins.user_model", "train", "--resume", str(run), "--no-progress"]) == 0
        assert json.loads((run / "summary.json").read_text())["model"] == "user_mlp"
        capsys.readouterr()
        for module, message in (
                ("satlearn_absent_module", "--import satlearn_absent_module: no module named "
                 f"'satlearn_absent_module' (looked in {tmp_path} and on PYTHONPATH)"),
                ("user_plugins.needs_more", "--import user_plugins.needs_more: no module named "
                 "'satlearn_absent_dependency'"),
                ("../elsewhere.py", "--import ../elsewhere.py: expected a module name or a .py file under the "
                 "current directory")):
            assert main(["--import", module, "eval", str(run)]) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"satlearn: error: {message}") and "\n" not in err
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "user_plugins"]:
            del sys.modules[name]


def test_import_takes_a_py_file_under_the_current_directory_by_its_absolute_path_too(tmp_path, monkeypatch):
    from satlearn.cli import _module_name
    from satlearn.errors import ConfigError

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "my_methods.py").write_text("")
    monkeypatch.chdir(tmp_path / "plugins")
    assert _module_name(str(tmp_path / "plugins" / "my_methods.py")) == "my_methods"
    monkeypatch.chdir(tmp_path)
    for given in (str(tmp_path / "plugins" / "my_methods.py"), "plugins/my_methods.py",
                  "plugins/../plugins/my_methods.py"):
        assert _module_name(given) == "plugins.my_methods"
    monkeypatch.chdir(tmp_path / "plugins")
    outside = str(tmp_path / "elsewhere.py")
    with pytest.raises(ConfigError, match=rf"^--import {re.escape(outside)}: expected a module name or a \.py file "
                                          "under the current directory"):
        _module_name(outside)


def test_find_issues_takes_a_method_of_ones_own_that_keeps_soft_targets_as_its_help_says(tmp_path, capsys,
                                                                                         method_with_settings):
    with pytest.raises(SystemExit):
        main(["find-issues", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "run directory to reuse, of a method that keeps soft targets (sat, selective_sat, or a TargetsMethod of " \
           "your own)" in help_text
    assert "train this config first (method.name sat, selective_sat, or a TargetsMethod of your own" in help_text
    # as train's --config, it takes a recipe satlearn ships by its name, as the README says
    assert "the name of a recipe satlearn ships (mnist1d_sat, cifar10_sat, ...)" in help_text
    config = tmp_path / "own.yaml"
    config.write_text("method:\n  name: label_smoothing\n")
    out = tmp_path / "issues"
    assert main(["find-issues", "--config", str(config), "--out", str(out), "--no-progress",
                 *sets(tiny_overrides(tmp_path))]) == 0
    assert (out / "label_issues.csv").exists()


def test_import_of_a_py_file_named_as_a_module_python_has_imported_already_says_so(tmp_path, capsys, monkeypatch):
    import types

    monkeypatch.chdir(tmp_path)
    (tmp_path / "types.py").write_text("raise AssertionError('Python imports its own types module, not this one')\n")
    assert main(["--import", "types.py", "eval", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"satlearn: error: --import types.py: the module name 'types' is taken by {types.__file__}, which Python "
        "imports instead of this file; give the file another name")
    (tmp_path / "types.py").unlink()
    assert main(["--import", "types.py", "eval", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "satlearn: error: --import types.py: no such file"


def test_import_of_a_py_file_named_as_a_module_built_into_python_says_so(tmp_path, capsys, monkeypatch):
    import sys

    # a built-in module (time, gc, itertools) has no __file__ to compare the file with: it is not the file either
    monkeypatch.chdir(tmp_path)
    (tmp_path / "time.py").write_text("raise AssertionError('Python imports its own time module, not this one')\n")
    assert main(["--import", "time.py", "eval", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "satlearn: error: --import time.py: the module name 'time' is taken by Python's built-in module, which "
        "Python imports instead of this file; give the file another name")
    (tmp_path / "absent_plugins").mkdir()  # a folder without __init__.py imports as a package with no file
    try:
        assert main(["--import", "absent_plugins.py", "eval", str(tmp_path)]) == 2
    finally:
        sys.modules.pop("absent_plugins", None)
    assert capsys.readouterr().err.strip() == "satlearn: error: --import absent_plugins.py: no such file"


def test_find_issues_config_into_a_run_directory_that_holds_a_run_says_how_to_use_that_run(tmp_path, capsys,
                                                                                          monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("run:\n  name: mine\n")
    run = tmp_path / "mine"
    assert main(["find-issues", "--config", str(config), *sets(tiny_overrides(tmp_path))]) == 0
    capsys.readouterr()
    # find-issues has no --resume: the finished run is reused by naming it
    assert main(["find-issues", "--config", str(config), *sets(tiny_overrides(tmp_path))]) == 2
    assert capsys.readouterr().err.strip() == (
        f"satlearn: error: {run}: already holds a run; find its wrong labels with satlearn find-issues {run}, or "
        "choose another run.name")
    (run / "summary.json").unlink()  # as a run stopped before its last epoch leaves it
    assert main(["find-issues", "--config", str(config), *sets(tiny_overrides(tmp_path))]) == 2
    unfinished = (f"satlearn: error: {run}: already holds a run; finish it with satlearn train --resume {run}, then "
                  f"run satlearn find-issues {run}, or choose another run.name")
    assert capsys.readouterr().err.strip() == unfinished
    # the same run, its run.out_dir given from the home directory
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / "mine")  # a ~ left unexpanded is looked for here, and holds no run
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("run.out_dir=")]
    assert main(["find-issues", "--config", str(config), *sets([*overrides, "run.out_dir=~/"])]) == 2
    assert capsys.readouterr().err.strip() == unfinished



def test_find_issues_config_into_a_run_named_with_a_tilde_in_the_current_directory_uses_that_folder(
        tmp_path, monkeypatch, capsys):
    # run.out_dir . and run.name ~ make the path ~ to pathlib, which read again would be the home directory
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text("run:\n  out_dir: .\n  name: '~'\n")
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("run.out_dir=")]
    assert main(["find-issues", "--config", str(config), *sets(overrides)]) == 0, capsys.readouterr().err
    assert f"list in {tmp_path / '~' / 'label_issues.csv'}" in capsys.readouterr().out
    assert main(["find-issues", "--config", str(config), *sets(overrides)]) == 2
    run = tmp_path / "~"
    assert capsys.readouterr().err.strip() == (
        f"satlearn: error: {run}: already holds a run; find its wrong labels with satlearn find-issues "
        f"{shlex.quote(str(run))}, or choose another run.name")


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_find_issues_config_into_a_run_directory_another_process_trains_says_so_before_loading_data(
        tmp_path, capsys, monkeypatch):
    # its --resume advice would be refused while the other process trains; one still loading has no checkpoint yet
    import fcntl

    import satlearn.data

    config = tmp_path / "c.yaml"
    config.write_text("run:\n  name: mine\n")
    stopped, loading = tmp_path / "mine", tmp_path / "loading"
    assert main(["train", "--config", str(config), *sets(tiny_overrides(tmp_path, "run.epochs=3"))]) == 0
    (stopped / "summary.json").unlink()  # as a run still training has no summary yet
    loading.mkdir()
    capsys.readouterr()

    def load_dataset(*args, **kwargs):
        raise AssertionError("data loaded for a run directory another process trains")

    monkeypatch.setattr(satlearn.data, "load_dataset", load_dataset)
    for run in (stopped, loading):
        held = os.open(run, os.O_RDONLY)  # the other process's lock (a separate open: flock conflicts in-process)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert main(["find-issues", "--config", str(config),
                         *sets(tiny_overrides(tmp_path, f"run.name={run.name}"))]) == 2
        finally:
            os.close(held)
        assert capsys.readouterr().err.strip() == (
            f"satlearn: error: {run}: another process is training this run; wait for it to finish (or stop it), or "
            "choose another run.name / run directory")


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_train_resume_of_a_run_another_process_still_loads_the_data_of_says_so(tmp_path, capsys):
    import fcntl

    loading = tmp_path / "loading"
    loading.mkdir()  # a run whose process still loads its data: nothing written yet
    held = os.open(loading, os.O_RDONLY)  # the other process's lock (a separate open: flock conflicts in-process)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["train", "--resume", str(loading)]) == 2
    finally:
        os.close(held)
    assert capsys.readouterr().err.strip() == (
        f"satlearn: error: {loading}: another process is training this run; let it finish (or stop it), then resume")
    assert main(["train", "--resume", str(loading)]) == 2  # nobody holds it: an empty folder holds no run
    assert "not a satlearn run directory" in capsys.readouterr().err




@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_reading_a_run_another_process_still_loads_the_data_of_says_so_not_that_it_is_no_run(tmp_path, capsys):
    # a second terminal's command, while the run (minutes on a CIFAR download) has written nothing yet
    import fcntl

    loading = tmp_path / "loading"
    loading.mkdir()
    commands = (["eval"], ["selective-eval"], ["compare"], ["find-issues"])
    held = os.open(loading, os.O_RDONLY)  # the other process's lock (a separate open: flock conflicts in-process)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for command in commands:
            assert main([*command, str(loading)]) == 2
            assert capsys.readouterr().err.strip() == (
                f"satlearn: error: {loading}: another process has started a run here and is still loading its data; "
                "it has written nothing yet"), command
    finally:
        os.close(held)
    assert list(loading.iterdir()) == []
    for command in commands:  # nobody holds it: an empty folder holds no run
        assert main([*command, str(loading)]) == 2
        assert "satlearn run directory" in capsys.readouterr().err, command
def test_import_of_a_py_file_that_is_not_there_or_whose_name_holds_a_dot_says_so(tmp_path, capsys, monkeypatch):
    # an import would look for such a module on PYTHONPATH, and name that ('no module named plugins.absent')
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "more").mkdir()
    (tmp_path / "v1.2").mkdir()
    for name in ("my.methods.py", "v1.2/methods.py"):
        (tmp_path / name).write_text("raise AssertionError('not to be imported')\n")
    for given, message in (
            ("plugins/absent.py", "no such file"),
            ("plugins/methods", "expected a module name (pkg.my_methods) or a .py file (plugins/methods.py)"),
            # a folder is no file plugins/.py: a package in it is imported by its module name
            ("plugins/", "a folder; expected a module name (pkg.my_methods) or a .py file; for the package in it, "
                         "--import plugins"),
            ("plugin/", "no such folder; expected a module name (pkg.my_methods) or a .py file"),  # mistyped
            # a folder named without its closing slash is a folder still
            ("plugins/more", "a folder; expected a module name (pkg.my_methods) or a .py file; for the package in "
                             "it, --import plugins.more"),
            # v1.2 is no package name: --import v1.2 would look for the module 2 of a package v1
            ("v1.2/", "a folder; expected a module name (pkg.my_methods) or a .py file"),
            ("absent.py", "no such file"),
            ("my.methods.py", "'my.methods' holds a dot, which Python's import reads as separating a package from a "
                              "module in it; give it a name without dots"),
            ("v1.2/methods.py", "'v1.2' holds a dot, which Python's import reads as separating a package from a "
                                "module in it; give it a name without dots")):
        assert main(["--import", given, "eval", str(tmp_path)]) == 2
        assert capsys.readouterr().err.strip() == f"satlearn: error: --import {given}: {message}"


def test_import_of_an_empty_or_relative_module_name_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (an unset shell variable gives the empty one)
    for given in ("", ".methods", "plugins..methods", "methods."):
        assert main(["--import", given, "eval", str(tmp_path)]) == 2
        assert capsys.readouterr().err == (f"satlearn: error: --import {given!r}: not a module name; expected a "
                                           "module name (pkg.my_methods) or a .py file\n")


def test_import_of_a_file_that_is_no_python_module_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("run:\n  epochs: 2\n")  # a config given to --import (it was "no module named a")
    assert main(["--import", "a.yaml", "eval", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("satlearn: error: --import a.yaml: a file, but no .py file; expected a module "
                                       "name (pkg.my_methods) or a .py file\n")


def fake_summary(**label_issues):
    """What fit's summary holds for the lines satlearn train prints."""
    timing = {"train_pass_seconds": 8.0, "eval_seconds": 1.5, "setup_seconds": 0.5, "between_epochs_seconds": 0.25,
              "checkpoint_wait_seconds": 0.125, "finish_seconds": 1.0, "resumed": False}
    return {"final_test_accuracy": 0.75, "best_test_accuracy": 0.8125, "best_epoch": 3, "wall_seconds": 12.5,
            "timing": timing, "label_issues": label_issues or None}


def record_fit(monkeypatch, summary):
    """satlearn.engine.fit, which the commands look up when they run, records what it is handed instead of training."""
    from types import SimpleNamespace

    import satlearn.engine

    calls = []

    def fit(config, run_dir=None, *, resume=False, progress=None, **options):
        calls.append({"config": config, "run_dir": run_dir, "resume": resume, "progress": progress})
        return SimpleNamespace(summary=summary, run_dir=Path(run_dir))

    monkeypatch.setattr(satlearn.engine, "fit", fit)
    return calls


def test_train_hands_fit_the_config_its_options_make_and_prints_the_runs_figures(tmp_path, capsys, monkeypatch):
    calls = record_fit(monkeypatch, fake_summary(flagged=7))
    stderr_on_a_terminal(monkeypatch)
    config = tmp_path / "c.yaml"
    config.write_text("run:\n  epochs: 20\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--run-dir", str(run), "--no-progress"]) == 0
    (call,) = calls
    assert (Path(call["run_dir"]), call["resume"]) == (run, False)
    assert (call["config"].run.epochs, call["config"].run.progress) == (20, False)
    assert capsys.readouterr().out.splitlines() == [
        f"final test accuracy 75.00 % (best 81.25 % at epoch 3); 12.5 s; outputs in {run}",
        "time: set-up 0.5 s, training passes 8.0 s, evaluations 1.5 s, between epochs 0.2 s (checkpoints 0.1 s), "
        "final outputs 1.0 s",
        f"labels flagged as wrong: 7 (see {run / 'refined_labels.csv'})"]
    assert main(["train", "--config", str(config), "--run-dir", str(run)]) == 0
    assert calls[-1]["config"].run.progress is True  # the progress bar unless --no-progress


def test_training_commands_whose_stderr_is_no_terminal_show_no_progress_bars(tmp_path, capsys, monkeypatch):
    # a batch job's log file: the bars' redraws would pile up there, and one line per epoch tells how it goes
    calls = record_fit(monkeypatch, fake_summary(flagged=7))
    stderr_on_a_terminal(monkeypatch, False)
    config = tmp_path / "c.yaml"
    config.write_text("run:\n  epochs: 20\n")
    assert main(["train", "--config", str(config), "--run-dir", str(tmp_path / "run")]) == 0
    # hidden for this process's output only: the run's config keeps run.progress as given, for a resumption in a
    # terminal to show the bars
    assert (calls[-1]["progress"], calls[-1]["config"].run.progress) == (False, True)
    # asked for by name, the bars are drawn anyway
    assert main(["train", "--config", str(config), "--run-dir", str(tmp_path / "run"),
                 "--set", "run.progress=true"]) == 0
    assert (calls[-1]["progress"], calls[-1]["config"].run.progress) == (None, True)
    # --no-progress is asked for: the run records it, as a --set of run.progress
    assert main(["train", "--config", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    assert (calls[-1]["progress"], calls[-1]["config"].run.progress) == (None, False)
    summary = demo_summary(final=0.5, best=0.5, best_epoch=1, wall=1.0)
    training = FakeDemoTraining(monkeypatch, {"erm": summary, "sat": summary})
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert [(call["progress"], call["config"].run.progress) for call in training.calls] == [(False, True)] * 2


def test_train_resume_takes_a_config_given_with_it_and_a_run_of_no_soft_targets_prints_no_flagged_line(
        tmp_path, capsys, monkeypatch):
    calls = record_fit(monkeypatch, fake_summary())
    run = tmp_path / "runs" / "stopped"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("method:\n  name: erm\nrun:\n  epochs: 5\n")
    (run / "checkpoint.pt").write_bytes(b"")
    assert main(["train", "--resume", str(run)]) == 0
    assert (calls[-1]["config"].method.name, calls[-1]["config"].run.epochs, calls[-1]["resume"]) == ("erm", 5, True)
    assert "labels flagged" not in capsys.readouterr().out
    other = tmp_path / "other.yaml"  # the run's config is the default; a --config given is read instead
    other.write_text("method:\n  name: erm\nrun:\n  epochs: 8\n")
    assert main(["train", "--resume", str(run), "--config", str(other)]) == 0
    resumed = calls[-1]["config"]
    assert (resumed.run.epochs, resumed.run.name, resumed.run.out_dir) == (8, "stopped", str(run.parent.resolve()))


def test_resume_existing_starts_a_run_resumes_it_and_then_says_it_has_finished(tmp_path, capsys, monkeypatch):
    # a batch job's one command, run again after each preemption or requeue
    run = tmp_path / "job"
    command = ["train", "--run-dir", str(run), "--resume-existing",
               *sets(tiny_overrides(tmp_path, "run.epochs=3", "run.checkpoint_every=1"))]
    interrupt_sat_in(monkeypatch, 2)
    assert main(command) == 130  # no run there: a new one, stopped after its second epoch
    assert "the checkpoint after epoch 2 is kept" in capsys.readouterr().err
    monkeypatch.setattr(SAT, "training_step", SAT_TRAINING_STEP)
    # how it runs may change, as for --resume; what it trains may not: one line naming the keys, the run untouched
    kept = (run / "checkpoint.pt").read_bytes()
    assert main([*command, "--set", "optim.lr=0.5", "--set", "run.seed=3"]) == 2
    err = capsys.readouterr().err
    assert err == (f"satlearn: error: {run}: cannot resume with a different config (optim.lr: run has 0.003, now 0.5; "
                   "run.seed: run has 0, now 3)\n")
    assert (run / "checkpoint.pt").read_bytes() == kept
    assert main([*command, "--set", "run.threads=1"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run} after epoch 2" in out and "final test accuracy" in out
    summary = (run / "summary.json").read_bytes()
    assert [r["after_epoch"] for r in json.loads(summary)["resumptions"]] == [2]
    # finished: said in one line, exit status 0, nothing written
    finished = f"{run}: the run has finished; nothing left to train (its results are in summary.json)\n"
    assert main(command) == 0
    assert capsys.readouterr() == (finished, "")
    assert (run / "summary.json").read_bytes() == summary
    assert main([*command, "--set", "run.seed=3"]) == 2  # another training than the finished run's
    assert "cannot resume with a different config (run.seed: run has 0, now 3)" in capsys.readouterr().err
    # a finished run whose checkpoint was removed to save room is still finished, judged by its config.yaml
    (run / "checkpoint.pt").unlink()
    assert main(command) == 0
    assert capsys.readouterr() == (finished, "")
    assert main([*command, "--set", "run.seed=3"]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: {run}: holds a finished run of a different config "
                                       "(run.seed: run has 0, now 3)\n")
    assert (run / "summary.json").read_bytes() == summary


def test_resume_existing_starts_again_a_run_stopped_before_its_first_checkpoint(tmp_path, capsys, monkeypatch):
    run = tmp_path / "job"
    command = ["train", "--run-dir", str(run), "--resume-existing",
               *sets(tiny_overrides(tmp_path, "run.epochs=3", "run.checkpoint_every=3"))]
    interrupt_sat_in(monkeypatch, 1)
    assert main(command) == 130
    assert "nothing to resume, start the run again" in capsys.readouterr().err
    assert (run / "config.yaml").exists() and not (run / "checkpoint.pt").exists()
    monkeypatch.setattr(SAT, "training_step", SAT_TRAINING_STEP)
    # nothing trained is kept: the run starts again, with this config (a changed one too), as a new run
    assert main([*command, "--set", "optim.lr=0.05"]) == 0
    assert "resuming" not in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumptions"] == [] and "lr: 0.05" in (run / "config.yaml").read_text()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3


def test_resume_existing_needs_a_run_directory_that_stays_and_is_no_resume(tmp_path, capsys, monkeypatch):
    calls = record_fit(monkeypatch, fake_summary())
    assert main(["train", "--resume-existing"]) == 2  # run.name null: a new time-stamped run each time
    assert capsys.readouterr().err == ("satlearn: error: --resume-existing needs the run's directory: give --run-dir "
                                       "DIR or a run.name (without one each start would be a new time-stamped run)\n")
    # named by run.out_dir/run.name instead of --run-dir
    assert main(["train", "--resume-existing", "--set", f"run.out_dir={tmp_path}", "--set", "run.name=named"]) == 0
    assert (Path(calls[-1]["run_dir"]), calls[-1]["resume"]) == (tmp_path / "named", False)
    (tmp_path / "named").mkdir()
    (tmp_path / "named" / "checkpoint.pt").write_bytes(b"")
    assert main(["train", "--resume-existing", "--set", f"run.out_dir={tmp_path}", "--set", "run.name=named"]) == 0
    assert (Path(calls[-1]["run_dir"]), calls[-1]["resume"]) == (tmp_path / "named", True)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main(["train", "--resume", str(tmp_path / "named"), "--resume-existing"])
    assert refused.value.code == 2
    assert capsys.readouterr().err == ("satlearn train: error: argument --resume-existing: not allowed with argument "
                                       "--resume (options: satlearn train --help)\n")


@pytest.mark.parametrize("other", ["stopped", "finished"])
def test_resume_existing_goes_on_with_a_run_whose_checkpoint_came_between_its_look_and_the_lock(tmp_path, capsys,
                                                                                                monkeypatch, other):
    import satlearn.engine
    from satlearn.config import load_config

    run = tmp_path / "job"
    # "finished": a run checkpointed at its end only, whose first checkpoint is its last
    overrides = tiny_overrides(tmp_path, "run.epochs=2", *(["run.checkpoint_every=2"] if other == "finished" else []))
    real_fit, resumed = satlearn.engine.fit, []

    def fit_as_another_process_lets_the_run_go(config, run_dir=None, **options):
        resumed.append(options.get("resume", False))
        if len(resumed) == 1:  # another process, in the instant after the look: the run's first checkpoint, and exit
            real_fit(load_config(None, overrides), run_dir, stop_after_epoch=1 if other == "stopped" else None,
                     log=lambda m: None)
        return real_fit(config, run_dir, **options)

    monkeypatch.setattr(satlearn.engine, "fit", fit_as_another_process_lets_the_run_go)
    assert main(["train", "--run-dir", str(run), "--resume-existing", *sets(overrides)]) == 0
    printed = capsys.readouterr()
    assert resumed == [False, True] and "already holds" not in printed.err
    if other == "stopped":
        assert f"resuming {run} after epoch 1" in printed.out and "final test accuracy" in printed.out
        assert [r["after_epoch"] for r in json.loads((run / "summary.json").read_text())["resumptions"]] == [1]
    else:
        assert printed.out == f"{run}: the run has finished; nothing left to train (its results are in summary.json)\n"


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs there are not locked")
def test_resume_existing_leaves_a_run_another_process_trains_alone(tmp_path, capsys):
    import fcntl

    stopped, loading = tmp_path / "stopped", tmp_path / "loading"
    assert main(["train", "--run-dir", str(stopped), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 0
    (stopped / "summary.json").unlink()  # as a run still training has no summary yet
    loading.mkdir()  # nothing written yet: its process loads the data
    capsys.readouterr()
    for run, advice in ((stopped, "let it finish (or stop it), then resume"),
                        (loading, "wait for it to finish (or stop it), or choose another run.name / run directory")):
        held = os.open(run, os.O_RDONLY)  # the other process's lock (a separate open: flock conflicts in-process)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert main(["train", "--run-dir", str(run), "--resume-existing",
                         *sets(tiny_overrides(tmp_path, "run.epochs=2"))]) == 2
        finally:
            os.close(held)
        assert capsys.readouterr().err == f"satlearn: error: {run}: another process is training this run; {advice}\n"
    assert sorted(path.name for path in loading.iterdir()) == []


def test_a_new_run_refused_in_an_unfinished_runs_directory_names_the_command_that_resumes_it(tmp_path, capsys):
    run = tmp_path / "my run"
    command = ["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path, "run.epochs=2"))]
    assert main(command) == 0
    (run / "summary.json").unlink()  # as a run stopped before its outputs
    capsys.readouterr()
    assert main(command) == 2
    assert capsys.readouterr().err == (
        f"satlearn: error: {run}: already holds an unfinished run; resume it with satlearn train --resume "
        f"'{run}' (or start or resume alike with --resume-existing), or choose another run.name / run directory\n")


def test_a_run_that_hid_its_bars_for_a_log_file_shows_them_when_resumed_in_a_terminal(tmp_path, capsys, monkeypatch):
    # no terminal is where the output went, not a setting of the run: the run's config does not keep it
    from satlearn.config import load_config
    from satlearn.engine.checkpoint import load_checkpoint

    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(tmp_path, "run.epochs=2") if not o.startswith("run.progress")]
    stderr_on_a_terminal(monkeypatch, False)
    assert main(["train", "--run-dir", str(run), *sets(overrides)]) == 0
    assert "epoch 1/2" in capsys.readouterr().out  # one line per epoch instead of the bars
    assert load_config(run / "config.yaml").run.progress is True
    assert load_checkpoint(run)["config"]["run"]["progress"] is True
    (run / "summary.json").unlink()  # as a run stopped before its outputs, to be resumed
    calls = record_fit(monkeypatch, fake_summary())
    stderr_on_a_terminal(monkeypatch)
    assert main(["train", "--resume", str(run)]) == 0
    assert (calls[-1]["progress"], calls[-1]["config"].run.progress) == (None, True)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # asked for, the bars are hidden
    assert calls[-1]["config"].run.progress is False


def test_a_config_file_with_a_tagged_value_that_does_not_fit_its_tag_is_one_line_naming_its_line(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("method:\n  name: erm\noptim:\n  lr: !!float abc\n")
    (run / "checkpoint.pt").write_bytes(b"")
    for given in (["--resume", str(run)], ["--config", str(run / "config.yaml")]):
        assert main(["train", *given]) == 2
        assert capsys.readouterr().err == (f"satlearn: error: {run / 'config.yaml'}: not valid YAML at line 4 (!!float "
                                           "abc: expected a number such as 0.5, 1e-3 or .inf)\n")


def test_resume_of_a_run_stopped_before_its_first_checkpoint_says_there_is_nothing_to_resume(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("method:\n  name: erm\n")  # written before the first epoch ends
    assert main(["train", "--resume", str(run)]) == 2
    assert capsys.readouterr().err.strip() == f"satlearn: error: {run}: nothing to resume (no checkpoint.pt)"


def test_find_issues_takes_a_run_or_a_config_and_not_both(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    for given in ([], [str(tmp_path), "--config", str(config)]):
        assert main(["find-issues", *given]) == 2
        assert capsys.readouterr().err.strip() == ("satlearn: error: find-issues needs either a RUN_DIR to reuse or "
                                                   "--config FILE to train (not both)")


def test_find_issues_names_the_last_set_that_chose_the_method(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("method:\n  name: sat\n")
    assert main(["find-issues", "--config", str(config), "--set", "method.name=sat", "--set", "method.name=erm"]) == 2
    assert capsys.readouterr().err.startswith("satlearn: error: --set method.name=erm: find-issues needs a method "
                                              "that keeps soft targets")


def test_find_issues_no_progress_reaches_the_data_loading(tmp_path, capsys, monkeypatch):
    import satlearn.data
    from satlearn.errors import DataError

    seen = []

    def load_dataset(config, *, progress=True):
        seen.append(progress)
        raise DataError("stopped here")

    monkeypatch.setattr(satlearn.data, "load_dataset", load_dataset)
    stderr_on_a_terminal(monkeypatch)
    config = tmp_path / "c.yaml"
    config.write_text(f"run:\n  out_dir: {tmp_path}\n")
    for options, progress in (([], True), (["--no-progress"], False)):
        assert main(["find-issues", "--config", str(config), *options]) == 2
        assert capsys.readouterr().err.strip() == "satlearn: error: stopped here"
        assert seen.pop() is progress
    stderr_on_a_terminal(monkeypatch, False)  # a log file: no bars there
    assert main(["find-issues", "--config", str(config)]) == 2
    assert seen.pop() is False


def test_find_issues_help_says_no_progress_is_for_the_training_of_config(capsys):
    # a RUN_DIR reused is scored from its files alone, with no model to load: only its data, read for the picture
    # of the flagged examples, may take long enough for a bar
    with pytest.raises(SystemExit):
        main(["find-issues", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("--no-progress with --config: hide the progress bars (the training's, a data download's) and print one "
            "line per epoch instead; with a RUN_DIR reused, the bar of a long read of its data for the picture of "
            "the flagged examples") in help_text


def test_find_issues_with_an_out_that_is_a_file_stops_before_training(tmp_path, capsys, monkeypatch):
    calls = record_fit(monkeypatch, fake_summary())
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    config = tmp_path / "c.yaml"
    config.write_text(f"run:\n  out_dir: {tmp_path}\n")
    assert main(["find-issues", "--config", str(config), "--out", str(a_file)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err and calls == []


def test_processes_started_alone_are_let_through_whatever_their_world_size_says():
    from satlearn.cli import _check_single_process
    from satlearn.errors import ConfigError

    for alone in ({}, {"WORLD_SIZE": ""}, {"WORLD_SIZE": "0"}, {"WORLD_SIZE": "1"}, {"WORLD_SIZE": " 1 "}):
        _check_single_process(alone)
    with pytest.raises(ConfigError, match="^WORLD_SIZE=4: started as one of several processes"):
        _check_single_process({"WORLD_SIZE": "4"})


def test_the_out_hint_is_given_to_every_command_that_writes_beside_runs_unless_out_was_given():
    import argparse
    import errno

    from satlearn.cli import _out_hint

    read_only = OSError(errno.EROFS, "Read-only file system", "/runs/a/compare.png")
    full = OSError(errno.ENOSPC, "No space left on device", "/runs/a/eval.json")
    hint = " (--out writes the outputs elsewhere)"
    for command in ("eval", "find-issues", "selective-eval", "compare"):
        assert _out_hint(argparse.Namespace(command=command, out=None), read_only) == hint, command
        assert _out_hint(argparse.Namespace(command=command, out=None), full) == hint, command
        assert _out_hint(argparse.Namespace(command=command, out="/elsewhere"), read_only) == "", command
    assert _out_hint(argparse.Namespace(command="train"), read_only) == ""  # train has --run-dir, not --out
    missing = OSError(errno.ENOENT, "No such file or directory", "/runs/a/eval.json")
    assert _out_hint(argparse.Namespace(command="eval", out=None), missing) == ""


def test_compare_hands_its_title_and_out_to_the_comparison(tmp_path, capsys, monkeypatch):
    import satlearn.compare

    calls = []

    def compare_runs(run_dirs, *, out=None, title="", group=True, csv=None):
        calls.append((run_dirs, out, title, group, csv))
        return [], "the table", tmp_path / "compare.png"

    monkeypatch.setattr(satlearn.compare, "compare_runs", compare_runs)
    assert main(["compare", "a", "b", "--title", "CE against SAT", "--out", "plot.svg"]) == 0
    assert main(["compare", "a"]) == 0
    assert main(["compare", "a", "b", "--per-run"]) == 0  # runs of one config drawn with other seeds kept apart
    assert calls == [(["a", "b"], "plot.svg", "CE against SAT", True, None), (["a"], None, "", True, None),
                     (["a", "b"], None, "", False, None)]
    assert capsys.readouterr().out.splitlines() == ["the table", f"plot: {tmp_path / 'compare.png'}"] * 3
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "a", "--csv", "sweep.csv"]) == 0
    assert calls[-1] == (["a"], None, "", True, "sweep.csv")
    assert capsys.readouterr().out.splitlines()[-1] == "csv: sweep.csv"


def test_output_that_cannot_encode_satlearns_characters_gets_stand_ins_not_a_unicode_error(tmp_path, monkeypatch):
    import io

    import satlearn.compare
    from satlearn import cli
    from satlearn.errors import DataError

    table = ("run  labels right\nce   \u2014\n"
             "given 3 \u2192 suggested 5; SAT \u2212 CE \u2265 0; \u0434\u0430 caf\udcc3\udca9")

    def compare_runs(run_dirs, *, out=None, title="", group=True, csv=None):
        if run_dirs == ["gone"]:
            raise DataError("gone: no metrics.jsonl \u2014 not a satlearn run directory")
        return [], table, tmp_path / "compare.png"

    monkeypatch.setattr(satlearn.compare, "compare_runs", compare_runs)
    # a Windows console redirected to a file (cp1252, which has the dash but no arrow or minus), a C locale (ASCII)
    for encoding, errors in (("cp1252", "strict"), ("ascii", "surrogateescape")):
        stdout = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors)
        stderr = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="backslashreplace")
        monkeypatch.setattr(cli.sys, "stdout", stdout)
        monkeypatch.setattr(cli.sys, "stderr", stderr)
        assert main(["compare", "a"]) == 0
        assert main(["compare", "gone"]) == 2
        stdout.flush(), stderr.flush()
        dash = "\u2014".encode(encoding, "replace") if encoding == "cp1252" else b"-"
        # the stand-ins, an escape for what has none, a file name's undecoded bytes as they were
        assert stdout.buffer.getvalue().splitlines()[:3] == [
            b"run  labels right", b"ce   " + dash,
            b"given 3 -> suggested 5; SAT - CE >= 0; \\u0434\\u0430 caf\xc3\xa9"]
        assert stderr.buffer.getvalue() == b"satlearn: error: gone: no metrics.jsonl " + dash + \
            b" not a satlearn run directory\n"
        assert (stdout.errors, stderr.errors) == (errors, "backslashreplace")  # as they were, once it returns


def test_stdout_that_is_a_file_gets_each_line_as_it_is_printed(monkeypatch):
    # a batch job's log: what Python would keep in its buffer is lost to a job killed outright, and unseen meanwhile
    import io

    from satlearn import cli

    written = io.BytesIO()
    stdout = io.TextIOWrapper(written, encoding="utf-8")  # as Python opens a file or pipe: in blocks
    seen = []

    def command(args):
        print("epoch 1/3: train loss 2.1725")
        seen.append(written.getvalue())  # on its way to the file before the command ends
        return 0

    monkeypatch.setattr(cli.sys, "stdout", stdout)
    monkeypatch.setattr(cli, "_run", command)
    assert main(["compare", "a_run"]) == 0
    assert seen == [b"epoch 1/3: train loss 2.1725\n"]
    assert stdout.line_buffering is False  # as it was, once it returns


def test_a_failed_command_keeps_its_status_when_stdouts_reader_has_left(monkeypatch):
    from satlearn import cli

    class ClosedPipe:  # stdout whose reader has left: what is still buffered cannot be written
        def flush(self):
            raise BrokenPipeError

    monkeypatch.setattr(cli, "_silence_stdout", lambda: None)
    monkeypatch.setattr(cli.sys, "stdout", ClosedPipe())
    for status, expected in ((0, cli.READER_LEFT), (2, 2)):
        monkeypatch.setattr(cli, "_run", lambda args, status=status: status)
        assert main(["compare", "a_run"]) == expected


def test_a_command_run_with_stdout_closed_stops_before_its_work_in_one_line(tmp_path, capsys, monkeypatch,
                                                                          finished_sat_run):
    import subprocess

    from satlearn import cli

    # compare ... >&- wrote its plot, then ended in a traceback (AttributeError: 'NoneType' object has no attribute
    # 'flush'), status 1; train trained a whole run whose lines went nowhere, and ended so
    run = tmp_path / "run"
    shutil.copytree(finished_sat_run, run)
    done = subprocess.run(["sh", "-c", '"$0" -m satlearn compare "$1" >&-', sys.executable, str(run)],
                          stderr=subprocess.PIPE, text=True)
    assert (done.returncode, done.stderr) == (2, "satlearn: error: stdout is closed; expected somewhere to write "
                                                 "compare's output (>/dev/null discards it)\n")
    assert not (run / "compare.png").exists()
    monkeypatch.setattr(cli.sys, "stdout", None)  # as Python starts with a closed stdout
    assert main(["train", "--run-dir", str(tmp_path / "new"), *sets(tiny_overrides(tmp_path))]) == 2
    assert capsys.readouterr().err == ("satlearn: error: stdout is closed; expected somewhere to write train's output "
                                       "(>/dev/null discards it)\n")
    assert not (tmp_path / "new").exists()


def test_a_failed_command_keeps_its_status_through_a_sigterm_it_outlived(monkeypatch):
    import os
    import signal
    import time

    from satlearn import cli

    interrupted = []

    def failed_after_a_sigterm(args):  # the signal came, and the command ended with an error of its own
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # main's handler interrupts this at once
        except KeyboardInterrupt:
            interrupted.append(True)
        return 2

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)  # where main does not take the signal
    try:
        monkeypatch.setattr(cli, "_run", failed_after_a_sigterm)
        assert main(["compare", "a_run"]) == 2
        assert interrupted == [True]  # else the status was never at stake
        monkeypatch.setattr(cli, "_run", lambda args: cli.INTERRUPTED)
        assert main(["compare", "a_run"]) == cli.INTERRUPTED  # Ctrl-C alone stays Ctrl-C
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("argv, expected", [
    (["train", "--confg", "my.yaml"], "satlearn train: error: unrecognized arguments: --confg my.yaml (options: "
                                      "satlearn train --help)"),
    (["compare"], "satlearn compare: error: the following arguments are required: RUN_DIR (options: satlearn "
                  "compare --help)"),
    (["eval"], "satlearn eval: error: the following arguments are required: RUN_DIR (options: satlearn eval "
               "--help)"),
    (["find-issues", "run", "--threshold", "2"], "satlearn find-issues: error: argument --threshold: expected a "
                                                 "margin in [-1, 1], got 2 (options: satlearn find-issues --help)"),
    # a thread count run.threads would refuse, named before any run is looked for
    (["eval", "nowhere", "--threads", "0"], "satlearn eval: error: argument --threads: expected a thread count from "
                                            "1 to 1024, got 0 (options: satlearn eval --help)"),
    (["selective-eval", "nowhere", "--threads", "1025"], "satlearn selective-eval: error: argument --threads: "
                                                         "expected a thread count from 1 to 1024, got 1025 (options: "
                                                         "satlearn selective-eval --help)"),
    (["eval", "nowhere", "--threads", "2.5"], "satlearn eval: error: argument --threads: expected a whole number of "
                                              "threads, from 1 to 1024, got '2.5' (options: satlearn eval --help)"),
    (["selective-eval", "nowhere", "--threads", "all"], "satlearn selective-eval: error: argument --threads: "
                                                        "expected a whole number of threads, from 1 to 1024, got "
                                                        "'all' (options: satlearn selective-eval --help)"),
    # a -h after -- is a word like any other; a mistyped command's is the command's, the line naming the one meant
    (["eval", "nowhere", "--threads", "x", "--", "-h"], "satlearn eval: error: argument --threads: expected a whole "
                                                        "number of threads, from 1 to 1024, got 'x' (options: "
                                                        "satlearn eval --help)"),
    (["tran", "-h"], "satlearn: error: argument command: invalid choice: 'tran' (choose from 'demo', 'train', "
                     "'find-issues', 'eval', 'compare', 'selective-eval'); did you mean 'train'? (options: satlearn "
                     "--help)"),
])
def test_a_command_line_argparse_refuses_is_one_line_naming_where_the_options_are(argv, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == expected + "\n"


@pytest.mark.parametrize("argv, usage", [
    (["eval", "nowhere", "--threads", "x", "-h"], "usage: satlearn eval "),
    (["selective-eval", "--score", "abstian", "--help"], "usage: satlearn selective-eval "),
    (["find-issues", "--fraction", "2", "--num-issues", "-h"], "usage: satlearn find-issues "),
    (["--import", "-h"], "usage: satlearn "),
])
def test_help_asked_for_after_a_value_argparse_refuses_is_the_help(argv, usage, capsys):
    # argparse reads the line in order: the bad value stopped it before it reached -h
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(usage) and "options:" in printed.out and printed.err == ""


def whole_number_options():
    """(command, option) for every option of the satlearn command whose type is one of its whole-number types (a
    count, a thread count), found in the parser itself."""
    from satlearn.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    return [(name, action.option_strings[-1]) for name, command in commands.items() for action in command._actions
            if action.type is not None and getattr(action.type, "__name__", "") in ("_count", "_threads")]


def number_options():
    """(command, option) for every option of the satlearn command whose type is a number in a range (``_number_in``),
    found in the parser itself."""
    from satlearn.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    return [(name, action.option_strings[-1]) for name, command in commands.items() for action in command._actions
            if getattr(action.type, "__qualname__", "").startswith("_number_in.")]


def test_no_option_of_the_command_line_reads_a_number_with_int_or_float():
    # int() takes 2_0 as 20 and other scripts' digits as digits, and float() too: every whole number goes through
    # whole_number, every other number through decimal_number
    from satlearn.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    types = [action.type for command in [parser, *commands.values()] for action in command._actions]
    assert int not in types and float not in types
    assert {option for _, option in whole_number_options()} == {"--threads", "--num-issues"}
    assert {option for _, option in number_options()} == {"--fraction", "--threshold"}


@pytest.mark.parametrize("text", ["0_5", "1_0", "\u0660.5", "\u0665e-1", " 0.5", "0.5 ", "nan", "inf", "-inf",
                                  "Infinity", "1e", ".", "0.5.", "0x1p-1"])
def test_a_number_option_takes_only_a_number_written_with_the_digits_0_to_9(text, capsys):
    # \u0660 and \u0665 are the Arabic-Indic zero and five, which float() reads as digits; nan and inf are no
    # fraction or margin either
    for command, option in number_options():
        with pytest.raises(SystemExit) as stopped:
            main([command, "run", f"{option}={text}"])  # (with =: argparse takes -inf alone for an option)
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"satlearn {command}: error: argument {option}: expected a number in ["), err
        assert err.endswith(f", got {text!r} (options: satlearn {command} --help)\n") and err.count("\n") == 1


def test_a_number_option_takes_a_sign_a_fraction_and_an_exponent():
    from satlearn.cli import build_parser

    parser = build_parser()
    for text in ("0.5", ".5", "+0.5", "0.50", "5e-1", "5E-1", "0", "1", "1.", "-0", "1e+0", "0.1E+1"):
        assert parser.parse_args(["find-issues", "run", "--fraction", text]).fraction == float(text), text
        assert parser.parse_args(["find-issues", "run", "--threshold", text]).threshold == float(text), text
    assert parser.parse_args(["find-issues", "run", "--threshold=-.5e0"]).threshold == -0.5


@pytest.mark.parametrize("text", ["2_0", "\u0663", "3\u0663", " 3", "3 ", "0x3", "3.0"])
def test_a_whole_number_option_takes_only_a_sign_and_the_digits_0_to_9(text, capsys):
    # \u0663 is the Arabic-Indic three, which int() reads as 3; " 3", which int() takes too, is refused as well
    for command, option in whole_number_options():
        with pytest.raises(SystemExit) as stopped:
            main([command, "run", option, text])
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"satlearn {command}: error: argument {option}: expected a whole number"), err
        assert err.endswith(f", got {text!r} (options: satlearn {command} --help)\n") and err.count("\n") == 1


def test_a_whole_number_option_takes_a_sign_and_leading_zeros():
    from satlearn.cli import build_parser

    parser = build_parser()
    for text in ("+3", "03", "3"):
        assert parser.parse_args(["find-issues", "run", "--num-issues", text]).num_issues == int(text)
        assert parser.parse_args(["eval", "run", "--threads", text]).threads == int(text)


def test_a_run_on_cifar_without_a_root_or_a_home_directory_is_one_line(tmp_path, capsys, monkeypatch):
    from fixtures import without_a_home_directory

    without_a_home_directory(monkeypatch)
    assert main(["train", "--set", "data.source=cifar10", "--set", f"run.out_dir={tmp_path / 'runs'}",
                 "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.err == ("satlearn: error: data.root is null, and with no home directory there is no default cache "
                            "(~/.cache/satlearn) to keep the data in; set SATLEARN_CACHE or data.root to a folder "
                            "for them\n")
    assert captured.out == "" and not (tmp_path / "runs").exists()  # refused before a run directory was made


@pytest.mark.parametrize("given, environment", [
    (["--set", "run.out_dir=~/runs"], {}), (["--run-dir", "~"], {}), (["--set", "data.root=~/data"], {}),
    ([], {"SATLEARN_CACHE": "~/cache"}),
])
def test_without_a_home_directory_a_path_starting_with_a_tilde_is_one_line_and_makes_no_folder(
        given, environment, tmp_path, capsys, monkeypatch):
    from fixtures import without_a_home_directory
    from satlearn.paths import _why_no_home_directory

    without_a_home_directory(monkeypatch)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # where a ~ left as it is would become a folder
    sets = [a for o in tiny_overrides(tmp_path / "runs", "run.epochs=1", "method.name=erm") for a in ("--set", o)]
    assert main(["train", *sets, *given]) == 2
    path = next(text.split("=", 1)[-1] for text in given if "~" in text) if given else "SATLEARN_CACHE=~/cache"
    assert capsys.readouterr().err == (f"satlearn: error: {path}: there is no home directory for this process to "
                                       f"read ~ as{_why_no_home_directory(os.name)}; give the path without ~\n")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_command_is_one_line_naming_where_the_commands_are(capsys):
    # how argparse lists the choices is its own (some Pythons, 3.13.1 say, leave them unquoted): only the line's frame
    # is satlearn's
    with pytest.raises(SystemExit) as stopped:
        main(["trian"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("satlearn: error: argument command: invalid choice: 'trian'")
    assert err.endswith(" (options: satlearn --help)\n") and err.count("\n") == 1
    assert all(command in err for command in ("demo", "train", "find-issues", "eval", "compare", "selective-eval"))


@pytest.mark.parametrize("argv, told", [
    (["tran"], "; did you mean 'train'?"),
    (["selective"], "; did you mean 'selective-eval'?"),
    (["help", "train"], "; a command's help is satlearn COMMAND --help"),
    (["selective-eval", "run", "--score", "abstian"], "; did you mean 'abstain'?"),
])
def test_a_mistyped_command_or_choice_is_told_the_nearest_one(argv, told, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{told} (options: satlearn " in err


def test_no_command_is_one_line_naming_the_commands(capsys):
    for argv in ([], ["--import", "my_methods"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        assert capsys.readouterr().err == ("satlearn: error: no command given; expected one of demo, train, "
                                           "find-issues, eval, compare or selective-eval (options: satlearn --help)\n")


def test_eval_of_a_folder_of_runs_names_the_runs_it_holds(tmp_path, capsys):
    # a demo's output holds its two runs: eval takes one of them, as compare would take the folder
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress",
                 *sets(["data.num_samples=200", "model.width=4", "run.epochs=2", "method.start_epoch=1"])]) == 0
    capsys.readouterr()
    assert main(["eval", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {out}: holds 2 runs rather than being one; expected "
                                               f"one run's directory, such as {out / 'erm'}, {out / 'sat'}")
    shutil.rmtree(out / "erm")  # a folder that holds a single run is no run either
    assert main(["eval", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {out}: holds 1 run rather than being one; expected "
                                               f"one run's directory, such as {out / 'sat'}")


def test_train_resume_of_a_folder_of_runs_names_the_runs_it_holds_as_eval_does(tmp_path, capsys):
    for name in ("a", "b", "c"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "checkpoint.pt").touch()
    assert main(["train", "--resume", str(tmp_path / "runs")]) == 2
    runs = tmp_path / "runs"
    assert capsys.readouterr().err == (f"satlearn: error: --resume {runs}: holds 3 runs rather than being one; "
                                       f"expected one run's directory, such as {runs / 'a'}, {runs / 'b'}, ...\n")
    assert sorted(path.name for path in runs.iterdir()) == ["a", "b", "c"]  # nothing written


def test_eval_of_the_current_folder_names_a_run_whose_name_starts_with_a_tilde_as_that_folder(tmp_path, capsys,
                                                                                           monkeypatch):
    # pathlib writes the run ~x inside . as ~x, which satlearn (and a shell) would read as the home of a user x
    for name in ("~x", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.pt").touch()
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "."]) == 2
    err = capsys.readouterr().err
    named = err.strip().split("such as ", 1)[1].split(", ")
    assert [user_path(shlex.split(text)[0]) for text in named] == [Path("b"), tmp_path / "~x"]
    assert err == ("satlearn: error: .: holds 2 runs rather than being one; expected one run's directory, such as b, "
                   "'./~x'\n")


def test_eval_of_the_current_folder_names_a_run_whose_name_starts_with_a_dash_as_no_option(tmp_path, capsys,
                                                                                          monkeypatch):
    for name in ("-x", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.pt").touch()
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "."]) == 2
    assert capsys.readouterr().err == ("satlearn: error: .: holds 2 runs rather than being one; expected one run's "
                                       "directory, such as ./-x, b\n")
    assert main(["eval", "./-x"]) == 2  # pasted, it is the run's folder (an empty checkpoint), not an option
    assert "-x/checkpoint.pt" in capsys.readouterr().err


def test_a_command_to_paste_names_a_run_or_demo_whose_name_starts_with_a_dash_as_no_option(tmp_path, capsys,
                                                                                             monkeypatch):
    # each folder -x inside the current directory is -x to pathlib: the command it suggests must read it as a folder
    monkeypatch.chdir(tmp_path)
    tiny = tiny_overrides(tmp_path, "run.epochs=3")
    interrupt_sat_in(monkeypatch, 1)
    assert main(["train", "--run-dir", "./-x", *sets(tiny)]) == 130
    assert capsys.readouterr().err.strip().endswith("resume with satlearn train --resume ./-x")
    assert main(["demo", "--out", "./-d", "--no-progress",
                 *sets(["data.num_samples=200", "model.width=4", "run.epochs=3", "method.start_epoch=0"])]) == 130
    assert capsys.readouterr().err.strip() == "satlearn: interrupted; finish the demo with satlearn demo --resume ./-d"
    assert main(["train", "--resume", "./-d"]) == 2
    assert capsys.readouterr().err.strip().endswith("finish the demo with satlearn demo --resume ./-d")
    (tmp_path / "c.yaml").write_text("run:\n  out_dir: .\n  name: -x\n")
    assert main(["find-issues", "--config", "c.yaml"]) == 2
    assert capsys.readouterr().err.strip() == ("satlearn: error: -x: already holds a run; finish it with satlearn "
                                               "train --resume ./-x, then run satlearn find-issues ./-x, or choose "
                                               "another run.name")


@pytest.mark.parametrize("argv, misplaced, shown", [
    (["train", "--config", "my.yaml", "--import", "my_methods"], "--import", "--import MODULE"),
    (["eval", "runs/x", "--import=my_methods"], "--import", "--import MODULE"),
    (["compare", "runs", "--version"], "--version", "--version"),
])
def test_an_option_of_satlearn_itself_given_after_the_command_is_told_to_go_before_it(argv, misplaced, shown,
                                                                                         capsys):
    # the command's --help does not list it: the line says where it goes instead of pointing there
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (f"satlearn {argv[0]}: error: {misplaced} is an option of satlearn itself, "
                                       f"given before the command: satlearn {shown} {argv[0]} ... (options: "
                                       "satlearn --help)\n")


def test_an_unknown_option_before_the_command_is_named_as_satlearns_not_the_commands(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--quiet", "train", "--config", "my.yaml", "--confg", "other.yaml"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "satlearn: error: unrecognized arguments: --quiet (options: satlearn --help)\n"


@pytest.mark.parametrize("argv, misplaced, shown", [
    (["--config", "my.yaml", "train"], "--config", "--config CONFIG"),  # argparse: "invalid choice: 'my.yaml'"
    (["-c", "my.yaml", "train", "--no-progress"], "-c", "-c CONFIG"),
    (["--import", "my_methods", "--set", "run.epochs=2", "demo"], "--set", "--set KEY=VALUE"),
    (["--no-progress", "train", "--config", "my.yaml"], "--no-progress", "--no-progress"),
    (["--out=o", "eval", "runs/x"], "--out", "--out OUT"),
])
def test_an_option_of_the_command_given_before_it_is_told_to_go_after_it(argv, misplaced, shown, capsys):
    command = next(text for text in argv if text in ("train", "demo", "eval"))
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (f"satlearn: error: {misplaced} is an option of satlearn {command}, given "
                                       f"before the command: satlearn {command} {shown} ... (options: satlearn "
                                       f"{command} --help)\n")


def test_a_module_named_as_a_command_after_import_is_no_command(capsys):
    # satlearn --import train demo: "train" is the module --import takes, the command is demo
    with pytest.raises(SystemExit) as stopped:
        main(["--import", "train", "demo", "--help"])
    assert stopped.value.code == 0 and capsys.readouterr().out.startswith("usage: satlearn demo")


@pytest.mark.parametrize("command", ["demo", "train", "find-issues", "eval", "compare", "selective-eval"])
def test_each_command_help_opens_with_what_the_command_does(command, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main([command, "--help"])
    usage, _, rest = capsys.readouterr().out.partition("\n\n")
    description = " ".join(rest.partition("\n\n")[0].split())
    assert usage.startswith(f"usage: satlearn {command}")
    assert description.endswith(".") and description[0].isupper()
    # the same words as satlearn --help lists it by (where % is written once, not doubled)
    assert f" {command} {description[:-1]} ".lower() in listed.lower()


@pytest.mark.parametrize("command", ["find-issues", "eval", "compare", "selective-eval"])
def test_each_command_names_its_run_directories_as_its_help_and_errors_do(command, capsys):
    # RUN_DIR in every usage line, as the help texts and the one-line errors ("RUN_DIR is empty") name it
    with pytest.raises(SystemExit):
        main([command, "--help"])
    usage = " ".join(capsys.readouterr().out.partition("\n\n")[0].split())
    assert "RUN_DIR" in usage and "run_dir" not in usage


def test_options_that_may_be_repeated_say_so_alike_and_the_demo_names_its_folder_alike():
    from satlearn.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    appended = [action for p in (parser, *commands.values()) for action in p._actions
                if isinstance(action, argparse._AppendAction)]
    assert {action.option_strings[-1] for action in appended} == {"--import", "--set"}
    assert all(action.help.endswith(" (repeatable)") for action in appended)
    demo = {action.dest: action.metavar for action in commands["demo"]._actions}
    assert demo["out"] == demo["resume"] == "OUT_DIR"
    # the default each scoring option falls back to is the run's own setting, named by its key
    for command in ("eval", "selective-eval"):
        helps = {action.dest: action.help for action in commands[command]._actions}
        assert "(default: the run's run.device)" in helps["device"]
        assert "(default: the run's run.threads)" in helps["threads"]


def test_find_issues_options_show_the_letters_their_help_uses(capsys):
    with pytest.raises(SystemExit):
        main(["find-issues", "--help"])
    usage = " ".join(capsys.readouterr().out.partition("\n\n")[0].split())
    assert "[--num-issues K | --fraction F | --threshold M]" in usage


def test_a_training_stopped_by_a_full_disk_says_how_to_finish_it_once_there_is_room(tmp_path, capsys, monkeypatch):
    import errno

    from satlearn.engine import checkpoint as checkpoint_module
    from satlearn.engine import reporting

    written = checkpoint_module.save_checkpoint

    def full_disk(run_dir, name):
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / name))

    def full_disk_on_the_second(state, run_dir):
        if state["epoch"] == 2:
            full_disk(run_dir, "checkpoint.pt")
        return written(state, run_dir)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", full_disk_on_the_second)
    run = tmp_path / "a run"
    assert main(["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path))]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: {run / 'checkpoint.pt'}: cannot write the checkpoint (No "
                                       "space left on device); the run's last checkpoint is kept: once there is room, "
                                       f"finish it with satlearn train --resume '{run}'\n")
    monkeypatch.setattr(checkpoint_module, "save_checkpoint", written)
    monkeypatch.setattr(reporting, "write_outputs", lambda run_dir, *args, **kwargs: full_disk(run_dir, "curves.png"))
    assert main(["train", "--resume", str(run)]) == 2  # the same for a file the run writes itself
    assert capsys.readouterr().err == (f"satlearn: error: {run / 'curves.png'}: No space left on device; the run's "
                                       "last checkpoint is kept: once there is room, finish it with satlearn train "
                                       f"--resume '{run}'\n")
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 0
    # before its first checkpoint a run has none to finish from: nothing more is said
    monkeypatch.setattr(checkpoint_module, "save_checkpoint", lambda state, run_dir: full_disk(run_dir, "checkpoint.pt"))
    fresh = tmp_path / "fresh"
    capsys.readouterr()
    assert main(["train", "--run-dir", str(fresh), *sets(tiny_overrides(tmp_path))]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: {fresh / 'checkpoint.pt'}: cannot write the checkpoint (No "
                                       "space left on device)\n")


def test_help_and_version_do_not_wait_for_torch():
    import subprocess
    import sys

    probe = ("import sys, satlearn.cli; satlearn.cli.build_parser().format_help(); import satlearn; "
             "print(satlearn.__version__, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [__import__("satlearn").__version__, "False"]


def test_ctrl_c_in_a_shell_loop_of_commands_stops_the_loop_as_it_stops_the_command(tmp_path):
    # a sweep run as a shell loop: Ctrl-C reaches the loop's shell and the command in its first seconds (importing
    # torch, here a stand-in that sends it to them both); the command ends as Ctrl-C ends a process, so that the
    # shell stops the loop rather than take Ctrl-C as handled and start the next run
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("bash") is None:
        pytest.skip("no bash")
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("import os, signal, time\nos.killpg(os.getpgid(0), signal.SIGINT)\n"
                                      "time.sleep(30)\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), *sys.path]), "PY": sys.executable,
                   "RUNS": str(tmp_path / "runs")}
    loop = ('for alpha in 0.6 0.9; do "$PY" -m satlearn train -c mnist1d_sat --set method.momentum=$alpha '
            '--run-dir "$RUNS/a$alpha" --no-progress; echo "status $?"; done; echo "the loop went on"')

    def as_from_a_terminal():
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)

    done = subprocess.run(["bash", "-c", loop], capture_output=True, text=True, timeout=60, env=environment,
                          start_new_session=True, preexec_fn=as_from_a_terminal)
    assert (done.returncode, done.stdout, done.stderr) == (-2, "", "satlearn: interrupted\n")


# Ctrl-C ends the command by SIGINT itself (a status of -2 to subprocess, 130 to a shell), SIGTERM with status 143;
# python -m satlearn.cli (as benchmarks/demo.py runs it) is the same command
@pytest.mark.parametrize("module, signal_name, status", [("satlearn", "SIGINT", -2), ("satlearn", "SIGTERM", 143),
                                                         ("satlearn.cli", "SIGINT", -2)])
def test_a_stop_signal_while_torch_is_imported_stops_the_command_cleanly(tmp_path, module, signal_name, status):
    # the first seconds of a command go to importing torch: a stand-in torch that is signalled as it imports
    import os
    import subprocess
    import sys

    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"import os, signal, time\nos.kill(os.getpid(), signal.{signal_name})\n"
                                      "time.sleep(30)\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), *sys.path])}
    # Ctrl-C reaches a command run from a terminal; one started in the background by a shell without job control
    # (`cmd &` in a script, which is how a test run may itself have been started) inherits SIGINT ignored, and
    # Python, like satlearn, leaves it ignored: the command is given Ctrl-C's disposition, not the test run's
    def as_from_a_terminal():
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)

    done = subprocess.run([sys.executable, "-m", module, "train", "--config", "mnist1d_sat", "--run-dir",
                           str(tmp_path / "run"), "--no-progress"], capture_output=True, text=True, timeout=60,
                          env=environment, preexec_fn=as_from_a_terminal)
    assert (done.returncode, done.stderr) == (status, "satlearn: interrupted\n")
    assert not (tmp_path / "run").exists()
