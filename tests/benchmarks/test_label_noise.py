"""benchmarks/label_noise.py runs cells on tiny CIFAR-format data, resumes a stopped cell, skips finished ones."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures import load_benchmark, parsed_options, run_script_here, write_fake_cifar10

BENCH = Path(__file__).parents[2] / "benchmarks"


def run(*args):
    # the script's entry point in this process: these runs are checked by what they print and write, and each
    # process of its own would spend seconds importing torch (exit statuses are checked in processes of their own)
    return run_script_here(*args).stdout


def test_grid_cells_resume_and_report(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    np.savez(tmp_path / "c10n.npz", worst=np.random.default_rng(0).integers(0, 10, 40).astype(np.uint8))
    common = [BENCH / "label_noise.py", "--recipe", "fast", "--data-root", root, "--cifar10n", tmp_path / "c10n.npz",
              "--runs-dir", tmp_path / "runs", "--results-dir", tmp_path / "results", "--methods", "ce", "sat",
              "--noise", "sym40", "c10n-worst"]
    # one thread, as the other grid tests train: two on a busy 2-core machine turn each tiny step into seconds
    tiny = ["--set", "model.width=2", "--set", "data.batch_size=16", "--set", "run.epochs=3",
            "--set", "method.start_epoch=1", "--set", "run.device=cpu", "--set", "run.threads=1"]
    out = run(*common, *tiny, "--stop-after-epoch", "1", "--pipeline", "fastest")
    assert "stopped early" in out and not (tmp_path / "results").exists()
    assert not (tmp_path / "RESULTS.md").exists()  # nothing recorded, no report
    assert "--pipeline fastest: config (no usable measurement" in out  # no speed.json: the configs' own settings
    # asked for another pipeline now (as --pipeline fastest may choose later), each cell goes on on its own
    out = run(*common, *tiny, "--pipeline", "reference")
    assert out.count("resumed") == 4
    files = sorted((tmp_path / "results" / "label_noise" / "fast").glob("*.json"))
    assert [f.stem for f in files] == ["ce-c10n-worst", "ce-sym40", "sat-c10n-worst", "sat-sym40"]
    cell = json.loads(files[-1].read_text())
    assert cell["epochs"] == 3 and 0 <= cell["last_test_accuracy"] <= 1 and cell["commit"]
    assert cell["pipeline"] == "config" and cell["runtime"]["pipeline"] == "memory"
    # compilation is off in the configs' own pipeline: a fit() that ran here counted no compiler-cache lookups
    assert cell["compile_cache_counters"] == {"fxgraph_cache_hit": 0, "fxgraph_cache_miss": 0,
                                              "autograd_cache_hit": 0, "autograd_cache_miss": 0}
    # a SAT cell scores how well its targets single out the wrong labels; a CE cell keeps no targets
    issues = cell["label_issues"]
    assert cell["method"] == "sat" and 0 < issues["truly_wrong"] < 80 and 0 <= issues["flagged"] <= 80
    # precision and F1 are undefined (null) where the cell flagged nothing; the rest are defined with some wrong
    defined = ("recall", "auroc", "average_precision", *(("precision", "f1") if issues["flagged"] else ()))
    assert all(0 <= issues[key] <= 1 for key in defined)
    assert issues["flagged"] or (issues["precision"] is None and issues["f1"] is None)
    assert "label_issues" not in json.loads(files[0].read_text())
    # the configs' own seeds; a CIFAR-10N cell's labels come from a file, so no noise seed drew them
    assert cell["seeds"] == {"run": 0, "noise": 0} and json.loads(files[0].read_text())["seeds"]["noise"] is None
    again = run(*common, *tiny)
    assert again.count("recorded earlier, skipped") == 4 and "resumed" not in again
    # asked with other settings (a try-out), a recorded cell is still skipped, and the line says how it was recorded
    other = run(*common, *tiny, "--set", "run.epochs=2")
    assert other.count("recorded earlier with run.epochs=3 (asked: run.epochs=2; --tag keeps both), skipped") == 4
    assert "finished earlier" in run(*common, *tiny, "--redo")  # run directories are kept: nothing is retrained
    # a finished run of other settings (a smoke test left in the same --runs-dir) is not recorded as the cell asked;
    # each such cell fails and the grid goes on to the next
    recorded = {f.name: f.read_text() for f in files}
    changed = subprocess.run([sys.executable, *map(str, common), *tiny, "--redo", "--set", "optim.lr=0.5"],
                             capture_output=True, text=True)
    assert changed.returncode == 1 and changed.stderr == "4 of 4 cells failed; see above\n"
    assert (f"ce-sym40: FAILED: {tmp_path / 'runs' / 'fast' / 'ce-sym40'}: finished earlier with another config "
            "(optim.lr: run has 0.1, now 0.5); not recorded as this cell") in changed.stdout
    assert changed.stdout.count(": FAILED: ") == 4
    assert {f.name: f.read_text() for f in files} == recorded
    # asked for another pipeline (as --pipeline fastest may choose later), a finished cell is recorded as it trained
    again = run(*common, *tiny, "--redo", "--pipeline", "reference", "--methods", "sat", "--noise", "sym40")
    assert "sat-sym40: finished earlier\n" in again
    assert json.loads((tmp_path / "results" / "label_noise" / "fast" / "sat-sym40.json").read_text())["pipeline"] \
        == "config"
    # a CIFAR-10N cell's file may lie elsewhere on another machine, so its labels decide: other labels fail it
    np.savez(tmp_path / "other.npz", worst=(np.load(tmp_path / "c10n.npz")["worst"] + 1) % 10)
    other = subprocess.run([sys.executable, *map(str, common), *tiny, "--redo", "--methods", "ce", "--noise",
                            "c10n-worst", "--cifar10n", str(tmp_path / "other.npz")], capture_output=True, text=True)
    assert other.returncode == 1 and "ce-c10n-worst: FAILED: " in other.stdout
    assert f"finished earlier on other noisy labels than {tmp_path / 'other.npz'} (worst)" in other.stdout
    assert cell["concurrent_cells"] == 1 and cell["fit_seconds"] is None  # resumed: no whole-run wall time
    # the grid regenerated the report beside its results directory after each recorded cell
    table = (tmp_path / "RESULTS.md").read_text()
    assert "### recipe `fast`" in table and "| c10n-worst |" in table and "| sym40 |" in table
    assert ("`config: memory, amp off, compile off` (4 cells: ce-c10n-worst, sat-c10n-worst, ce-sym40, sat-sym40)"
            in table)
    # the fast grid is listed whole, so that what is missing shows: 4 of 8 noises x 3 methods recorded
    assert "4 of the grid's 24 cells recorded" in table
    sym40 = next(line for line in table.splitlines() if line.startswith("| sym40 |"))
    ce, sat = (json.loads((tmp_path / "results" / "label_noise" / "fast" / f"{m}-sym40.json").read_text())
               for m in ("ce", "sat"))
    issues_sym40 = sat["label_issues"]
    assert sym40.count("*not run*") == 1  # sat_sce
    assert f"| {100 * (sat['last_test_accuracy'] - ce['last_test_accuracy']):+.2f} |" in sym40
    assert "| sym80 | — | *not run* | *not run* | *not run* | — |" in table
    assert f"| sat-sym40 | {issues_sym40['truly_wrong']} | {issues_sym40['flagged']} | " in table
    assert "Recorded without this score" not in table  # both SAT cells scored their targets

    # with every cell of the grid recorded (stand-ins copied from a real one), the report says the grid is whole
    sys.path.insert(0, str(BENCH))
    from label_noise import METHODS, NOISES

    grid = tmp_path / "results" / "label_noise" / "fast"
    for method in METHODS:
        for noise in NOISES:
            if not (grid / f"{method}-{noise}.json").exists():
                (grid / f"{method}-{noise}.json").write_text(json.dumps({**ce, "method": method, "noise": noise}))
    run(BENCH / "report.py", "--results-dir", tmp_path / "results", "--out", tmp_path / "RESULTS.md")
    whole = (tmp_path / "RESULTS.md").read_text()
    assert f"All {len(METHODS) * len(NOISES)} of the grid's cells recorded." in whole and "*not run*" not in whole
    # the stand-ins, copies of a CE cell, hold no score: the table says which SAT cells it lacks, CE cells aside
    unscored = next(line for line in whole.splitlines() if line.startswith("Recorded without this score: "))
    assert "sat-pair40" in unscored and "sat_sce-c10n-worst" in unscored and "sat-sym40," not in unscored
    assert "ce-" not in unscored.replace("sat_sce-", "")

    # a CIFAR-10N run's labels.npz cut short fails that cell alone (its labels are compared with the file's)
    labels = tmp_path / "runs" / "fast" / "ce-c10n-worst" / "labels.npz"
    labels.write_bytes(labels.read_bytes()[:40])
    damaged = subprocess.run([sys.executable, *map(str, common), *tiny, "--redo", "--methods", "ce"],
                             capture_output=True, text=True)
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr, damaged.stderr
    assert f"ce-c10n-worst: FAILED: {labels}: cannot be read (" in damaged.stdout
    assert "ce-sym40: finished earlier" in damaged.stdout and "ce-sym40.json" in damaged.stdout


def test_jobs_train_cells_in_parallel_processes_and_locked_cells_are_skipped(tmp_path):
    import fcntl

    root = write_fake_cifar10(tmp_path, per_batch=8)
    common = [BENCH / "label_noise.py", "--recipe", "fast", "--data-root", root, "--runs-dir", tmp_path / "runs",
              "--results-dir", tmp_path / "results", "--methods", "ce", "sat", "--noise", "sym20", "pair40",
              "--set", "model.width=2", "--set", "data.batch_size=16", "--set", "run.epochs=2",
              "--set", "method.start_epoch=1", "--set", "run.device=cpu", "--set", "run.threads=1"]
    lock = tmp_path / "runs" / "fast" / ".sat-pair40.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as handle:  # another process is training sat-pair40
        fcntl.flock(handle, fcntl.LOCK_EX)
        out = run(*common, "--jobs", "2")
    assert "sat-pair40: being trained by another process" in out
    files = sorted(p.stem for p in (tmp_path / "results" / "label_noise" / "fast").glob("*.json"))
    assert files == ["ce-pair40", "ce-sym20", "sat-sym20"]
    cell = json.loads((tmp_path / "results" / "label_noise" / "fast" / "ce-sym20.json").read_text())
    assert cell["concurrent_cells"] == 2 and cell["fit_seconds"] > 0
    assert cell["timing"]["resumed"] is False and cell["timing"]["setup_seconds"] > 0  # the engine's own account
    assert "ce-sym20: " in (tmp_path / "runs" / "fast" / "ce-sym20.log").read_text()
    report = (tmp_path / "RESULTS.md").read_text()
    assert "3 of the grid's 24 cells recorded" in report  # by the parent, as the cells finished
    out = run(*common, "--jobs", "2", "--report", "none")  # the lock is gone: only the missing cell is trained
    assert out.count("recorded earlier") == 3
    assert (tmp_path / "results" / "label_noise" / "fast" / "sat-pair40.json").exists()
    assert (tmp_path / "RESULTS.md").read_text() == report  # --report none: left as it was (3 cells, not 4)


def test_a_failing_cell_is_reported_and_the_others_still_run(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    np.savez(tmp_path / "short.npz", worst=np.zeros(3, dtype=np.int64))  # 3 labels for 40 training images
    result = subprocess.run(
        [sys.executable, BENCH / "label_noise.py", "--data-root", root, "--runs-dir", tmp_path / "runs",
         "--results-dir", tmp_path / "results", "--methods", "ce", "--noise", "sym20", "c10n-worst",
         "--cifar10n", tmp_path / "short.npz", "--jobs", "2", "--set", "model.width=2", "--set", "run.epochs=2",
         "--set", "method.start_epoch=1", "--set", "run.device=cpu", "--set", "run.threads=1"],
        capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout.count("FAILED") == 1 and "short.npz" in result.stdout
    assert [p.stem for p in (tmp_path / "results" / "label_noise" / "fast").glob("*.json")] == ["ce-sym20"]


def test_a_seed_trains_the_cells_again_apart_and_draws_its_own_noise(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    common = [BENCH / "label_noise.py", "--recipe", "fast", "--data-root", root, "--runs-dir", tmp_path / "runs",
              "--results-dir", tmp_path / "results", "--methods", "sat", "--noise", "sym40", "--set", "model.width=2",
              "--set", "data.batch_size=16", "--set", "run.epochs=2", "--set", "method.start_epoch=1",
              "--set", "run.device=cpu", "--set", "run.threads=1"]
    run(*common)
    default = tmp_path / "results" / "label_noise" / "fast" / "sat-sym40.json"
    first = json.loads(default.read_text())
    # seed 0 is the configs' own: the recorded cell, not a second grid of the same cells
    zero = run(*common, "--seed", "0")
    assert "--seed 0 is the configs' own seed" in zero and "recorded earlier" in zero
    assert not (tmp_path / "results" / "label_noise" / "fast_seed0").exists()
    for config in ("cifar10_sat.yaml", "cifar10_ce.yaml"):
        from satlearn.config import load_config

        loaded = load_config(BENCH.parent / "configs" / config)
        assert loaded.run.seed == loaded.data.noise.seed == 0  # label_noise.CONFIG_SEED
    # recorded again from the finished run directory: what only the training process knew is kept
    assert "finished earlier" in run(*common, "--redo")
    redone = json.loads(default.read_text())
    assert first["fit_seconds"] is not None and redone["fit_seconds"] == first["fit_seconds"]
    for key in ("recorded_at", "commit", "command", "device", "compile_cache_counters"):
        assert redone[key] == first[key], key
    assert redone["recorded_again"]["command"].endswith("--redo")
    # a record of another training in the same directory (its epochs took other times) lends it nothing
    default.write_text(json.dumps({**redone, "run_seconds": redone["run_seconds"] + 1}))
    run(*common, "--redo")
    assert json.loads(default.read_text())["fit_seconds"] is None
    out = run(*common, "--seed", "3")
    assert "recorded earlier" not in out  # the seed-0 cell does not stand in for seed 3
    seeded = tmp_path / "results" / "label_noise" / "fast_seed3" / "sat-sym40.json"
    cell = json.loads(seeded.read_text())
    assert cell["seeds"] == {"run": 3, "noise": 3} and cell["tag"] == "seed3"
    assert "run.seed=3" in cell["overrides"] and "data.noise.seed=3" in cell["overrides"]
    assert json.loads(default.read_text())["seeds"] == {"run": 0, "noise": 0}  # left as it was
    given = [np.load(tmp_path / "runs" / recipe / "sat-sym40" / "labels.npz")["labels"]
             for recipe in ("fast", "fast_seed3")]
    assert not np.array_equal(*given)  # another draw of the same 40 % noise
    table = (tmp_path / "RESULTS.md").read_text()
    assert "### recipe `fast`, cells trained again as `seed3`" in table
    assert "Seed 3, for the run and for the synthetic noise's draw." in table
    assert table.count("Seed 3,") == 1  # not said of the seed-0 grid
    bad = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--seed", "-1"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "--seed -1: expected a non-negative integer" in bad.stderr


def test_a_tag_must_be_a_file_name_part_and_a_count_of_trainings_positive():
    bad = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--tag", "H100 run"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "--tag 'H100 run': expected lower-case letters, digits and '-'" in bad.stderr
    crowd = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--concurrent-cells", "0"],
                           capture_output=True, text=True)
    assert crowd.returncode == 2 and "--concurrent-cells 0: expected at least 1" in crowd.stderr


def test_missing_data_stops_the_grid_in_one_line_and_leaves_no_run_directory(tmp_path):
    result = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--recipe", "fast", "--data-root",
                             str(tmp_path / "nowhere"), "--runs-dir", str(tmp_path / "runs"), "--results-dir",
                             str(tmp_path / "results"), "--methods", "sat", "--noise", "sym20", "--set",
                             "run.device=cpu"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "no CIFAR-10 batches there" in result.stderr
    assert not (tmp_path / "runs" / "fast" / "sat-sym20").exists()


def test_a_missing_cifar10n_file_stops_the_grid_before_its_first_cell(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    result = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--recipe", "fast", "--data-root",
                             str(root), "--cifar10n", str(tmp_path / "nope.npz"), "--runs-dir", str(tmp_path / "runs"),
                             "--results-dir", str(tmp_path / "results"), "--methods", "ce", "--noise", "sym20",
                             "c10n-worst", "--set", "run.device=cpu"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        f"label_noise.py: error: --cifar10n {tmp_path / 'nope.npz'}: no such file, and the cells ce-c10n-worst read "
        "it; expected the CIFAR-10N label file (.npz)"]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_a_cifar10n_file_its_cells_cannot_read_stops_the_grid_before_its_first_cell(tmp_path):
    # the CIFAR-10N cells come after the synthetic ones: an unreadable file would stop the grid hours in
    root = write_fake_cifar10(tmp_path, per_batch=8)
    np.savez(tmp_path / "aggre_only.npz", aggre=np.zeros(40, dtype=np.uint8))
    (tmp_path / "cut.npz").write_bytes(np.zeros(1, dtype=np.uint8).tobytes())  # a copy cut short, say
    for file, reason in (("aggre_only.npz", "no array 'worst'; arrays: aggre"), ("cut.npz", "cut.npz")):
        result = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--data-root", str(root), "--cifar10n",
                                 str(tmp_path / file), "--runs-dir", str(tmp_path / "runs"), "--results-dir",
                                 str(tmp_path / "results"), "--methods", "ce", "--noise", "sym20", "c10n-worst",
                                 "c10n-aggre", "--set", "run.device=cpu", "--set", "model.width=2", "--set",
                                 "run.epochs=1", "--set", "method.start_epoch=0", "--set", "run.threads=1"],
                                capture_output=True, text=True, timeout=120)
        [line] = result.stderr.strip().splitlines()
        assert result.returncode == 2 and line.startswith(
            f"label_noise.py: error: --cifar10n {tmp_path / file}: the cells ce-c10n-worst cannot read their labels "
            "there ("), line
        assert reason in line and line.endswith("); expected the CIFAR-10N label file (.npz)"), line
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_the_input_checks_read_the_data_root_the_grids_set_gives(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    run_script_here(BENCH / "label_noise.py", "--recipe", "fast", "--data-root", tmp_path / "nowhere", "--set",
                    f"data.root={root}", "--runs-dir", tmp_path / "runs", "--results-dir", tmp_path / "results",
                    "--report", "none", "--methods", "ce", "--noise", "sym20", "--stop-after-epoch", "1", "--set",
                    "run.device=cpu", "--set", "model.width=2", "--set", "run.threads=1")  # refused (exit 2): fails


def test_the_input_checks_read_files_given_from_the_home_directory(tmp_path, monkeypatch):
    # as a --set gives them, no shell expanded them; the cells' training reads them so too
    import argparse

    label_noise = load_benchmark("label_noise")
    write_fake_cifar10(tmp_path / "cifar", per_batch=2)
    np.savez(tmp_path / "c10n.npz", worst=np.zeros(4, dtype=np.uint8))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / "cifar")  # where a ~ left unexpanded is looked for, and finds nothing
    args = argparse.Namespace(recipe="fast", data_root="~/cifar", cifar10n="~/c10n.npz", extra=[])
    label_noise.check_inputs(args, [("ce", "sym20"), ("ce", "c10n-worst")])  # nothing missing
    args.cifar10n = "~/elsewhere.npz"
    with pytest.raises(label_noise.DataError, match=r"^--cifar10n ~/elsewhere\.npz: no such file"):
        label_noise.check_inputs(args, [("ce", "c10n-worst")])


def test_jobs_record_as_many_concurrent_cells_as_train_at_once(tmp_path, monkeypatch):
    import argparse
    import types

    sys.path.insert(0, str(BENCH))
    import label_noise

    started = []

    def fake_popen(command, stdout, stderr):
        started.append(command)
        stdout.write("done\n")
        return types.SimpleNamespace(wait=lambda: 0, poll=lambda: 0)

    monkeypatch.setattr(label_noise.subprocess, "Popen", fake_popen)
    monkeypatch.setattr(label_noise, "regenerate_report", lambda args: None)
    args = argparse.Namespace(recipe="fast", tag=None, data_root="data", cifar10n=tmp_path / "c10n.npz",
                              runs_dir=tmp_path / "runs", results_dir=None, stop_after_epoch=None, extra=[],
                              pipeline="config", jobs=3, concurrent_cells=None)
    cells = [("ce", "sym20"), ("sat", "sym20")]
    assert label_noise.run_in_processes(args, cells) == 0
    # three processes for two cells: two trainings shared the device
    assert [command[command.index("--concurrent-cells") + 1] for command in started] == ["2", "2"]
    started.clear()
    args.concurrent_cells = 5  # other trainings beside the grid, as the user says
    label_noise.run_in_processes(args, cells)
    assert [command[command.index("--concurrent-cells") + 1] for command in started] == ["5", "5"]


def grid_command(tmp_path, root, *extra):
    return [sys.executable, str(BENCH / "label_noise.py"), "--recipe", "fast", "--data-root", str(root),
            "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results"), "--noise", "sym40",
            "--set", "model.width=2", "--set", "data.batch_size=16", "--set", "method.start_epoch=1",
            "--set", "run.device=cpu", *map(str, extra)]


def test_a_result_cut_short_is_recorded_again_and_a_damaged_run_fails_its_cell_alone(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    grid = grid_command(tmp_path, root, "--methods", "ce", "sat", "--set", "run.epochs=2")
    run(*grid[1:], "--stop-after-epoch", "1", "--set", "run.threads=1")
    out = run(*grid[1:], "--set", "run.threads=2")
    # resumed on another thread count: said, and kept with the result, which is then no uninterrupted run's
    assert "  resumed after epoch 1: the run used 1 CPU thread and resumes on 2" in out
    cells = tmp_path / "results" / "label_noise" / "fast"
    resumptions = json.loads((cells / "sat-sym40.json").read_text())["resumptions"]
    assert [r["after_epoch"] for r in resumptions] == [1] and "CPU thread" in resumptions[0]["caveats"][0]

    (cells / "ce-sym40.json").write_text("")  # what a copy cut short leaves
    out = run(*grid[1:])
    assert f"ce-sym40: {cells / 'ce-sym40.json'}: not valid JSON (" in out and "; recorded again\n" in out
    assert "sat-sym40: recorded earlier" in out and "ce-sym40: finished earlier" in out
    assert json.loads((cells / "ce-sym40.json").read_text())["epochs"] == 2
    (cells / "ce-sym40.json").write_text("{")
    out = run(*grid[1:], "--redo")
    assert "earlier record not read, so what only its training knew is not kept" in out
    again = json.loads((cells / "ce-sym40.json").read_text())
    assert again["epochs"] == 2 and "recorded_again" not in again  # a record of its own, nothing carried over

    # a damaged file in one finished run directory is that cell's trouble: the other cell is still recorded
    summary = tmp_path / "runs" / "fast" / "ce-sym40" / "summary.json"
    summary.write_text(summary.read_text()[:50])
    sat_before = (cells / "sat-sym40.json").read_text()
    damaged = subprocess.run(grid + ["--redo"], capture_output=True, text=True)
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr, damaged.stderr
    assert f"ce-sym40: FAILED: {summary}: cannot be read (" in damaged.stdout
    assert "move that run directory away to train the cell again" in damaged.stdout
    assert (cells / "sat-sym40.json").read_text() != sat_before  # recorded again, after the failed cell
    config = tmp_path / "runs" / "fast" / "sat-sym40" / "config.yaml"
    config.write_text(config.read_text()[:30] + "\n  - [")
    damaged = subprocess.run(grid + ["--redo", "--methods", "sat"], capture_output=True, text=True)
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr, damaged.stderr
    assert f"sat-sym40: FAILED: {config}" in damaged.stdout
    config.unlink()  # gone altogether: the config the run's checkpoint keeps stands in for it
    out = run(*grid[1:], "--redo", "--methods", "sat")
    assert "sat-sym40: finished earlier" in out and "FAILED" not in out, out


def test_an_unwritable_results_directory_is_refused_before_any_training(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    (tmp_path / "file").write_text("")
    grid = grid_command(tmp_path, root, "--methods", "ce")
    grid[grid.index("--results-dir") + 1] = str(tmp_path / "file" / "results")
    refused = subprocess.run(grid, capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"label_noise.py: error: --results-dir {tmp_path / 'file' / 'results'}: {tmp_path / 'file'} is not a "
        "directory; expected a directory this process can write in"]
    assert not (tmp_path / "runs").exists()


def test_jobs_stopped_part_way_record_nothing_and_regenerate_no_report(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    out = run(*grid_command(tmp_path, root, "--methods", "ce", "sat", "--set", "run.epochs=2",
                            "--set", "run.threads=1", "--jobs", "2", "--stop-after-epoch", "1")[1:])
    assert out.count("(stopped early)") == 2 and "report not regenerated" not in out
    assert not (tmp_path / "results").exists() and not (tmp_path / "RESULTS.md").exists()


def test_a_stopped_grid_stops_its_cells_processes_and_each_keeps_its_checkpoint(tmp_path):
    import fcntl
    import os
    import signal
    import time

    root = write_fake_cifar10(tmp_path, per_batch=8)
    # a session of its own, so that a failing test can end the grid and its cells together
    grid = subprocess.Popen(grid_command(tmp_path, root, "--methods", "ce", "sat", "--set", "run.epochs=5000",
                                         "--set", "run.threads=1", "--jobs", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    runs = tmp_path / "runs" / "fast"
    try:
        deadline = time.monotonic() + 120
        while not all((runs / cell / "checkpoint.pt").exists() for cell in ("ce-sym40", "sat-sym40")):
            assert time.monotonic() < deadline and grid.poll() is None, grid.communicate()
            time.sleep(0.2)
        for cell in ("ce-sym40", "sat-sym40"):  # each lock names the process training its cell (for --status)
            pid = int((runs / f".{cell}.lock").read_text())
            assert b"label_noise.py" in Path(f"/proc/{pid}/cmdline").read_bytes() and pid != grid.pid
        grid.send_signal(signal.SIGTERM)  # to the grid alone, as a scheduler stops the process it started
        out, err = grid.communicate(timeout=60)
    finally:
        try:
            os.killpg(grid.pid, signal.SIGKILL)  # whatever is left of it
        except ProcessLookupError:
            pass
        grid.wait()
    assert grid.returncode == 143 and err.strip().splitlines() == ["label_noise.py: interrupted"], err
    for cell in ("ce-sym40", "sat-sym40"):
        with open(runs / f".{cell}.lock", "w") as handle:  # no process trains the cell any more
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        last = (runs / f"{cell}.log").read_text().strip().splitlines()[-1]
        assert last.startswith(f"label_noise.py: {runs / cell}: interrupted (checkpoint after epoch "), last


def write_finished_run(runs: Path, method: str, noise: str, rows: list[dict], summary: dict, *,
                       extra: tuple[str, ...] = ()) -> Path:
    """A finished run directory as fit() leaves it (its config as the grid's cell would train it, with the grid's
    ``--set`` overrides ``extra``), written by hand."""
    sys.path.insert(0, str(BENCH))
    import label_noise

    from satlearn.config import dump_yaml, load_config

    config_file, overrides = label_noise.cell_overrides("fast", method, noise, data_root="data", cifar10n=Path("-"),
                                                        extra=list(extra))
    run_dir = runs / "fast" / label_noise.cell_name(method, noise)
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_yaml(load_config(config_file, overrides)))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def test_a_finished_run_is_recorded_with_its_last_and_best_accuracy_and_the_seconds_of_all_its_epochs(tmp_path):
    # the grid tests train real cells, whose figures no test can know beforehand: here a run written by hand
    sys.path.insert(0, str(BENCH))
    import label_noise

    rows = [{"epoch": 1, "test_accuracy": 0.30, "epoch_seconds": 12.5},  # the first epoch compiles: it counts too
            {"epoch": 2, "test_accuracy": 0.55, "epoch_seconds": 2.25},
            {"epoch": 3, "test_accuracy": 0.50, "epoch_seconds": 2.0}]
    summary = {"epochs": 3, "noise": {"actual_rate": 0.361}, "final_test_accuracy": 0.50, "best_test_accuracy": 0.55,
               "best_epoch": 2, "device": "cuda:0"}
    run_dir = write_finished_run(tmp_path / "runs", "ce", "sym40", rows, summary)
    recorded = label_noise.run_cell("fast", "ce", "sym40", runs_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                                    data_root="data", cifar10n=Path("-"), extra=[], stop_after_epoch=None)
    cell = json.loads((tmp_path / "results" / "label_noise" / "fast" / "ce-sym40.json").read_text())
    assert {key: cell[key] for key in recorded if key != "compile_cache_counters"} == \
        {key: value for key, value in recorded.items() if key != "compile_cache_counters"}
    assert (cell["last_test_accuracy"], cell["best_test_accuracy"], cell["best_epoch"]) == \
        (summary["final_test_accuracy"], summary["best_test_accuracy"], summary["best_epoch"])
    assert cell["run_seconds"] == sum(row["epoch_seconds"] for row in rows)
    assert cell["epochs"] == summary["epochs"] and cell["actual_noise_rate"] == summary["noise"]["actual_rate"]
    # recorded, not trained, here: no whole-run time; measured on the run's device, whatever this machine has
    assert cell["fit_seconds"] is None and cell["run_device"] == "cuda:0"
    assert cell["device"]["measured_on"] == ["cuda:0"]
    assert cell["run_dir"] == str(run_dir) and "label_issues" not in cell  # CE keeps no targets


def test_a_cell_is_recorded_with_the_run_threads_it_trained_with_and_the_process_keeps_its_own(tmp_path):
    sys.path.insert(0, str(BENCH))
    import label_noise

    own = torch.get_num_threads()
    extra = [f"run.threads={own + 1}"]
    summary = {"epochs": 1, "noise": {"actual_rate": 0.4}, "final_test_accuracy": 0.4, "best_test_accuracy": 0.4,
               "best_epoch": 1, "device": "cpu"}
    write_finished_run(tmp_path / "runs", "ce", "sym40", [{"epoch": 1, "test_accuracy": 0.4, "epoch_seconds": 1.0}],
                       summary, extra=tuple(extra))
    label_noise.run_cell("fast", "ce", "sym40", runs_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                         data_root="data", cifar10n=Path("-"), extra=extra, stop_after_epoch=None)
    cell = json.loads((tmp_path / "results" / "label_noise" / "fast" / "ce-sym40.json").read_text())
    assert cell["device"]["torch_threads"] == own + 1
    assert torch.get_num_threads() == own


def test_a_finished_run_without_config_yaml_or_a_readable_checkpoint_fails_its_cell_saying_to_move_it_away(tmp_path):
    sys.path.insert(0, str(BENCH))
    import label_noise

    from satlearn.errors import TrainingError

    run_dir = write_finished_run(tmp_path / "runs", "ce", "sym40", [{"epoch": 1, "epoch_seconds": 1.0}], {"epochs": 1})
    (run_dir / "config.yaml").unlink()
    (run_dir / "checkpoint.pt").write_bytes(b"cut off")  # nothing left to tell the cell's settings by
    with pytest.raises(TrainingError) as failed:
        label_noise.run_cell("fast", "ce", "sym40", runs_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                             data_root="data", cifar10n=Path("-"), extra=[], stop_after_epoch=None)
    message = str(failed.value)
    assert message.startswith(f"{run_dir}: no config.yaml, and the run's config cannot be taken from its checkpoint")
    assert message.endswith(f"; {label_noise.AWAY}") and "\n" not in message


def test_a_sat_cell_scores_its_targets_against_the_true_labels(tmp_path):
    sys.path.insert(0, str(BENCH))
    import label_noise

    rows = [{"epoch": 1, "test_accuracy": 0.4, "epoch_seconds": 1.0}]
    summary = {"epochs": 1, "noise": {"actual_rate": 0.4}, "final_test_accuracy": 0.4, "best_test_accuracy": 0.4,
               "best_epoch": 1, "device": "cpu"}
    run_dir = write_finished_run(tmp_path / "runs", "sat", "sym40", rows, summary)
    # examples 2 and 4 are wrongly labelled; the targets move 1, 2 and 3 off their labels (margin > 0: flagged);
    # scores (1 - the given label's share) rank them 2 (0.8), 3 (0.65), 1 (0.6), 4 (0.5), 0 (0.2)
    labels, true_labels = np.array([0, 1, 2, 0, 1]), np.array([0, 1, 1, 0, 2])
    np.save(run_dir / "soft_targets.npy", np.array([[0.8, 0.1, 0.1], [0.1, 0.4, 0.5], [0.05, 0.75, 0.2],
                                                    [0.35, 0.65, 0.0], [0.2, 0.5, 0.3]], dtype=np.float32))
    np.savez(run_dir / "labels.npz", labels=labels, clean_labels=true_labels)
    label_noise.run_cell("fast", "sat", "sym40", runs_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                         data_root="data", cifar10n=Path("-"), extra=[], stop_after_epoch=None)
    issues = json.loads((tmp_path / "results" / "label_noise" / "fast" / "sat-sym40.json").read_text())["label_issues"]
    assert (issues["truly_wrong"], issues["flagged"]) == (2, 3)
    # one of the three flagged is wrong, one of the two wrong is flagged: F1 = 2 (1/3 · 1/2) / (1/3 + 1/2)
    assert (issues["precision"], issues["recall"]) == (pytest.approx(1 / 3), 0.5)
    assert issues["f1"] == pytest.approx(0.4)
    # AP: the wrong ones ranked 1st and 4th, (1/1 + 2/4) / 2; AUROC: 4 of the 6 (wrong, right) pairs in order
    assert issues["average_precision"] == pytest.approx(0.75) and issues["auroc"] == pytest.approx(4 / 6)


def test_a_cell_trained_here_records_the_compiler_cache_lookups_of_its_own_training(tmp_path, monkeypatch):
    # cells trained one after another in one process share its counters, which only grow: a cell's figures are
    # what its fit() added (the grid tests compile nothing, so every count there is 0 either way)
    from types import SimpleNamespace

    sys.path.insert(0, str(BENCH))
    import label_noise

    counts = [{"fxgraph_cache_hit": 5, "fxgraph_cache_miss": 3, "autograd_cache_hit": 2, "autograd_cache_miss": 1}]
    added = {"fxgraph_cache_hit": 4, "fxgraph_cache_miss": 1, "autograd_cache_hit": 0, "autograd_cache_miss": 2}
    rows = [{"epoch": 1, "test_accuracy": 0.5, "epoch_seconds": 1.0}]
    summary = {"epochs": 1, "noise": {"actual_rate": 0.4}, "final_test_accuracy": 0.5, "best_test_accuracy": 0.5,
               "best_epoch": 1, "device": "cpu"}

    def fit(config, run_dir, **options):  # a training that compiled: its run directory, and the counters grown
        write_finished_run(tmp_path / "runs", "ce", "sym40", rows, summary)
        counts.append({name: count + added[name] for name, count in counts[-1].items()})
        return SimpleNamespace(summary=summary)

    monkeypatch.setattr(label_noise, "fit", fit)
    monkeypatch.setattr(label_noise, "compile_cache_counters", lambda: dict(counts[-1]))
    cell = label_noise.run_cell("fast", "ce", "sym40", runs_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                                data_root="data", cifar10n=Path("-"), extra=[], stop_after_epoch=None)
    assert cell["compile_cache_counters"] == added
    assert cell["fit_seconds"] is not None  # trained here, uninterrupted: its whole-run time is known


def test_the_epochs_of_recorded_trainings_are_taken_per_pipeline_from_those_like_the_grids_alone(tmp_path):
    label_noise = load_benchmark("label_noise")
    results = tmp_path / "results"

    def record(name: str, pipeline: str, epochs: list[float], *, gpu: str = "GPU A", concurrent: int = 1,
               overrides: tuple[str, ...] = (), config: str = "cifar10_sat.yaml", resumed_after=None) -> None:
        path = results / "label_noise" / "fast" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        resumptions = None if resumed_after is None else [{"after_epoch": e, "caveats": []} for e in resumed_after]
        path.write_text(json.dumps({"config": config, "overrides": ["run.epochs=60", *overrides],
                                    "pipeline": pipeline, "device": {"gpu": gpu}, "concurrent_cells": concurrent,
                                    "resumptions": resumptions}))
        path.with_suffix(".metrics.jsonl").write_text(
            "".join(json.dumps({"epoch": e + 1, "epoch_seconds": s}) + "\n" for e, s in enumerate(epochs)))

    record("sat-sym40", "fast", [30.0, 2.0, 2.2, 2.4])  # the first epoch (the warm-up) is left out
    record("ce-sym40", "fast", [30.0, 3.0], config="cifar10_ce.yaml")
    # resumed after epochs 3 and 5: the epochs that compile again (4 and 6) are left out, as the first is
    record("sat-sym80", "fast+cudagraphs", [60.0, 1.5, 1.4, 50.0, 1.45, 40.0], resumed_after=[3, 5])
    record("sat-sym20", "fast", [9.0, 9.0], gpu="GPU B")  # another GPU model
    record("sat-sym60", "fast", [9.0, 9.0], concurrent=3)  # shared the GPU with two other cells
    record("sat-pair40", "fast", [9.0, 9.0], overrides=("model.name=resnet18",))  # another model
    record("ce-pair40", "fast", [9.0, 9.0], overrides=("data.batch_size=128",), config="cifar10_ce.yaml")
    record("sat_sce-sym40", "fast", [9.0, 9.0])
    (results / "label_noise" / "fast" / "sat_sce-sym40.metrics.jsonl").write_text("not JSON\n")  # passed over
    (results / "label_noise" / "fast" / "ce-sym20.json").write_text("{")  # a damaged record: passed over too

    assert label_noise.trained_epoch_seconds(results, model="resnet34", batch_size=256, gpu="GPU A") == \
        pytest.approx({"fast": 2.3, "fast+cudagraphs": 1.45})  # the median of 2.0, 2.2, 2.4 and 3.0
    assert label_noise.trained_epoch_seconds(results, model="resnet34", batch_size=256, gpu="GPU C") == {}
    assert label_noise.trained_epoch_seconds(tmp_path / "nothing", model="resnet34", batch_size=256,
                                             gpu="GPU A") == {}


def test_recorded_trainings_whose_settings_change_an_epochs_cost_are_left_out_of_their_pipelines_epoch(tmp_path):
    label_noise = load_benchmark("label_noise")
    results = tmp_path / "results"

    def record(name: str, epochs: list[float], *extra: str, pipeline: str = "fast") -> None:
        config_file, overrides = label_noise.cell_overrides("fast", "sat", "sym40", data_root="data",
                                                            cifar10n=Path("-"), extra=list(extra), pipeline=pipeline)
        path = results / "label_noise" / "fast" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config": config_file.name, "overrides": overrides, "pipeline": pipeline,
                                    "device": {"gpu": "GPU A"}, "concurrent_cells": 1}))
        path.with_suffix(".metrics.jsonl").write_text(
            "".join(json.dumps({"epoch": e + 1, "epoch_seconds": s}) + "\n" for e, s in enumerate(epochs)))

    record("sat-sym40", [30.0, 2.0, 2.2])
    record("sat-sym20", [30.0, 2.4], "run.seed=1", "data.noise.seed=1")  # another seed costs the same
    # a narrower model, smaller test batches, no bf16 after the pipeline's own amp: epochs of another cost
    record("sat-sym60", [9.0, 0.5, 0.5], "model.width=16")
    record("sat-sym80", [9.0, 9.0, 9.0], "data.eval_batch_size=100")
    record("sat-pair40", [9.0, 9.0, 9.0], "run.amp=off")
    record("sat-c10n-worst", [9.0, 9.0, 9.0], pipeline="config")  # the configs' own settings: no pipeline's

    assert label_noise.trained_epoch_seconds(results, model="resnet34", batch_size=256, gpu="GPU A") == \
        pytest.approx({"fast": 2.2})  # the median of 2.0, 2.2 and 2.4


def test_on_a_gpu_the_fastest_pipeline_weighs_the_epochs_that_cells_recorded_on_that_gpu_model(tmp_path, monkeypatch,
                                                                                                 capsys):
    # the CUDA branch of --pipeline fastest, run here with the device and its name stood in for
    import argparse

    import torch

    label_noise = load_benchmark("label_noise")
    results = tmp_path / "results"
    results.mkdir()

    def cell(pipeline: str, method: str, warmup: float, epoch: float) -> dict:
        return {"model": "resnet34", "method": method, "pipeline": pipeline, "device": "cuda:0",
                "warmup_epoch_seconds": warmup, "epoch_seconds": epoch}

    # 60 epochs from the table alone: eager 5 + 59 · 2 = 123 s, CUDA graphs 60 + 59 · 1 = 119 s
    (results / "speed.json").write_text(json.dumps({"cells": [
        cell("fast", "erm", 5.0, 2.0), cell("fast", "sat", 1.0, 2.0),
        cell("fast+cudagraphs", "erm", 60.0, 1.0), cell("fast+cudagraphs", "sat", 1.0, 1.0)]}))

    def record(gpu: str) -> None:
        config_file, overrides = label_noise.cell_overrides("fast", "sat", "sym40", data_root="data",
                                                            cifar10n=Path("-"), extra=[], pipeline="fast+cudagraphs")
        path = results / "label_noise" / "fast" / "sat-sym40.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config": config_file.name, "overrides": overrides, "pipeline": "fast+cudagraphs",
                                    "device": {"gpu": gpu}, "concurrent_cells": 1}))
        path.with_suffix(".metrics.jsonl").write_text(
            "".join(json.dumps({"epoch": e + 1, "epoch_seconds": s}) + "\n" for e, s in enumerate([60.0, 1.5, 1.5])))

    monkeypatch.setattr(label_noise, "resolve_device", lambda name="auto", **_: torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "GPU A")
    monkeypatch.setattr(label_noise, "COMPILER_CACHE_AT_START", {"dir": str(tmp_path / "cache"), "files": 0})
    args = argparse.Namespace(recipe="fast", data_root="data", cifar10n=Path("-"), extra=[], results_dir=results)

    assert label_noise.choose_fastest_pipeline(args, trainings=1) == "fast+cudagraphs"
    assert "the epochs of the trainings recorded" not in capsys.readouterr().out
    record("GPU B")  # another GPU model's cell says nothing of this one's epochs
    assert label_noise.choose_fastest_pipeline(args, trainings=1) == "fast+cudagraphs"
    record("GPU A")  # this model's CUDA-graph epochs took 1.5 s: 60 + 59 · 1.5 = 148.5 s against eager's 123 s
    assert label_noise.choose_fastest_pipeline(args, trainings=1) == "fast"
    assert "the epochs of the trainings recorded on this GPU model: fast+cudagraphs 1.50 s" in capsys.readouterr().out


@pytest.mark.parametrize("report, problem", [
    ("report", "is a directory; expected the file to write (say RESULTS.md)"),
    ("nowhere/R.md", "no directory {tmp_path}/nowhere to write it in"),
])
def test_a_report_that_is_a_folder_or_in_no_folder_stops_the_grid_before_its_first_cell(report, problem, tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    (tmp_path / "report").mkdir()
    done = subprocess.run([sys.executable, str(BENCH / "label_noise.py"), "--data-root", str(root), "--runs-dir",
                           str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results"), "--report",
                           str(tmp_path / report), "--methods", "ce", "--noise", "sym20", "--set", "model.width=2",
                           "--set", "run.epochs=1", "--set", "method.start_epoch=0", "--set", "run.device=cpu",
                           "--set", "run.threads=1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (f"label_noise.py: error: --report {tmp_path / report}: "
                                                    f"{problem.format(tmp_path=tmp_path)}")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize("report", [[], ["--report", "none"], ["--report", "R.md"]])
def test_a_cell_trained_in_a_process_of_its_own_writes_no_report(report, monkeypatch):
    # the grid regenerates the report as each cell finishes: cells that wrote it too would write it from several
    # processes at once, and one where --report none asked for none
    grid = load_benchmark("label_noise")
    args = parsed_options("label_noise", report, monkeypatch)
    command = grid.cell_command(args, "ce", "sym20", 2)
    assert command[1] == str(BENCH.resolve() / "label_noise.py")
    assert grid.report_path(parsed_options("label_noise", command[2:], monkeypatch)) is None


def test_a_worker_forked_during_a_cell_does_not_keep_it_locked_once_its_trainer_is_killed(tmp_path):
    # the reference pipeline's loader workers are forked while the cell is locked: a worker that outlives its killed
    # training process (for seconds) must not keep the cell from being resumed at once
    import os
    import signal
    import time

    run_dir = tmp_path / "runs" / "fast" / "sat-sym40"
    forked = tmp_path / "forked"
    trainer = subprocess.run([sys.executable, "-c", f"""
import os, signal, sys, time
from pathlib import Path
sys.path.insert(0, {str(BENCH)!r})
from label_noise import cell_lock
with cell_lock(Path({str(run_dir)!r})) as mine:
    assert mine
    worker = os.fork()
    if worker == 0:
        os.close(2)
        time.sleep(60)
        os._exit(0)
    Path({str(forked)!r}).write_text(str(worker))
    os.kill(os.getpid(), signal.SIGKILL)
"""], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)  # (a worker holding a pipe of
    # the trainer's would keep this call waiting for the worker's end)
    assert trainer.returncode == -signal.SIGKILL, trainer.stderr
    worker = int(forked.read_text())
    try:
        os.kill(worker, 0)  # the worker outlives its trainer
        with load_benchmark("label_noise").cell_lock(run_dir) as mine:
            assert mine, "the killed trainer's forked worker still holds the cell's lock"
    finally:
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
