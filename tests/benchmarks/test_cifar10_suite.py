"""benchmarks/cifar10_suite.sh runs its steps on tiny CIFAR-format data on the CPU, skips finished steps when
started again, reports its state and packs its results into one archive."""

import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from fixtures import load_benchmark, write_fake_cifar10

SUITE = Path(__file__).parents[2] / "benchmarks" / "cifar10_suite.sh"
TINY = "--set model.width=2 --set data.batch_size=16 --set run.device=cpu --set run.threads=1"


def suite_environment(tmp_path, **env):
    return {**os.environ, "PYTHON": sys.executable, "DATA_ROOT": str(tmp_path / "cifar-10-batches-py"),
            "SUITE_RESULTS": str(tmp_path / "results"), "SUITE_RUNS": str(tmp_path / "runs"),
            "SUITE_REPORT": str(tmp_path / "RESULTS.md"), "GRID_JOBS": "2", "GRID_NOISE": "sym40",
            "GRID_METHODS": "sat", "SPEED_PIPELINES": "fast", "SPEED_ARGS": f"--epochs 1 {TINY}",
            "RUN_SET": f"{TINY} --set run.epochs=2 --set method.start_epoch=1",
            "TORCHINDUCTOR_CACHE_DIR": "", "COMPILE_CACHE": str(tmp_path / "no-archive.tgz"), **env}


def suite(tmp_path, *args, script=SUITE, timeout=None, **env):
    return subprocess.run(["bash", str(script), *args], env=suite_environment(tmp_path, **env), capture_output=True,
                          text=True, timeout=timeout)


def test_suite_runs_resumes_reports_and_packs(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    first = suite(tmp_path, STEPS="prepare speed paper paper-ce grid report")
    assert first.returncode == 0, first.stdout + first.stderr
    for step in ("prepare", "speed", "paper", "paper-ce", "grid"):
        assert f"[{step}] finished" in first.stdout
    results = tmp_path / "results"
    assert json.loads((results / "speed.json").read_text())["cells"][0]["pipeline"] == "fast"
    recorded = sorted(str(p.relative_to(results / "label_noise")) for p in results.glob("label_noise/*/*.json"))
    assert recorded == ["fast/sat-sym40.json", "paper/ce-sym40.json", "paper/sat-sym40.json"]
    cells = [json.loads((results / "label_noise" / name).read_text()) for name in recorded]
    assert [cell["concurrent_cells"] for cell in cells] == [1, 1, 1]
    # each cell's per-epoch metrics are recorded beside it, one row per epoch
    assert all(len((results / "label_noise" / name).with_suffix(".metrics.jsonl").read_text().splitlines()) == 2
               for name in recorded)
    # the trainings use the pipeline the speed step measured quickest: the only one measured here
    assert [cell["pipeline"] for cell in cells] == ["fast", "fast", "fast"]
    assert all("data.pipeline=memory" in cell["overrides"] for cell in cells)
    assert "### recipe `paper`" in (tmp_path / "RESULTS.md").read_text()
    # learning curves beside the report, one figure per recipe, from the runs' metrics
    assert {p.name for p in (tmp_path / "figures").glob("*.png")} == {"label_noise_paper.png", "label_noise_fast.png"}

    again = suite(tmp_path, STEPS="speed grid")
    assert "[speed] done earlier" in again.stdout and "[grid] done earlier" in again.stdout

    status = suite(tmp_path, "--status")
    assert "finished steps: prepare speed paper paper-ce grid" in status.stdout
    assert "training" not in status.stdout  # every cell has finished
    unfinished = tmp_path / "runs" / "fast" / "ce-sym20"
    unfinished.mkdir(parents=True)
    rows = [{"epoch": 1, "test_accuracy": 0.25, "epoch_seconds": 1.5}, {"epoch": 2, "epoch_seconds": 1.25}]
    (unfinished / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert "stopped in fast/ce-sym20 after epoch 2, 1.25 s/epoch" in suite(tmp_path, "--status").stdout

    # another machine with the recorded results (no step markers): measured speed and cells are not repeated
    for marker in (tmp_path / "runs" / "suite").glob("*.done"):
        marker.unlink()
    elsewhere = suite(tmp_path, STEPS="speed paper", SUITE_RUNS=str(tmp_path / "runs-elsewhere"))
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
    speed_log = (tmp_path / "runs-elsewhere" / "suite" / "speed.log").read_text()
    paper_log = (tmp_path / "runs-elsewhere" / "suite" / "paper.log").read_text()
    assert "already measured on this kind of device" in speed_log and "recorded earlier" in paper_log

    packed = suite(tmp_path, "--pack", str(tmp_path / "out.tgz"))
    assert packed.returncode == 0, packed.stderr
    with tarfile.open(tmp_path / "out.tgz") as tar:
        names = tar.getnames()
    assert any(n.endswith("speed.json") for n in names) and any(n.endswith("paper/sat-sym40/metrics.jsonl")
                                                                   for n in names)
    assert not any(n.endswith(".pt") for n in names)
    # without SUITE_RESULTS, --pack takes the results directory that the suite under these runs wrote to
    suite(tmp_path, "--pack", str(tmp_path / "again.tgz"), SUITE_RESULTS="")
    with tarfile.open(tmp_path / "again.tgz") as tar:
        names = tar.getnames()
    assert any(n.endswith(f"{tmp_path.name}/results/speed.json") for n in names)
    assert not any(n.startswith("benchmarks/results") for n in names)


def stand_in_python(tmp_path) -> str:
    """A PYTHON for the suite under which the benchmark script named in STAND_IN_SCRIPT (say speed.py) does not run:
    with STAND_IN=pass it succeeds at once, with STAND_IN=fail it fails in one line, with STAND_IN=cut it
    fails as one killed mid-line does (its last line, a progress bar, without a newline), with STAND_IN=wait it
    creates the file STAND_IN_STARTED and then waits, writing nothing, until it is stopped, and with STAND_IN=deaf it
    does so deaf to SIGTERM, as a process busy in a long call that does not come back to Python for a while. Every
    other python command runs as usual."""
    wrapper = tmp_path / "stand-in-python"
    wrapper.write_text(f"""#!/bin/bash
if [ -n "${{STAND_IN_SCRIPT:-}}" ] && [ "$(basename -- "${{1:-}}")" = "$STAND_IN_SCRIPT" ]; then
    case "$STAND_IN" in
        pass) echo "$STAND_IN_SCRIPT stand-in: done"; exit 0 ;;
        fail) echo "$STAND_IN_SCRIPT stand-in: failed" >&2; exit 1 ;;
        cut) printf '%s\\n%s' "$STAND_IN_SCRIPT stand-in: failed" "epoch 3:  45%|####" >&2; exit 1 ;;
        wait) touch "$STAND_IN_STARTED"; exec sleep 300 ;;
        deaf) trap '' TERM; touch "$STAND_IN_STARTED"; exec sleep 300 ;;
    esac
fi
exec {sys.executable} "$@"
""")
    wrapper.chmod(0o755)
    return str(wrapper)


def start_detached(environment: dict) -> subprocess.Popen:
    """The suite started in a session of its own, as it runs detached, with a thread that waits for it so that it
    leaves no zombie once it ends: a stop waits until every process it signalled has gone, and this test's child,
    ended but not waited for, would count as there until the stop's limits, 10 s for SIGTERM and 10 more after
    SIGKILL (a suite detached for real is waited for by the shell that started it, or by init)."""
    detached = subprocess.Popen(["bash", str(SUITE)], env=environment, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    threading.Thread(target=detached.wait, daemon=True).start()
    return detached


def start_detached_until_stand_in_waits(tmp_path, stand_in="wait", **env) -> subprocess.Popen:
    """The suite started detached with the stand-in python (STAND_IN ``stand_in``), returned once its stand-in
    script waits."""
    import time

    started = tmp_path / "stand-in-started"
    environment = suite_environment(tmp_path, PYTHON=stand_in_python(tmp_path), STAND_IN=stand_in,
                                    STAND_IN_STARTED=str(started), **env)
    detached = start_detached(environment)
    deadline = time.monotonic() + 120
    while not started.exists() and detached.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), "the stand-in never started"
    return detached


def test_a_copy_without_git_started_again_without_bench_commit_records_the_commit_it_was_started_with(tmp_path):
    import shutil

    # a copy of the tree without .git (as a GPU machine may receive it), outside any git checkout
    checkout, tree = SUITE.parents[1], tmp_path / "tree"
    outputs = {checkout / "benchmarks" / name for name in ("results", "runs", "data", "figures")}
    for part in ("src", "configs", "benchmarks"):
        shutil.copytree(checkout / part, tree / part, ignore=lambda folder, names: [
            name for name in names if name == "__pycache__" or Path(folder) / name in outputs])
    copied = {"script": tree / "benchmarks" / "cifar10_suite.sh", "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    write_fake_cifar10(tmp_path, per_batch=8)
    first = suite(tmp_path, STEPS="prepare", BENCH_COMMIT="0123456789abcdef", **copied)
    assert first.returncode == 0 and "suite at 0123456789abcdef" in first.stdout, first.stdout + first.stderr
    # started again without BENCH_COMMIT (a --run-for after a --stop, say): its results name that commit still
    again = suite(tmp_path, STEPS="speed", BENCH_COMMIT="", **copied)
    assert "[speed] finished" in again.stdout, again.stdout + again.stderr
    assert json.loads((tmp_path / "results" / "speed.json").read_text())["commit"] == "0123456789abcdef"
    remembered = f"commit 0123456789abcdef: remembered from an earlier start under {tmp_path / 'runs'}"
    assert remembered in again.stdout, again.stdout
    # another runs folder knows no commit: the log says how to name it
    unknown = suite(tmp_path, STEPS="prepare", BENCH_COMMIT="", SUITE_RUNS=str(tmp_path / "runs-new"), **copied)
    assert "suite at unknown" in unknown.stdout and "start the suite with BENCH_COMMIT=" in unknown.stdout


def test_bench_commit_that_is_not_gits_head_is_warned_of_in_one_line(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SUITE.parent, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("the tests run outside a git checkout")
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step: prepare finds the data there
    other = suite(tmp_path, STEPS="prepare", BENCH_COMMIT="0123456789abcdef")
    assert other.returncode == 0, other.stdout + other.stderr
    warnings = [line for line in other.stdout.splitlines() if "is not git's HEAD" in line]
    assert warnings == [f"warning: BENCH_COMMIT=0123456789abcdef is not git's HEAD here ({head.stdout.strip()}); "
                        "the results record BENCH_COMMIT, which wins"], other.stdout
    assert "suite at 0123456789abcdef" in other.stdout
    same = suite(tmp_path, STEPS="prepare", BENCH_COMMIT=head.stdout.strip()[:12])
    assert same.returncode == 0 and "is not git's HEAD" not in same.stdout, same.stdout


def test_paper_both_trains_the_two_paper_cells_at_once(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    result = suite(tmp_path, STEPS="prepare paper-both")
    assert "[paper-both] finished" in result.stdout, result.stdout + result.stderr
    cells = sorted((tmp_path / "results" / "label_noise" / "paper").glob("*.json"))
    assert [c.stem for c in cells] == ["ce-sym40", "sat-sym40"]
    assert [json.loads(c.read_text())["concurrent_cells"] for c in cells] == [2, 2]
    assert "finished steps: prepare paper-both" in suite(tmp_path, "--status").stdout


def test_grid_recipe_and_seed_choose_the_grid_steps_cells(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    result = suite(tmp_path, STEPS="prepare grid", GRID_RECIPE="paper", GRID_NOISE="sym80", GRID_SEED="2")
    assert "[grid] finished" in result.stdout, result.stdout + result.stderr
    recorded = [p.relative_to(tmp_path / "results" / "label_noise") for p in
                (tmp_path / "results" / "label_noise").glob("*/*.json")]
    assert [str(p) for p in recorded] == ["paper_seed2/sat-sym80.json"]
    assert json.loads((tmp_path / "results" / "label_noise" / recorded[0]).read_text())["seeds"]["run"] == 2
    assert "[grid] done earlier" in suite(tmp_path, STEPS="grid", GRID_RECIPE="paper", GRID_NOISE="sym80",
                                          GRID_SEED="2").stdout
    # another grid in the same runs directory is not taken for the finished one: it trains its own cells
    other = suite(tmp_path, STEPS="grid", GRID_RECIPE="paper", GRID_NOISE="sym80")
    assert "[grid] done earlier as 'recipe paper, seed 2, noise sym80" in other.stdout, other.stdout
    assert (tmp_path / "results" / "label_noise" / "paper" / "sat-sym80.json").exists()


def test_a_grid_with_other_settings_that_failed_is_not_listed_as_finished(tmp_path):
    # the finished grid's marker must not make a later grid of other cells, which failed, read as finished
    standing_in = {"STEPS": "grid", "PYTHON": stand_in_python(tmp_path), "STAND_IN_SCRIPT": "label_noise.py"}
    finished = suite(tmp_path, GRID_NOISE="sym40", STAND_IN="pass", **standing_in)
    assert "[grid] finished" in finished.stdout, finished.stdout + finished.stderr
    assert "finished steps: grid" in suite(tmp_path, "--status").stdout
    failed = suite(tmp_path, GRID_NOISE="sym20", STAND_IN="fail", **standing_in)
    assert "[grid] FAILED" in failed.stdout, failed.stdout + failed.stderr
    listed = suite(tmp_path, "--status").stdout.splitlines()[0]
    assert listed.startswith("finished steps:") and "grid" not in listed, listed
    # the first grid's cells are recorded: run again, it skips them, and it is finished once more
    again = suite(tmp_path, GRID_NOISE="sym40", STAND_IN="pass", **standing_in)
    assert "[grid] finished" in again.stdout and "finished steps: grid" in suite(tmp_path, "--status").stdout


def test_a_failing_step_is_reported_and_the_suite_goes_on(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    result = suite(tmp_path, STEPS="speed report", SPEED_ARGS=f"{TINY} --set model.name=resnet1000")
    assert "[speed] FAILED" in result.stdout and "resnet1000" in result.stdout and "[report]" in result.stdout
    assert "speed" not in suite(tmp_path, "--status").stdout.splitlines()[0]
    assert suite(tmp_path, "--bogus").returncode == 2
    manual = suite(tmp_path, "--help")
    assert manual.returncode == 0 and "1. prepare" in manual.stdout and "STEPS (default" in manual.stdout


def test_profile_and_extra_speed_steps(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    first = suite(tmp_path, STEPS="prepare profile speed18")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[profile] finished" in first.stdout and "[speed18] finished" in first.stdout
    assert "no CUDA device" in (tmp_path / "runs" / "suite" / "profile.log").read_text()
    assert not (tmp_path / "results" / "speed_profile.json").exists()
    resnet18 = json.loads((tmp_path / "results" / "speed_resnet18.json").read_text())
    assert {c["model"] for c in resnet18["cells"]} == {"resnet18"} and "--models resnet18" in resnet18["command"]
    assert "[speed18] done earlier" in suite(tmp_path, STEPS="speed18").stdout
    # with the results but not the step markers (another machine), the recorded measurement is not repeated
    again = suite(tmp_path, STEPS="speed18", SUITE_RUNS=str(tmp_path / "runs-elsewhere"))
    assert "already measured" in (tmp_path / "runs-elsewhere" / "suite" / "speed18.log").read_text(), again.stdout
    # a table that lacks a pipeline the step asks for (its run was stopped part-way) is measured again, whole
    more = suite(tmp_path, STEPS="speed18", SUITE_RUNS=str(tmp_path / "runs-more"), SPEED_PIPELINES="fast reference",
                 SPEED_ARGS=f"--epochs 1 --workers 0 {TINY}")
    assert "already measured" not in (tmp_path / "runs-more" / "suite" / "speed18.log").read_text(), more.stdout
    resnet18 = json.loads((tmp_path / "results" / "speed_resnet18.json").read_text())
    assert sorted({c["pipeline"] for c in resnet18["cells"]}) == ["fast", "reference"]
    unknown = suite(tmp_path, STEPS="speed19")
    assert unknown.returncode == 2 and "unknown step 'speed19'" in unknown.stderr


def test_bad_steps_or_a_python_without_torch_stop_the_suite_before_any_step_runs(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    for how in ([], ["--run-for", "30"]):  # in the foreground, and before it is detached
        late_typo = suite(tmp_path, *how, STEPS="report speed19")  # a valid step first: it must not run
        assert late_typo.returncode == 2 and "unknown step 'speed19'" in late_typo.stderr
        assert not (tmp_path / "RESULTS.md").exists() and "[report]" not in late_typo.stdout
        bad_seed = suite(tmp_path, *how, STEPS="report", GRID_SEED="1a")
        assert bad_seed.returncode == 2 and "GRID_SEED='1a' is not a non-negative integer" in bad_seed.stderr
        no_torch = suite(tmp_path, *how, STEPS="report", PYTHON="/bin/true-python-missing")
        assert no_torch.returncode == 2 and "cannot import torch" in no_torch.stderr
        assert not (tmp_path / "RESULTS.md").exists()
    assert not (tmp_path / "runs" / "suite.log").exists()  # nothing was started detached


def test_a_typo_in_the_grid_or_training_settings_stops_the_suite_before_any_step_runs(tmp_path):
    typos = [("GRID_NOISE", "sym40 sym30", "unknown noise 'sym30' in GRID_NOISE; expected some of: sym20 sym40"),
             ("GRID_METHODS", "ce sta", "unknown method 'sta' in GRID_METHODS; expected some of: ce sat sat_sce"),
             ("GRID_RECIPE", "papr", "unknown recipe 'papr' in GRID_RECIPE; expected one of: paper fast"),
             ("TRAIN_PIPELINE", "fastets", "unknown pipeline 'fastets' in TRAIN_PIPELINE; expected one of: config"),
             ("RUN_SET", "--set run.epoch=2", "RUN_SET: --set run.epoch=2: unknown key 'run.epoch'"),
             ("RUN_SET", "--set method.momentum=2", "RUN_SET: --set method.momentum=2: method.momentum=2.0; expected"),
             ("RUN_SET", "run.epochs=2", "RUN_SET='run.epochs=2': expected --set key=value pairs")]
    for variable, value, message in typos:  # the grid last: the report before it must not run either
        result = suite(tmp_path, STEPS="report grid", **{variable: value})
        assert result.returncode == 2 and "[report]" not in result.stdout, result.stdout + result.stderr
        [line] = result.stderr.splitlines()
        assert message in line, line
    detached = suite(tmp_path, "--run-for", "30", STEPS="report grid", GRID_NOISE="sym30")
    assert detached.returncode == 2 and "unknown noise 'sym30'" in detached.stderr
    assert not (tmp_path / "RESULTS.md").exists() and not (tmp_path / "runs" / "suite.log").exists()


def test_stop_ends_a_detached_suite_and_its_trainings_but_not_the_caller(tmp_path):
    import time

    write_fake_cifar10(tmp_path, per_batch=8)
    environment = suite_environment(tmp_path, GRID_JOBS="1", STEPS="prepare grid report",
                                    RUN_SET=f"{TINY} --set run.epochs=500 --set method.start_epoch=1")
    detached = start_detached(environment)
    metrics = tmp_path / "runs" / "fast" / "sat-sym40" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert metrics.exists(), "the grid's training never started"
    trainings = [p for p in Path("/proc").glob("[0-9]*/cmdline")
                 if b"label_noise.py" in p.read_bytes() and str(tmp_path).encode() in p.read_bytes()]
    assert trainings
    # the caller's own command line names the suite too: a stop by name would end the caller
    stopped = subprocess.run(["bash", "-c", f"bash {SUITE} --stop; echo caller still here"], env=environment,
                             capture_output=True, text=True, timeout=60)
    assert "stopped the suite (process" in stopped.stdout and "caller still here" in stopped.stdout
    assert "in step grid: its unfinished training resumes from its last checkpoint" in stopped.stdout, stopped.stdout
    assert detached.wait(timeout=15) != 0
    assert not any(p.exists() for p in trainings)
    assert "no suite is running" in suite(tmp_path, "--stop").stdout
    status = suite(tmp_path, "--status").stdout
    assert "the suite is not running" in status and "stopped in fast/sat-sym40 after epoch" in status, status


def test_stop_says_that_a_step_without_checkpoints_starts_again_from_scratch(tmp_path):
    # maxautotune keeps no checkpoint: the stop must not promise that it resumes. Its compilation, deaf to SIGTERM
    # here, is killed: when the stop returns it has gone, as the processes that took the SIGTERM have
    detached = start_detached_until_stand_in_waits(tmp_path, "deaf", STEPS="maxautotune", STAND_IN_SCRIPT="speed.py")
    left = []
    try:
        stopped = suite(tmp_path, "--stop")
        left = [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
                if (_session_and_command(stat) or (None, None))[0] == detached.pid]
    finally:
        detached.kill()  # ended already where the stop worked
        detached.wait()
        for pid in left:
            os.kill(pid, 9)
    assert not left, f"processes of the stopped suite still there: {left}"
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    [line] = stopped.stdout.splitlines()
    assert "stopped the suite (process" in line and "resumes" not in line, line
    assert re.search(r"and (1 process|(0|[2-9]|\d{2,}) processes) under it", line), line
    assert "in step maxautotune, which keeps no checkpoint: it starts again from scratch" in line, line


def test_stop_names_what_is_still_there_after_its_sigkill(tmp_path):
    # a process can outlive SIGKILL for a while (one stuck in the kernel; here the suite's own process, ended but not
    # yet waited for by its parent): the stop must not report a stop that a --pack right after it would race
    import time

    started = tmp_path / "stand-in-started"
    environment = suite_environment(tmp_path, PYTHON=stand_in_python(tmp_path), STAND_IN="wait",
                                    STAND_IN_STARTED=str(started), STEPS="maxautotune", STAND_IN_SCRIPT="speed.py")
    detached = subprocess.Popen(["bash", str(SUITE)], env=environment, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # not waited for until the end
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and detached.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), "the stand-in never started"
        stopped = suite(tmp_path, "--stop", timeout=60)
    finally:
        if detached.poll() is None:
            os.killpg(detached.pid, 9)
        detached.wait()
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "stopped the suite" not in stopped.stdout, stopped.stdout
    line = stopped.stderr.strip().splitlines()[-1]
    assert line.startswith(f"cifar10_suite.sh --stop: still there 10 s after SIGKILL: process {detached.pid} (bash, "
                           "state Z)"), line


def status_after_a_failed_attempt(tmp_path, stand_in: str) -> tuple[subprocess.CompletedProcess, str]:
    """The maxautotune step failed once (the stand-in's ``stand_in`` mode), then ``--status`` while a second attempt
    waits, having written nothing yet: (the failed run, the status text)."""
    failed = suite(tmp_path, STEPS="maxautotune", PYTHON=stand_in_python(tmp_path), STAND_IN_SCRIPT="speed.py",
                   STAND_IN=stand_in)
    assert "[maxautotune] FAILED" in failed.stdout, failed.stdout + failed.stderr
    detached = start_detached_until_stand_in_waits(tmp_path, STEPS="maxautotune", STAND_IN_SCRIPT="speed.py")
    try:
        status = suite(tmp_path, "--status").stdout
    finally:
        suite(tmp_path, "--stop")
        detached.kill()
        detached.wait()
    return failed, status


def test_status_shows_the_latest_attempt_of_a_step_not_the_lines_of_an_earlier_one(tmp_path):
    # a step's log keeps every attempt: one that failed, then one started again that has written nothing yet
    failed, status = status_after_a_failed_attempt(tmp_path, "fail")
    assert "speed.py stand-in: failed" in failed.stdout
    assert "stand-in: failed" not in status, status
    shown = status.split("== maxautotune.log\n", 1)[1].splitlines()
    assert shown[0].startswith("### cifar10_suite.sh: attempt started ") and shown[1] == "(nothing written since)"
    # every attempt opens with its own line, the failed one's kept above the latest
    log = (tmp_path / "runs" / "suite" / "maxautotune.log").read_text()
    assert log.count("### cifar10_suite.sh: attempt started ") == 2, log


def test_status_shows_the_latest_attempt_also_after_one_cut_off_mid_line(tmp_path):
    # a progress bar cut off by a kill leaves the log without its last newline: the next attempt's opening line
    # must still begin a line of its own
    _, status = status_after_a_failed_attempt(tmp_path, "cut")
    assert "stand-in: failed" not in status and "45%" not in status, status
    shown = status.split("== maxautotune.log\n", 1)[1].splitlines()
    assert shown[0].startswith("### cifar10_suite.sh: attempt started ") and shown[1] == "(nothing written since)"


def test_status_says_whether_the_suite_runs_and_calls_a_training_without_it_stopped(tmp_path):
    unfinished = tmp_path / "runs" / "fast" / "ce-sym40"
    unfinished.mkdir(parents=True)
    row = {"epoch": 4, "test_accuracy": 0.5, "epoch_seconds": 2.0}
    (unfinished / "metrics.jsonl").write_text(json.dumps(row) + "\n")
    pid_file = tmp_path / "runs" / "suite" / "suite.pid"
    pid_file.parent.mkdir()
    # a suite that was killed leaves its process id behind; the suite is known by its command line
    killed = subprocess.Popen([sys.executable, "-c", "", "cifar10_suite.sh"])
    killed.wait()
    pid_file.write_text(f"{killed.pid}\n")
    stopped = suite(tmp_path, "--status").stdout
    assert "the suite is not running" in stopped and "training" not in stopped, stopped
    assert "stopped in fast/ce-sym40 after epoch 4, test accuracy 50.00 %, 2.00 s/epoch" in stopped
    # with the suite running, a cell trains while the process that locked it lives; another, left by an earlier
    # grid, is stopped
    left = tmp_path / "runs" / "fast" / "sat-sym40"
    left.mkdir()
    (left / "metrics.jsonl").write_text(json.dumps({**row, "epoch": 2}) + "\n")
    (left.parent / ".sat-sym40.lock").write_text(f"{killed.pid}\n")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "cifar10_suite.sh"])
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "label_noise.py"])
    try:
        pid_file.write_text(f"{running.pid}\n")
        (unfinished.parent / ".ce-sym40.lock").write_text(f"{trainer.pid}\n")
        status = suite(tmp_path, "--status").stdout
    finally:
        for process in (running, trainer):
            process.kill()
            process.wait()
    assert f"the suite is running (process {running.pid})" in status, status
    assert "training fast/ce-sym40: epoch 4, test accuracy 50.00 %, 2.00 s/epoch" in status
    assert "stopped in fast/sat-sym40 after epoch 2" in status
    # a metrics file cut short (a half-copied runs folder) is named, and the other cells are still shown
    (left / "metrics.jsonl").write_text(json.dumps(row) + '\n{"epoch": 5, "te')
    damaged = suite(tmp_path, "--status")
    assert damaged.returncode == 0 and "Traceback" not in damaged.stderr, damaged.stderr
    assert f"unreadable: {left / 'metrics.jsonl'}: line 2 is not an epoch's JSON object" in damaged.stdout
    assert "stopped in fast/ce-sym40 after epoch 4" in damaged.stdout


def test_an_option_without_its_value_or_help_is_answered_in_one_line_and_makes_no_folder(tmp_path):
    for option, what in (("--pack", "FILE.tgz"), ("--pack-cache", "FILE.tar.xz"), ("--run-for", "SECONDS")):
        result = suite(tmp_path, option)
        assert result.returncode == 2 and result.stderr.strip() == (
            f"cifar10_suite.sh: {option} needs a value: cifar10_suite.sh {option} {what}"), result.stderr
    assert suite(tmp_path, "--help").returncode == 0
    assert not (tmp_path / "runs").exists()


def test_the_compiler_cache_is_packed_for_another_machine_and_restored_there(tmp_path):
    cache = tmp_path / "runs" / "compile_cache"
    empty = suite(tmp_path, "--pack-cache", str(tmp_path / "cache.tar.xz"))
    assert empty.returncode == 1 and "is empty" in empty.stderr
    (cache / "triton" / "0").mkdir(parents=True)
    (cache / "triton" / "0" / "kernel.cubin").write_bytes(b"compiled")
    (cache / "fxgraph.bin").write_bytes(b"graph")
    packed = suite(tmp_path, "--pack-cache", str(tmp_path / "cache.tar.xz"))
    assert packed.returncode == 0 and "(2 files)" in packed.stdout, packed.stdout + packed.stderr
    unknown = suite(tmp_path, "--pack-cache", str(tmp_path / "cache.zip"))
    assert unknown.returncode != 0 and unknown.stderr.strip().splitlines() == [
        f"cifar10_suite.sh --pack-cache: {tmp_path / 'cache.zip'}: a compiler cache archive's name must end in "
        ".tar.xz, .txz, .tar.gz, .tgz (how it is compressed)"]

    # another machine: an empty cache directory is filled from the archive before any step runs
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step after it: prepare finds the data there
    elsewhere = tmp_path / "elsewhere"
    restored = suite(tmp_path, STEPS="prepare", SUITE_RUNS=str(elsewhere), COMPILE_CACHE=str(tmp_path / "cache.tar.xz"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"compiler cache: 2 files from {tmp_path / 'cache.tar.xz'}" in restored.stdout
    assert (elsewhere / "compile_cache" / "triton" / "0" / "kernel.cubin").read_bytes() == b"compiled"
    # a cache that holds entries already is kept as it is
    (elsewhere / "compile_cache" / "newer.bin").write_bytes(b"newer")
    again = suite(tmp_path, STEPS="prepare", SUITE_RUNS=str(elsewhere), COMPILE_CACHE=str(tmp_path / "cache.tar.xz"))
    assert "compiler cache: " + str(elsewhere / "compile_cache") + " (3 files)" in again.stdout
    # an explicit TORCHINDUCTOR_CACHE_DIR is the one used
    chosen = suite(tmp_path, STEPS="prepare", TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "chosen"),
                   COMPILE_CACHE=str(tmp_path / "cache.tar.xz"))
    assert (tmp_path / "chosen" / "fxgraph.bin").exists(), chosen.stdout
    # an archive named but not there is said to be missing, not passed over as if none had been named
    cold = suite(tmp_path, STEPS="prepare", SUITE_RUNS=str(tmp_path / "cold"),
                 COMPILE_CACHE=str(tmp_path / "cache.tar.gz"))
    assert (f"compiler cache: empty, and COMPILE_CACHE={tmp_path / 'cache.tar.gz'} is no file (mistyped?); the first "
            "compilation of each model starts from scratch") in cold.stdout, cold.stdout


def test_pack_cache_names_an_archive_suffix_it_cannot_write_before_looking_at_the_cache(tmp_path):
    # with the cache empty too, the name is what to fix first: "empty" would send the caller to fill the cache
    for cache in ("missing", "empty"):
        if cache == "empty":
            (tmp_path / "runs" / "compile_cache").mkdir(parents=True)
        unknown = suite(tmp_path, "--pack-cache", str(tmp_path / "cache.zip"))
        assert unknown.returncode != 0 and unknown.stderr.strip().splitlines() == [
            f"cifar10_suite.sh --pack-cache: {tmp_path / 'cache.zip'}: a compiler cache archive's name must end in "
            ".tar.xz, .txz, .tar.gz, .tgz (how it is compressed)"], unknown.stderr
    empty = suite(tmp_path, "--pack-cache", str(tmp_path / "cache.tgz"))
    assert empty.returncode == 1 and empty.stderr.strip() == (
        f"cifar10_suite.sh --pack-cache: the compiler cache {tmp_path / 'runs' / 'compile_cache'} is empty: nothing "
        "to pack"), empty.stderr
    assert not list(tmp_path.glob("cache.*"))


def test_run_for_starts_the_suite_detached_and_reports_when_it_ends(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    watched = suite(tmp_path, "--run-for", "120", STEPS="prepare")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "started the suite" in watched.stdout and "[prepare] finished" in watched.stdout
    assert "the suite is not running" in watched.stdout and "finished steps: prepare" in watched.stdout
    # a second watch shows only what the suite logged since the first
    second = suite(tmp_path, "--run-for", "120", STEPS="prepare")
    assert "[prepare] done earlier" in second.stdout and "[prepare] finished" not in second.stdout
    assert "suite.log" in second.stdout and (tmp_path / "runs" / "suite.log").exists()
    bad = suite(tmp_path, "--run-for", "soon")
    assert bad.returncode == 2 and "'soon' is not a number of seconds" in bad.stderr


def python_whose_second_settings_check(tmp_path: Path, name: str, then: str) -> Path:
    """A stand-in for PYTHON that runs ``then`` (a shell command) at the second settings check it is given on stdin,
    the detached suite's own (the first is the shell's that starts it), and is the real interpreter otherwise."""
    checks = tmp_path / "settings-checks"
    python = tmp_path / name
    python.write_text(f"""#!/bin/bash
if [ "${{1:-}}" = - ]; then
    echo >> {checks}
    [ "$(wc -l < {checks})" = 2 ] && {then}
fi
exec {sys.executable} "$@"
""")
    python.chmod(0o755)
    return python


def test_run_for_waits_for_a_suite_whose_own_checks_take_longer_than_ten_seconds(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step: prepare finds the data there
    # the second settings check, the detached suite's own, as slow as a first torch import on a cold machine can be
    slow = python_whose_second_settings_check(tmp_path, "slow-python", "sleep 11")
    watched = suite(tmp_path, "--run-for", "120", STEPS="prepare", PYTHON=str(slow))
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "[prepare] finished" in watched.stdout, watched.stdout
    assert "the suite is not running" in watched.stdout and "process ?" not in watched.stdout, watched.stdout


def test_run_for_reports_a_suite_that_ends_before_naming_itself_without_waiting_for_its_name(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    # the detached suite's own settings check fails where this shell's passed (its PYTHON changed in between, say):
    # it ends without ever naming itself, and the watch ends with it, naming the process it started
    failing = python_whose_second_settings_check(tmp_path, "failing-python", "exit 3")
    watched = suite(tmp_path, "--run-for", "120", STEPS="prepare", PYTHON=str(failing), timeout=120)
    assert f"PYTHON={failing} cannot import torch" in watched.stdout, watched.stdout + watched.stderr
    assert re.search(r"started the suite \(process \d+\)", watched.stdout), watched.stdout
    assert "the suite is not running" in watched.stdout and "still running" not in watched.stdout, watched.stdout


def test_run_for_returns_at_its_limit_and_leaves_the_suite_running(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    # the grid's training waits until it is stopped (a stand-in): the suite runs on for as long as the test needs,
    # and takes no core from the suite's own checks as a real training would
    slow = {"STEPS": "prepare grid", "PYTHON": stand_in_python(tmp_path), "STAND_IN_SCRIPT": "label_noise.py",
            "STAND_IN": "wait", "STAND_IN_STARTED": str(tmp_path / "stand-in-started")}
    try:
        watched = suite(tmp_path, "--run-for", "3", timeout=120, **slow)  # at its limit, not when the suite ends
        assert "is still running" in watched.stdout, watched.stdout + watched.stderr
        joined = suite(tmp_path, "--run-for", "1", timeout=120, **slow)
        assert "a suite is running already" in joined.stdout
    finally:
        assert "stopped the suite" in suite(tmp_path, "--stop").stdout


def test_a_suite_started_again_without_suite_results_records_where_the_last_one_did(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step: prepare finds the data there
    results, report = tmp_path / "results", tmp_path / "RESULTS.md"
    remembered = tmp_path / "runs" / "suite" / "results_dir"
    assert suite(tmp_path, STEPS="prepare").returncode == 0  # SUITE_RESULTS names tmp_path/results
    line = f"results: {results}, where the last suite under {tmp_path / 'runs'} recorded"
    # started again without it (after a --stop, say), not into the checked-in benchmarks/results
    watched = suite(tmp_path, "--run-for", "60", STEPS="report", SUITE_RESULTS="")
    assert watched.returncode == 0 and line in watched.stdout, watched.stdout + watched.stderr
    assert f"from `{results}/" in report.read_text()
    plain = suite(tmp_path, STEPS="prepare", SUITE_RESULTS="")
    assert plain.returncode == 0 and line in plain.stdout, plain.stdout + plain.stderr
    assert remembered.read_text().strip() == str(results)
    # an explicit SUITE_RESULTS is the one used, and the one remembered
    chosen = suite(tmp_path, STEPS="prepare", SUITE_RESULTS=str(tmp_path / "chosen"))
    assert "where the last suite" not in chosen.stdout
    assert remembered.read_text().strip() == str(tmp_path / "chosen")


def fake_gpu_path(tmp_path) -> str:
    """A PYTHONPATH entry under which the suite's python believes it has a GPU of the model named in FAKE_GPU (whose
    name cannot be read where FAKE_GPU_ERROR is set: torch raises that error); the trainings still run on the CPU.
    torch is changed as it is imported, not imported for it: most of the suite's pythons never import torch, and
    would each take seconds to."""
    fake = tmp_path / "fake_gpu"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(FAKE_GPU_SITECUSTOMIZE)
    return str(fake)


FAKE_GPU_SITECUSTOMIZE = """\
import importlib.util
import os
import sys


def device_name(device=None):
    if os.environ.get("FAKE_GPU_ERROR"):
        raise RuntimeError(os.environ["FAKE_GPU_ERROR"])
    return os.environ["FAKE_GPU"]


class FakeGpu:
    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.cuda.is_available = lambda: True
            module.cuda.get_device_name = device_name

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("FAKE_GPU"):
    sys.meta_path.insert(0, FakeGpu())
"""


def test_a_gpu_whose_name_cannot_be_read_stops_the_suite_in_one_line_before_any_step_runs(tmp_path):
    # the suite reads the GPU once, before its steps: each step that asks which GPU model measures takes that answer
    unreadable = {"PYTHONPATH": fake_gpu_path(tmp_path), "FAKE_GPU": "NVIDIA H100 80GB HBM3",
                  "FAKE_GPU_ERROR": "CUDA error: unspecified launch failure\nkernel errors may be reported later"}
    result = suite(tmp_path, STEPS="report", **unreadable)
    assert result.returncode == 2 and "[report]" not in result.stdout, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line == "cifar10_suite.sh: the CUDA device cannot be read: CUDA error: unspecified launch failure", line
    assert not (tmp_path / "RESULTS.md").exists()


def test_a_gpu_of_another_model_measures_its_own_speed_rows_beside_the_recorded_ones(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    fake = fake_gpu_path(tmp_path)
    results = tmp_path / "results"
    results.mkdir()
    h200 = {"device": {"gpu": "NVIDIA H200"}, "cells": [  # every cell the step asks for (SPEED_PIPELINES=fast)
        {"model": "resnet34", "pipeline": "fast", "method": method, "device": "cuda", "epoch_seconds": 1.0,
         "cuda_kernel_ms": 1.0} for method in ("erm", "sat")]}
    for name in ("speed", "step_ops_cuda"):  # the second: measured on a GPU, not repeated
        (results / f"{name}.json").write_text(json.dumps(h200))
    # a single measurement, its fields at the top level: with snapshot_exact there, not repeated either
    (results / "checkpoint_cost.json").write_text(json.dumps({"device": h200["device"], "snapshot_exact": True}))
    environment = {"PYTHONPATH": fake, "SPEED_ARGS": f"--epochs 1 {TINY}", "SPEED_PIPELINES": "fast"}

    same = suite(tmp_path, STEPS="speed", FAKE_GPU="NVIDIA H200", **environment)
    assert "[speed] finished" in same.stdout, same.stdout + same.stderr
    # the log names the machine the figures come from, with the GPU the suite read once before its steps
    assert re.search(r"^python \d+\.\d+\.\d+ \| torch \S+ \| NVIDIA H200$", same.stdout, re.M), same.stdout
    assert "already measured on this kind of device, h200" in (tmp_path / "runs" / "suite" / "speed.log").read_text()
    assert sorted(p.name for p in results.glob("speed*.json")) == ["speed.json"]

    (tmp_path / "runs" / "suite" / "speed.done").unlink()
    other = suite(tmp_path, STEPS="speed", FAKE_GPU="NVIDIA H100 80GB HBM3", **environment)
    assert "[speed] finished" in other.stdout, other.stdout + other.stderr
    log = (tmp_path / "runs" / "suite" / "speed.log").read_text()
    assert "holds the figures of another GPU model (h200): this one's go to speed_h100-80gb-hbm3.json" in log
    measured = json.loads((results / "speed_h100-80gb-hbm3.json").read_text())
    # the tiny cells trained on the CPU: the table says so, and names the machine's GPU apart
    assert measured["device"]["unused_gpu"] == "NVIDIA H100 80GB HBM3" and "gpu" not in measured["device"]
    assert measured["cells"] and measured["device"]["measured_on"] == ["cpu"]
    assert json.loads((results / "speed.json").read_text()) == h200  # the other model's figures are kept

    # as the table reads where the cells train on the GPU: measured on this model, not measured again
    measured["device"] = {"gpu": "NVIDIA H100 80GB HBM3"}
    (results / "speed_h100-80gb-hbm3.json").write_text(json.dumps(measured))
    (tmp_path / "runs" / "suite" / "speed.done").unlink()
    again = suite(tmp_path, STEPS="speed", FAKE_GPU="NVIDIA H100 80GB HBM3", **environment)
    assert "speed_h100-80gb-hbm3.json already measured on this kind of device, h100-80gb-hbm3" in \
        (tmp_path / "runs" / "suite" / "speed.log").read_text(), again.stdout


def test_a_suite_on_the_cpu_writes_its_speed_rows_beside_a_gpus_never_over_them(tmp_path):
    # a suite tried out without a GPU, in a checkout whose results hold a GPU's figures, keeps them
    write_fake_cifar10(tmp_path, per_batch=8)
    results = tmp_path / "results"
    results.mkdir()
    h200 = {"device": {"gpu": "NVIDIA H200"}, "cells": [
        {"model": "resnet34", "pipeline": "fast", "method": method, "device": "cuda", "epoch_seconds": 1.0}
        for method in ("erm", "sat")]}
    (results / "speed.json").write_text(json.dumps(h200))
    result = suite(tmp_path, STEPS="speed", SPEED_ARGS=f"--epochs 1 {TINY}", SPEED_PIPELINES="fast")
    assert "[speed] finished" in result.stdout, result.stdout + result.stderr
    log = (tmp_path / "runs" / "suite" / "speed.log").read_text()
    assert "holds the figures of another GPU model (h200): this one's go to speed_cpu.json" in log
    assert json.loads((results / "speed.json").read_text()) == h200
    measured = json.loads((results / "speed_cpu.json").read_text())
    assert measured["cells"] and "gpu" not in measured["device"]
    # and label_noise.py's --pipeline fastest reads this machine's table, not the GPU's
    common = load_benchmark("common")
    assert common.speed_file_for_this_gpu(results) == results / "speed_cpu.json"


def test_a_gpu_of_another_model_times_the_paper_cell_again_beside_the_recorded_one(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=8)
    environment = {"PYTHONPATH": fake_gpu_path(tmp_path), "FAKE_GPU": "NVIDIA H100 80GB HBM3"}
    recorded = tmp_path / "results" / "label_noise" / "paper" / "sat-sym40.json"
    recorded.parent.mkdir(parents=True)
    recorded.write_text(json.dumps({"device": {"gpu": "NVIDIA H200"}, "recipe": "paper", "method": "sat"}))
    result = suite(tmp_path, STEPS="prepare paper", **environment)
    assert "[paper] finished" in result.stdout, result.stdout + result.stderr
    log = (tmp_path / "runs" / "suite" / "paper.log").read_text()
    assert "trained on another GPU model (h200): this one's run goes to label_noise/paper_h100-80gb-hbm3/" in log
    # the stand-in H200 cell lacks the report's fields: the report fails in one line, the training is recorded
    assert (f"report not regenerated: {tmp_path / 'results' / 'label_noise' / 'paper' / 'sat-sym40.json'}: no field "
            "'noise' where a report looks for it") in log
    timed = json.loads((tmp_path / "results" / "label_noise" / "paper_h100-80gb-hbm3" / "sat-sym40.json").read_text())
    # (the tiny cell trained on the CPU, so the GPU is named as the machine's, not as the one that trained it)
    assert timed["tag"] == "h100-80gb-hbm3" and timed["device"]["unused_gpu"] == "NVIDIA H100 80GB HBM3"
    assert (tmp_path / "runs" / "paper_h100-80gb-hbm3" / "sat-sym40" / "summary.json").exists()
    assert json.loads(recorded.read_text())["device"] == {"gpu": "NVIDIA H200"}  # the other model's cell is kept

    # on the model that trained the recorded cell, the step finds it done
    (tmp_path / "runs" / "suite" / "paper.done").unlink()
    same = suite(tmp_path, STEPS="paper", **{**environment, "FAKE_GPU": "NVIDIA H200"})
    assert "[paper] finished" in same.stdout
    assert "sat-sym40: recorded earlier, skipped" in (tmp_path / "runs" / "suite" / "paper.log").read_text()


def test_prepare_refuses_a_data_root_it_would_not_write(tmp_path):
    # prepare_cifar10.py writes cifar-10-batches-py: another name would be marked done yet hold nothing
    result = suite(tmp_path, STEPS="prepare", DATA_ROOT=str(tmp_path / "mycifar"))
    assert "[prepare] FAILED" in result.stdout, result.stdout + result.stderr
    assert "end DATA_ROOT in that name" in (tmp_path / "runs" / "suite" / "prepare.log").read_text()
    assert not (tmp_path / "cifar-10-batches-py").exists()


def test_prepare_runs_again_where_its_marker_came_without_the_data(tmp_path):
    # a runs folder unpacked from --pack (its step markers included) on a machine that has no data yet: prepare
    # must convert it, not skip, or every training step after it fails for want of data
    marker = tmp_path / "runs" / "suite" / "prepare.done"
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    # (a DATA_ROOT that prepare refuses at once: what matters is that it runs, not the minute of converting)
    result = suite(tmp_path, STEPS="prepare", DATA_ROOT=str(tmp_path / "mycifar"))
    assert "[prepare] done earlier" not in result.stdout, result.stdout
    assert "is missing: prepared again" in result.stdout and "[prepare] FAILED" in result.stdout, result.stdout
    assert not marker.exists()
    # with the data there, the marker is trusted as before
    write_fake_cifar10(tmp_path, per_batch=8)
    marker.write_text("")
    assert "[prepare] done earlier" in suite(tmp_path, STEPS="prepare").stdout


def test_relative_paths_are_taken_from_where_the_suite_was_started(tmp_path):
    import shutil

    committed = Path(__file__).parents[2] / "benchmarks" / "results" / "label_issues"
    shutil.copytree(committed, tmp_path / "relres" / "label_issues")
    env = suite_environment(tmp_path, SUITE_RESULTS="relres", SUITE_RUNS="runs", SUITE_REPORT="R.md", STEPS="report")
    started = subprocess.run(["bash", str(SUITE)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "[report]" in started.stdout and (tmp_path / "R.md").exists(), started.stdout + started.stderr
    del env["SUITE_RESULTS"]  # --pack takes the results directory the suite wrote to, from another directory
    packed = subprocess.run(["bash", str(SUITE), "--pack", str(tmp_path / "out.tgz")], env=env, cwd=tmp_path,
                            capture_output=True, text=True)
    assert packed.returncode == 0, packed.stdout + packed.stderr
    with tarfile.open(tmp_path / "out.tgz") as archive:
        names = archive.getnames()
    assert sum(name.endswith("relres/label_issues/mnist1d-sym40-seed0.json") for name in names) == 1
    assert any(name.endswith("R.md") for name in names)


def test_paths_given_from_the_home_directory_are_read_there_where_no_shell_expanded_them(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    (home / "results").mkdir(parents=True)
    (home / "results" / "speed.json").write_text("{}")
    (home / "cache").mkdir()
    (home / "cache" / "fxgraph.bin").write_bytes(b"graph")
    elsewhere.mkdir()  # where a ~ left as it is would become a folder
    env = suite_environment(tmp_path, HOME=str(home), SUITE_RESULTS="~/results", SUITE_RUNS="~/runs",
                            TORCHINDUCTOR_CACHE_DIR="~/cache")
    for option, archive in (("--pack", "~/out.tgz"), ("--pack-cache", "~/cache.tgz")):
        packed = subprocess.run(["bash", str(SUITE), option, archive], env=env, cwd=elsewhere, capture_output=True,
                                text=True)
        assert packed.returncode == 0, packed.stdout + packed.stderr
    with tarfile.open(home / "out.tgz") as archive:
        assert any(name.endswith("home/results/speed.json") for name in archive.getnames())
    with tarfile.open(home / "cache.tgz") as archive:
        assert "./fxgraph.bin" in archive.getnames()
    assert not any(elsewhere.iterdir())


def test_a_tilde_before_a_number_or_dash_is_no_home_directory_and_is_left_as_it_is(tmp_path):
    # bash's ~0, ~1, ~- and ~-1 name its directory stack (the current and the previous folder), no user's home:
    # common.path_option, reading such a path with Python, finds no user of that name and leaves it as it is
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "speed.json").write_text("{}")
    here, previous = tmp_path / "here", tmp_path / "previous"
    here.mkdir()
    previous.mkdir()
    env = suite_environment(tmp_path, OLDPWD=str(previous))
    for prefix in ("~0", "~-", "~-0"):
        packed = subprocess.run(["bash", str(SUITE), "--pack", f"{prefix}/out.tgz"], env=env, cwd=here,
                                capture_output=True, text=True)
        assert packed.returncode == 2 and packed.stderr.strip() == (
            f"cifar10_suite.sh --pack: {prefix}/out.tgz: no directory {prefix} to write it in"), packed.stderr
    assert not any(here.iterdir()) and not any(previous.iterdir())


def test_folders_the_steps_cannot_write_in_stop_the_suite_before_any_step_runs(tmp_path):
    a_file, folder = tmp_path / "a_file", tmp_path / "folder"
    a_file.write_text("")
    folder.mkdir()
    expected = "expected a directory this process can write in"
    for setting, value, message in (
            ("SUITE_RESULTS", a_file, f"is a file, not a directory; {expected}"),
            ("SUITE_RUNS", a_file / "runs", f"cannot be made (Not a directory); {expected}"),
            ("SUITE_REPORT", folder, "is a directory; expected the report's file (say RESULTS.md)"),
            ("SUITE_REPORT", a_file / "R.md", f"its directory {a_file} is a file, not a directory; {expected}")):
        for arguments in ([], ["--run-for", "5"]):
            result = suite(tmp_path, *arguments, STEPS="report", **{setting: str(value)})
            assert result.returncode == 2, result.stdout + result.stderr
            assert result.stderr.splitlines() == [f"cifar10_suite.sh: {setting}={value}: {message}"], result.stderr
            assert "[report]" not in result.stdout and not (tmp_path / "RESULTS.md").exists(), result.stdout
    assert a_file.read_text() == "" and not any(folder.iterdir())


def test_a_report_in_a_folder_no_step_has_made_yet_is_written_there(tmp_path):
    import shutil

    committed = Path(__file__).parents[2] / "benchmarks" / "results" / "label_issues"
    shutil.copytree(committed, tmp_path / "results" / "label_issues")
    report = tmp_path / "report" / "R.md"
    started = suite(tmp_path, STEPS="report", SUITE_REPORT=str(report))
    assert started.returncode == 0 and "[report] wrote" in started.stdout, started.stdout + started.stderr
    assert report.is_file()
    # a suite whose steps write no report leaves SUITE_REPORT alone, even one that could not be written
    (tmp_path / "a_file").write_text("")
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step: prepare finds the data there
    unread = suite(tmp_path, STEPS="prepare", SUITE_REPORT=str(tmp_path / "a_file" / "R.md"))
    assert unread.returncode == 0 and "[prepare] finished" in unread.stdout, unread.stdout + unread.stderr


def test_pack_that_cannot_write_its_archive_fails_in_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "speed.json").write_text("{}")
    for dest, said in ((tmp_path / "missing" / "out.tgz", "no directory"), (tmp_path / "results", "is a directory")):
        packed = suite(tmp_path, "--pack", str(dest))
        assert packed.returncode != 0, packed.stdout + packed.stderr
        [line] = packed.stderr.strip().splitlines()
        assert line.startswith(f"cifar10_suite.sh --pack: {dest}: ") and said in line, line
        assert "packed" not in packed.stdout
    assert not (tmp_path / "missing").exists()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["speed.json"]  # no partial archive
    (tmp_path / "blocked.tgz.partial").mkdir()  # tar itself cannot write there
    blocked = suite(tmp_path, "--pack", str(tmp_path / "blocked.tgz"))
    assert blocked.returncode != 0 and "packed" not in blocked.stdout, blocked.stdout + blocked.stderr
    [line] = blocked.stderr.strip().splitlines()
    assert line.startswith(f"cifar10_suite.sh --pack: {tmp_path / 'blocked.tgz'}: not written ("), line
    assert not (tmp_path / "blocked.tgz").exists()


def test_a_bad_grid_jobs_stops_the_suite_before_any_step_runs(tmp_path):
    for value in ("two", "0", "-1", "00"):  # label_noise.py would refuse it only at the grid step, hours in
        result = suite(tmp_path, STEPS="report grid", GRID_JOBS=value)
        assert result.returncode == 2 and "[report]" not in result.stdout, result.stdout + result.stderr
        [line] = result.stderr.splitlines()
        assert line == f"cifar10_suite.sh: GRID_JOBS='{value}' is not a positive number of cells at once", line
    assert not (tmp_path / "RESULTS.md").exists()


def test_pack_cache_into_a_missing_folder_fails_in_one_line(tmp_path):
    cache = tmp_path / "runs" / "compile_cache"
    cache.mkdir(parents=True)
    (cache / "fxgraph.bin").write_bytes(b"graph")
    dest = tmp_path / "missing" / "cache.tgz"
    packed = suite(tmp_path, "--pack-cache", str(dest))
    assert packed.returncode != 0 and "Traceback" not in packed.stderr, packed.stderr
    [line] = packed.stderr.strip().splitlines()
    assert line.startswith(f"cifar10_suite.sh --pack-cache: {dest}: "), line
    assert not (tmp_path / "missing").exists()


def test_pack_leaves_out_a_file_that_went_away_and_packs_the_rest(tmp_path):
    # a running suite renames its writes' temporary files away: one listed and gone before tar reads it
    import shutil

    results = tmp_path / "results"
    results.mkdir()
    (results / "speed.json").write_text("{}")
    (results / ".cell.json.tmp").write_text("{")
    wrapper = tmp_path / "bin" / "tar"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nrm -f "{results / ".cell.json.tmp"}"\nexec {shutil.which("tar")} "$@"\n')
    wrapper.chmod(0o755)
    packed = suite(tmp_path, "--pack", str(tmp_path / "out.tgz"), PATH=f"{wrapper.parent}:{os.environ['PATH']}")
    assert packed.returncode == 0, packed.stdout + packed.stderr
    assert "1 of the files went away or could not be read before they were packed" in packed.stdout, packed.stdout
    with tarfile.open(tmp_path / "out.tgz") as archive:
        names = archive.getnames()
    assert any(name.endswith("results/speed.json") for name in names)
    assert not any(name.endswith(".cell.json.tmp") for name in names)


def test_status_needs_no_torch(tmp_path):
    # the machine's plain python3 may lack the suite's packages: --status still lists the unfinished cells
    unfinished = tmp_path / "runs" / "fast" / "ce-sym40"
    unfinished.mkdir(parents=True)
    (unfinished / "metrics.jsonl").write_text(json.dumps({"epoch": 2, "epoch_seconds": 1.5}) + "\n")
    bare = tmp_path / "bare-python"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')  # -S: no site-packages, so no torch
    bare.chmod(0o755)
    status = suite(tmp_path, "--status", PYTHON=str(bare))
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert "stopped in fast/ce-sym40 after epoch 2, 1.50 s/epoch" in status.stdout, status.stdout


def test_run_set_is_checked_as_the_steps_that_run_take_it(tmp_path):
    # each label_noise.py the suite starts takes RUN_SET with its own methods: a method option that the paper-ce
    # step's CE does not read stops that step, so it stops the suite up front; a setting that only a step left out
    # of STEPS would refuse (the paper recipe's Es 60 with 40 epochs) stops nothing
    ce_only = suite(tmp_path, STEPS="paper-ce report", RUN_SET="--set method.momentum=0.8")
    assert ce_only.returncode == 2 and "[report]" not in ce_only.stdout, ce_only.stdout + ce_only.stderr
    [line] = ce_only.stderr.splitlines()
    assert "RUN_SET: --set method.momentum=0.8: none of the methods here (erm) uses it" in line, line
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step that takes no RUN_SET: prepare finds the data there
    fast_only = suite(tmp_path, STEPS="prepare", GRID_RECIPE="fast", RUN_SET="--set run.epochs=40")
    assert fast_only.returncode == 0 and "RUN_SET" not in fast_only.stderr, fast_only.stdout + fast_only.stderr
    with_paper = suite(tmp_path, STEPS="paper report", GRID_RECIPE="fast", RUN_SET="--set run.epochs=40")
    assert with_paper.returncode == 2 and "method.start_epoch=60 is not below run.epochs=40" in with_paper.stderr


def test_status_names_a_metrics_file_it_cannot_read_and_shows_the_other_cells(tmp_path):
    # as satlearn.compare.read_metrics did: a line of JSON that is no epoch's object, or a file that cannot be read,
    # is said in one line, not a traceback that hides the cells after it
    runs = tmp_path / "runs" / "fast"
    for cell in ("ce-sym20", "ce-sym40", "sat-sym40"):
        (runs / cell).mkdir(parents=True)
    (runs / "ce-sym20" / "metrics.jsonl").mkdir()  # unreadable as a file
    (runs / "ce-sym40" / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "epoch_seconds": 1.0}) + "\n[1]\n")
    (runs / "sat-sym40" / "metrics.jsonl").write_text(json.dumps({"epoch": 3, "epoch_seconds": 2.0}) + "\n")
    status = suite(tmp_path, "--status")
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert f"unreadable: {runs / 'ce-sym20' / 'metrics.jsonl'}: " in status.stdout, status.stdout
    assert f"unreadable: {runs / 'ce-sym40' / 'metrics.jsonl'}: line 2 " in status.stdout, status.stdout
    assert "stopped in fast/sat-sym40 after epoch 3, 2.00 s/epoch" in status.stdout, status.stdout


def test_a_running_suite_goes_on_as_it_started_when_its_script_is_rewritten_under_it(tmp_path):
    import time

    # a tree whose suite script may be rewritten (the rest of it is the checkout's), as a tree copied again onto a
    # machine where a suite runs detached
    checkout, tree = SUITE.parents[1], tmp_path / "tree"
    (tree / "benchmarks").mkdir(parents=True)
    for part in ("src", "configs"):
        (tree / part).symlink_to(checkout / part)
    for entry in (checkout / "benchmarks").iterdir():
        if entry.name not in ("cifar10_suite.sh", "results", "runs", "data", "figures"):
            (tree / "benchmarks" / entry.name).symlink_to(entry)
    script = tree / "benchmarks" / "cifar10_suite.sh"
    script.write_text(SUITE.read_text())
    (tmp_path / "cifar-10-batches-py").mkdir()  # a quick step after the one that waits: prepare finds the data
    started, log = tmp_path / "stand-in-started", tmp_path / "suite.log"
    environment = suite_environment(tmp_path, PYTHON=stand_in_python(tmp_path), STAND_IN="wait",
                                    STAND_IN_STARTED=str(started), STAND_IN_SCRIPT="speed.py",
                                    STEPS="maxautotune prepare", GIT_CEILING_DIRECTORIES=str(tmp_path))
    with log.open("w") as out:
        detached = subprocess.Popen(["bash", str(script)], env=environment, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and detached.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), log.read_text()
        # rewritten in place, longer: what bash had not read yet now lies elsewhere in the file
        with script.open("r+") as rewritten:
            text = rewritten.read()
            rewritten.seek(0)
            rewritten.truncate()
            rewritten.write(text.replace("\n", "\n# " + "x" * 60 + "\n", 40))
        # the stand-in touches its file just before it becomes sleep (exec), so the sleep may not be there yet
        waiting, deadline = [], time.monotonic() + 30
        while not waiting and time.monotonic() < deadline:
            waiting = [stat.parent.name for stat in Path("/proc").glob("[0-9]*/stat")
                       if _session_and_command(stat) == (detached.pid, "sleep")]
            time.sleep(0 if waiting else 0.1)
        assert waiting, "the stand-in's sleep was not found"
        for pid in waiting:  # the waiting step ends (it fails), and the suite goes on with the next one
            os.kill(int(pid), 9)
        assert detached.wait(timeout=120) == 0, log.read_text()
    finally:
        if detached.poll() is None:
            os.killpg(detached.pid, 9)
            detached.wait()
    output = log.read_text()
    assert "[maxautotune] FAILED" in output and "[prepare] finished" in output, output
    assert output.rstrip().splitlines()[-1].startswith("suite ended "), output


def _session_and_command(stat: Path) -> tuple[int, str] | None:
    """(session id, command name) of the process whose /proc/PID/stat this is; None once it has gone."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    command = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[3]), command  # state, ppid, pgrp, session
